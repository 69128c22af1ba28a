"""What the emulator's route modules share: the app keys and small response helpers."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pictory_provider.emulator.state import EmulatorState


class _Background:
    """Webhook timers (by job id) and delivery tasks of one running app."""

    def __init__(self) -> None:
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.tasks: set[asyncio.Task[None]] = set()


STATE_KEY = web.AppKey("pictory_emulator_state", EmulatorState)
BACKGROUND_KEY = web.AppKey("pictory_emulator_background", _Background)


def _not_found() -> web.Response:
    return web.json_response(
        {"message": "Job not found", "error_code": "5000", "error_message": "JOB_NOT_FOUND"}, status=404
    )


def _job_id(request: web.Request) -> str | None:
    value = request.match_info["job_id"]
    try:
        uuid.UUID(value)
    except ValueError:
        return None
    return value


def _origin(request: web.Request) -> str:
    return str(request.url.origin())


def _invalid_body(message: str, fields: list[Any]) -> web.Response:
    return web.json_response({"code": "INVALID_REQUEST_BODY", "message": message, "fields": fields}, status=400)


async def request_object(request: web.Request) -> dict[str, Any] | None:
    """The request's JSON object body (an empty body is ``{}``), or ``None`` when it is not one."""
    try:
        payload = json.loads(await request.read() or b"{}")
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """An unknown route or method is answered in JSON, ``{"message": ...}``, as Pictory's errors are
    (401 ``{"message": "Unauthorized"}`` in its docs; this status/message pair is inferred), not as
    aiohttp's text. The emulator's own ``/_emulator/`` routes are left as they are."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or request.path.startswith("/_emulator/"):
            raise
        allow = exc.headers.get("Allow")
        return web.json_response({"message": exc.reason}, status=exc.status, headers={"Allow": allow} if allow else {})
