"""The lookups a storyboard needs (voices, brands, templates, ...) and the upload of a user's file.

A mixin of :class:`~pictory_provider.hooks.pictory.PictoryHook`: API methods only, over the hook's
``_call`` (timeouts, retries, error mapping of :mod:`pictory_provider.hooks.transport`).
"""

from __future__ import annotations

import logging
import mimetypes
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests

from pictory_provider.exceptions import PictoryAPIError, PictoryTransientError, PictoryValidationError
from pictory_provider.lookups import (
    AVATARS_PATH,
    BRANDS_PATH,
    MUSIC_FACET_PATHS,
    MUSIC_SEARCH_PATH,
    SMART_LAYOUTS_PATH,
    TEMPLATES_PATH,
    TEXT_STYLES_PATH,
    VOICES_PATH,
    Avatar,
    Brand,
    MusicTrack,
    SmartLayout,
    Template,
    TextStyle,
    Voice,
    music_search_body,
    parse_avatars_page,
    parse_brands,
    parse_music_facet,
    parse_music_tracks,
    parse_smart_layouts,
    parse_templates,
    parse_text_styles,
    parse_voices,
)
from pictory_provider.storyboard import MEDIA_UPLOAD_PATH, parse_signed_upload

if TYPE_CHECKING:
    from pictory_provider.hooks.transport import PictoryTransport

__all__ = ["MAX_LOOKUP_PAGES", "UPLOAD_ATTEMPTS", "PictoryLookupsMixin"]

log = logging.getLogger(__name__)

#: Attempts of the ``PUT`` to a signed upload URL (it overwrites one object, so it is safe to repeat).
UPLOAD_ATTEMPTS = 3
#: Pages a paged lookup follows at most (a ``nextPageKey`` that never ends is an error, not a hang).
MAX_LOOKUP_PAGES = 100
#: The answers to the ``PUT`` that mean the object was stored (a 301 without ``Location`` is S3's
#: wrong-region error, a 304 stored nothing).
UPLOAD_STORED = (200, 201, 204)


class _PutSession(requests.Session):
    """Follows only 307/308 (which re-send the body): on a 301/302/303 ``requests`` would turn the
    ``PUT`` into a ``GET`` and the upload would look done although nothing was stored."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None if resp.status_code in (301, 302, 303) else super().get_redirect_target(resp)


class PictoryLookupsMixin:
    """The lookups (typed records with Pictory's documented field names, envelopes and pages handled),
    :meth:`search_music` and :meth:`upload_media` (see :class:`PictoryHook`)."""

    transport: PictoryTransport
    #: ``PictoryHook._call``: one request through the transport (method, path, what, payload, idempotent=).
    _call: Callable[..., Any]

    def _get(self, path: str) -> Any:
        return self._call("GET", path, f"GET {path}")

    def list_voices(self) -> list[Voice]:
        """AI voices (``GET /v1/voiceovers/tracks``): ``id``, ``name``, ``language``, ``gender``,
        ``ssmlSupportCategory``, ...; a voice's ``name`` goes into ``voiceOver.aiVoices[].speaker``."""
        return parse_voices(self._get(VOICES_PATH))

    def list_brands(self) -> list[Brand]:
        """Video brands (``GET /v1/brands/video``): ``id`` and ``name``, for ``brandId`` / ``brandName``."""
        return parse_brands(self._get(BRANDS_PATH))

    def list_text_styles(self) -> list[TextStyle]:
        """Text styles (``GET /v1/styles``): ``id`` and ``name``, for ``subtitleStyleId`` / ``subtitleStyleName``."""
        return parse_text_styles(self._get(TEXT_STYLES_PATH))

    #: The same lookup under the name of the storyboard fields it serves.
    list_subtitle_styles = list_text_styles

    def list_templates(self) -> list[Template]:
        """Templates (``GET /v1/templates``): ``templateId``, ``name``, ``language``, ``published``,
        ``deprecated``; use a published, non-deprecated one's ``templateId``."""
        return parse_templates(self._get(TEMPLATES_PATH))

    def list_smart_layouts(self) -> list[SmartLayout]:
        """Smart layouts (``GET /v1/smartlayouts``): ``templateId`` (the ``smartLayoutId``),
        ``templateName`` (the ``smartLayoutName``), ``schemaVersion``."""
        return parse_smart_layouts(self._get(SMART_LAYOUTS_PATH))

    def list_avatars(self) -> list[Avatar]:
        """AI avatars (``GET /v1/avatars``, every page): ``id``, ``name``, ``gender`` and ``looks``;
        a look's ``id`` is the ``avatar.avatarId`` to send."""
        return self._every_page(AVATARS_PATH, "nextPageKey", parse_avatars_page)

    def _every_page(
        self, path: str, key_name: str, parse_page: Callable[[Any], tuple[list[Any], str | None]]
    ) -> list[Any]:
        """Every item of a paged lookup, following its page key (``?<key_name>=``), at most
        :data:`MAX_LOOKUP_PAGES` pages (a key that never ends is an error, not a hang)."""
        items: list[Any] = []
        key: str | None = None
        for _ in range(MAX_LOOKUP_PAGES):
            query = f"?{urlencode({key_name: key})}" if key else ""
            page, key = parse_page(self._call("GET", path + query, f"GET {path}"))
            items += page
            if key is None:
                return items
        raise PictoryAPIError(f"GET {path} still had a page key after {MAX_LOOKUP_PAGES} pages")

    def search_music(self, query: str | None = None, **filters: Any) -> list[MusicTrack]:
        """Search the music library (``POST /v1/music/search``), one page: documented filters such as
        ``mood=["Calm / Serene"]`` (case-sensitive; valid values from :meth:`list_music_moods` etc.),
        ``page`` (>= 1), ``pageSize`` (20-100), ``sort``. Checked before sending
        (:class:`PictoryValidationError`); a track's ``audioUrl`` goes into ``backgroundMusic.musicUrl``."""
        body = music_search_body(query, **filters)
        answer = self._call("POST", MUSIC_SEARCH_PATH, "the music search", body, idempotent=True)  # buys nothing
        return parse_music_tracks(answer)

    def _facet(self, name: str) -> list[str]:
        return parse_music_facet(self._get(MUSIC_FACET_PATHS[name]))

    def list_music_moods(self) -> list[str]:
        """The music moods (``GET /v1/music/moods``), the values of ``search_music(mood=[...])``."""
        return self._facet("moods")

    def list_music_genres(self) -> list[str]:
        """The music genres (``GET /v1/music/genres``), for ``search_music(genre=[...])``."""
        return self._facet("genres")

    def list_music_genre_groups(self) -> list[str]:
        """The music genre groups (``GET /v1/music/genres/groups``), for ``search_music(genreGroup=[...])``."""
        return self._facet("genre_groups")

    def list_music_instruments(self) -> list[str]:
        """The instruments (``GET /v1/music/instruments``), for ``search_music(instrument=[...])``."""
        return self._facet("instruments")

    def list_music_purposes(self) -> list[str]:
        """The music purposes (``GET /v1/music/purposes``), for ``search_music(purpose=[...])``."""
        return self._facet("purposes")

    def upload_media(self, path: Any, *, content_type: str | None = None, file_name: str | None = None) -> str:
        """Upload a local file or any ``ObjectStoragePath`` (``s3://``, ``gs://``, ...) and return its
        permanent Pictory URL (for ``visualUrl``, ``audioUrl``, ``reference_image_url``, ...).

        Asks ``POST /v1/media/generateurl`` for a signed URL, then ``PUT``\\ s the bytes there with the
        same ``Content-Type`` (guessed from the name unless given). The API key is never sent to the
        signed URL.
        """
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        source = ObjectStoragePath(str(path)) if not isinstance(path, ObjectStoragePath) else path
        name = file_name or source.name
        if not name:
            raise PictoryValidationError(f"upload_media needs a file path with a name (got {path!r})")
        kind = content_type or mimetypes.guess_type(name)[0]
        if not kind:
            raise PictoryValidationError(f"Cannot tell the content type of {name!r}: pass content_type=")
        if not source.is_file():
            raise PictoryValidationError(f"upload_media: {path} is not a readable file")
        if getattr(source.stat(), "st_size", None) == 0:  # requests would send it chunked, which S3 refuses
            raise PictoryValidationError(f"upload_media: {path} is empty (0 bytes); nothing was sent to Pictory")
        request = {"fileName": name, "contentType": kind}
        # a signed URL costs nothing: retried like a GET (an unused one just expires)
        body = self._call("POST", MEDIA_UPLOAD_PATH, "the upload URL request", request, idempotent=True)
        signed, url = parse_signed_upload(body)
        timeout = (self.transport.connect_timeout, max(self.transport.read_timeout, 300.0))
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            problem = ""
            try:
                # the environment's proxies (HTTP(S)_PROXY, NO_PROXY) and CA bundle, as for every other
                # request; then a bare session: no Authorization header, no ~/.netrc, on redirects too (the
                # signed URL is the credential)
                with source.open("rb") as data, _PutSession() as session:
                    settings = session.merge_environment_settings(signed, {}, None, None, None)
                    session.trust_env = False
                    response = session.put(
                        signed,
                        data=data,
                        headers={"Content-Type": kind},
                        timeout=timeout,
                        proxies=settings["proxies"],
                        verify=settings["verify"],
                    )
                if response.status_code in UPLOAD_STORED:
                    log.info("Uploaded %s to Pictory: %s", name, url)
                    return url
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500:
                    raise PictoryAPIError(f"Uploading {name} to the signed URL failed: {problem} {response.text[:200]}")
            except requests.RequestException as exc:
                problem = type(exc).__name__
            if attempt < UPLOAD_ATTEMPTS:
                wait = self.transport.backoff_seconds(attempt, None)
                log.warning("Uploading %s failed (%s); retrying in %.1f s", name, problem, wait)
                time.sleep(wait)
        raise PictoryTransientError(f"Uploading {name} failed after {UPLOAD_ATTEMPTS} attempts: {problem}")
