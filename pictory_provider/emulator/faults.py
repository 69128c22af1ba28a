"""The emulator's fault injection: what a fault is, how one is validated, and how it is answered."""

from __future__ import annotations

import contextlib
import json
import math
import socket
import struct
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import web

API_ROUTES = ("create", "job", "list", "clean", "file")
FAULT_ROUTES = (*API_ROUTES, "any")
FAULT_KINDS = ("status", "rate_limit", "slow", "non_json", "reset", "fail_job")
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
    "prompt_contains",
)
CLOUDFLARE_HTML = "<html><head><title>Attention Required! | Cloudflare</title></head><body>Error 1010</body></html>"


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0 (got {value!r})")
    return float(value)


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
    retry_after: float | None = None
    delay: float | None = None
    body: Any = None
    error_code: str | None = None
    error_message: str | None = None
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
            "prompt_contains": self.prompt_contains,
        }


def make_fault(
    kind: str,
    *,
    route: str = "any",
    count: int = 1,
    status: int | None = None,
    retry_after: float | None = None,
    delay: float | None = None,
    body: Any = None,
    error_code: str | None = None,
    error_message: str | None = None,
    prompt_contains: str | None = None,
) -> Fault:
    """Build a validated :class:`Fault`; raise ``ValueError`` for anything unusable."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)} (got {kind!r})")
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
    if kind == "non_json" and body is not None and not isinstance(body, str):
        raise ValueError("a non_json fault body must be a string")
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
        retry_after=None if retry_after is None else _seconds("retry_after", retry_after),
        delay=None if delay is None else _seconds("delay", delay),
        body=body,
        error_code=_optional_str("error_code", error_code),
        error_message=_optional_str("error_message", error_message),
        prompt_contains=prompt_contains,
    )


def _fault_response(fault: Fault) -> web.Response:
    headers: dict[str, str] = {}
    if fault.kind == "rate_limit":
        headers["Retry-After"] = str(math.ceil(1 if fault.retry_after is None else fault.retry_after))
        return web.json_response({"message": "Too Many Requests"}, status=429, headers=headers)
    status = fault.status or (200 if fault.kind == "non_json" else 500)
    if fault.kind == "non_json":
        return web.Response(status=status, text=fault.body or CLOUDFLARE_HTML, content_type="text/html")
    if fault.retry_after is not None:
        headers["Retry-After"] = str(math.ceil(fault.retry_after))
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
