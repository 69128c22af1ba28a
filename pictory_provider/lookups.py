"""The lookups a storyboard needs, as Pictory documents them: paths, typed records and pure readers.

Each reader takes Pictory's answer (the JSON, envelope and all) and returns typed records with the
documented field names (``TypedDict``\\ s, so ``voice["name"]`` reads as in Pictory's docs), or raises
:class:`~pictory_provider.exceptions.PictoryAPIError` for an answer without the documented shape.
Pages (under ``https://docs.pictory.ai/api-reference/``) are named beside each record; the
documented examples themselves live in ``tests/contract/lookups-*.json`` and ``music-*.json``.
:func:`music_search_body` checks a music search against its documented limits before it is sent.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

from pictory_provider.exceptions import PictoryAPIError, PictoryValidationError

__all__ = [
    "AVATARS_PATH",
    "BRANDS_PATH",
    "LOOKUP_PATHS",
    "MUSIC_FACET_PATHS",
    "MUSIC_LIST_FILTERS",
    "MUSIC_SEARCH_FIELDS",
    "MUSIC_SEARCH_PATH",
    "MUSIC_SORTS",
    "PROJECTS_PATH",
    "SMART_LAYOUTS_PATH",
    "TEMPLATES_PATH",
    "TEXT_STYLES_PATH",
    "VOICES_PATH",
    "Avatar",
    "AvatarLook",
    "Brand",
    "MusicTrack",
    "SmartLayout",
    "Template",
    "TextStyle",
    "Voice",
    "music_search_body",
    "parse_avatars_page",
    "parse_brands",
    "parse_music_facet",
    "parse_music_tracks",
    "parse_smart_layouts",
    "parse_templates",
    "parse_text_styles",
    "parse_voices",
]

VOICES_PATH = "/pictoryapis/v1/voiceovers/tracks"  # voiceovers/get-voiceover-tracks
BRANDS_PATH = "/pictoryapis/v1/brands/video"  # branding/get-video-brands
TEXT_STYLES_PATH = "/pictoryapis/v1/styles"  # branding/get-text-styles
TEMPLATES_PATH = "/pictoryapis/v1/templates"  # templates/get-templates
SMART_LAYOUTS_PATH = "/pictoryapis/v1/smartlayouts"  # smartlayouts/get-smart-layouts
AVATARS_PATH = "/pictoryapis/v1/avatars"  # avatars/get-avatars (paged: ?nextPageKey=)
MUSIC_SEARCH_PATH = "/pictoryapis/v1/music/search"  # music-search/search-music (POST)
#: music-search/get-music-{moods,genres,genre-groups,instruments,purposes}: each a bare array of names.
MUSIC_FACET_PATHS = {
    "moods": "/pictoryapis/v1/music/moods",
    "genres": "/pictoryapis/v1/music/genres",
    "genre_groups": "/pictoryapis/v1/music/genres/groups",
    "instruments": "/pictoryapis/v1/music/instruments",
    "purposes": "/pictoryapis/v1/music/purposes",
}
PROJECTS_PATH = "/pictoryapis/v2/projects"  # projects/get-projects (paged: ?pagekey=, answer "pageKey")


class Voice(TypedDict):
    """An AI voice (``voiceovers/get-voiceover-tracks``); its ``name`` goes into ``aiVoices[].speaker``."""

    id: int
    name: str
    voice: NotRequired[str]
    gender: NotRequired[str]  # lower case in the docs: "female"
    accent: NotRequired[str]
    language: NotRequired[str]
    engine: NotRequired[str]
    service: NotRequired[str]
    sample: NotRequired[str]
    category: NotRequired[str]
    ssmlHelp: NotRequired[str]
    ssmlSupportCategory: NotRequired[str]


class Brand(TypedDict):
    """A video brand (``branding/get-video-brands``), for ``brandId`` / ``brandName``."""

    id: str
    name: str


class TextStyle(TypedDict):
    """A text style (``branding/get-text-styles``), for ``subtitleStyleId`` / ``subtitleStyleName``."""

    id: str
    name: str


class Template(TypedDict):
    """A video template (``templates/get-templates``), for ``templateId``."""

    templateId: str
    name: str
    language: NotRequired[str]
    published: NotRequired[bool]
    deprecated: NotRequired[bool]


class SmartLayout(TypedDict):
    """A smart layout (``smartlayouts/get-smart-layouts``): ``templateId`` is the ``smartLayoutId``,
    ``templateName`` the ``smartLayoutName``."""

    templateId: str
    templateName: str
    schemaVersion: NotRequired[str]


class AvatarLook(TypedDict):
    """One look of an avatar; its ``id`` is the ``avatar.avatarId`` to send."""

    id: str
    name: str
    previewImage: NotRequired[str]
    previewVideo: NotRequired[str]


class Avatar(TypedDict):
    """An avatar person (``avatars/get-avatars``) and its looks."""

    id: str
    name: str
    gender: NotRequired[str | None]  # "Male", "Female" or null
    looks: list[AvatarLook]


class MusicTrack(TypedDict):
    """A music track (``music-search/search-music``); its ``audioUrl`` goes into ``backgroundMusic.musicUrl``."""

    id: int
    title: str
    audioUrl: str
    duration: NotRequired[float]
    genres: NotRequired[list[str]]
    instruments: NotRequired[list[str]]
    moods: NotRequired[list[str]]
    purposes: NotRequired[list[str]]


def _typed(item: object, required: dict[str, type]) -> bool:
    """``item`` is an object whose ``required`` fields have their documented types (a bool is no number)."""
    return isinstance(item, dict) and all(
        isinstance(item.get(key), kind) and (kind is bool or not isinstance(item.get(key), bool))
        for key, kind in required.items()
    )


def _records(items: object, what: str, required: dict[str, type]) -> list[Any]:
    if not isinstance(items, list):
        raise PictoryAPIError(f"Pictory's answer to {what} is not the documented list")
    bad = [index for index, item in enumerate(items) if not _typed(item, required)]
    if bad:
        fields = ", ".join(required)
        raise PictoryAPIError(f"Pictory's answer to {what}: item {bad[0]} lacks the documented {fields}")
    return [dict(item) for item in items]


def _items(body: object, what: str) -> object:
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        raise PictoryAPIError(f"Pictory's answer to {what} has no documented 'items' array")
    return body["items"]


def parse_voices(body: object) -> list[Voice]:
    """A bare array of voices, each with a numeric ``id`` and a ``name``."""
    return _records(body, "GET /v1/voiceovers/tracks", {"id": int, "name": str})


def parse_brands(body: object) -> list[Brand]:
    """A bare array ``[{"id", "name"}]``."""
    return _records(body, "GET /v1/brands/video", {"id": str, "name": str})


def parse_text_styles(body: object) -> list[TextStyle]:
    """A bare array ``[{"id", "name"}]``."""
    return _records(body, "GET /v1/styles", {"id": str, "name": str})


def parse_templates(body: object) -> list[Template]:
    """``{"items": [{"templateId", "name", "language", "published", "deprecated"}]}``."""
    return _records(_items(body, "GET /v1/templates"), "GET /v1/templates", {"templateId": str, "name": str})


def parse_smart_layouts(body: object) -> list[SmartLayout]:
    """``{"items": [{"templateId", "templateName", "schemaVersion"}]}``."""
    what = "GET /v1/smartlayouts"
    return _records(_items(body, what), what, {"templateId": str, "templateName": str})


def parse_avatars_page(body: object) -> tuple[list[Avatar], str | None]:
    """One page ``{"items": [{id, name, gender, looks: [{id, name, previewImage, previewVideo}]}],
    "nextPageKey"}``: the avatars and the key of the next page (``None`` on the last)."""
    what = "GET /v1/avatars"
    avatars: list[Avatar] = _records(_items(body, what), what, {"id": str, "name": str, "looks": list})
    for avatar in avatars:
        avatar["looks"] = _records(avatar["looks"], f"{what} (looks of {avatar['name']})", {"id": str, "name": str})
    next_key = body.get("nextPageKey") if isinstance(body, dict) else None
    return avatars, next_key if isinstance(next_key, str) and next_key else None


def parse_music_tracks(body: object) -> list[MusicTrack]:
    """``{"items": [{"id": 279, "title", "audioUrl", "duration", "genres", "instruments", "moods", "purposes"}]}``."""
    what = "the music search"
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict) and isinstance(data.get("searchResults"), list):  # read by Pictory's own client
        body = {"items": data["searchResults"]}
    return _records(_items(body, what), what, {"id": int, "title": str, "audioUrl": str})


def parse_music_facet(body: object) -> list[str]:
    """A bare array of names (moods, genres, genre groups, instruments or purposes)."""
    if not isinstance(body, list) or not all(isinstance(name, str) for name in body):
        raise PictoryAPIError("Pictory's answer to a music facet lookup is not the documented array of names")
    return list(body)


# -- the music search request (music-search/search-music) -------------------------------------------

MUSIC_SORTS = ("latest", "shuffle", "featured")
#: Documented list filters (each also as ``not...``: ``notMood``, ...); values are case-sensitive.
MUSIC_LIST_FILTERS = ("genreGroup", "genre", "mood", "instrument", "purpose")
MUSIC_SEARCH_FIELDS = (
    "page",
    "pageSize",
    "sort",
    "query",
    *(name for base in MUSIC_LIST_FILTERS for name in (base, "not" + base[0].upper() + base[1:])),
    "minDuration",
    "maxDuration",
)
MUSIC_PAGE_SIZE = (20, 100)


def _refuse(field: str, message: str) -> PictoryValidationError:
    return PictoryValidationError(f"search_music: {message}", [{"name": field, "errors": message}])


def music_search_body(query: str | None = None, **filters: Any) -> dict[str, Any]:
    """The ``POST /v1/music/search`` body, checked against the documented limits (``page`` >= 1,
    ``pageSize`` 20-100, ``sort`` one of :data:`MUSIC_SORTS`, list filters as lists of names,
    durations >= 0): :class:`PictoryValidationError` before anything is sent."""
    import difflib

    body = {"query": query, **filters} if query is not None else dict(filters)
    for name, value in body.items():
        if name not in MUSIC_SEARCH_FIELDS:
            close = difflib.get_close_matches(name, MUSIC_SEARCH_FIELDS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise _refuse(name, f"{name!r} is not a documented music search field{hint}")
        if name in ("page", "pageSize", "minDuration", "maxDuration"):
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise _refuse(name, f"{name} must be a number >= 0 (got {value!r})")
        elif name in ("query", "sort"):
            if not isinstance(value, str):
                raise _refuse(name, f"{name} must be a string (got {value!r})")
        elif not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise _refuse(name, f"{name} must be a list of names, e.g. [{'Calm / Serene'!r}] (got {value!r})")
    if "page" in body and (not isinstance(body["page"], int) or body["page"] < 1):
        raise _refuse("page", f"page must be an integer >= 1 (got {body['page']!r})")
    low, high = MUSIC_PAGE_SIZE
    if "pageSize" in body and (not isinstance(body["pageSize"], int) or not low <= body["pageSize"] <= high):
        raise _refuse("pageSize", f"pageSize must be an integer from {low} to {high} (got {body['pageSize']!r})")
    if "sort" in body and body["sort"] not in MUSIC_SORTS:
        raise _refuse("sort", f"sort must be one of {', '.join(MUSIC_SORTS)} (got {body['sort']!r})")
    if body.get("minDuration", 0) > body.get("maxDuration", float("inf")):
        raise _refuse("minDuration", "minDuration is above maxDuration")
    return body


#: Every lookup path the hook reads (the music facets are in :data:`MUSIC_FACET_PATHS`).
LOOKUP_PATHS = (
    VOICES_PATH,
    BRANDS_PATH,
    TEXT_STYLES_PATH,
    TEMPLATES_PATH,
    SMART_LAYOUTS_PATH,
    AVATARS_PATH,
    MUSIC_SEARCH_PATH,
)
