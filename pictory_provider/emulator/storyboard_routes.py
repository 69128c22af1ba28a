"""The emulator's routes for what a storyboard needs: the signed upload and a render job's subtitle
files (the lookups and music search are in :mod:`~pictory_provider.emulator.lookup_routes`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web

from pictory_provider import storyboard
from pictory_provider.emulator.http import STATE_KEY, _invalid_body, _job_id, _origin, request_object
from pictory_provider.emulator.jobs import FILES_PREFIX

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


async def get_uploaded_file(request: web.Request) -> web.StreamResponse:
    found = request.app[STATE_KEY].uploaded(request.match_info["key"])
    if found is None:
        return web.json_response({"message": "Not Found"}, status=404)
    return web.Response(body=found[1], content_type=found[0])


def add_storyboard_routes(router: web.UrlDispatcher) -> None:
    """Upload (generate URL, signed PUT, the stored file) and subtitle files."""
    router.add_get(FILES_PREFIX + "{job_id:[0-9a-f-]{36}}.{extension:(?:srt|vtt|txt)}", get_subtitle_file)
    router.add_get(FILES_PREFIX + "uploads/{key:[0-9a-f]{32}/[^/]+}", get_uploaded_file)
    router.add_get("/share/{job_id}", get_share_page)
    router.add_post(storyboard.MEDIA_UPLOAD_PATH, generate_upload_url)
    router.add_put(UPLOAD_PREFIX + "{key:[0-9a-f]{32}/[^/]+}", put_signed_upload)


#: The API route (request counter, fault target) of each handler.
STORYBOARD_ROUTES: dict[Handler, str] = {
    get_subtitle_file: "file",
    get_uploaded_file: "file",
    get_share_page: "file",
    generate_upload_url: "upload",
    put_signed_upload: "signed_upload",
}
