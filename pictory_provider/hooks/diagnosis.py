"""The connection test ("Test" button, ``airflow connections test``): a fast answer with a hint.

A task's request retries transient failures for a while; a connection test should answer within
seconds. It makes one request with short timeouts; when that fails at the network level it probes the
server (name lookup, TCP connect, and for https whether the port speaks plain http, without sending
the key) and names the cause. Causes that cannot heal by waiting (unknown host, connection refused,
https against a plain-http server, a TLS failure) are reported at once; anything else (5xx, 429,
timeouts) gets one more try.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from pictory_provider.api import IMAGES_PATH
from pictory_provider.exceptions import PictoryError, PictoryTransientError
from pictory_provider.hooks.connection import PictoryCredentials
from pictory_provider.hooks.transport import PictoryTransport

__all__ = ["check_connection", "diagnose_unreachable"]

#: Timeouts of the connection test's request (seconds).
TEST_CONNECT_TIMEOUT = 5.0
TEST_READ_TIMEOUT = 10.0
#: Timeout of each diagnostic probe (seconds).
PROBE_TIMEOUT = 3.0
#: Wait before the one retry of a failure that may heal (seconds).
RETRY_WAIT = 1.0


def check_connection(creds: PictoryCredentials, conn_id: str) -> tuple[bool, str]:
    """Make one cheap authenticated call (list generated images) and say what went wrong, if anything."""
    transport = PictoryTransport(
        conn_id, max_attempts=1, connect_timeout=TEST_CONNECT_TIMEOUT, read_timeout=TEST_READ_TIMEOUT
    )
    try:
        for attempt in (1, 2):
            try:
                transport.call(creds, "GET", IMAGES_PATH, "the connection test")
            except PictoryTransientError as exc:
                tls_failed = "SSLError" in str(exc)
                cause = diagnose_unreachable(creds.base_url, tls_failed=tls_failed)
                if cause:
                    return False, f"{cause} Details: {exc}"
                if tls_failed:
                    return (
                        False,
                        f"The TLS handshake with {creds.base_url} failed (retrying will not help). Details: {exc}",
                    )
                if attempt == 2:
                    return False, str(exc)
                time.sleep(RETRY_WAIT)
            except PictoryError as exc:
                return False, str(exc)
            else:
                return True, f"Connected to Pictory at {creds.base_url}"
    finally:
        transport.session.close()
    raise AssertionError("unreachable")


def diagnose_unreachable(base_url: str, *, tls_failed: bool = False) -> str | None:
    """Name a cause of a failed request to ``base_url`` that waiting cannot heal, or None.

    Probes without credentials: the host name, a TCP connect, and after a failed TLS handshake
    whether the port answers plain http (then the hint names the http URL to use). Only then: some
    https servers answer a plain request on their TLS port too.
    """
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return f"The host name {host!r} does not resolve (DNS): check the Base URL of the connection."
    family, kind, proto, _, address = addresses[0]
    try:
        with socket.socket(family, kind, proto) as sock:
            sock.settimeout(PROBE_TIMEOUT)
            sock.connect(address)
            if parts.scheme != "https" or not tls_failed:
                return None
            netloc = parts.netloc.rsplit("@", 1)[-1]
            sock.sendall(f"HEAD / HTTP/1.0\r\nHost: {netloc}\r\n\r\n".encode())
            answer = sock.recv(5)
    except ConnectionRefusedError:
        return f"Nothing accepts connections at {host}:{port} (connection refused): is the server running?"
    except OSError:
        return None  # a timeout or reset: may heal
    if answer == b"HTTP/":
        http_url = f"http://{parts.netloc}{parts.path}"
        return (
            f"The server at {parts.netloc} speaks plain http, not https: did you mean {http_url}? "
            f"Set the Base URL to {http_url} (URI form: pictory://:pictai_...@{parts.netloc}?scheme=http)."
        )
    return None
