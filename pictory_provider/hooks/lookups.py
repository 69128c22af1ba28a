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

import requests

from pictory_provider.exceptions import PictoryAPIError, PictoryTransientError, PictoryValidationError
from pictory_provider.storyboard import (
    LOOKUP_PATHS,
    MEDIA_UPLOAD_PATH,
    MUSIC_SEARCH_PATH,
    parse_items,
    parse_signed_upload,
)

if TYPE_CHECKING:
    from pictory_provider.hooks.transport import PictoryTransport

__all__ = ["UPLOAD_ATTEMPTS", "PictoryLookupsMixin"]

log = logging.getLogger(__name__)

#: Attempts of the ``PUT`` to a signed upload URL (it overwrites one object, so it is safe to repeat).
UPLOAD_ATTEMPTS = 3
#: The answers to the ``PUT`` that mean the object was stored (a 301 without ``Location`` is S3's
#: wrong-region error, a 304 stored nothing).
UPLOAD_STORED = (200, 201, 204)


class _PutSession(requests.Session):
    """Follows only 307/308 (which re-send the body): on a 301/302/303 ``requests`` would turn the
    ``PUT`` into a ``GET`` and the upload would look done although nothing was stored."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None if resp.status_code in (301, 302, 303) else super().get_redirect_target(resp)


class PictoryLookupsMixin:
    """``list_*`` lookups, :meth:`search_music` and :meth:`upload_media` (see :class:`PictoryHook`)."""

    transport: PictoryTransport
    #: ``PictoryHook._call``: one request through the transport (method, path, what, payload, idempotent=).
    _call: Callable[..., Any]

    def _lookup(self, name: str) -> list[dict[str, Any]]:
        path = LOOKUP_PATHS[name]
        return parse_items(self._call("GET", path, f"GET {path}"), f"GET {path}")

    def list_voices(self) -> list[dict[str, Any]]:
        """AI voices (``GET /v1/voiceovers/tracks``): ``id``, ``name``, ``language``, ``gender``, ...;
        a voice's ``name`` goes into ``voiceOver.aiVoices[].speaker``."""
        return self._lookup("voices")

    def list_brands(self) -> list[dict[str, Any]]:
        """Brand kits (``GET /v1/brands/video``), for ``brandId`` / ``brandName``."""
        return self._lookup("brands")

    def list_templates(self) -> list[dict[str, Any]]:
        """Templates (``GET /v1/templates``), for ``templateId``."""
        return self._lookup("templates")

    def list_smart_layouts(self) -> list[dict[str, Any]]:
        """Smart layouts (``GET /v1/smartlayouts``), for ``smartLayoutId`` / ``smartLayoutName``."""
        return self._lookup("smart_layouts")

    def list_subtitle_styles(self) -> list[dict[str, Any]]:
        """Subtitle styles (``GET /v1/styles``), for ``subtitleStyleId`` / ``subtitleStyleName``."""
        return self._lookup("subtitle_styles")

    def list_avatars(self) -> list[dict[str, Any]]:
        """AI avatars (``GET /v1/avatars``), for ``avatar.avatarId``."""
        return self._lookup("avatars")

    def search_music(self, query: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Search the music library (``POST /v1/music/search``; filters such as ``mood=["Happy"]``,
        ``pageSize=20``); a track's ``audioUrl`` goes into ``backgroundMusic.musicUrl``."""
        body = {"query": query, **filters} if query is not None else dict(filters)
        answer = self._call("POST", MUSIC_SEARCH_PATH, "the music search", body, idempotent=True)  # buys nothing
        return parse_items(answer, "the music search")

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
