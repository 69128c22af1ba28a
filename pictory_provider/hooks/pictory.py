"""PictoryHook: the connection-aware client of Pictory's AI Studio API.

One place for URLs, headers, timeouts, retries, error mapping and response parsing, with a
synchronous path (``requests``, for workers) and an asynchronous one (``aiohttp``, for the triggerer).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import random
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import requests
import tenacity
from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook
from urllib3.exceptions import NewConnectionError

from pictory_provider import __version__
from pictory_provider.api import (
    DEFAULT_BASE_URL,
    IMAGES_PATH,
    JOBS_PATH,
    JobStatus,
    PictoryJob,
    build_image_request,
    check_wait_settings,
    job_failure,
    parse_created_job,
    parse_job,
    validate_job_id,
)
from pictory_provider.exceptions import (
    PictoryAPIError,
    PictoryAuthError,
    PictoryConfigError,
    PictoryError,
    PictoryJobFailedError,
    PictoryJobTimeoutError,
    PictoryNotFoundError,
    PictoryTransientError,
    PictoryValidationError,
)
from pictory_provider.get_provider_info import UI_FIELD_BEHAVIOUR

__all__ = [
    "DEFAULT_MAX_REQUESTS_PER_SECOND",
    "JobStatus",
    "PictoryCredentials",
    "PictoryHook",
    "PictoryJob",
    "base_url_from_host",
    "credentials_from_connection",
    "raise_for_failed_job",
]

log = logging.getLogger(__name__)

USER_AGENT = f"airflow-provider-pictory/{__version__}"
#: Requests per second one triggerer process sends for one API key, unless the connection's extra
#: sets ``max_requests_per_second`` (0 turns the cap off).
DEFAULT_MAX_REQUESTS_PER_SECOND = 20.0
#: How long every trigger of an API key pauses after a 429 that carries no ``Retry-After``.
DEFAULT_RATE_LIMIT_PAUSE = 5.0
#: Longest ``Retry-After`` we honour; a larger value is capped.
MAX_RETRY_AFTER = 300.0


@dataclass(frozen=True)
class PictoryCredentials:
    """Base URL and API key resolved from an Airflow connection (the key never shows in reprs)."""

    base_url: str
    api_key: str = field(repr=False)
    max_requests_per_second: float = DEFAULT_MAX_REQUESTS_PER_SECOND

    @functools.cached_property
    def key_digest(self) -> str:
        """SHA-256 of the API key: identifies the key (e.g. for the rate cap) without holding it."""
        return hashlib.sha256(self.api_key.encode()).hexdigest()

    @functools.cached_property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": self.api_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }


def base_url_from_host(host: str | None, port: int | None = None) -> str:
    """Turn the connection's Base URL field into a URL: empty means Pictory, a bare host means https."""
    value = (host or "").strip()
    if not value:
        return DEFAULT_BASE_URL
    if "://" not in value:
        value = f"https://{value}"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PictoryConfigError(
            f"Unsupported Pictory base URL {host!r}: use an http(s) URL such as {DEFAULT_BASE_URL} "
            "or http://127.0.0.1:8931, or leave the Base URL field empty"
        )
    netloc = parts.netloc
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def credentials_from_connection(conn: Any, conn_id: str, extra: dict[str, Any]) -> PictoryCredentials:
    """Build :class:`PictoryCredentials` from an Airflow ``Connection`` and its parsed extra."""
    api_key = (conn.password or "").strip()
    if not api_key:
        raise PictoryConfigError(
            f"Connection {conn_id!r} has no API key: put your Pictory API key (it starts with 'pictai_') "
            "in the connection's API Key (password) field"
        )
    if not api_key.startswith("pictai_"):
        log.warning("The API key of connection %r does not start with 'pictai_'; Pictory may reject it", conn_id)
    rate = extra.get("max_requests_per_second")
    if rate is None:  # absent, or left empty in the connection form (Airflow >= 3.2 stores null)
        rate = DEFAULT_MAX_REQUESTS_PER_SECOND
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0:
        raise PictoryConfigError(
            f"Connection {conn_id!r}: extra 'max_requests_per_second' must be a number >= 0 "
            f"(0 turns the cap off), got {rate!r}"
        )
    return PictoryCredentials(
        base_url=base_url_from_host(conn.host, conn.port), api_key=api_key, max_requests_per_second=float(rate)
    )


class _Retryable(Exception):
    """Internal: a transient failure (5xx, 429, network, timeout, non-JSON body).

    ``maybe_received`` is False only when Pictory cannot have acted on the request (it was never
    sent, or it was rate limited): the one case where creating a paid job may be retried.
    """

    def __init__(self, cause: str, retry_after: float | None = None, *, maybe_received: bool = True) -> None:
        super().__init__(cause)
        self.cause = cause
        self.retry_after = retry_after
        self.maybe_received = maybe_received


def describe_exception(exc: BaseException) -> str:
    """Name an HTTP library error without its repr (aiohttp/requests reprs can carry request headers)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        return None  # an HTTP-date; fall back to our own backoff


def _error_message(body: object) -> str:
    if isinstance(body, dict):
        for key in ("message", "error_message", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return ""


def interpret_response(
    status: int, text: str, content_type: str, retry_after: str | None, what: str, conn_id: str
) -> Any:
    """Map one HTTP response to parsed JSON or the right error. Shared by the sync and async paths."""
    body: Any = None
    with contextlib.suppress(ValueError):
        body = json.loads(text) if text else None
    message = _error_message(body)
    if 200 <= status < 300:
        if body is None:
            raise _Retryable(f"HTTP {status} with a non-JSON body ({content_type or 'no content type'}) for {what}")
        return body
    if status == 429:
        raise _Retryable(
            f"HTTP 429 Too Many Requests for {what}", _retry_after_seconds(retry_after), maybe_received=False
        )
    if status >= 500:
        raise _Retryable(f"HTTP {status} {message or 'server error'} for {what}".strip())
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


def _extra_of(conn: Any) -> dict[str, Any]:
    extra = conn.extra_dejson if conn.extra else {}
    return extra if isinstance(extra, dict) else {}


class RequestPacer:
    """Caps the request rate of one API key in one event loop, and pauses it after a 429.

    Every trigger of the key waits its turn here, so a burst of deferred jobs slows polling down to
    ``rate`` requests per second instead of drawing 429s; a 429 pauses all of them, not only the
    trigger that received it.
    """

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next_slot = 0.0
        self._paused_until = 0.0

    async def wait_turn(self) -> None:
        """Take the next free slot (at once when the cap is off and no 429 pause is running)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next_slot, self._paused_until)
        self._next_slot = slot + self.interval
        wait = slot - now
        while wait > 0:
            await asyncio.sleep(wait)
            wait = self._paused_until - loop.time()  # a 429 may have arrived while we queued

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, asyncio.get_running_loop().time() + seconds)


_PACERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str, float], RequestPacer]] = (
    weakref.WeakKeyDictionary()
)


def pacer_for(creds: PictoryCredentials) -> RequestPacer:
    """The running loop's pacer for these credentials (one per base URL, API key and rate)."""
    key = (creds.base_url, creds.key_digest, creds.max_requests_per_second)
    pacers = _PACERS.setdefault(asyncio.get_running_loop(), {})
    if key not in pacers:
        pacers[key] = RequestPacer(creds.max_requests_per_second)
    return pacers[key]


class _SharedSessions:
    """One keep-alive ``aiohttp.ClientSession`` per event loop, shared by every hook on that loop.

    The triggerer runs all triggers in one event loop, so hundreds of waiting jobs reuse a few pooled
    TCP (and TLS) connections instead of opening one per poll. A session is closed when its last user
    leaves, so short-lived loops (``dag.test()``, pytest) leak nothing.
    """

    def __init__(self) -> None:
        self._sessions: dict[asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, int]] = {}

    @contextlib.asynccontextmanager
    async def use(self) -> AsyncIterator[aiohttp.ClientSession]:
        loop = asyncio.get_running_loop()
        session, users = self._sessions.get(loop, (None, 0))
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=100, keepalive_timeout=75)
            session, users = aiohttp.ClientSession(connector=connector), 0
        self._sessions[loop] = (session, users + 1)
        try:
            yield session
        finally:
            current, users = self._sessions[loop]
            if users <= 1:
                del self._sessions[loop]
                await current.close()
            else:
                self._sessions[loop] = (current, users - 1)


SHARED_SESSIONS = _SharedSessions()


class PictoryHook(BaseHook):
    """Interact with Pictory's AI Studio API through an Airflow connection of type ``pictory``.

    The connection's **API Key** (password) holds the ``pictai_...`` key; its **Base URL** (host) is
    optional (default ``https://api.pictory.ai``). Nothing is looked up or sent in ``__init__``.

    :param pictory_conn_id: The Airflow connection id.
    :param max_attempts: Attempts per GET before transient failures (5xx, 429, network errors,
        timeouts, non-JSON bodies) are given up. The POST that creates a paid job is only retried
        when Pictory cannot have received it (connection refused, connect timeout, HTTP 429).
    :param retry_min_wait: First backoff wait in seconds (doubles per attempt, with jitter).
    :param retry_max_wait: Longest backoff wait in seconds (a larger ``Retry-After`` still wins).
    :param connect_timeout: Seconds to establish a connection.
    :param read_timeout: Seconds to wait for a response.
    """

    conn_name_attr = "pictory_conn_id"
    default_conn_name = "pictory_default"
    conn_type = "pictory"
    hook_name = "Pictory"

    def __init__(
        self,
        pictory_conn_id: str = default_conn_name,
        *,
        max_attempts: int = 5,
        retry_min_wait: float = 1.0,
        retry_max_wait: float = 30.0,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 (got {max_attempts})")
        if retry_min_wait < 0 or retry_max_wait < retry_min_wait:
            raise ValueError("retry waits must satisfy 0 <= retry_min_wait <= retry_max_wait")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("connect_timeout and read_timeout must be greater than 0")
        self.pictory_conn_id = pictory_conn_id
        self.max_attempts = max_attempts
        self.retry_min_wait = retry_min_wait
        self.retry_max_wait = retry_max_wait
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._credentials: PictoryCredentials | None = None
        self._session: requests.Session | None = None
        self._client_timeout = aiohttp.ClientTimeout(
            total=connect_timeout + read_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pictory_conn_id={self.pictory_conn_id!r})"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form for Airflow < 3.2 (newer versions read the same dict from provider info)."""
        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    # -- connection ---------------------------------------------------------------------------

    def get_credentials(self) -> PictoryCredentials:
        """Resolve the connection once (synchronously, for workers)."""
        if self._credentials is None:
            try:
                conn = self.get_connection(self.pictory_conn_id)
            except AirflowNotFoundException:
                raise self._missing_connection() from None
            self._credentials = credentials_from_connection(conn, self.pictory_conn_id, _extra_of(conn))
        return self._credentials

    async def aget_credentials(self) -> PictoryCredentials:
        """Resolve the connection once without blocking the event loop (for the triggerer)."""
        if self._credentials is None:
            from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson
            from asgiref.sync import sync_to_async

            try:
                conn = await get_async_connection(self.pictory_conn_id, hook=self)
            except AirflowNotFoundException:
                # Airflow 3.3.2's dag.test() runs triggers with comms that cannot look up metadata-DB
                # connections asynchronously; the synchronous lookup, in a thread, still sees them.
                try:
                    conn = await sync_to_async(self.get_connection)(self.pictory_conn_id)
                except AirflowNotFoundException:
                    raise self._missing_connection() from None
            extra = await get_async_extra_dejson(conn) if conn.extra else {}
            self._credentials = credentials_from_connection(conn, self.pictory_conn_id, extra)
        return self._credentials

    def _missing_connection(self) -> PictoryConfigError:
        return PictoryConfigError(
            f"Airflow connection {self.pictory_conn_id!r} is not defined: create a connection of type "
            f"'pictory' (UI, `airflow connections add`, or AIRFLOW_CONN_{self.pictory_conn_id.upper()})"
        )

    def get_conn(self) -> requests.Session:
        """Return the ``requests`` session used by the synchronous methods."""
        if self._session is None:
            self._session = requests.Session()
        return self._session

    # -- retries ------------------------------------------------------------------------------

    def backoff_seconds(self, attempt: int, exc: BaseException | None) -> float:
        """Wait before the next try after failed try ``attempt``: exponential with jitter, at least
        the ``Retry-After`` Pictory sent. The one backoff rule of the sync and async paths."""
        backoff = min(self.retry_max_wait, self.retry_min_wait * 2.0 ** (attempt - 1))
        backoff += random.uniform(0, self.retry_min_wait)
        retry_after = exc.retry_after if isinstance(exc, _Retryable) and exc.retry_after is not None else 0.0
        return max(backoff, retry_after)

    def _wait_seconds(self, retry_state: tenacity.RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return self.backoff_seconds(retry_state.attempt_number, exc)

    def _log_retry(self, what: str, attempt: int, exc: BaseException | None, wait: float) -> None:
        log.warning("%s failed (attempt %d of %d): %s; retrying in %.1f s", what, attempt, self.max_attempts, exc, wait)

    def _retry_policy(self, what: str, attempts: int, *, idempotent: bool = True) -> dict[str, Any]:
        def log_retry(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self._log_retry(what, state.attempt_number, exc, state.next_action.sleep if state.next_action else 0.0)

        return {
            "stop": tenacity.stop_after_attempt(attempts),
            "wait": self._wait_seconds,
            "retry": tenacity.retry_if_exception(
                lambda exc: isinstance(exc, _Retryable) and (idempotent or not exc.maybe_received)
            ),
            "before_sleep": log_retry,
            "reraise": True,
        }

    @staticmethod
    def _give_up(what: str, attempt: int, exc: _Retryable, *, idempotent: bool = True) -> PictoryTransientError:
        if not idempotent and exc.maybe_received:
            return PictoryTransientError(
                f"{what} failed ({exc.cause}) after it may have reached Pictory, so it was not retried to "
                "avoid a duplicate paid image; check GET /pictoryapis/v1/jobs before submitting again"
            )
        return PictoryTransientError(f"Gave up on {what} after {attempt} attempt(s); last cause: {exc.cause}")

    # -- synchronous path ---------------------------------------------------------------------

    def _send(self, method: str, path: str, what: str, payload: dict[str, Any] | None) -> Any:
        creds = self.get_credentials()
        try:
            response = self.get_conn().request(
                method,
                creds.base_url + path,
                json=payload,
                headers=creds.headers,
                timeout=(self.connect_timeout, self.read_timeout),
            )
        except requests.RequestException as exc:
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            never_sent = isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)
            raise _Retryable(describe_exception(exc), maybe_received=not never_sent) from None
        return interpret_response(
            response.status_code,
            response.text,
            response.headers.get("Content-Type", ""),
            response.headers.get("Retry-After"),
            what,
            self.pictory_conn_id,
        )

    def _call(self, method: str, path: str, what: str, payload: dict[str, Any] | None = None) -> Any:
        idempotent = method == "GET"
        retrying = tenacity.Retrying(**self._retry_policy(what, self.max_attempts, idempotent=idempotent))
        try:
            return retrying(self._send, method, path, what, payload)
        except _Retryable as exc:
            raise self._give_up(what, retrying.statistics["attempt_number"], exc, idempotent=idempotent) from None

    def generate_image(
        self,
        prompt: str,
        *,
        model: str | None = None,
        aspect_ratio: str | None = None,
        style: str | None = None,
        reference_image_url: str | None = None,
        webhook: str | None = None,
    ) -> str:
        """Submit a Generate Image job (``POST /pictoryapis/v1/aistudio/images``) and return its job id.

        Inputs are validated before any request. The POST is retried only when Pictory cannot have
        received it (connection refused, connect timeout, HTTP 429), never after a 5xx, a read timeout
        or a reset, so a failure never creates a second paid image.
        """
        body = build_image_request(
            prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            style=style,
            reference_image_url=reference_image_url,
            webhook=webhook,
        )
        job_id = parse_created_job(self._call("POST", IMAGES_PATH, "the Generate Image request", body))
        log.info("Submitted Pictory image job %s (model=%s, aspect_ratio=%s)", job_id, model, aspect_ratio)
        return job_id

    def get_job(self, job_id: str) -> PictoryJob:
        """Read a job (``GET /pictoryapis/v1/jobs/{job_id}``), retrying transient failures."""
        job_id = validate_job_id(job_id)
        return parse_job(self._call("GET", f"{JOBS_PATH}/{job_id}", f"GET job {job_id}"), job_id)

    def wait_for_job(self, job_id: str, *, poll_interval: float = 10.0, timeout: float = 3600.0) -> PictoryJob:
        """Poll until the job completes and return it (synchronous; for non-deferrable use).

        :raises PictoryJobFailedError: the job failed or its outputs were cleaned.
        :raises PictoryJobTimeoutError: still running after ``timeout`` seconds (the job keeps running:
            Pictory has no cancel endpoint).
        """
        check_wait_settings(poll_interval, timeout)
        deadline = time.monotonic() + timeout
        polls = 0
        while True:
            job = self.get_job(job_id)
            polls += 1
            if job.status is JobStatus.COMPLETED:
                log.info("Pictory job %s completed after %d poll(s)", job_id, polls)
                return job
            raise_for_failed_job(job)
            if job.status is JobStatus.UNKNOWN:
                log.warning("Pictory job %s has an undocumented status %r; still waiting", job_id, job.raw_status)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PictoryJobTimeoutError(
                    f"Pictory job {job_id} still {job.raw_status!r} after {timeout:g} s ({polls} polls); "
                    "the job itself keeps running on Pictory's side"
                )
            time.sleep(min(poll_interval, remaining))

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap authenticated call (list generated images): the UI's "Test" button."""
        try:
            creds = self.get_credentials()
            self._call("GET", IMAGES_PATH, "the connection test")
        except PictoryError as exc:
            return False, str(exc)
        return True, f"Connected to Pictory at {creds.base_url}"

    # -- asynchronous path (triggerer) ---------------------------------------------------------

    @staticmethod
    def shared_session() -> contextlib.AbstractAsyncContextManager[aiohttp.ClientSession]:
        """Hold the event loop's shared ``aiohttp`` session open (a trigger does so for its whole wait)."""
        return SHARED_SESSIONS.use()

    async def _asend(self, path: str, what: str) -> Any:
        creds = await self.aget_credentials()
        timeout = self._client_timeout
        pacer = pacer_for(creds)
        await pacer.wait_turn()
        async with self.shared_session() as session:
            try:
                async with session.get(creds.base_url + path, headers=creds.headers, timeout=timeout) as response:
                    text = await response.text(errors="replace")
                    status, headers = response.status, response.headers
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                never_sent = isinstance(exc, aiohttp.ClientConnectorError)
                raise _Retryable(describe_exception(exc), maybe_received=not never_sent) from None
        if status == 429:
            retry_after = _retry_after_seconds(headers.get("Retry-After"))
            pacer.pause(DEFAULT_RATE_LIMIT_PAUSE if retry_after is None else retry_after)
        return interpret_response(
            status, text, headers.get("Content-Type", ""), headers.get("Retry-After"), what, self.pictory_conn_id
        )

    async def aget_job(self, job_id: str) -> PictoryJob:
        """Read a job with ``aiohttp`` on the running event loop, retrying transient failures."""
        job_id = validate_job_id(job_id)
        what = f"GET job {job_id}"
        path = f"{JOBS_PATH}/{job_id}"
        attempt = 1
        while True:  # a plain loop: the triggerer runs this for every poll of every job, keep it cheap
            try:
                body = await self._asend(path, what)
            except _Retryable as exc:
                if attempt >= self.max_attempts:
                    raise self._give_up(what, attempt, exc) from None
                wait = self.backoff_seconds(attempt, exc)
                self._log_retry(what, attempt, exc, wait)
                await asyncio.sleep(wait)
                attempt += 1
            else:
                return parse_job(body, job_id)


def raise_for_failed_job(job: PictoryJob) -> None:
    """Raise :class:`PictoryJobFailedError` if the job failed or its outputs were cleaned."""
    failure = job_failure(job)
    if failure:
        raise PictoryJobFailedError(job.job_id, *failure)
