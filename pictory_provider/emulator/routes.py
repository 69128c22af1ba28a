"""The emulator's aiohttp application: API routes, the counting/fault middleware, admin routes, webhooks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from typing import Any

import aiohttp
from aiohttp import web

from pictory_provider import ai_studio, api, storyboard
from pictory_provider.api import JobStatus
from pictory_provider.emulator import media
from pictory_provider.emulator.account import CREDIT_ROUTES, OutOfCredits, add_credit_routes
from pictory_provider.emulator.faults import (
    DEFAULT_FAULT_DELAY,
    FAULT_FIELDS,
    SHAPING_KINDS,
    _abort_connection,
    _fault_response,
    make_fault,
    shape_response,
)
from pictory_provider.emulator.http import (
    BACKGROUND_KEY,
    STATE_KEY,
    _Background,
    _invalid_body,
    _job_id,
    _not_found,
    _origin,
    json_errors,
    request_object,
)
from pictory_provider.emulator.jobs import FILES_PREFIX
from pictory_provider.emulator.lookup_routes import LOOKUP_ROUTES, add_lookup_routes
from pictory_provider.emulator.png import job_png
from pictory_provider.emulator.project_routes import (
    PROJECT_ROUTES,
    add_project_routes,
    expand_template,
    template_errors,
)
from pictory_provider.emulator.state import EmulatorState
from pictory_provider.emulator.storyboard_routes import STORYBOARD_ROUTES, add_storyboard_routes
from pictory_provider.emulator.transcription_routes import TRANSCRIPTION_ROUTES, add_transcription_routes
from pictory_provider.request_limits import MAX_REQUEST_BYTES

WEBHOOK_TIMEOUT_SECONDS = 10.0
#: Fields of the Generate Image body; anything else is silently stripped, as Pictory does.
REQUEST_FIELDS = ("prompt", "model", "aspectRatio", "style", "referenceImageUrl", "webhook")
#: Fields of the Generate Video body.
VIDEO_REQUEST_FIELDS = ("prompt", "model", "aspectRatio", "duration", *api.VIDEO_SOURCE_FIELDS, "webhook")


def _fields(names: tuple[str, ...]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda payload: {name: payload[name] for name in names if payload.get(name) is not None}


def _storyboard_errors(body: dict[str, Any]) -> list[dict[str, str]]:
    # unknown fields were stripped, as Pictory does; a template's variables are checked against its own
    return storyboard.storyboard_errors(body, unknown=False) + template_errors(body)


def _storyboard_body(payload: dict[str, Any]) -> dict[str, Any]:
    return expand_template(storyboard.strip_unknown(payload))


#: Per kind: what Pictory keeps of a body (unknown fields silently stripped) and its validation (the
#: same function the hook uses).
CREATE: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], Callable[[dict[str, Any]], list[Any]]]] = {
    "image": (_fields(REQUEST_FIELDS), ai_studio.image_request_errors),
    "video": (_fields(VIDEO_REQUEST_FIELDS), ai_studio.video_request_errors),
    "render": (_storyboard_body, _storyboard_errors),
    "preview": (_storyboard_body, _storyboard_errors),
}
#: Video media file suffix -> (content type, renderer of (job_id, width, height, seconds)).
VIDEO_MEDIA: dict[str, tuple[str, Callable[[str, int, int, int], bytes]]] = {
    ".mp4": ("video/mp4", media.job_mp4),
    "-thumbnail.jpg": ("image/jpeg", lambda job_id, w, h, s: media.job_jpeg(job_id, w, h, thumbnail=True)),
    "-preview.jpg": ("image/jpeg", lambda job_id, w, h, s: media.job_jpeg(job_id, w, h, thumbnail=False)),
    "-last-frame.png": ("image/png", media.job_last_frame_png),
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def create_image(request: web.Request) -> web.StreamResponse:
    return await _create(request, "image")


async def create_video(request: web.Request) -> web.StreamResponse:
    return await _create(request, "video")


async def create_render(request: web.Request) -> web.StreamResponse:
    return await _create(request, "render")


async def create_preview(request: web.Request) -> web.StreamResponse:
    return await _create(request, "preview")


async def render_preview(request: web.Request) -> web.StreamResponse:
    """``PUT /v2/video/render/{previewJobId}``: render a completed preview (body optional: ``webhook``)."""
    state = request.app[STATE_KEY]
    payload = await request_object(request)
    if payload is None:
        return _invalid_body("Request body must be a JSON object", [])
    webhook = payload.get("webhook")
    if webhook is not None and (not isinstance(webhook, str) or len(webhook) > storyboard.WEBHOOK_MAX_LENGTH):
        return _invalid_body("Request body validation failed", [{"name": "webhook", "errors": "invalid webhook"}])
    job_id = _job_id(request)
    try:
        if job_id is None:
            raise KeyError(request.match_info["job_id"])
        job = state.render_preview(job_id, webhook, _origin(request))
    except KeyError:
        return _not_found()
    except ValueError as exc:
        return web.json_response({"code": "INVALID_REQUEST", "message": str(exc)}, status=400)
    except OutOfCredits as exc:
        return exc.response()
    _schedule_webhook(request.app, job)
    return web.json_response({"success": True, "data": {"jobId": job.id}})


def _schedule_webhook(app: web.Application, job: Any) -> None:
    if job.webhook is not None:
        delay = max(0.0, job.completes_at - time.time())
        app[BACKGROUND_KEY].timers[job.id] = asyncio.get_running_loop().call_later(delay, _start_webhook, app, job.id)


async def _create(request: web.Request, kind: str) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    keep, check = CREATE[kind]
    if kind in ("render", "preview") and request.content_type != "application/json":
        # "Content-Type ... must be set to application/json" (videos/render-storyboard-video,
        # videos/create-storyboard-preview); answering it with the documented 400 shape is inferred
        return _invalid_body("Content-Type must be application/json", [{"name": "Content-Type", "errors": "required"}])
    try:
        payload = json.loads(await request.read())
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return web.json_response(
            {"code": "INVALID_REQUEST_BODY", "message": "Request body must be a JSON object", "fields": []},
            status=400,
        )
    body = keep(payload)
    errors = check(body)
    if errors:
        return web.json_response(
            {"code": "INVALID_REQUEST_BODY", "message": "Request body validation failed", "fields": errors},
            status=400,
        )
    try:
        job = state.create_job(body, _origin(request), kind)
    except OutOfCredits as exc:
        return exc.response()
    _schedule_webhook(request.app, job)
    return web.json_response({"success": True, "data": {"jobId": job.id}})


async def get_job(request: web.Request) -> web.StreamResponse:
    job_id = _job_id(request)
    state = request.app[STATE_KEY]
    payload = None if job_id is None else state.job_payload(job_id) or state.other_payload(job_id)
    return _not_found() if payload is None else web.json_response(payload)


async def list_jobs(request: web.Request) -> web.StreamResponse:
    return _list(request, images=False)


async def list_images(request: web.Request) -> web.StreamResponse:
    return _list(request, images=True)


async def list_videos(request: web.Request) -> web.StreamResponse:
    return _list(request, images=True, kind="video")


def _list(request: web.Request, images: bool, kind: str = "image") -> web.StreamResponse:
    try:
        items, next_key = request.app[STATE_KEY].page(request.query.get("nextPageKey") or None, images, kind)
    except ValueError:
        return web.json_response({"code": "INVALID_REQUEST", "message": "Invalid nextPageKey"}, status=400)
    body: dict[str, Any] = {"items": items}
    if next_key is not None:
        body["nextPageKey"] = next_key
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


async def get_video_file(request: web.Request) -> web.StreamResponse:
    """The MP4, the JPG thumbnail and preview, and the PNG last frame of a completed video job."""
    job_id, suffix = _job_id(request), request.match_info["suffix"]
    found = None if job_id is None else request.app[STATE_KEY].video_media(job_id)
    if job_id is None or found is None or suffix not in VIDEO_MEDIA:
        return web.json_response({"message": "Not Found"}, status=404)
    content_type, render = VIDEO_MEDIA[suffix]
    body = render(job_id, *found)
    if suffix == ".mp4" and request.app[STATE_KEY].list_config["streamed_mp4"]:
        body = media.streamed(body)
    return web.Response(body=body, content_type=content_type)


ROUTE_OF_HANDLER: dict[Handler, str] = {
    create_image: "create",
    create_render: "create",
    create_preview: "create",
    render_preview: "create",
    **STORYBOARD_ROUTES,
    **TRANSCRIPTION_ROUTES,
    **LOOKUP_ROUTES,
    **PROJECT_ROUTES,
    create_video: "create",
    list_videos: "list",
    get_video_file: "file",
    get_job: "job",
    list_jobs: "list",
    list_images: "list",
    clean_job: "clean",
    get_file: "file",
    **CREDIT_ROUTES,
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


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count API requests, apply faults, check the API key (not for files)."""
    route = ROUTE_OF_HANDLER.get(request.match_info.handler)
    if route is None:
        return await handler(request)
    state = request.app[STATE_KEY]
    started = time.time()
    peer = request.transport.get_extra_info("peername") if request.transport is not None else None
    generation, fault = state.begin_request(
        route,
        None if peer is None else repr(peer),
        request.method in ("POST", "PUT"),  # PUT: the render of a preview is a create too
        request.headers.get("Authorization"),
    )
    response: web.StreamResponse | None = None

    async def respond() -> web.StreamResponse:
        if route not in ("file", "signed_upload") and not state.authorized(request.headers.get("Authorization")):
            return web.json_response({"message": "Unauthorized"}, status=401)
        return await handler(request)

    if fault is not None:
        if fault.kind == "reset":
            _abort_connection(request)
            state.finish_request(generation, request.method, request.path, route, None, started)
            # aiohttp fails to write this to the aborted transport and closes quietly.
            return web.Response(status=500)
        if fault.kind == "slow":
            # the request takes effect after the delay even when the client has given up meanwhile (a
            # create Pictory makes late): shielded from aiohttp's cancellation on disconnect
            delay = DEFAULT_FAULT_DELAY if fault.delay is None else fault.delay
            await request.read()  # the body is kept: the handler reads it after the client may have left
            response = await asyncio.shield(asyncio.ensure_future(_after(delay, respond)))
        elif fault.kind not in SHAPING_KINDS and fault.kind != "answer_late":
            if fault.kind == "status" and fault.delay:  # a gateway that gives up after a while: nothing created
                await asyncio.sleep(fault.delay)
            response = _fault_response(fault)
    if response is None:
        response = await respond()
        if fault is not None and fault.kind in SHAPING_KINDS:
            response = await shape_response(request, response, fault)
    if fault is not None and fault.kind == "answer_late":
        # The request took effect (a POST created its job); only the answer is late, so a client
        # whose read timeout is shorter cannot know whether it did.
        await asyncio.sleep(DEFAULT_FAULT_DELAY if fault.delay is None else fault.delay)
    auth = state.auth_kind(request.headers.get("Authorization"))
    state.finish_request(
        generation, request.method, request.path, route, response.status, started, auth, request.query_string
    )
    offset = state.list_config["clock_offset"]
    if offset and route != "file" and not response.prepared:
        response.headers["Date"] = formatdate(time.time() + offset, usegmt=True)  # Pictory's clock
    return response


# -- admin routes (no auth, not counted) ---------------------------------------------------------


async def _after(delay: float, answer: Callable[[], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    await asyncio.sleep(delay)
    return await answer()


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


async def admin_requests(request: web.Request) -> web.StreamResponse:
    return web.json_response({"requests": request.app[STATE_KEY].request_log()})


async def admin_config(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    try:
        payload = await _json_object(request)
        if "job_seconds" in payload:
            state.set_job_seconds(payload.pop("job_seconds"))
        limit = {}
        if "rate_limit" in payload or "rate_limit_burst" in payload:
            limit = state.set_rate_limit(payload.pop("rate_limit", None), payload.pop("rate_limit_burst", None))
        list_config = state.configure_list(**payload) if payload else {}
    except ValueError as exc:
        return _bad_request(str(exc))
    return web.json_response({"job_seconds": state.job_seconds, **limit, **list_config})


async def admin_other_jobs(request: web.Request) -> web.StreamResponse:
    try:
        payload = await _json_object(request)
        unknown = sorted(set(payload) - {"count", "kind", "status", "data_bytes"})
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(unknown)}")
        ids = request.app[STATE_KEY].add_other_jobs(**payload)
    except (TypeError, ValueError) as exc:
        return _bad_request(str(exc))
    return web.json_response({"success": True, "job_ids": ids})


def finish_jobs(app: web.Application) -> int:
    """Every job still in progress reaches its outcome now, and its webhook (if any) is sent now too;
    returns how many. Runs in the app's event loop."""
    finished = app[STATE_KEY].finish_jobs()
    timers = app[BACKGROUND_KEY].timers
    for job_id in finished:
        timer = timers.get(job_id)
        if timer is not None:
            timer.cancel()
            _start_webhook(app, job_id)
    return len(finished)


async def admin_finish_jobs(request: web.Request) -> web.StreamResponse:
    return web.json_response({"finished": finish_jobs(request.app)})


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
    # Bodies over the provider's inferred request limit are answered 413, as Pictory is taken to answer them.
    app = web.Application(middlewares=[json_errors, api_middleware], client_max_size=MAX_REQUEST_BYTES)
    app[STATE_KEY] = state
    app[BACKGROUND_KEY] = _Background()
    app.on_cleanup.append(_cleanup_background)
    router = app.router
    router.add_post(api.IMAGES_PATH, create_image)
    router.add_get(api.IMAGES_PATH, list_images, allow_head=False)
    router.add_get(api.JOBS_PATH, list_jobs, allow_head=False)
    router.add_get(api.JOBS_PATH + "/{job_id}", get_job, allow_head=False)
    router.add_delete(api.JOBS_PATH + "/{job_id}/clean", clean_job)
    router.add_post(api.VIDEOS_PATH, create_video)
    router.add_get(api.VIDEOS_PATH, list_videos, allow_head=False)
    suffixes = "|".join(suffix.replace(".", "\\.") for suffix in VIDEO_MEDIA)
    router.add_get(FILES_PREFIX + "{job_id:[0-9a-f-]{36}}{suffix:(?:" + suffixes + ")}", get_video_file)
    router.add_get(FILES_PREFIX + "{job_id}.png", get_file)
    router.add_post(storyboard.RENDER_PATH, create_render)
    router.add_post(storyboard.PREVIEW_PATH, create_preview)
    router.add_put(storyboard.RENDER_PREVIEW_PATH.replace("{previewJobId}", "{job_id}"), render_preview)
    add_storyboard_routes(router)
    add_transcription_routes(router)
    add_lookup_routes(router)
    add_project_routes(router)
    router.add_post("/_emulator/faults", admin_add_fault)
    router.add_get("/_emulator/faults", admin_list_faults)
    router.add_delete("/_emulator/faults", admin_clear_faults)
    router.add_get("/_emulator/stats", admin_stats)
    router.add_get("/_emulator/requests", admin_requests)
    router.add_post("/_emulator/config", admin_config)
    router.add_post("/_emulator/other_jobs", admin_other_jobs)
    router.add_post("/_emulator/reset", admin_reset)
    router.add_post("/_emulator/finish_jobs", admin_finish_jobs)
    router.add_get("/_emulator/jobs/{job_id}", admin_job)
    add_credit_routes(app, state.credits)
    return app


def make_runner(state: EmulatorState) -> web.AppRunner:
    """An :class:`aiohttp.web.AppRunner` for :func:`build_app` with access logging off (keys never logged)."""
    return web.AppRunner(build_app(state), access_log=None, shutdown_timeout=0.25)
