"""The emulator's routes for what a storyboard needs: the signed upload, a render job's subtitle and
audio files, a preview's player page and the render of ``renderParams`` (the lookups and music search
are in :mod:`~pictory_provider.emulator.lookup_routes`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape
from urllib.parse import quote

from aiohttp import web

from pictory_provider import storyboard
from pictory_provider.emulator.account import OutOfCredits
from pictory_provider.emulator.http import STATE_KEY, _invalid_body, _job_id, _origin, request_object
from pictory_provider.emulator.jobs import FILES_PREFIX, PREVIEW_PAGE_PREFIX, scene_text, storyboard_of_render_params

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Subtitle files of a completed render job.
SUBTITLE_TYPES = {"srt": "application/x-subrip", "vtt": "text/vtt", "txt": "text/plain"}
UPLOAD_PREFIX = "/_signed_uploads/"


async def get_subtitle_file(request: web.Request) -> web.StreamResponse:
    """The ``.srt``, ``.vtt`` and ``.txt`` of a completed render job."""
    job_id, extension = _job_id(request), request.match_info["extension"]
    text = None if job_id is None else request.app[STATE_KEY].subtitles(job_id, extension)
    if text is None:
        return web.json_response({"message": "Not Found"}, status=404)
    return web.Response(text=text, content_type=SUBTITLE_TYPES[extension], charset="utf-8")


async def generate_upload_url(request: web.Request) -> web.StreamResponse:
    """``POST /v1/media/generateurl``: a signed URL to ``PUT`` the bytes to and the permanent URL."""
    payload = await request_object(request)
    errors = []
    if payload is None:
        return _invalid_body("Request body must be a JSON object", [])
    name, content_type = payload.get("fileName"), payload.get("contentType")
    if not isinstance(name, str) or not name or "/" in name:
        errors.append({"name": "fileName", "errors": "fileName is required (a file name)"})
    if not isinstance(content_type, str) or "/" not in content_type:
        errors.append({"name": "contentType", "errors": "contentType is required (a MIME type)"})
    if errors:
        return _invalid_body("Request body validation failed", errors)
    upload = request.app[STATE_KEY].new_upload(str(name), str(content_type))
    origin, key = _origin(request), upload["key"]
    quoted = quote(key)  # a file name with "#", "?" or spaces stays one path segment, as in S3's URLs
    return web.json_response(
        {
            "success": True,
            "data": {
                "signedUrl": f"{origin}{UPLOAD_PREFIX}{quoted}?X-Signature={upload['signature']}",
                "url": f"{origin}{FILES_PREFIX}uploads/{quoted}",
                "key": key,
            },
        }
    )


async def put_signed_upload(request: web.Request) -> web.StreamResponse:
    """The signed ``PUT``: the same Content-Type as signed, and no other credential (as S3 wants)."""
    if request.headers.get("Authorization"):
        return web.Response(status=400, text="InvalidArgument: Only one auth mechanism allowed")
    problem = request.app[STATE_KEY].put_upload(
        request.match_info["key"],
        request.query.get("X-Signature", ""),
        request.headers.get("Content-Type", ""),
        await request.read(),
    )
    return web.Response(status=403, text=problem) if problem else web.Response(status=200)


async def get_share_page(request: web.Request) -> web.StreamResponse:
    """A render's ``videoShareURL``: a small page playing the MP4 (Pictory's share page stands in)."""
    job_id = _job_id(request)
    if job_id is None or request.app[STATE_KEY].subtitles(job_id, "txt") is None:  # a completed render
        return web.json_response({"message": "Not Found"}, status=404)
    video = f"{_origin(request)}{FILES_PREFIX}{job_id}.mp4"
    return web.Response(text=f'<!doctype html><video controls src="{video}"></video>', content_type="text/html")


#: One silent MPEG-1 Layer III frame (128 kbit/s, 44.1 kHz, 1,152 samples): the emulator's render audio.
_SILENT_MP3_FRAME = bytes.fromhex("fffb9064") + bytes(413)
_MP3_FRAMES_PER_SECOND = 44_100 / 1_152


async def get_audio_file(request: web.Request) -> web.StreamResponse:
    """A completed render's ``audioURL``: silence as long as the video (Pictory's is the narration, MP3)."""
    job_id = _job_id(request)
    state = request.app[STATE_KEY]
    record = None if job_id is None or state.subtitles(job_id, "txt") is None else state.job_record(job_id)
    if record is None:
        return web.json_response({"message": "Not Found"}, status=404)
    seconds = float(str(record.get("duration") or "1").removesuffix("s") or 1)
    return web.Response(body=_SILENT_MP3_FRAME * round(seconds * _MP3_FRAMES_PER_SECOND), content_type="audio/mpeg")


async def get_preview_page(request: web.Request) -> web.StreamResponse:
    """A completed preview's ``previewUrl``: the emulator's stand-in for Pictory's player page, embeddable
    in an iframe (``?mode=player``, docs ``integrations/storyboard-video-preview/embed-preview-player``)."""
    job_id = _job_id(request)
    payload = None if job_id is None else request.app[STATE_KEY].job_payload(job_id)
    data = payload.get("data", {}) if payload else {}
    board = data.get("storyboard") if data.get("status") == "completed" else None
    if not isinstance(board, dict):
        return web.json_response({"message": "Not Found"}, status=404)
    scenes = "".join(f"<li>{escape(scene_text(scene))}</li>" for scene in board.get("scenes") or [])
    title = escape(str(board.get("videoName", "")))
    return web.Response(
        text=f"<!doctype html><title>{title}</title><h1>{title}</h1><ol>{scenes}</ol>", content_type="text/html"
    )


async def render_render_params(request: web.Request) -> web.StreamResponse:
    """``POST /v2/video/render``: render a preview's ``renderParams``, sent as the body
    (https://docs.pictory.ai/api-reference/videos/render-video); the emulator renders one scene per
    ``SceneText`` element (inferred) and answers ``{"success": true, "data": {"jobId"}}`` as the page shows."""
    from pictory_provider.emulator.routes import _schedule_webhook  # the routes module imports this one

    payload = await request_object(request)
    if payload is None:
        return _invalid_body("Request body must be a JSON object", [])
    errors = []
    if not isinstance(payload.get("output"), dict):
        errors.append({"name": "output", "errors": "output is required (the renderParams' output settings)"})
    if not isinstance(payload.get("elements"), list) or not payload.get("elements"):
        errors.append({"name": "elements", "errors": "elements is required (the renderParams' elements)"})
    webhook = payload.get("webhook")
    if webhook is not None and (not isinstance(webhook, str) or len(webhook) > storyboard.WEBHOOK_MAX_LENGTH):
        errors.append({"name": "webhook", "errors": "invalid webhook"})
    if errors:
        return _invalid_body("Request body validation failed", errors)
    try:
        job = request.app[STATE_KEY].create_job(storyboard_of_render_params(payload), _origin(request), "render")
    except OutOfCredits as exc:
        return exc.response()
    _schedule_webhook(request.app, job)
    return web.json_response({"success": True, "data": {"jobId": job.id}})


async def get_uploaded_file(request: web.Request) -> web.StreamResponse:
    found = request.app[STATE_KEY].uploaded(request.match_info["key"])
    if found is None:
        return web.json_response({"message": "Not Found"}, status=404)
    return web.Response(body=found[1], content_type=found[0])


def add_storyboard_routes(router: web.UrlDispatcher) -> None:
    """Upload (generate URL, signed PUT, the stored file) and subtitle files."""
    router.add_get(FILES_PREFIX + "{job_id:[0-9a-f-]{36}}.{extension:(?:srt|vtt|txt)}", get_subtitle_file)
    router.add_get(FILES_PREFIX + "uploads/{key:[0-9a-f]{32}/[^/]+}", get_uploaded_file)
    router.add_get(FILES_PREFIX + "{job_id:[0-9a-f-]{36}}.mp3", get_audio_file)
    router.add_get("/share/{job_id}", get_share_page)
    router.add_get(PREVIEW_PAGE_PREFIX + "{job_id}", get_preview_page)
    router.add_post(storyboard.RENDER_PARAMS_PATH, render_render_params)
    router.add_post(storyboard.MEDIA_UPLOAD_PATH, generate_upload_url)
    router.add_put(UPLOAD_PREFIX + "{key:[0-9a-f]{32}/[^/]+}", put_signed_upload)


#: The API route (request counter, fault target) of each handler.
STORYBOARD_ROUTES: dict[Handler, str] = {
    get_subtitle_file: "file",
    get_uploaded_file: "file",
    get_share_page: "file",
    get_audio_file: "file",
    get_preview_page: "file",
    render_render_params: "create",
    generate_upload_url: "upload",
    put_signed_upload: "signed_upload",
}
