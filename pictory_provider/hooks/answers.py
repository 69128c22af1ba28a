"""One HTTP answer of Pictory's API: parsed JSON, or the right error (shared by the sync and async paths).

The API key is scrubbed from every answer (and from library error text) before anything is built
from it: :func:`scrub`. Used by :mod:`pictory_provider.hooks.transport`, which re-exports these names.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, quote_plus

from pictory_provider.credits import raise_for_exhausted_credits
from pictory_provider.exceptions import (
    PictoryAPIError,
    PictoryAuthError,
    PictoryNotFoundError,
    PictoryValidationError,
)

__all__ = [
    "MAX_RETRY_AFTER",
    "RetryableError",
    "Throttled",
    "describe_exception",
    "interpret_response",
    "retry_after_seconds",
    "scrub",
]

#: Longest ``Retry-After`` we honour; a larger value is capped.
MAX_RETRY_AFTER = 300.0


class RetryableError(Exception):
    """A transient failure (5xx, 429, network, timeout, non-JSON body).

    ``maybe_received`` is False only when Pictory cannot have acted on the request (it was never
    sent, or it was rate limited): the one case where creating a paid job may be retried.
    """

    def __init__(
        self,
        cause: str,
        retry_after: float | None = None,
        *,
        maybe_received: bool = True,
        unreachable: tuple[str, bool] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(cause)
        self.cause = cause
        self.retry_after = retry_after
        self.maybe_received = maybe_received
        # (base URL, TLS failed) of a request that never left: diagnosed once, when giving up
        self.unreachable = unreachable
        #: A diagnosis that waiting cannot heal (refused, unknown host, https to plain http): not retried
        self.hint = hint
        #: Why the retries stopped early (a wait past the deadline), for the give-up message
        self.stopped: str | None = None


class Throttled(RetryableError):
    """HTTP 429 Too Many Requests: on the async path it waits (``Retry-After``, the key's lowered
    rate) and never uses up an attempt; elsewhere it is a :class:`RetryableError` like any other."""


def scrub(text: str, secret: str | None) -> str:
    """Remove ``secret`` from text: as is, in its ``repr()`` and JSON forms (with and without quotes)
    and URL-encoded (``%2B`` or ``+`` for a space), as a server, proxy or library may quote it back."""
    if not secret:
        return text
    quoted, as_json = repr(secret), json.dumps(secret)
    forms = {quoted, quoted[1:-1], as_json, as_json[1:-1], secret, quote(secret, safe=""), quote_plus(secret)}
    for form in sorted(forms, key=len, reverse=True):  # longest first: a quoted form before its inside
        if "%" in form:  # percent-escapes may come in lower case (%2b)
            text = re.sub(re.escape(form), "***", text, flags=re.IGNORECASE)
        elif form:
            text = text.replace(form, "***")
    return text


def describe_exception(exc: BaseException, secret: str | None = None) -> str:
    """Name an HTTP library error without its repr (aiohttp/requests reprs can carry request headers).

    ``secret`` (the API key) is scrubbed from the text, in case a library quotes a header value.
    """
    text = scrub(str(exc).strip(), secret)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP-date), at most :data:`MAX_RETRY_AFTER`."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None  # unreadable: fall back to our own backoff
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _error_message(body: object) -> str:
    if isinstance(body, dict):
        for key in ("message", "error_message", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return ""


def interpret_response(
    status: int,
    text: str,
    content_type: str,
    retry_after: str | None,
    what: str,
    conn_id: str,
    secret: str | None = None,
) -> Any:
    """Map one HTTP response to parsed JSON or the right error. Shared by the sync and async paths.

    ``secret`` (the API key) is scrubbed from the body first: a server, proxy or WAF that quotes the
    key back (``401 {"message": "Unauthorized key pictai_..."}``) never puts it into an error, an
    event, a log line or a page built from the answer.
    """
    text = scrub(text, secret)
    body: Any = None
    with contextlib.suppress(ValueError):
        body = json.loads(text) if text else None
    message = _error_message(body)
    if 200 <= status < 300:
        if body is None:
            raise RetryableError(f"HTTP {status} with a non-JSON body ({content_type or 'no content type'}) for {what}")
        return body
    raise_for_exhausted_credits(status, body, what)  # before the retry/auth mapping: an assumption, see credits.py
    if status == 429:
        raise Throttled(
            f"HTTP 429 Too Many Requests for {what}", retry_after_seconds(retry_after), maybe_received=False
        )
    if status >= 500:
        raise RetryableError(f"HTTP {status} {message or 'server error'} for {what}".strip())
    if status == 400:
        raw_fields = body.get("fields") if isinstance(body, dict) else None
        fields: list[Any] = raw_fields if isinstance(raw_fields, list) else []
        details = "; ".join(f"{f.get('name')}: {f.get('errors')}" for f in fields if isinstance(f, dict))
        raise PictoryValidationError(
            f"Pictory rejected {what} (HTTP 400 {message or 'Bad Request'}){': ' + details if details else ''}",
            fields,
        )
    if status in (401, 403):
        hint = (
            f"check the API key in connection {conn_id!r}"
            if status == 401
            else "the request was blocked (Pictory's CDN answers 403 to unknown clients or keys)"
        )
        raise PictoryAuthError(
            f"Pictory refused {what} (HTTP {status} {message or ''}): {hint}".replace(" )", ")"), status
        )
    if status == 404:
        raise PictoryNotFoundError(f"Pictory found nothing for {what} (HTTP 404 {message or 'Not Found'})", status)
    raise PictoryAPIError(f"Pictory answered HTTP {status} to {what}: {message or text[:200]}", status)
