"""Reading HTTP response bodies within limits: a size cap and a total deadline, on both paths.

:func:`read_body` streams a ``requests`` response (the sync API path and the image download);
:func:`read_capped_text` reads an ``aiohttp`` response (the async API path).
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import requests
from urllib3.exceptions import HTTPError, ReadTimeoutError

from pictory_provider.exceptions import PictoryAPIError

#: Largest API response body read (a job is about 1 KB, a list page of 100 items about 100 KB).
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
_READ_CHUNK = 64 * 1024


class ResponseTooLarge(Exception):
    """A response body passed its byte limit (the caller names the limit and the request)."""


class ResponseDeadlineExceeded(Exception):
    """A response body did not arrive before the deadline."""


def too_large(what: str, limit: int) -> PictoryAPIError:
    return PictoryAPIError(
        f"Pictory's answer to {what} is larger than the {limit}-byte limit for API responses; it was not read"
    )


def read_body(response: requests.Response, deadline: float, max_bytes: int, sink: Any) -> int:
    """Stream a ``requests`` response (sent with ``stream=True``) into ``sink.write``; return its size.

    Raises :class:`ResponseDeadlineExceeded` once ``deadline`` (``time.monotonic()``) passes, however
    slowly the body drips in: each socket read waits at most until the deadline. Raises ``ResponseTooLarge``
    past ``max_bytes`` (the declared ``Content-Length`` is checked first) and
    ``requests.exceptions.ChunkedEncodingError`` if the body is shorter than its ``Content-Length``.
    """
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(int(declared))
    raw = response.raw
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ResponseDeadlineExceeded(size)
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        if sock is not None:
            sock.settimeout(min(remaining, sock.gettimeout() or remaining))
        try:
            chunk = raw.read1(_READ_CHUNK, decode_content=True)
        except (OSError, HTTPError) as exc:
            if time.monotonic() >= deadline:
                raise ResponseDeadlineExceeded(size) from None
            error = requests.ReadTimeout if isinstance(exc, ReadTimeoutError) else requests.ConnectionError
            raise error(f"{type(exc).__name__}: {exc}") from None
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(size)
        sink.write(chunk)
    if declared.isdigit() and size < int(declared) and not response.headers.get("Content-Encoding"):
        raise requests.exceptions.ChunkedEncodingError(
            f"the body ended after {size} of the {int(declared)} bytes its Content-Length announced"
        )
    return size


async def read_capped_text(response: aiohttp.ClientResponse, what: str, max_bytes: int = MAX_RESPONSE_BYTES) -> str:
    """The text of an ``aiohttp`` response, refusing (``PictoryAPIError``) a body over ``max_bytes``."""
    if response.content_length is not None and response.content_length > max_bytes:
        raise too_large(what, max_bytes)
    body = bytearray()
    async for chunk in response.content.iter_chunked(_READ_CHUNK):
        body += chunk
        if len(body) > max_bytes:
            raise too_large(what, max_bytes)
    return bytes(body).decode(response.charset or "utf-8", errors="replace")
