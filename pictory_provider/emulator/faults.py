"""The emulator's fault injection: what a fault is, how one is validated, and how it is answered."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import struct
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web

API_ROUTES = ("create", "job", "list", "clean", "file", "quota", "usage", "lookup", "upload", "signed_upload")
FAULT_ROUTES = (*API_ROUTES, "any")
FAULT_KINDS = ("status", "rate_limit", "slow", "answer_late", "non_json", "reset", "fail_job")
#: Seconds a ``slow`` or ``answer_late`` fault waits when no ``delay`` is given.
DEFAULT_FAULT_DELAY = 5.0
#: Kinds that change the normal answer on its way out (the request is still handled).
SHAPING_KINDS = ("drip", "truncate", "short_length", "wrong_job_id")
#: Kinds that answer in place of the handler, like ``status``.
ANSWER_KINDS = ("redirect", "huge")
ALL_FAULT_KINDS = (*FAULT_KINDS, *SHAPING_KINDS, *ANSWER_KINDS)
FAULT_FIELDS = (
    "kind",
    "route",
    "count",
    "status",
    "retry_after",
    "delay",
    "body",
    "error_code",
    "error_message",
    "size",
    "prompt_contains",
)
DEFAULT_DRIP_DELAY = 0.5
DEFAULT_HUGE_SIZE = 16 * 1024 * 1024
DEFAULT_WRONG_JOB_ID = "../../escaped"
CLOUDFLARE_HTML = "<html><head><title>Attention Required! | Cloudflare</title></head><body>Error 1010</body></html>"


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (got {value!r})")
    return float(value)


def _retry_after(value: object) -> float | str | None:
    """Seconds, or a header value sent verbatim (an HTTP-date, ``"inf"``: what some servers send)."""
    if value is None or (isinstance(value, str) and value and not any(ch in value for ch in "\r\n")):
        return value
    return _seconds("retry_after", value)


def _retry_after_header(value: float | str) -> str:
    return value if isinstance(value, str) else str(math.ceil(value))


def _optional_str(name: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a string (got {value!r})")
    return value


@dataclass
class Fault:
    """One injected fault: what to do, to which route, how many more times."""

    kind: str
    route: str
    remaining: int
    status: int | None = None
    #: Seconds (sent rounded up), or a string sent verbatim (an HTTP-date, ``"inf"``).
    retry_after: float | str | None = None
    delay: float | None = None
    body: Any = None
    error_code: str | None = None
    error_message: str | None = None
    size: int | None = None
    #: ``fail_job`` only: fail only jobs whose prompt contains this text (case-sensitive); ``None`` = any.
    prompt_contains: str | None = None

    def fails_job(self, prompt: str) -> bool:
        """Whether this fault makes a job with ``prompt`` end ``failed``."""
        return self.kind == "fail_job" and (self.prompt_contains is None or self.prompt_contains in prompt)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "route": self.route,
            "count": self.remaining,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "body": self.body,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "size": self.size,
            "prompt_contains": self.prompt_contains,
        }


def make_fault(
    kind: str,
    *,
    route: str = "any",
    count: int = 1,
    status: int | None = None,
    retry_after: float | str | None = None,
    delay: float | None = None,
    body: Any = None,
    error_code: str | None = None,
    error_message: str | None = None,
    size: int | None = None,
    prompt_contains: str | None = None,
) -> Fault:
    """Build a validated :class:`Fault`; raise ``ValueError`` for anything unusable."""
    if kind not in ALL_FAULT_KINDS:
        raise ValueError(f"fault kind must be one of {', '.join(ALL_FAULT_KINDS)} (got {kind!r})")
    if route not in FAULT_ROUTES:
        raise ValueError(f"fault route must be one of {', '.join(FAULT_ROUTES)} (got {route!r})")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"fault count must be an integer >= 1 (got {count!r})")
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599):
        raise ValueError(f"fault status must be an HTTP status code 100-599 (got {status!r})")
    if prompt_contains is not None:
        if kind != "fail_job":
            raise ValueError("prompt_contains applies only to fail_job faults")
        if not isinstance(prompt_contains, str) or not prompt_contains:
            raise ValueError(f"prompt_contains must be a non-empty string (got {prompt_contains!r})")
    if kind in ("non_json", "wrong_job_id") and body is not None and not isinstance(body, str):
        raise ValueError(f"a {kind} fault body must be a string")
    if kind == "redirect" and not isinstance(body, str):
        raise ValueError("a redirect fault needs body: the Location URL (a string)")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise ValueError(f"fault size must be an integer >= 1 (got {size!r})")
    if body is not None:
        try:
            json.dumps(body)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"fault body must be a string or JSON-serializable ({exc})") from None
    return Fault(
        kind=kind,
        route=route,
        remaining=count,
        status=status,
        retry_after=_retry_after(retry_after),
        delay=None if delay is None else _seconds("delay", delay),
        body=body,
        error_code=_optional_str("error_code", error_code),
        error_message=_optional_str("error_message", error_message),
        size=size,
        prompt_contains=prompt_contains,
    )


def _fault_response(fault: Fault) -> web.Response:
    headers: dict[str, str] = {}
    if fault.kind == "redirect":
        return web.Response(status=fault.status or 302, headers={"Location": str(fault.body)})
    if fault.kind == "huge":
        return _huge_response(fault.size or DEFAULT_HUGE_SIZE)
    if fault.kind == "rate_limit":
        headers["Retry-After"] = _retry_after_header(1 if fault.retry_after is None else fault.retry_after)
        return web.json_response({"message": "Too Many Requests"}, status=429, headers=headers)
    status = fault.status or (200 if fault.kind == "non_json" else 500)
    if fault.kind == "non_json":
        return web.Response(status=status, text=fault.body or CLOUDFLARE_HTML, content_type="text/html")
    if fault.retry_after is not None:
        headers["Retry-After"] = _retry_after_header(fault.retry_after)
    if isinstance(fault.body, str):
        return web.Response(status=status, text=fault.body, content_type="application/json", headers=headers)
    body = {"message": HTTPStatus(status).phrase} if fault.body is None else fault.body
    return web.json_response(body, status=status, headers=headers)


def _abort_connection(request: web.Request) -> None:
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # linger 0: closing sends an RST, so the client sees a reset rather than a clean EOF
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _huge_response(size: int) -> web.Response:
    """A valid JSON job-shaped body (an in-progress job) padded to ``size`` bytes."""
    head = b'{"job_id": null, "success": true, "data": {"status": "in-progress"}, "padding": "'
    tail = b'"}'
    padding = max(0, size - len(head) - len(tail))
    return web.Response(body=head + b"x" * padding + tail, content_type="application/json")


def _raw_head(response: web.Response, content_length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {response.status} {response.reason}", f"Content-Type: {response.content_type}"]
    if content_length is not None:
        lines.append(f"Content-Length: {content_length}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def shape_response(request: web.Request, response: web.StreamResponse, fault: Fault) -> web.StreamResponse:
    """Apply a shaping fault (:data:`SHAPING_KINDS`) to the handler's normal ``response``."""
    if not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return response
    body = response.body
    if fault.kind == "wrong_job_id":
        try:
            payload = json.loads(body)
        except ValueError:
            return response
        if isinstance(payload, dict):
            payload["job_id"] = DEFAULT_WRONG_JOB_ID if fault.body is None else fault.body
        return web.json_response(payload, status=response.status)
    transport = request.transport
    if transport is None:
        return response
    if fault.kind == "drip":
        delay = DEFAULT_DRIP_DELAY if fault.delay is None else fault.delay
        dripping = web.StreamResponse(status=response.status, headers={"Content-Type": response.content_type})
        dripping.content_length = len(body)
        try:
            await dripping.prepare(request)
            for index in range(len(body)):
                await dripping.write(body[index : index + 1])
                await asyncio.sleep(delay)
            await dripping.write_eof()
        except ConnectionError:
            pass  # the client gave up
        return dripping
    # truncate: the first half, close-delimited (no Content-Length); short_length: the whole body
    # under a Content-Length of half its size. Both are written raw, then the connection is closed.
    half = len(body) // 2
    if fault.kind == "truncate":
        transport.write(_raw_head(response, None) + body[:half])
    else:
        transport.write(_raw_head(response, half) + body)
    transport.close()
    # aiohttp fails to write this to the closing transport and closes quietly.
    return web.Response(status=response.status)


class KeyRateLimit:
    """An optional per-key request rate limit: a token bucket per ``Authorization`` value.

    Off by default. When on, each key's bucket holds up to ``burst`` tokens (default: ``rate``, at
    least 1) and refills at ``rate`` tokens per second; an API request (not ``/files/``) takes one,
    and a request that finds none is answered 429 with ``Retry-After`` (whole seconds until the next
    token, at least 1) and takes effect nowhere (a throttled create creates no job). Not thread-safe
    by itself: :class:`~pictory_provider.emulator.state.EmulatorState` calls it under its lock.
    """

    def __init__(self, rate: float | None = None, burst: float | None = None) -> None:
        self.rate: float | None = None
        self.burst = 1.0
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, monotonic time)
        self.configure(rate, burst)

    def configure(self, rate: float | None, burst: float | None = None) -> None:
        """``rate`` requests per second per key (``None`` or 0: off) and bucket size ``burst``."""
        if rate is not None and (_seconds("rate_limit", rate) == 0):
            rate = None
        if burst is not None and _seconds("rate_limit_burst", burst) < 1:
            raise ValueError(f"rate_limit_burst must be >= 1 (got {burst!r})")
        self.rate = None if rate is None else float(rate)
        self.burst = float(burst) if burst is not None else max(1.0, self.rate or 1.0)
        self._buckets.clear()

    def settings(self) -> dict[str, float | None]:
        return {"rate_limit": self.rate, "rate_limit_burst": self.burst if self.rate else None}

    def take(self, key: str | None, now: float) -> float | None:
        """Take a token of ``key``'s bucket: ``None`` if one was there, else seconds until one is."""
        if self.rate is None or not key:
            return None
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return None
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate
