"""Triggerer capacity: N concurrent PictoryJobTrigger.run() in one event loop against the emulator.

Each case runs in fresh processes:

* the emulator (``python -m pictory_provider.emulator``, or ``_tls_emulator.py`` for TLS);
* a *worker* (this file with ``--worker``) that imports Airflow and the trigger, warms up with one
  trigger, records its baseline RSS, then - once the orchestrator has created the N jobs - starts N
  triggers spread over ``ramp`` seconds, one asyncio task per trigger iterating ``run()`` to its
  single event, exactly as the triggerer does, on a plain ``asyncio.run`` loop;
* this process (the orchestrator) creates the jobs with a separate aiohttp session (so that neither
  the creation CPU nor its memory lands in the worker) and afterwards reads every job's
  ``completes_at`` to compute detection latency.

The connection's extra sets ``max_requests_per_second: 0`` (the hook's client-side request pacer off)
so that the trigger machinery is measured; the last default case keeps the package's default cap to
show its effect on polls and detection latency.

CPU per poll = worker CPU (user+sys, minus the sampler thread's own CPU) over the trigger window /
polls served by the emulator (``requests['job']``). RSS per trigger = (peak VmRSS during the run -
VmRSS after warm-up) / N. Trigger logs (INFO, as in the triggerer) go to a file.

Run: ``.venv/bin/python benchmarks/capacity.py`` (``--quick`` for N=100 only, ``--help`` for options).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import ssl
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (
    API_KEY,
    IMAGES_PATH,
    PYTHON,
    UNCAPPED,
    EmulatorProcess,
    TerminateOnSignal,
    airflow_env,
    log,
    make_tls_material,
    md_table,
    percentile,
    stop_process,
)

WORKER_TIMEOUT = 600.0


# ---------------------------------------------------------------------------------------------------
# worker (runs in its own process; imports Airflow only after the environment is set)
# ---------------------------------------------------------------------------------------------------


def _worker(config: dict[str, Any]) -> None:
    import gc
    import threading

    # Results go to the original stdout; everything printed to fd 1 afterwards (structlog's console
    # renderer of the trigger logs) lands in a log file, as the triggerer writes trigger logs to files.
    result_out = os.fdopen(os.dup(1), "w")
    log_file = open(config["log_path"], "w")  # noqa: SIM115 - open for the worker's lifetime
    os.dup2(log_file.fileno(), 1)

    from _common import client_tcp_states, http_json, rss_kib

    from pictory_provider.triggers.pictory import PictoryJobTrigger

    trigger_cls: Any = PictoryJobTrigger
    if config["trigger"] == "baseline":
        from baseline_session_per_poll import SessionPerPollTrigger

        trigger_cls = SessionPerPollTrigger

    port, emu_pid = config["port"], config["emulator_pid"]
    base_url = config["base_url"]
    poll, ramp = config["poll_interval"], config["ramp"]

    def emu_cpu() -> float:
        with open(f"/proc/{emu_pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def send(message: dict[str, Any]) -> None:
        result_out.write(json.dumps(message) + "\n")
        result_out.flush()

    async def consume(trigger: Any, events: dict[str, Any]) -> None:
        try:
            async for event in trigger.run():
                events[trigger.job_id] = (time.time(), event.payload.get("status"), event.payload.get("message"))
        except Exception as exc:  # counted as an error
            events[trigger.job_id] = (time.time(), "exception", repr(exc))

    # Warm-up: one trigger to completion imports everything lazily imported and primes aiohttp.
    async def warm_up() -> None:
        events: dict[str, Any] = {}
        await consume(trigger_cls(config["warmup_job"], poll_interval=0.05), events)
        status = events[config["warmup_job"]][1]
        if status != "success":
            raise RuntimeError(f"warm-up trigger ended {events}")

    asyncio.run(warm_up())
    gc.collect()
    time.sleep(0.3)
    baseline_rss = rss_kib()
    send({"ready": True, "baseline_rss_kib": baseline_rss})

    job_ids: list[str] = json.loads(sys.stdin.readline())
    n = len(job_ids)
    # (wall, VmRSS KiB, client TCP states, worker CPU excluding this sampler thread, polls served so far)
    samples: list[tuple[float, int, dict[str, int], float, int]] = []
    sampler_cpu = [0.0]
    stop_sampling = threading.Event()

    def sampler() -> None:
        tcp: dict[str, int] = {}
        count = 0
        while not stop_sampling.is_set():
            cpu = time.process_time() - time.thread_time()
            polls = http_json(f"{base_url}/_emulator/stats")["requests"]["job"]
            if count % 4 == 0:  # /proc/net/tcp is slow to read with thousands of sockets: every 4th sample
                tcp = dict(client_tcp_states(port))
            count += 1
            samples.append((time.time(), rss_kib(), tcp, cpu, polls))
            sampler_cpu[0] = time.thread_time()
            stop_sampling.wait(config["sample_every"])

    # Garbage-collector pauses during the run (wall time inside gc, which holds the GIL).
    gc_stats = {"collections": [0, 0, 0], "seconds": [0.0, 0.0, 0.0]}
    gc_started = [0.0]

    def gc_callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_stats["collections"][info["generation"]] += 1
            gc_stats["seconds"][info["generation"]] += time.perf_counter() - gc_started[0]

    async def main() -> dict[str, Any]:
        events: dict[str, Any] = {}
        order = list(job_ids)
        random.Random(7).shuffle(order)  # ramp position independent of job duration
        stats0 = http_json(f"{base_url}/_emulator/stats")
        thread = threading.Thread(target=sampler, name="sampler", daemon=True)
        cpu0, emu0, wall0, times0 = time.process_time(), emu_cpu(), time.time(), os.times()
        thread.start()
        gc.callbacks.append(gc_callback)
        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        for index, job_id in enumerate(order):
            due = start + ramp * index / n
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(consume(trigger_cls(job_id, poll_interval=poll), events)))
        started_at = time.time()
        await asyncio.gather(*tasks)
        wall1, cpu1, emu1, times1 = time.time(), time.process_time(), emu_cpu(), os.times()
        gc.callbacks.remove(gc_callback)
        stop_sampling.set()
        thread.join()
        stats1 = http_json(f"{base_url}/_emulator/stats")
        tasks.clear()
        running = [s for s in samples if s[0] <= wall1]
        return {
            "n": n,
            "wall": wall1 - wall0,
            "ramp_done_after": started_at - wall0,
            "cpu": cpu1 - cpu0 - sampler_cpu[0],
            "sampler_cpu": sampler_cpu[0],
            "cpu_user": times1.user - times0.user,
            "cpu_sys": times1.system - times0.system,
            "emulator_cpu": emu1 - emu0,
            "polls": stats1["requests"]["job"] - stats0["requests"]["job"],
            "new_peers": stats1["connections"] - stats0["connections"],
            "responses": {k: v - stats0["responses"].get(k, 0) for k, v in stats1["responses"].items()},
            "baseline_rss_kib": baseline_rss,
            "peak_rss_kib": max(s[1] for s in running),
            "rss_after_ramp_kib": next((s[1] for s in running if s[0] >= started_at), running[-1][1]),
            "max_established": max(s[2].get("ESTABLISHED", 0) for s in running),
            "mean_established": sum(s[2].get("ESTABLISHED", 0) for s in running) / len(running),
            "max_time_wait": max(s[2].get("TIME_WAIT", 0) for s in running),
            "steady_cpu_per_poll": steady_slope(running, started_at + poll),
            "gc": gc_stats,
            "events": events,
        }

    result = asyncio.run(main())
    send({"result": result})
    log_file.close()


def steady_slope(samples: list[Any], after: float) -> float | None:
    """Marginal worker CPU per poll once every trigger has started and polled: least-squares slope of
    cumulative CPU over cumulative polls for the samples taken after ``after``."""
    points = [(s[4], s[3]) for s in samples if s[0] >= after]
    if len(points) < 4 or points[-1][0] - points[0][0] < 50:
        return None
    mean_x = sum(p[0] for p in points) / len(points)
    mean_y = sum(p[1] for p in points) / len(points)
    var = sum((p[0] - mean_x) ** 2 for p in points)
    cov = sum((p[0] - mean_x) * (p[1] - mean_y) for p in points)
    return cov / var if var else None


# ---------------------------------------------------------------------------------------------------
# orchestrator
# ---------------------------------------------------------------------------------------------------


async def _create_jobs(emu: EmulatorProcess, n: int, durations: tuple[float, float], ctx: Any) -> list[str]:
    """Create ``n`` jobs in batches; each batch gets its own job_seconds so completions are staggered.

    job_seconds = the batch's target duration + the creation time still to come, so every job's
    ``completes_at`` lands at (creation end + its duration): durations spread over ``durations``.
    """
    import aiohttp

    batches = 20 if n >= 20 else 1
    low, high = durations
    targets = [low + (high - low) * b / max(batches - 1, 1) for b in range(batches)]
    random.Random(3).shuffle(targets)
    ids: list[str] = []
    connector = aiohttp.TCPConnector(limit=32, ssl=ctx if ctx is not None else True)
    began = time.monotonic()
    rate_guess = 1500.0  # jobs/s, refined after the first batch
    async with aiohttp.ClientSession(connector=connector) as session:

        async def create(index: int) -> str:
            body = {"prompt": f"benchmark image {index}"}
            async with session.post(
                emu.base_url + IMAGES_PATH, json=body, headers={"Authorization": API_KEY}
            ) as response:
                payload = await response.json()
                return str(payload["data"]["jobId"])

        async def config(seconds: float) -> None:
            async with session.post(emu.base_url + "/_emulator/config", json={"job_seconds": seconds}) as response:
                response.raise_for_status()

        sem = asyncio.Semaphore(32)

        async def limited(index: int) -> str:
            async with sem:
                return await create(index)

        for b in range(batches):
            size = n // batches + (1 if b < n % batches else 0)
            elapsed = time.monotonic() - began
            remaining_creation = max((n - len(ids)) / rate_guess, 0.0)
            await config(round(targets[b] + remaining_creation + 0.3, 3))
            ids += await asyncio.gather(*(limited(len(ids) + i) for i in range(size)))
            elapsed = time.monotonic() - began
            rate_guess = max(len(ids) / max(elapsed, 1e-3), 50.0)
    return ids


async def _completes_at(emu: EmulatorProcess, ids: list[str], ctx: Any) -> dict[str, float]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=32, ssl=ctx if ctx is not None else True)
    async with aiohttp.ClientSession(connector=connector) as session:
        sem = asyncio.Semaphore(32)

        async def one(job_id: str) -> tuple[str, float]:
            async with sem, session.get(f"{emu.base_url}/_emulator/jobs/{job_id}") as response:
                return job_id, float((await response.json())["completes_at"])

        return dict(await asyncio.gather(*(one(j) for j in ids)))


def run_case(
    n: int,
    poll: float,
    trigger: str = "ours",
    tls: bool = False,
    durations: tuple[float, float] | None = None,
    ramp: float | None = None,
    profile_dir: str | None = None,
    paced: bool = False,
) -> dict[str, Any]:
    """Run one capacity case in fresh emulator + worker processes and return its measurements.

    With ``profile_dir``, ``py-spy record`` samples the worker during the trigger window and writes
    collapsed stacks there (``<trigger>-<N>[-tls].txt``); this adds a little CPU to the machine.
    ``paced`` keeps the hook's default client-side request cap (connection extra
    ``max_requests_per_second`` unset); otherwise the cap is turned off (``0``).
    """
    import subprocess

    durations = durations or (3 * poll, 10 * poll)
    ramp = poll if ramp is None else ramp
    workdir = tempfile.mkdtemp(prefix="pictory-bench-")
    ctx = None
    tls_files = None
    env_extra: dict[str, str] = {}
    if tls:
        ca, cert, key = make_tls_material(workdir)
        tls_files = (cert, key)
        ctx = ssl.create_default_context(cafile=ca)
        # The hook builds its TCPConnector with aiohttp's default (verified) SSL context, which
        # ssl.create_default_context() loads from SSL_CERT_FILE: trusting the bench CA needs no code change.
        env_extra["SSL_CERT_FILE"] = ca
        os.environ["SSL_CERT_FILE"] = ca  # for _common.http_json in this process
    label = f"{trigger} N={n} poll={poll:g}s{' TLS' if tls else ''}{' paced' if paced else ''}"
    log(f"case {label}: starting emulator")
    emu = EmulatorProcess(job_seconds=0.0, tls=tls_files, log_dir=workdir)
    worker = None
    spy = None
    case_began = time.monotonic()
    try:
        emu.start()
        warmup_job = asyncio.run(_create_jobs(emu, 1, (0.0, 0.0), ctx))[0]
        env = dict(os.environ)
        home = os.path.join(workdir, "airflow-home")
        env.update(airflow_env(emu.base_url, home, env_extra, conn_extra=None if paced else UNCAPPED))
        config = {
            "trigger": trigger,
            "port": emu.port,
            "emulator_pid": emu.pid,
            "base_url": emu.base_url,
            "poll_interval": poll,
            "ramp": ramp,
            "warmup_job": warmup_job,
            "sample_every": 0.5,
            "log_path": os.path.join(workdir, "worker.log"),
        }
        worker = subprocess.Popen(
            [PYTHON, os.path.abspath(__file__), "--worker", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert worker.stdin is not None
        assert worker.stdout is not None
        ready = json.loads(worker.stdout.readline() or "{}")
        if not ready.get("ready"):
            raise RuntimeError(f"worker failed to start (see {config['log_path']})")
        creation_began = time.monotonic()
        ids = asyncio.run(_create_jobs(emu, n, durations, ctx))
        creation_seconds = time.monotonic() - creation_began
        if profile_dir:
            os.makedirs(profile_dir, exist_ok=True)
            spy_out = os.path.join(profile_dir, f"{trigger}-{n}{'-tls' if tls else ''}.txt")
            spy_cmd = [os.path.join(os.path.dirname(PYTHON), "py-spy"), "record", "--pid", str(worker.pid)]
            spy_cmd += ["--rate", "250", "--format", "raw", "--threads", "--nonblocking", "-o", spy_out]
            spy = subprocess.Popen(spy_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        log(f"case {label}: created {n} jobs in {creation_seconds:.1f}s; running triggers")
        worker.stdin.write(json.dumps(ids) + "\n")
        worker.stdin.flush()
        line = worker.stdout.readline()
        worker.wait(timeout=WORKER_TIMEOUT)
        if not line:
            raise RuntimeError(f"worker died (exit {worker.returncode}); see {config['log_path']}")
        result: dict[str, Any] = json.loads(line)["result"]
        completes = asyncio.run(_completes_at(emu, ids, ctx))
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
        if worker is not None and worker.poll() is None:
            stop_process(worker)
        emu.stop()
    events = result.pop("events")
    latencies = [events[j][0] - completes[j] for j in ids if j in events]
    errors = [j for j in ids if events.get(j, (0, "missing"))[1] != "success"]
    result.update(
        trigger=trigger,
        tls=tls,
        paced=paced,
        poll_interval=poll,
        durations=list(durations),
        ramp=ramp,
        creation_seconds=creation_seconds,
        case_seconds=time.monotonic() - case_began,
        latency_p50=percentile(latencies, 50),
        latency_p99=percentile(latencies, 99),
        latency_max=max(latencies) if latencies else float("nan"),
        errors=len(errors),
        error_samples=[events.get(j) for j in errors[:3]],
        workdir=workdir,
    )
    log(
        f"case {label}: {result['polls']} polls in {result['wall']:.1f}s, cpu {result['cpu']:.2f}s, "
        f"errors {len(errors)}, took {result['case_seconds']:.0f}s"
    )
    return result


def derived(r: dict[str, Any]) -> dict[str, float]:
    polls = max(r["polls"], 1)
    cpu_per_poll = r["cpu"] / polls
    return {
        "cpu_per_poll_us": cpu_per_poll * 1e6,
        "emu_cpu_per_poll_us": r["emulator_cpu"] / polls * 1e6,
        "cpu_pct": 100 * r["cpu"] / r["wall"],
        "emu_cpu_pct": 100 * r["emulator_cpu"] / r["wall"],
        # the same per-poll cost at the production cadence (poll_interval=10 s): N/10 polls per second
        "cpu_pct_at_10s": 100 * cpu_per_poll * r["n"] / 10.0,
        "rss_per_trigger_kib": (r["peak_rss_kib"] - r["baseline_rss_kib"]) / r["n"],
        "rss_after_ramp_per_trigger_kib": (r["rss_after_ramp_kib"] - r["baseline_rss_kib"]) / r["n"],
        "polls_per_job": r["polls"] / r["n"],
        "polls_per_s": r["polls"] / r["wall"],
    }


def capacity_table(results: list[dict[str, Any]]) -> str:
    headers = [
        "trigger",
        "N",
        "poll (s)",
        "job length (s)",
        "wall (s)",
        "polls",
        "polls/job",
        "polls/s",
        "CPU µs/poll (all-in)",
        "CPU µs/poll (steady)",
        "CPU % of a core",
        "same µs/poll at poll 10 s → % core",
        "emulator CPU %",
        "RSS KiB/trigger (started / peak)",
        "latency p50 / p99 (s)",
        "TCP ESTABLISHED max (mean)",
        "client ports seen",
        "errors",
    ]
    rows = []
    for r in results:
        d = derived(r)
        steady = r.get("steady_cpu_per_poll")
        rows.append(
            [
                ("ours" if r["trigger"] == "ours" else "session-per-poll")
                + (" TLS" if r["tls"] else "")
                + (", default pacer" if r.get("paced") else ""),
                f"{r['n']:,}",
                f"{r['poll_interval']:g}",
                f"{r['durations'][0]:g}-{r['durations'][1]:g}",
                f"{r['wall']:.1f}",
                f"{r['polls']:,}",
                f"{d['polls_per_job']:.1f}",
                f"{d['polls_per_s']:.0f}",
                f"{d['cpu_per_poll_us']:.0f}",
                "-" if steady is None else f"{steady * 1e6:.0f}",
                f"**{d['cpu_pct']:.1f}**",
                f"{d['cpu_pct_at_10s']:.1f}",
                f"{d['emu_cpu_pct']:.0f}",
                f"{d['rss_after_ramp_per_trigger_kib']:.1f} / {d['rss_per_trigger_kib']:.1f}",
                f"{r['latency_p50']:.2f} / {r['latency_p99']:.2f}",
                f"{r['max_established']} ({r['mean_established']:.0f})",
                f"{r['new_peers']:,}",
                str(r["errors"]),
            ]
        )
    return md_table(headers, rows)


# (N, poll interval, job lengths or None for 3-10 poll intervals, keep the hook's default request cap)
DEFAULT_CASES: list[tuple[int, float, tuple[float, float] | None, bool]] = [
    (100, 1.0, None, False),
    (1000, 1.0, None, False),
    (5000, 5.0, None, False),
    (1000, 10.0, (30.0, 60.0), False),  # the production cadence: measures the CPU target directly
    (100, 1.0, None, True),  # the same as the first row with the hook's default request pacer
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="only N=100 at poll 1 s")
    parser.add_argument(
        "--case",
        action="append",
        metavar="N:POLL",
        help="N triggers polling every POLL s, jobs lasting 3-10 polls "
        "(default: 100:1 1000:1 5000:5, and 1000:10 with jobs of 30-60 s)",
    )
    parser.add_argument(
        "--paced", action="store_true", help="with --case/--quick: keep the hook's default request cap (else off)"
    )
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the worker; collapsed stacks go to DIR")
    args = parser.parse_args()
    if args.worker:
        _worker(json.loads(args.worker))
        return
    cases = DEFAULT_CASES
    if args.case:
        cases = [(int(c.split(":")[0]), float(c.split(":")[1]), None, args.paced) for c in args.case]
    if args.quick:
        cases = [(100, 1.0, None, args.paced)]
    began = time.monotonic()
    results = []
    with TerminateOnSignal():
        for n, poll, durations, paced in cases:
            results.append(run_case(n, poll, durations=durations, profile_dir=args.profile, paced=paced))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)
    print("### Capacity: N PictoryJobTrigger in one event loop\n")
    print(capacity_table(results))
    print(f"\n_capacity.py wall time: {time.monotonic() - began:.0f} s_")


if __name__ == "__main__":
    main()
