"""The emulator's aiohttp application, its in-memory state, and :class:`PictoryEmulator`."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import math
import socket
import struct
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from pictory_provider import api
from pictory_provider.api import JobStatus
from pictory_provider.emulator.png import job_png

API_ROUTES = ("create", "job", "list", "clean", "file")
FAULT_ROUTES = (*API_ROUTES, "any")
FAULT_KINDS = ("status", "rate_limit", "slow", "non_json", "reset", "fail_job")
FAULT_FIELDS = ("kind", "route", "count", "status", "retry_after", "delay", "body", "error_code", "error_message")
PAGE_SIZE = 100
WEBHOOK_TIMEOUT_SECONDS = 10.0
REQUEST_LOG_LIMIT = 10_000
#: Fields of the Generate Image body; anything else is silently stripped, as Pictory does.
REQUEST_FIELDS = ("prompt", "model", "aspectRatio", "style", "referenceImageUrl", "webhook")
DEFAULT_FAIL_CODE = "IMAGE_GENERATION_FAILED"
DEFAULT_FAIL_MESSAGE = "The image could not be generated"
CLOUDFLARE_HTML = "<html><head><title>Attention Required! | Cloudflare</title></head><body>Error 1010</body></html>"
FILES_PREFIX = "/files/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


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
    )


@dataclass
class Job:
    """An image job as the emulator stores it."""

    id: str
    seq: int
    prompt: str
    model: str
    aspect_ratio: str
    style: str | None
    reference_image_url: str | None
    webhook: str | None
    origin: str
    created_at: float
    completes_at: float
    error_code: str | None = None
    error_message: str | None = None
    cleaned: bool = False

    @property
    def size(self) -> tuple[int, int]:
        return api.ASPECT_RATIO_SIZES[self.aspect_ratio]

    @property
    def outcome(self) -> JobStatus:
        return JobStatus.FAILED if self.error_code is not None else JobStatus.COMPLETED

    def status(self, now: float) -> JobStatus:
        if self.cleaned:
            return JobStatus.CLEANED
        return JobStatus.IN_PROGRESS if now < self.completes_at else self.outcome

    def payload(self, status: JobStatus) -> dict[str, Any]:
        """The ``GET /jobs/{id}`` body for this job in ``status``."""
        data: dict[str, Any] = {"status": status.value}
        if status is JobStatus.COMPLETED:
            width, height = self.size
            data.update(
                url=f"{self.origin}{FILES_PREFIX}{self.id}.png",
                width=width,
                height=height,
                aiCreditsUsed=api.MODEL_CREDITS[self.model],
            )
        elif status is JobStatus.FAILED:
            data.update(error_code=self.error_code, error_message=self.error_message)
        return {"job_id": self.id, "success": status is not JobStatus.FAILED, "data": data}

    def image_item(self) -> dict[str, Any]:
        width, height = self.size
        item: dict[str, Any] = {
            "url": f"{self.origin}{FILES_PREFIX}{self.id}.png",
            "id": self.id,
            "prompt": self.prompt,
            "aspectRatio": self.aspect_ratio,
            "createdDate": datetime.fromtimestamp(self.created_at, timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "model": self.model,
            "width": width,
            "height": height,
        }
        if self.style is not None:
            item["style"] = self.style
        if self.reference_image_url is not None:
            item["referenceImageUrl"] = self.reference_image_url
        return item

    def record(self, now: float) -> dict[str, Any]:
        width, height = self.size
        return {
            "job_id": self.id,
            "status": self.status(now).value,
            "prompt": self.prompt,
            "model": self.model,
            "aspect_ratio": self.aspect_ratio,
            "style": self.style,
            "reference_image_url": self.reference_image_url,
            "webhook": self.webhook,
            "width": width,
            "height": height,
            "ai_credits_used": api.MODEL_CREDITS[self.model],
            "created_at": self.created_at,
            "completes_at": self.completes_at,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "cleaned": self.cleaned,
        }


def encode_page_key(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode()


def decode_page_key(key: str) -> int:
    """Return the sequence number a ``nextPageKey`` points after; ``ValueError`` if it is not ours."""
    try:
        text = base64.urlsafe_b64decode(key.encode()).decode()
    except (binascii.Error, UnicodeError):
        raise ValueError("invalid nextPageKey") from None
    prefix, _, number = text.partition(":")
    if prefix != "seq" or not number.isdigit():
        raise ValueError("invalid nextPageKey")
    return int(number)


class EmulatorState:
    """Jobs, faults and counters shared by the server thread and the controlling thread."""

    def __init__(self, job_seconds: float = 2.0, api_keys: Iterable[str] | None = None) -> None:
        self.lock = threading.Lock()
        self._job_seconds = _seconds("job_seconds", job_seconds)
        if isinstance(api_keys, str):
            api_keys = [api_keys]
        self._api_keys = None if api_keys is None else frozenset(api_keys)
        self._seq = 0
        self._generation = 0  # bumped by reset() so requests in flight are not counted afterwards
        self._jobs: dict[str, Job] = {}
        self._faults: list[Fault] = []
        self._requests = dict.fromkeys(API_ROUTES, 0)
        self._responses: dict[str, int] = {}
        self._posts = 0
        self._jobs_created = 0
        self._connections: set[str] = set()
        self._faults_applied = 0
        self._webhooks: list[dict[str, Any]] = []
        self._request_log: list[dict[str, Any]] = []

    # -- control (any thread) -------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self._generation += 1
            self._jobs.clear()
            self._faults.clear()
            self._requests = dict.fromkeys(API_ROUTES, 0)
            self._responses.clear()
            self._posts = self._jobs_created = self._faults_applied = 0
            self._connections.clear()
            self._webhooks.clear()
            self._request_log.clear()

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def faults(self) -> list[dict[str, Any]]:
        with self.lock:
            return [fault.to_dict() for fault in self._faults]

    def set_job_seconds(self, seconds: float) -> None:
        value = _seconds("job_seconds", seconds)
        with self.lock:
            self._job_seconds = value

    @property
    def job_seconds(self) -> float:
        with self.lock:
            return self._job_seconds

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self._requests),
                "responses": dict(self._responses),
                "posts": self._posts,
                "jobs_created": self._jobs_created,
                "connections": len(self._connections),
                "faults_applied": self._faults_applied,
                "webhooks": [dict(item) for item in self._webhooks],
            }

    def request_log(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(entry) for entry in self._request_log]

    def job_record(self, job_id: str) -> dict[str, Any] | None:
        with self.lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.record(time.time())

    # -- request bookkeeping (server thread) ----------------------------------------------
    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("pictai_") or len(header) == len("pictai_"):
            return False
        return self._api_keys is None or header in self._api_keys

    def begin_request(self, route: str, peer: str | None, is_post: bool) -> tuple[int, Fault | None]:
        """Count an API request and take (decrement) the first matching fault, if any."""
        with self.lock:
            generation = self._generation
            self._requests[route] += 1
            if is_post and route == "create":
                self._posts += 1
            if peer is not None:
                self._connections.add(peer)
            for index, fault in enumerate(self._faults):
                if fault.kind != "fail_job" and fault.route in ("any", route):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[index]
                    self._faults_applied += 1
                    return generation, fault
            return generation, None

    def finish_request(
        self, generation: int, method: str, path: str, route: str, status: int | None, started: float
    ) -> None:
        with self.lock:
            if generation != self._generation:
                return
            if status is not None:
                self._responses[str(status)] = self._responses.get(str(status), 0) + 1
            self._request_log.append(
                {"method": method, "path": path, "route": route, "status": status, "time": started}
            )
            if len(self._request_log) > REQUEST_LOG_LIMIT:
                del self._request_log[: len(self._request_log) - REQUEST_LOG_LIMIT]

    # -- jobs (server thread) --------------------------------------------------------------
    def create_job(self, body: dict[str, Any], origin: str) -> Job:
        now = time.time()
        with self.lock:
            self._seq += 1
            job = Job(
                id=str(uuid.uuid4()),
                seq=self._seq,
                prompt=body["prompt"],
                model=body.get("model", api.DEFAULT_MODEL),
                aspect_ratio=body.get("aspectRatio", api.DEFAULT_ASPECT_RATIO),
                style=body.get("style"),
                reference_image_url=body.get("referenceImageUrl"),
                webhook=body.get("webhook"),
                origin=origin,
                created_at=now,
                completes_at=now + self._job_seconds,
            )
            for index, fault in enumerate(self._faults):
                if fault.kind == "fail_job":
                    job.error_code = fault.error_code or DEFAULT_FAIL_CODE
                    job.error_message = fault.error_message or DEFAULT_FAIL_MESSAGE
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        del self._faults[index]
                    self._faults_applied += 1
                    break
            self._jobs[job.id] = job
            self._jobs_created += 1
            return job

    def job_payload(self, job_id: str) -> dict[str, Any] | None:
        with self.lock:
            job = self._jobs.get(job_id)
            return None if job is None else job.payload(job.status(time.time()))

    def webhook_payload(self, job_id: str) -> tuple[str, dict[str, Any]] | None:
        """The terminal-state body to POST to the job's webhook (``None`` if the job is gone)."""
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None or job.webhook is None:
                return None
            return job.webhook, job.payload(job.outcome)

    def record_webhook(self, job_id: str, url: str, status: int | str) -> None:
        with self.lock:
            self._webhooks.append({"job_id": job_id, "url": url, "status": status})

    def clean_job(self, job_id: str) -> JobStatus | None:
        """Clean a finished job; return its status before cleaning (``None`` if unknown)."""
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            status = job.status(time.time())
            if status is not JobStatus.IN_PROGRESS:
                job.cleaned = True
            return status

    def file_size(self, job_id: str) -> tuple[int, int] | None:
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None or job.status(time.time()) is not JobStatus.COMPLETED:
                return None
            return job.size

    def page(self, after: int | None, images: bool) -> tuple[list[dict[str, Any]], int | None]:
        """One page, newest first, of jobs (or of completed images) created before ``after``."""
        now = time.time()
        with self.lock:
            selected = []
            for job in sorted(self._jobs.values(), key=lambda j: j.seq, reverse=True):
                if after is not None and job.seq >= after:
                    continue
                status = job.status(now)
                if images and status is not JobStatus.COMPLETED:
                    continue
                selected.append((job, status))
            more = len(selected) > PAGE_SIZE
            selected = selected[:PAGE_SIZE]
            if images:
                items = [job.image_item() for job, _ in selected]
            else:
                items = []
                for job, status in selected:
                    payload = job.payload(status)
                    items.append({"success": payload["success"], "data": {**payload["data"], "jobId": job.id}})
            return items, (selected[-1][0].seq if more else None)


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


def _page_after(request: web.Request) -> int | None:
    key = request.query.get("nextPageKey")
    return decode_page_key(key) if key else None


def _origin(request: web.Request) -> str:
    return str(request.url.origin())


async def create_image(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    try:
        payload = json.loads(await request.read())
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return web.json_response(
            {"code": "INVALID_REQUEST_BODY", "message": "Request body must be a JSON object", "fields": []},
            status=400,
        )
    body = {name: payload[name] for name in REQUEST_FIELDS if payload.get(name) is not None}
    errors = api.image_request_errors(body)
    if errors:
        return web.json_response(
            {"code": "INVALID_REQUEST_BODY", "message": "Request body validation failed", "fields": errors},
            status=400,
        )
    job = state.create_job(body, _origin(request))
    if job.webhook is not None:
        app = request.app
        delay = max(0.0, job.completes_at - time.time())
        app[BACKGROUND_KEY].timers[job.id] = asyncio.get_running_loop().call_later(delay, _start_webhook, app, job.id)
    return web.json_response({"success": True, "data": {"jobId": job.id}})


async def get_job(request: web.Request) -> web.StreamResponse:
    job_id = _job_id(request)
    payload = None if job_id is None else request.app[STATE_KEY].job_payload(job_id)
    return _not_found() if payload is None else web.json_response(payload)


async def list_jobs(request: web.Request) -> web.StreamResponse:
    return _list(request, images=False)


async def list_images(request: web.Request) -> web.StreamResponse:
    return _list(request, images=True)


def _list(request: web.Request, images: bool) -> web.StreamResponse:
    try:
        after = _page_after(request)
    except ValueError:
        return web.json_response({"code": "INVALID_REQUEST", "message": "Invalid nextPageKey"}, status=400)
    items, next_seq = request.app[STATE_KEY].page(after, images)
    body: dict[str, Any] = {"items": items}
    if next_seq is not None:
        body["nextPageKey"] = encode_page_key(next_seq)
    elif not images:
        body["nextPageKey"] = None
    return web.json_response(body)


async def clean_job(request: web.Request) -> web.StreamResponse:
    job_id = _job_id(request)
    status = None if job_id is None else request.app[STATE_KEY].clean_job(job_id)
    if status is None:
        return _not_found()
    if status is JobStatus.IN_PROGRESS:
        return web.json_response(
            {
                "code": "INVALID_REQUEST",
                "message": "Only completed or failed jobs can be cleaned; this job is in progress",
            },
            status=400,
        )
    return web.json_response({"success": True})


async def get_file(request: web.Request) -> web.StreamResponse:
    job_id = _job_id(request)
    size = None if job_id is None else request.app[STATE_KEY].file_size(job_id)
    if job_id is None or size is None:
        return web.json_response({"message": "Not Found"}, status=404)
    return web.Response(body=job_png(job_id, *size), content_type="image/png")


ROUTE_OF_HANDLER: dict[Handler, str] = {
    create_image: "create",
    get_job: "job",
    list_jobs: "list",
    list_images: "list",
    clean_job: "clean",
    get_file: "file",
}


def _start_webhook(app: web.Application, job_id: str) -> None:
    background = app[BACKGROUND_KEY]
    background.timers.pop(job_id, None)
    task = asyncio.get_running_loop().create_task(_deliver_webhook(app[STATE_KEY], job_id))
    background.tasks.add(task)
    task.add_done_callback(background.tasks.discard)


async def _deliver_webhook(state: EmulatorState, job_id: str) -> None:
    target = state.webhook_payload(job_id)
    if target is None:
        return
    url, payload = target
    outcome: int | str
    try:
        timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.post(url, json=payload) as response:
            outcome = response.status
    except Exception as exc:  # delivery is best effort: record, never crash
        outcome = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    state.record_webhook(job_id, url, outcome)


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


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count API requests, apply faults, check the API key (not for files)."""
    route = ROUTE_OF_HANDLER.get(request.match_info.handler)
    if route is None:
        return await handler(request)
    state = request.app[STATE_KEY]
    started = time.time()
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    generation, fault = state.begin_request(route, None if peer is None else repr(peer), request.method == "POST")
    response: web.StreamResponse | None = None
    if fault is not None:
        if fault.kind == "reset":
            _abort_connection(request)
            state.finish_request(generation, request.method, request.path, route, None, started)
            # aiohttp fails to write this to the aborted transport and closes quietly.
            return web.Response(status=500)
        if fault.kind == "slow":
            await asyncio.sleep(5.0 if fault.delay is None else fault.delay)
        else:
            response = _fault_response(fault)
    if response is None:
        if route != "file" and not state.authorized(request.headers.get("Authorization")):
            response = web.json_response({"message": "Unauthorized"}, status=401)
        else:
            response = await handler(request)
    state.finish_request(generation, request.method, request.path, route, response.status, started)
    return response


# -- admin routes (no auth, not counted) ---------------------------------------------------------


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        payload = json.loads(await request.read() or b"{}")
    except ValueError:
        raise ValueError("body must be a JSON object") from None
    if not isinstance(payload, dict):
        raise ValueError("body must be a JSON object")
    return payload


def _bad_request(message: str) -> web.Response:
    return web.json_response({"code": "INVALID_REQUEST", "message": message}, status=400)


async def admin_add_fault(request: web.Request) -> web.StreamResponse:
    try:
        payload = await _json_object(request)
        unknown = sorted(set(payload) - set(FAULT_FIELDS))
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(unknown)}")
        if "kind" not in payload:
            raise ValueError("fault kind is required")
        options = {key: value for key, value in payload.items() if value is not None}
        fault = make_fault(**options)
    except (TypeError, ValueError) as exc:
        return _bad_request(str(exc))
    request.app[STATE_KEY].add_fault(fault)
    return web.json_response({"success": True, "fault": fault.to_dict()})


async def admin_list_faults(request: web.Request) -> web.StreamResponse:
    return web.json_response({"faults": request.app[STATE_KEY].faults()})


async def admin_clear_faults(request: web.Request) -> web.StreamResponse:
    request.app[STATE_KEY].clear_faults()
    return web.json_response({"success": True})


async def admin_stats(request: web.Request) -> web.StreamResponse:
    return web.json_response(request.app[STATE_KEY].stats())


async def admin_config(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    try:
        payload = await _json_object(request)
        if "job_seconds" in payload:
            state.set_job_seconds(payload["job_seconds"])
    except ValueError as exc:
        return _bad_request(str(exc))
    return web.json_response({"job_seconds": state.job_seconds})


async def admin_reset(request: web.Request) -> web.StreamResponse:
    request.app[STATE_KEY].reset()
    return web.json_response({"success": True})


async def admin_job(request: web.Request) -> web.StreamResponse:
    record = request.app[STATE_KEY].job_record(request.match_info["job_id"])
    return _not_found() if record is None else web.json_response(record)


async def _cleanup_background(app: web.Application) -> None:
    background = app[BACKGROUND_KEY]
    for timer in background.timers.values():
        timer.cancel()
    background.timers.clear()
    tasks = list(background.tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def build_app(state: EmulatorState) -> web.Application:
    """The aiohttp application serving the Pictory API (and ``/_emulator/`` admin routes) from ``state``."""
    app = web.Application(middlewares=[api_middleware])
    app[STATE_KEY] = state
    app[BACKGROUND_KEY] = _Background()
    app.on_cleanup.append(_cleanup_background)
    router = app.router
    router.add_post(api.IMAGES_PATH, create_image)
    router.add_get(api.IMAGES_PATH, list_images, allow_head=False)
    router.add_get(api.JOBS_PATH, list_jobs, allow_head=False)
    router.add_get(api.JOBS_PATH + "/{job_id}", get_job, allow_head=False)
    router.add_delete(api.JOBS_PATH + "/{job_id}/clean", clean_job)
    router.add_get(FILES_PREFIX + "{job_id}.png", get_file)
    router.add_post("/_emulator/faults", admin_add_fault)
    router.add_get("/_emulator/faults", admin_list_faults)
    router.add_delete("/_emulator/faults", admin_clear_faults)
    router.add_get("/_emulator/stats", admin_stats)
    router.add_post("/_emulator/config", admin_config)
    router.add_post("/_emulator/reset", admin_reset)
    router.add_get("/_emulator/jobs/{job_id}", admin_job)
    return app


def make_runner(state: EmulatorState) -> web.AppRunner:
    """An :class:`aiohttp.web.AppRunner` for :func:`build_app` with access logging off (keys never logged)."""
    return web.AppRunner(build_app(state), access_log=None, shutdown_timeout=0.25)


def _url_host(host: str) -> str:
    if host in ("", "0.0.0.0"):  # noqa: S104 - we only map wildcard binds to a reachable address
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class PictoryEmulator:
    """A local Pictory AI Studio API served by aiohttp from a daemon thread (see the package docs)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        job_seconds: float = 2.0,
        api_keys: Iterable[str] | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._state = EmulatorState(job_seconds=job_seconds, api_keys=api_keys)
        self._lifecycle = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> PictoryEmulator:
        """Start serving in a background thread; return once the socket is bound."""
        with self._lifecycle:
            if self._thread is not None:
                raise RuntimeError("PictoryEmulator is already running")
            ready = threading.Event()
            self._error = None
            thread = threading.Thread(target=self._run, args=(ready,), name="pictory-emulator", daemon=True)
            thread.start()
            ready.wait()
            if self._error is not None:
                thread.join()
                error, self._error = self._error, None
                raise error
            self._thread = thread
        return self

    def stop(self) -> None:
        """Stop the server, close its loop and join its thread (idempotent)."""
        with self._lifecycle:
            thread, loop = self._thread, self._loop
            if thread is None or loop is None:
                return
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            self._thread = None
            self._loop = None

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)  # this thread's loop, for code that looks it up implicitly
        runner = make_runner(self._state)
        try:
            try:
                loop.run_until_complete(runner.setup())
                site = web.TCPSite(runner, self.host, self._requested_port)
                loop.run_until_complete(site.start())
                self._port = int(runner.addresses[0][1])
            except BaseException as exc:  # reported to start()'s caller
                self._error = exc
                ready.set()
                return
            self._loop = loop
            ready.set()
            loop.run_forever()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(runner.cleanup())
            pending = asyncio.all_tasks(loop)  # e.g. a "slow" fault still sleeping
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            asyncio.set_event_loop(None)
            loop.close()

    def __enter__(self) -> PictoryEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port (once started)."""
        port = self._port if self._port is not None else self._requested_port
        if not port:
            raise RuntimeError("PictoryEmulator has not been started")
        return port

    @property
    def base_url(self) -> str:
        """``http://host:port`` to use as the Pictory base URL."""
        return f"http://{_url_host(self.host)}:{self.port}"

    # -- control ----------------------------------------------------------------------------
    def add_fault(
        self,
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
    ) -> None:
        """Queue a fault (see the package docstring); ``ValueError`` for an unknown kind or route."""
        self._state.add_fault(
            make_fault(
                kind,
                route=route,
                count=count,
                status=status,
                retry_after=retry_after,
                delay=delay,
                body=body,
                error_code=error_code,
                error_message=error_message,
            )
        )

    def clear_faults(self) -> None:
        self._state.clear_faults()

    def faults(self) -> list[dict[str, Any]]:
        """The active faults with their remaining counts."""
        return self._state.faults()

    def set_job_seconds(self, seconds: float) -> None:
        """How long jobs created from now on stay ``in-progress``."""
        self._state.set_job_seconds(seconds)

    def stats(self) -> dict[str, Any]:
        """A snapshot of the request, response, job, connection, fault and webhook counters."""
        return self._state.stats()

    def reset(self) -> None:
        """Forget all jobs, faults, counters and the request log."""
        self._state.reset()

    def job(self, job_id: str) -> dict[str, Any] | None:
        """The internal record of a job (as ``GET /_emulator/jobs/{id}``), or ``None``."""
        return self._state.job_record(job_id)

    @property
    def request_log(self) -> list[dict[str, Any]]:
        """A copy of the API request log: ``{"method", "path", "route", "status", "time"}`` per request."""
        return self._state.request_log()
