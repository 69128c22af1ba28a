"""The emulator's lookups and music search, in the shapes of Pictory's docs.

Each answer follows the JSON example of its page under ``https://docs.pictory.ai/api-reference/``
(named beside it; the examples themselves are in ``tests/contract/``, which holds these routes to
them). Where an example is long, the emulator serves a few of its entries; what the docs leave open
is marked *inferred*.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from pictory_provider.emulator.http import _invalid_body, request_object
from pictory_provider.exceptions import PictoryValidationError
from pictory_provider.lookups import (
    AVATARS_PATH,
    BRANDS_PATH,
    MUSIC_FACET_PATHS,
    MUSIC_LIST_FILTERS,
    MUSIC_SEARCH_PATH,
    SMART_LAYOUTS_PATH,
    TEMPLATES_PATH,
    TEXT_STYLES_PATH,
    VOICES_PATH,
    music_search_body,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_SAMPLES = "https://pictory-static.pictorycontent.com"
#: voiceovers/get-voiceover-tracks: a bare array (the docs' three voices).
VOICES = [
    {
        "accent": "American accent",
        "category": "standard",
        "engine": "neural",
        "gender": "female",
        "id": 1001,
        "language": "en-US",
        "name": "Joanna",
        "sample": f"{_SAMPLES}/polly/samples/Joanna_100_sample.mp3",
        "service": "aws",
        "ssmlHelp": "https://docs.pictory.ai/docs/supported-ssml-tags#category-b",
        "ssmlSupportCategory": "B",
        "voice": "Joanna",
    },
    {
        "accent": "British accent",
        "category": "standard",
        "engine": "WaveNet",
        "gender": "female",
        "id": 1034,
        "language": "en-GB",
        "name": "Fiona",
        "sample": f"{_SAMPLES}/google/samples/Fiona_en-GB-Wavenet-A_FEMALE_updated.mp3",
        "service": "google",
        "ssmlHelp": "https://docs.pictory.ai/docs/supported-ssml-tags#category-c",
        "ssmlSupportCategory": "C",
        "voice": "en-GB-Wavenet-A_FEMALE",
    },
    {
        "accent": "Indian accent",
        "category": "standard",
        "engine": "WaveNet",
        "gender": "female",
        "id": 1039,
        "language": "en-IN",
        "name": "Shreya",
        "sample": f"{_SAMPLES}/google/samples/en-IN-Wavenet-A_FEMALE_updated.mp3",
        "service": "google",
        "ssmlHelp": "https://docs.pictory.ai/docs/supported-ssml-tags#category-c",
        "ssmlSupportCategory": "C",
        "voice": "en-IN-Wavenet-A_FEMALE",
    },
]
#: branding/get-video-brands: a bare array.
BRANDS = [
    {"id": "eb67b4ba-0eef-41fa-a772-d9675cc3645c", "name": "Default Brand"},
    {"id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890", "name": "Corporate Blue"},
]
#: branding/get-text-styles: a bare array.
TEXT_STYLES = [
    {"id": "6d9cc665-8087-4587-ab6d-f9d7d01f82c4", "name": "Default"},
    {"id": "bcbcef60-9f8f-4357-ac32-ecf5144f2f12", "name": "Headliner"},
]
#: templates/get-templates: the docs' two, and templates/get-template-by-id's example (each served by id
#: in :mod:`~pictory_provider.emulator.project_routes`, with its variables).
TEMPLATES = {
    "items": [
        {
            "templateId": "202507141030549677ylq8k8gu44vy1y",
            "name": "Corporate Presentation Template",
            "language": "en",
            "published": True,
            "deprecated": False,
        },
        {
            "templateId": "202508151145238899abc123def456gh",
            "name": "Social Media Promo",
            "language": "en",
            "published": True,
            "deprecated": False,
        },
        {
            "templateId": "202512230204424435786014d42904bbc95813430789fe736",
            "name": "Hello World Template",
            "language": "en",
            "published": True,
            "deprecated": False,
        },
    ]
}
#: smartlayouts/get-smart-layouts.
SMART_LAYOUTS = {
    "items": [
        {"templateId": "202507141030549677ylq8k8gu44vy1y", "templateName": "Modern minimalist", "schemaVersion": "v3"},
        {
            "templateId": "20250813042630669e658e159aa60455692c1dad5473adhg7",
            "templateName": "Kinetic",
            "schemaVersion": "v3",
        },
    ]
}


def _look(group: str, look: str, name: str) -> dict[str, str]:
    preview = f"{_SAMPLES}/avatars/preview/{group}/{look}"
    return {
        "id": look,
        "name": name,
        "previewImage": f"{preview}/previewImage.webp",
        "previewVideo": f"{preview}/previewVideo_blurred.webm",
    }


#: avatars/get-avatars, one avatar person per page here so that clients must follow ``nextPageKey``
#: (the page size is inferred; the docs' example has both on one page).
AVATAR_PAGES = [
    {
        "id": "e0e84faea390465896db75a83be45085",
        "name": "Annie",
        "gender": "Female",
        "looks": [
            _look("e0e84faea390465896db75a83be45085", "Annie_expressive12_public", "Annie in Tan Jacket"),
            _look("e0e84faea390465896db75a83be45085", "Annie_expressive2_public", "Annie in Blue Casual"),
        ],
    },
    {
        "id": "d08c85e6cff84d78b6dc41d83a2eccce",
        "name": "Brandon",
        "gender": "Male",
        "looks": [_look("d08c85e6cff84d78b6dc41d83a2eccce", "Brandon_expressive2_public", "Brandon in Grey Suit")],
    },
]
#: music-search/search-music: the docs' first track, and one whose moods are inferred.
MUSIC_TRACKS = [
    {
        "id": 279,
        "title": "Bio Journey",
        "audioUrl": "https://tracks.melod.ie/track_versions/570/MEL142_06_1_Bio_Journey_%28Full%29_David_Godfrey_stream.mp3?1736295063",
        "duration": 161,
        "genres": ["Downtempo"],
        "instruments": ["Bass - Electric", "Keyboard", "Synth"],
        "moods": ["Calm / Serene", "Happy / Bright", "Upbeat / Cheerful"],
        "purposes": ["Corporate / Business", "Technology"],
    },
    {
        "id": 165,
        "title": "Dusty Road Trip",
        "audioUrl": "https://tracks.melod.ie/track_versions/316/MEL119_01_1_Dusty_Road_Trip_%28Full%29_Marcos_H_Bolanos_stream.mp3?1725242063",
        "duration": 147,
        "genres": ["Country Rock", "Electric Blues"],
        "instruments": ["Drum Kit", "Guitar - Acoustic", "Harmonica"],
        "moods": ["Energetic / Lively", "Feel Good"],
        "purposes": ["Road Trip", "Western / Cowboy"],
    },
]
#: music-search/get-music-*: bare arrays of names (a few of each; genres' shape inferred from its siblings).
MUSIC_FACETS = {
    "moods": ["Calm / Serene", "Energetic / Lively", "Feel Good", "Happy / Bright", "Upbeat / Cheerful"],
    "genres": ["Country Rock", "Downtempo", "Electric Blues"],
    "genre_groups": ["Cinematic", "Electronic", "Country", "Pop"],
    "instruments": ["Bass - Electric", "Drum Kit", "Guitar - Acoustic", "Harmonica", "Keyboard", "Synth"],
    "purposes": ["Corporate / Business", "Road Trip", "Technology", "Western / Cowboy"],
}


def _static(name: str, answer: Any) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(answer)

    handler.__name__ = f"lookup_{name}"
    return handler


def _page_key(index: int) -> str:
    return base64.urlsafe_b64encode(f'{{"page":{index}}}'.encode()).decode()


async def list_avatars(request: web.Request) -> web.StreamResponse:
    key = request.query.get("nextPageKey")
    keys = {_page_key(index): index for index in range(len(AVATAR_PAGES))}
    if key is not None and key not in keys:
        return web.json_response({"message": "Invalid nextPageKey"}, status=400)  # inferred
    index = keys.get(key or "", 0)
    last = index + 1 >= len(AVATAR_PAGES)
    return web.json_response({"items": [AVATAR_PAGES[index]], "nextPageKey": None if last else _page_key(index + 1)})


def _matches(track: dict[str, Any], body: dict[str, Any]) -> bool:
    if str(body.get("query") or "").lower() not in str(track["title"]).lower():
        return False
    for base in MUSIC_LIST_FILTERS:
        if base == "genreGroup":  # tracks carry no genre group; the emulator ignores that filter (inferred)
            continue
        values = set(track[base + "s"])
        wanted = body.get(base)
        if wanted and not (set(wanted) & values):  # case-sensitive, as documented
            return False
        if set(body.get("not" + base[0].upper() + base[1:]) or ()) & values:
            return False
    return bool(body.get("minDuration", 0) <= track["duration"] <= body.get("maxDuration", float("inf")))


async def search_music(request: web.Request) -> web.StreamResponse:
    """``POST /v1/music/search``: the documented limits checked (HTTP 400 as for a storyboard; the
    status is inferred), filters applied, one page of ``items``."""
    payload = await request_object(request)
    if payload is None:
        return _invalid_body("Request body must be a JSON object", [])
    try:
        body = music_search_body(**payload)
    except PictoryValidationError as exc:
        return _invalid_body("Request body validation failed", exc.fields)
    size, page = body.get("pageSize", 20), body.get("page", 1)
    found = [track for track in MUSIC_TRACKS if _matches(track, body)]
    return web.json_response({"items": found[(page - 1) * size : page * size]})


FACET_HANDLERS = {name: _static(f"music_{name}", MUSIC_FACETS[name]) for name in MUSIC_FACET_PATHS}
STATIC_ROUTES = {
    VOICES_PATH: _static("voices", VOICES),
    BRANDS_PATH: _static("brands", BRANDS),
    TEXT_STYLES_PATH: _static("text_styles", TEXT_STYLES),
    TEMPLATES_PATH: _static("templates", TEMPLATES),
    SMART_LAYOUTS_PATH: _static("smart_layouts", SMART_LAYOUTS),
    **{MUSIC_FACET_PATHS[name]: handler for name, handler in FACET_HANDLERS.items()},
}


def add_lookup_routes(router: web.UrlDispatcher) -> None:
    """The lookups, the music facets and search (projects: :mod:`~pictory_provider.emulator.project_routes`)."""
    for path, handler in STATIC_ROUTES.items():
        router.add_get(path, handler, allow_head=False)
    router.add_get(AVATARS_PATH, list_avatars, allow_head=False)
    router.add_post(MUSIC_SEARCH_PATH, search_music)


#: The API route (request counter, fault target) of each handler.
LOOKUP_ROUTES: dict[Handler, str] = {
    list_avatars: "lookup",
    search_music: "lookup",
    **dict.fromkeys(STATIC_ROUTES.values(), "lookup"),
}
