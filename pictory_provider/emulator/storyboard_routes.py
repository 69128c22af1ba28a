"""The emulator's routes for what a storyboard needs: lookups, music search, the signed upload, and a
render job's subtitle files."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from aiohttp import web

from pictory_provider import storyboard
from pictory_provider.emulator.http import STATE_KEY, _invalid_body, _job_id, _origin, request_object
from pictory_provider.emulator.jobs import FILES_PREFIX

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Subtitle files of a completed render job.
SUBTITLE_TYPES = {"srt": "application/x-subrip", "vtt": "text/vtt", "txt": "text/plain"}
#: Lookup answers (shapes as Pictory's client accepts them: a bare list, ``data`` or ``tracks``).
LOOKUPS: dict[str, Any] = {
    "voices": [
        {
            "id": 101,
            "name": "Brian",
            "voice": "Brian",
            "gender": "Male",
            "accent": "British",
            "language": "en-GB",
            "engine": "neural",
            "service": "aws",
            "sample": "https://cdn.example.com/voices/brian.mp3",
        },
        {
            "id": 102,
            "name": "Joanna",
            "voice": "Joanna",
            "gender": "Female",
            "accent": "American",
            "language": "en-US",
            "engine": "neural",
            "service": "aws",
            "sample": "https://cdn.example.com/voices/joanna.mp3",
        },
        {
            "id": 103,
            "name": "Gabriel",
            "voice": "Gabriel",
            "gender": "Male",
            "accent": "French",
            "language": "fr-FR",
            "engine": "neural",
            "service": "google",
            "sample": "https://cdn.example.com/voices/gabriel.mp3",
        },
    ],
    "brands": {"data": [{"id": "brand-1", "name": "Acme"}]},
    "templates": {"data": [{"id": "template-1", "name": "Product launch", "variables": ["product"]}]},
    "smart_layouts": [{"id": "layout-1", "name": "Modern"}],
    "subtitle_styles": {"data": [{"id": "style-1", "name": "Bold captions"}]},
    "avatars": {"data": [{"avatarId": "avatar-1", "name": "Anna"}]},
}
MUSIC_TRACKS = [
    {
        "id": "track-1",
        "title": "Morning light",
        "audioUrl": "https://cdn.example.com/music/1.mp3",
        "duration": 120,
        "genres": ["Ambient"],
        "moods": ["Calm"],
        "purposes": ["Corporate"],
    },
    {
        "id": "track-2",
        "title": "Upbeat day",
        "audioUrl": "https://cdn.example.com/music/2.mp3",
        "duration": 95,
        "genres": ["Pop"],
        "moods": ["Happy"],
        "purposes": ["Advertising"],
    },
]
UPLOAD_PREFIX = "/_signed_uploads/"


async def get_subtitle_file(request: web.Request) -> web.StreamResponse:
    """The ``.srt``, ``.vtt`` and ``.txt`` of a completed render job."""
    job_id, extension = _job_id(request), request.match_info["extension"]
    text = None if job_id is None else request.app[STATE_KEY].subtitles(job_id, extension)
    if text is None:
        return web.json_response({"message": "Not Found"}, status=404)
    return web.Response(text=text, content_type=SUBTITLE_TYPES[extension], charset="utf-8")


def _lookup_handler(name: str) -> Handler:
    async def lookup(request: web.Request) -> web.StreamResponse:
        return web.json_response(LOOKUPS[name])

    lookup.__name__ = f"lookup_{name}"
    return lookup


LOOKUP_HANDLERS = {name: _lookup_handler(name) for name in storyboard.LOOKUP_PATHS}


async def search_music(request: web.Request) -> web.StreamResponse:
    payload = await request_object(request)
    if payload is None:
        return _invalid_body("Request body must be a JSON object", [])
    query = str(payload.get("query") or "").lower()
    moods = set(payload.get("mood") or [])
    tracks = [
        track
        for track in MUSIC_TRACKS
        if query in str(track["title"]).lower() and (not moods or moods & set(track["moods"]))  # type: ignore[call-overload]
    ]
    return web.json_response({"tracks": tracks})


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
    """Lookups, music search, upload (generate URL, signed PUT, the stored file) and subtitle files."""
    router.add_get(FILES_PREFIX + "{job_id:[0-9a-f-]{36}}.{extension:(?:srt|vtt|txt)}", get_subtitle_file)
    router.add_get(FILES_PREFIX + "uploads/{key:[0-9a-f]{32}/[^/]+}", get_uploaded_file)
    router.add_get("/share/{job_id}", get_share_page)
    for name, path in storyboard.LOOKUP_PATHS.items():
        router.add_get(path, LOOKUP_HANDLERS[name], allow_head=False)
    router.add_post(storyboard.MUSIC_SEARCH_PATH, search_music)
    router.add_post(storyboard.MEDIA_UPLOAD_PATH, generate_upload_url)
    router.add_put(UPLOAD_PREFIX + "{key:[0-9a-f]{32}/[^/]+}", put_signed_upload)


#: The API route (request counter, fault target) of each handler.
STORYBOARD_ROUTES: dict[Handler, str] = {
    get_subtitle_file: "file",
    get_uploaded_file: "file",
    get_share_page: "file",
    search_music: "lookup",
    generate_upload_url: "upload",
    put_signed_upload: "signed_upload",
    **dict.fromkeys(LOOKUP_HANDLERS.values(), "lookup"),
}
