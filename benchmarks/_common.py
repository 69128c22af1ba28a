"""Shared helpers of the benchmark scripts: environment, emulator process, TLS material, tables.

Nothing here imports Airflow: callers set the environment first (see :func:`airflow_env`).
"""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import ipaddress
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PYTHON = sys.executable
API_KEY = "pictai_bench"
IMAGES_PATH = "/pictoryapis/v1/aistudio/images"

# /proc/net/tcp state codes
TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def log(message: str) -> None:
    """Progress goes to stderr; stdout is reserved for the Markdown result."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def airflow_env(
    base_url: str, home: str, extra: dict[str, str] | None = None, conn_extra: dict[str, Any] | None = None
) -> dict[str, str]:
    """Environment for a process that imports Airflow and resolves ``pictory_default`` to ``base_url``.

    ``conn_extra`` becomes the connection's extra (e.g. ``{"max_requests_per_second": 0}``).
    """
    conn: dict[str, Any] = {"conn_type": "pictory", "host": base_url, "password": API_KEY}
    if conn_extra:
        conn["extra"] = conn_extra
    env = {
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW_CONN_PICTORY_DEFAULT": json.dumps(conn),
    }
    env.update(extra or {})
    return env


#: Connection extra of the benchmarks: the hook's client-side request pacer off, so that the trigger
#: machinery itself is measured (the pacer's effect has its own capacity row).
UNCAPPED = {"max_requests_per_second": 0}


def source_digest() -> str:
    """A short digest of pictory_provider's sources, to tell which code a run measured."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "pictory_provider").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def http_json(url: str, payload: dict[str, Any] | None = None, timeout: float = 30.0) -> Any:
    """Tiny stdlib JSON client for the emulator's admin routes (benchmark-only, local URLs)."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")  # noqa: S310
    request.add_header("Content-Type", "application/json")
    context = None
    if url.startswith("https://"):
        import ssl

        context = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE"))
    with urllib.request.urlopen(request, timeout=timeout, context=context) as response:  # noqa: S310
        return json.loads(response.read())


class EmulatorProcess:
    """The Pictory emulator in its own process (the CLI, or ``_tls_emulator.py`` for TLS)."""

    def __init__(self, job_seconds: float = 5.0, tls: tuple[str, str] | None = None, log_dir: str | None = None):
        self.port = free_port()
        self.tls = tls
        scheme = "https" if tls else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.port}"
        if tls:
            certfile, keyfile = tls
            self.cmd = [
                PYTHON,
                str(BENCH_DIR / "_tls_emulator.py"),
                "--port",
                str(self.port),
                "--job-seconds",
                str(job_seconds),
                "--certfile",
                certfile,
                "--keyfile",
                keyfile,
            ]
        else:
            self.cmd = [
                PYTHON,
                "-m",
                "pictory_provider.emulator",
                "--port",
                str(self.port),
                "--job-seconds",
                str(job_seconds),
            ]
        self.log_path = Path(log_dir or tempfile.gettempdir()) / f"emulator-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited early: {self.log_path.read_text()[-2000:]}")
            try:
                self.stats()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("emulator did not start in time")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def admin(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        return http_json(f"{self.base_url}/_emulator/{path}", payload)

    def stats(self) -> dict[str, Any]:
        return dict(self.admin("stats"))

    def cpu_seconds(self) -> float:
        """User + system CPU of the emulator process so far."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_tls_material(directory: str) -> tuple[str, str, str]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost: ``(ca_pem, cert_pem, key_pem)``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pictory-bench CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    base = Path(directory)
    ca_path, cert_path, key_path = base / "ca.pem", base / "server.pem", base / "server-key.pem"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(ca_path), str(cert_path), str(key_path)


def client_tcp_states(port: int) -> Counter[str]:
    """States of client-side TCP sockets whose remote port is ``port`` (all processes, IPv4 and IPv6)."""
    counts: Counter[str] = Counter()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(name) as table:
            next(table, None)
            for line in table:
                fields = line.split(None, 4)
                if len(fields) < 4:
                    continue
                remote, state = fields[2], fields[3]
                if int(remote.rsplit(":", 1)[1], 16) == port:
                    counts[TCP_STATES.get(state, state)] += 1
    return counts


def rss_kib(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def percentile(values: Sequence[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---:" if i else "---" for i in range(len(headers))) + "|",
    ]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def version_of(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError), open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": version_of("aiohttp"),
        "apache-airflow": version_of("apache-airflow"),
        "apache-airflow-task-sdk": version_of("apache-airflow-task-sdk"),
        "airflow-provider-pictory": version_of("airflow-provider-pictory"),
    }


class TerminateOnSignal:
    """Turn SIGTERM into SystemExit so ``finally`` blocks stop child processes."""

    def __enter__(self) -> TerminateOnSignal:
        def handler(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(128 + signum)

        self._previous = signal.signal(signal.SIGTERM, handler)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGTERM, self._previous)


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM a child we started, SIGKILL it if it is still there after 15 s."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_child(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a child to completion; on timeout or interruption terminate it (by its pid) and re-raise."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True, env=env, cwd=ROOT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except BaseException:
        stop_process(proc)
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, None)
