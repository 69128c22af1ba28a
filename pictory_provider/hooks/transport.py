"""The HTTP transport of :class:`~pictory_provider.hooks.pictory.PictoryHook`.

One place for sending requests, retries and backoff, the response → error mapping, the event loop's
shared ``aiohttp`` sessions and the per-key request pacer. The sync path (``requests``, for workers)
and the async path (``aiohttp``, for the triggerer) share the backoff rule, the error mapping, the
response-size cap (:data:`MAX_RESPONSE_BYTES`) and the answer → error mapping with its key scrubbing
(:mod:`pictory_provider.hooks.answers`); the body limits live in :mod:`pictory_provider.hooks.bodies`.
On the sync path no sleep between tries runs past the caller's deadline or :data:`MAX_WORKER_WAIT`;
a refused connection, an unknown host or a failed TLS handshake is diagnosed on the first try and
not retried when the diagnosis says waiting cannot help.
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
import socket
import time
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import requests
import tenacity
from urllib3.exceptions import NameResolutionError, NewConnectionError

from pictory_provider.exceptions import (
    PictorySubmissionUnclearError,
    PictoryTransientError,
)
from pictory_provider.hooks.answers import (
    MAX_RETRY_AFTER,
    RetryableError,
    Throttled,
    describe_exception,
    interpret_response,
    retry_after_seconds,
    scrub,
)
from pictory_provider.hooks.bodies import (
    MAX_RESPONSE_BYTES,
    ResponseDeadlineExceeded,
    ResponseTooLarge,
    read_body,
    read_capped_text,
    too_large,
)
from pictory_provider.hooks.connection import USER_AGENT, PictoryCredentials
from pictory_provider.hooks.sessions import (
    SHARED_SESSIONS,
    DeadlineReached,
    RequestPacer,
    env_proxy_for,
    pacer_for,
)

log = logging.getLogger(__name__)

__all__ = [
    "MAX_RESPONSE_BYTES",
    "MAX_RETRY_AFTER",
    "SHARED_SESSIONS",
    "USER_AGENT",
    "DeadlineReached",
    "KeyAuth",
    "PictoryTransport",
    "RequestPacer",
    "RetryableError",
    "Throttled",
    "describe_exception",
    "env_proxy_for",
    "interpret_response",
    "pacer_for",
    "read_body",
    "read_capped_text",
    "scrub",
]

#: How long every trigger of an API key pauses after a 429 that carries no ``Retry-After``.
DEFAULT_RATE_LIMIT_PAUSE = 5.0
#: Longest a worker sleeps between two tries (unless ``retry_max_wait`` is larger): a longer
#: ``Retry-After`` fails the request instead (Airflow's retries come back later), so a worker slot is
#: never held for minutes. The caller's deadline (:attr:`PictoryTransport.deadline`) bounds it too.
MAX_WORKER_WAIT = 60.0


def _unreachable_hint(base_url: str, tls_failed: bool) -> str | None:
    """The connection test's diagnosis of a request that never left (probes without the key)."""

    from pictory_provider.hooks.diagnosis import diagnose_unreachable

    try:
        return diagnose_unreachable(base_url, tls_failed=tls_failed)
    except Exception:  # a diagnosis must never hide the real error
        return None


def _refused(reason: object) -> bool:
    """Whether a connect failure (urllib3's ``NewConnectionError`` or an OS error) was a refusal."""
    return isinstance(reason, ConnectionRefusedError) or isinstance(
        getattr(reason, "__cause__", None), ConnectionRefusedError
    )


class KeyAuth(requests.auth.AuthBase):
    """Sets the ``Authorization`` header to the API key. Passing an ``auth`` keeps ``requests`` from
    replacing the header with credentials from ``~/.netrc``; the repr never shows the key."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._api_key
        return request

    def __repr__(self) -> str:
        return f"{type(self).__name__}(***)"


class PictoryTransport:
    """Sends one API request with timeouts and retries, on the sync or the async path.

    :param conn_id: The connection id, named in error hints (never the key).
    :param max_attempts: Attempts per GET before transient failures are given up. A POST (which may
        create a paid job) is only retried when Pictory cannot have received it.
    :param retry_min_wait: First backoff wait in seconds (doubles per attempt, with jitter).
    :param retry_max_wait: Longest backoff wait in seconds (a larger ``Retry-After`` still wins).
    :param connect_timeout: Seconds to establish a connection.
    :param read_timeout: Seconds to wait for a response. On both paths one request gives up after
        ``connect_timeout + read_timeout`` in total, even while a body trickles in, and a body over
        :data:`MAX_RESPONSE_BYTES` is refused.
    """

    def __init__(
        self,
        conn_id: str,
        *,
        max_attempts: int = 5,
        retry_min_wait: float = 1.0,
        retry_max_wait: float = 30.0,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 (got {max_attempts})")
        if retry_min_wait < 0 or retry_max_wait < retry_min_wait:
            raise ValueError("retry waits must satisfy 0 <= retry_min_wait <= retry_max_wait")
        if connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("connect_timeout and read_timeout must be greater than 0")
        self.conn_id = conn_id
        self.max_attempts = max_attempts
        self.retry_min_wait = retry_min_wait
        self.retry_max_wait = retry_max_wait
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._session: requests.Session | None = None
        #: The caller's deadline on the sync path (``time.monotonic()``; a sensor's or a wait's
        #: timeout): no sleep between tries runs past it. ``None``: only :data:`MAX_WORKER_WAIT`.
        self.deadline: float | None = None
        #: Pictory's clock from the ``Date`` header of the last answer on the sync path, and the
        #: worker's clock when it arrived (epoch seconds); ``None`` until an answer carried one.
        self.last_pictory_time: tuple[float, float] | None = None
        self._client_timeout = aiohttp.ClientTimeout(
            total=connect_timeout + read_timeout, sock_connect=connect_timeout, sock_read=read_timeout
        )

    # -- retries ------------------------------------------------------------------------------

    def backoff_seconds(self, attempt: int, exc: BaseException | None) -> float:
        """Wait before the next try after failed try ``attempt``: exponential with jitter, at least
        the ``Retry-After`` Pictory sent. The one backoff rule of the sync and async paths."""
        backoff = min(self.retry_max_wait, self.retry_min_wait * 2.0 ** (attempt - 1))
        backoff += random.uniform(0, self.retry_min_wait)
        retry_after = exc.retry_after if isinstance(exc, RetryableError) and exc.retry_after is not None else 0.0
        return max(backoff, retry_after)

    def _log_retry(self, what: str, attempt: int, exc: BaseException | None, wait: float) -> None:
        log.warning("%s failed (attempt %d of %d): %s; retrying in %.1f s", what, attempt, self.max_attempts, exc, wait)

    def _wait_past_bounds(self, wait: float) -> str | None:
        """Why the sync path must not sleep ``wait`` seconds (past the deadline or the worker bound), or None."""
        bound = max(MAX_WORKER_WAIT, self.retry_max_wait)
        if wait > bound:
            return f"the next try was due in {wait:.0f} s, more than a worker waits between tries ({bound:g} s)"
        remaining = None if self.deadline is None else self.deadline - time.monotonic()
        if remaining is not None and wait >= remaining:
            return f"the next try was due in {wait:.0f} s, past the task's deadline ({max(remaining, 0):.0f} s left)"
        return None

    def _retry_policy(self, what: str, *, idempotent: bool) -> dict[str, Any]:
        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return self.backoff_seconds(state.attempt_number, exc)

        def stop(state: tenacity.RetryCallState) -> bool:  # tenacity computes the wait first
            if state.attempt_number >= self.max_attempts:
                return True
            exc = state.outcome.exception() if state.outcome else None
            stopped = self._wait_past_bounds(state.upcoming_sleep)
            if isinstance(exc, RetryableError):
                exc.stopped = stopped
            return stopped is not None

        def log_retry(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            self._log_retry(what, state.attempt_number, exc, state.next_action.sleep if state.next_action else 0.0)

        return {
            "stop": stop,
            "wait": wait,
            "retry": tenacity.retry_if_exception(
                lambda exc: (
                    isinstance(exc, RetryableError) and exc.hint is None and (idempotent or not exc.maybe_received)
                )
            ),
            "before_sleep": log_retry,
            "reraise": True,
        }

    @staticmethod
    def give_up(what: str, attempt: int, exc: RetryableError, *, idempotent: bool = True) -> PictoryTransientError:
        """The error raised once retries are spent (or a non-idempotent request may have arrived)."""
        if not idempotent and exc.maybe_received:
            return PictorySubmissionUnclearError(
                f"{what} failed ({exc.cause}) after it may have reached Pictory, so it was not retried to "
                "avoid a duplicate paid job; check GET /pictoryapis/v1/jobs before submitting again"
            )
        hint = exc.hint or (_unreachable_hint(*exc.unreachable) if exc.unreachable else None)
        hint = f" {hint}" if hint else ""
        stopped = f" Not retried: {exc.stopped}." if exc.stopped else ""
        return PictoryTransientError(
            f"Gave up on {what} after {attempt} attempt(s); last cause: {exc.cause}.{stopped}{hint}"
        )

    # -- synchronous path (workers) -------------------------------------------------------------

    @property
    def session(self) -> requests.Session:
        """The ``requests`` session of the synchronous path."""
        if self._session is None:
            self._session = requests.Session()
        return self._session

    def _send(
        self, creds: PictoryCredentials, method: str, path: str, what: str, payload: dict[str, Any] | None
    ) -> Any:
        # connect + read in total, as on the async path: a body dripping in cannot hold a worker longer
        deadline = time.monotonic() + self.connect_timeout + self.read_timeout
        body = io.BytesIO()
        try:
            with self.session.request(
                method,
                creds.base_url + path,
                json=payload,
                headers=creds.headers,
                auth=KeyAuth(creds.api_key),  # the connection's key wins over ~/.netrc
                timeout=(self.connect_timeout, self.read_timeout),
                stream=True,
            ) as response:
                read_body(response, deadline, MAX_RESPONSE_BYTES, body)
                status, headers = response.status_code, response.headers
                encoding = response.encoding or "utf-8"
        except ResponseTooLarge:
            raise too_large(what, MAX_RESPONSE_BYTES) from None
        except ResponseDeadlineExceeded:
            raise RetryableError(
                f"no complete answer within {self.connect_timeout + self.read_timeout:g} s "
                "(connect_timeout + read_timeout) for " + what
            ) from None
        except requests.RequestException as exc:
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            # refused, DNS failure (NameResolutionError is a NewConnectionError), connect timeout, and a
            # failed TLS handshake (requests raises SSLError only while connecting; a TLS error later,
            # after the request was sent, surfaces as a ConnectionError): no request byte was sent
            tls_failed = isinstance(exc, requests.exceptions.SSLError)
            never_sent = tls_failed or isinstance(exc, requests.ConnectTimeout)
            never_sent = never_sent or isinstance(reason, NewConnectionError)
            unreachable = (creds.base_url, tls_failed) if never_sent else None
            # refused, unknown host, a failed handshake: diagnosed now, not after ~35 s of retries
            lasting = tls_failed or isinstance(reason, NameResolutionError) or _refused(reason)
            raise RetryableError(
                describe_exception(exc, creds.api_key),
                maybe_received=not never_sent,
                unreachable=unreachable,
                hint=_unreachable_hint(creds.base_url, tls_failed) if lasting else None,
            ) from None
        self._note_pictory_time(headers.get("Date"))
        return interpret_response(
            status,
            body.getvalue().decode(encoding, errors="replace"),
            headers.get("Content-Type", ""),
            headers.get("Retry-After"),
            what,
            self.conn_id,
            creds.api_key,
        )

    def _note_pictory_time(self, date: str | None) -> None:
        if not date:
            return
        try:
            pictory = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        self.last_pictory_time = (pictory, time.time())

    def call(
        self,
        creds: PictoryCredentials,
        method: str,
        path: str,
        what: str,
        payload: dict[str, Any] | None = None,
        *,
        idempotent: bool | None = None,
    ) -> Any:
        """Send one request and return its JSON body; GETs are retried, a POST only when never received
        (``idempotent=True``: a POST that buys nothing, such as a search, is retried like a GET)."""
        idempotent = method == "GET" if idempotent is None else idempotent
        retrying = tenacity.Retrying(**self._retry_policy(what, idempotent=idempotent))
        try:
            return retrying(self._send, creds, method, path, what, payload)
        except RetryableError as exc:
            raise self.give_up(what, retrying.statistics["attempt_number"], exc, idempotent=idempotent) from None

    # -- asynchronous path (triggerer) ----------------------------------------------------------

    async def _asend(self, creds: PictoryCredentials, path: str, what: str, deadline: float | None = None) -> Any:
        """One paced GET. ``deadline`` is loop time; nothing waits past it (:class:`DeadlineReached`)."""
        pacer = pacer_for(creds)
        timeout = self._client_timeout
        async with pacer.in_flight:
            sent_at = await pacer.wait_turn(deadline)
            if deadline is not None:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    raise DeadlineReached
                if remaining < self.connect_timeout + self.read_timeout:
                    timeout = aiohttp.ClientTimeout(
                        total=remaining, sock_connect=self.connect_timeout, sock_read=self.read_timeout
                    )
            async with SHARED_SESSIONS.use() as session:
                proxy, proxy_auth = await SHARED_SESSIONS.proxy_for(session, creds.base_url)
                try:
                    async with session.get(
                        creds.base_url + path,
                        headers=creds.headers,
                        timeout=timeout,
                        proxy=proxy,
                        proxy_auth=proxy_auth,
                    ) as response:
                        text = await read_capped_text(response, what)
                        status, headers = response.status, response.headers
                except (TimeoutError, aiohttp.ClientError) as exc:
                    if deadline is not None and asyncio.get_running_loop().time() >= deadline:
                        raise DeadlineReached from None
                    never_sent = isinstance(exc, aiohttp.ClientConnectorError)
                    tls_failed = isinstance(exc, aiohttp.ClientSSLError)
                    os_error = getattr(exc, "os_error", None)
                    # in the triggerer a job already exists, so its host answered before: a refusal is a
                    # restart or an outage and is retried; https to plain http or an unknown host never heal
                    lasting = tls_failed or isinstance(os_error, socket.gaierror)
                    hint = await asyncio.to_thread(_unreachable_hint, creds.base_url, tls_failed) if lasting else None
                    raise RetryableError(
                        describe_exception(exc, creds.api_key), maybe_received=not never_sent, hint=hint
                    ) from None
        retry_after = retry_after_seconds(headers.get("Retry-After")) if status == 429 else None
        pacer.answered(sent_at, status == 429, DEFAULT_RATE_LIMIT_PAUSE if retry_after is None else retry_after)
        return interpret_response(
            status, text, headers.get("Content-Type", ""), headers.get("Retry-After"), what, self.conn_id, creds.api_key
        )

    async def aget(
        self,
        creds: PictoryCredentials,
        path: str,
        what: str,
        *,
        end_time: float | None = None,
        max_attempts: int | None = None,
    ) -> Any:
        """GET with ``aiohttp`` on the running loop, paced per key, retrying transient failures.

        :param end_time: Wall-clock deadline (epoch seconds): no wait (pacer, request, backoff) runs
            past it; reaching it raises :class:`DeadlineReached`.
        :param max_attempts: Override of the transport's attempts (the status scan sends single tries).
        """
        loop = asyncio.get_running_loop()
        deadline = None if end_time is None else loop.time() + (end_time - time.time())
        attempts = self.max_attempts if max_attempts is None else max_attempts
        attempt = 1
        while True:  # a plain loop: the triggerer runs this for every poll of every job, keep it cheap
            try:
                # a deadline already past still gets one try: a finished job is reported, not timed out
                late = deadline is not None and attempt == 1 and deadline <= loop.time()
                return await self._asend(creds, path, what, None if late else deadline)
            except Throttled:  # never a failure: the key's pacer waits out Retry-After at its lowered rate
                if deadline is not None and loop.time() >= deadline:
                    raise DeadlineReached from None
            except RetryableError as exc:
                if attempt >= attempts or exc.hint:  # a diagnosis that waiting cannot heal: at once
                    raise self.give_up(what, attempt, exc) from None
                wait = self.backoff_seconds(attempt, exc)
                if deadline is not None and loop.time() + wait >= deadline:
                    await asyncio.sleep(max(0.0, deadline - loop.time()))
                    raise DeadlineReached from None
                self._log_retry(what, attempt, exc, wait)
                await asyncio.sleep(wait)
                attempt += 1
