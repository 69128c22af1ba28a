"""PictoryHook: the connection-aware client of Pictory's AI Studio API.

API methods only: the connection lookup lives here, the HTTP details (timeouts, retries, error mapping,
shared sessions, the per-key pacer) in :mod:`pictory_provider.hooks.transport`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import requests
from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

from pictory_provider.api import (
    JOBS_PATH,
    JobStatus,
    PictoryJob,
    job_failure,
    parse_created_job,
    parse_job,
    validate_job_id,
)
from pictory_provider.credits import (
    QUOTA_PATH,
    CreditTransaction,
    Quota,
    failed_job_error,
    parse_credit_usage,
    parse_quota,
    usage_path,
)
from pictory_provider.exceptions import (
    PictoryAPIError,
    PictoryConfigError,
    PictoryError,
    PictoryJobTimeoutError,
    PictoryValidationError,
)
from pictory_provider.get_provider_info import UI_FIELD_BEHAVIOUR
from pictory_provider.hooks.connection import (
    USER_AGENT,
    PictoryCredentials,
    base_url_from_host,
    credentials_from_connection,
    extra_of,
    unreadable_env_connection_hint,
)
from pictory_provider.hooks.lookups import PictoryLookupsMixin
from pictory_provider.hooks.projects import PictoryProjectsMixin
from pictory_provider.hooks.sessions import SHARED_CREDENTIALS
from pictory_provider.hooks.transcription import PictoryTranscriptionMixin
from pictory_provider.hooks.transport import SHARED_SESSIONS, KeyAuth, PictoryTransport, describe_exception
from pictory_provider.kinds import IMAGE, PREVIEW, PREVIEW_RENDER, RENDER, RENDER_PARAMS, VIDEO, JobKind
from pictory_provider.submission import Fence
from pictory_provider.task_settings import check_wait_settings

__all__ = [
    "USER_AGENT",
    "JobStatus",
    "PictoryCredentials",
    "PictoryHook",
    "PictoryJob",
    "base_url_from_host",
    "describe_exception",
    "log_render_progress",
    "raise_for_failed_job",
]

log = logging.getLogger(__name__)
#: Request fields named in the "Submitted Pictory ... job" log line (short, never a URL or a text).
LOGGED_SETTINGS = (
    "model",
    "aspectRatio",
    "duration",
    "videoName",
    "previewJobId",
    "mediaType",
    "language",
    "jobId",
    "highlight_duration",
)
#: Added to "connection is not defined" inside a pytest test: the fixture that points it at the emulator.
PYTEST_HINT = (
    ". In a pytest test, ask for the provider's `pictory_connection` fixture (it points the connection at "
    "a local emulator; no conftest needed, see the provider's docs/testing.md)"
)


class PictoryHook(PictoryTranscriptionMixin, PictoryLookupsMixin, PictoryProjectsMixin, BaseHook):
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
    :param read_timeout: Seconds to wait for a response (one request gives up after
        ``connect_timeout + read_timeout`` in total).
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
        self.pictory_conn_id = pictory_conn_id
        self.transport = PictoryTransport(
            pictory_conn_id,
            max_attempts=max_attempts,
            retry_min_wait=retry_min_wait,
            retry_max_wait=retry_max_wait,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
        )
        self._credentials: PictoryCredentials | None = None

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
            self._credentials = credentials_from_connection(conn, self.pictory_conn_id, extra_of(conn))
        return self._credentials

    async def aget_credentials(self) -> PictoryCredentials:
        """Resolve the connection once without blocking the event loop (for the triggerer).

        Triggers of one connection that start together share one lookup
        (:data:`~pictory_provider.hooks.sessions.SHARED_CREDENTIALS`).
        """
        if self._credentials is None:
            self._credentials = await SHARED_CREDENTIALS.get(self.pictory_conn_id, self._alookup_credentials)
        return self._credentials

    async def _alookup_credentials(self) -> PictoryCredentials:
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
        return credentials_from_connection(conn, self.pictory_conn_id, extra)

    def _missing_connection(self) -> PictoryConfigError:
        return PictoryConfigError(
            f"Airflow connection {self.pictory_conn_id!r} is not defined: create a connection of type "
            f"'pictory' (UI, `airflow connections add`, or AIRFLOW_CONN_{self.pictory_conn_id.upper()})"
            + unreadable_env_connection_hint(self.pictory_conn_id)
            + (PYTEST_HINT if os.environ.get("PYTEST_CURRENT_TEST") else "")
        )

    @contextlib.contextmanager
    def deadline(self, seconds: float | None) -> Iterator[None]:
        """Within the block no sleep between tries of a request runs past ``seconds`` from now: such a
        request fails instead (a sensor's or a wait's timeout). Nested deadlines: the earlier wins."""
        previous = self.transport.deadline
        if seconds is not None:
            ends = time.monotonic() + seconds
            self.transport.deadline = ends if previous is None else min(previous, ends)
        try:
            yield
        finally:
            self.transport.deadline = previous

    def get_conn(self) -> requests.Session:
        """The ``requests`` session of the synchronous methods, authenticated: it sends the
        connection's API key and User-Agent with every request (prefix paths with
        ``get_credentials().base_url``). It has none of :meth:`request`'s retries or error mapping."""
        creds = self.get_credentials()
        session = self.transport.session
        session.auth = KeyAuth(creds.api_key)  # also keeps ~/.netrc from replacing the key
        session.headers.update({key: creds.headers[key] for key in ("User-Agent", "Accept")})
        return session

    def request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """Call any Pictory endpoint the hook has no method for; return the parsed JSON answer.

        ``path`` is relative to the connection's base URL (``/pictoryapis/v2/projects``). The request
        goes through the same transport as every method: the connection's key and User-Agent,
        timeouts, retries (a GET on transient failures; any other method only when Pictory cannot
        have received it), ``Retry-After`` on HTTP 429 and the error mapping
        (:class:`PictoryValidationError` for a 400, :class:`PictoryAuthError`, ...).
        """
        verb = method.upper() if isinstance(method, str) else ""
        if verb not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            raise PictoryValidationError(f"request: unsupported HTTP method {method!r}")
        if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
            raise PictoryValidationError(
                f"request: path must be relative to the connection's base URL, starting with '/' (got {path!r})"
            )
        query = urlencode(params, doseq=True) if params else ""
        full = f"{path}{'&' if '?' in path else '?'}{query}" if query else path
        return self._call(verb, full, f"{verb} {path}", json)

    # -- synchronous path ---------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        payload: dict[str, Any] | None = None,
        *,
        idempotent: bool | None = None,
    ) -> Any:
        return self.transport.call(self.get_credentials(), method, path, what, payload, idempotent=idempotent)

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
        return self.create_job(
            IMAGE,
            prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            style=style,
            reference_image_url=reference_image_url,
            webhook=webhook,
        )

    def generate_video(
        self,
        prompt: str,
        *,
        model: str | None = None,
        aspect_ratio: str | None = None,
        duration: str | None = None,
        first_frame_image_url: str | None = None,
        extend_video_url: str | None = None,
        reference_image_urls: list[str] | None = None,
        webhook: str | None = None,
    ) -> str:
        """Submit a Generate Video job (``POST /pictoryapis/v1/aistudio/videos``) and return its job id.

        Inputs are validated before any request (models, per-model aspect ratios and durations, at
        most one of ``first_frame_image_url`` / ``extend_video_url`` / ``reference_image_urls``, 1-3
        reference images, http(s) URLs, prompt length). The POST follows the same never-duplicate
        rule as :meth:`generate_image`.
        """
        return self.create_job(
            VIDEO,
            prompt,
            model=model,
            aspect_ratio=aspect_ratio,
            duration=duration,
            first_frame_image_url=first_frame_image_url,
            extend_video_url=extend_video_url,
            reference_image_urls=reference_image_urls,
            webhook=webhook,
        )

    def render_video(
        self, storyboard: dict[str, Any], *, webhook: str | None = None, allow_unknown_fields: tuple[str, ...] = ()
    ) -> str:
        """Render a storyboard to a video (``POST /pictoryapis/v2/video/storyboard/render``); return the job id.

        The storyboard is checked before any request (:mod:`pictory_provider.storyboard`: unknown field
        names with "did you mean", ``videoName``, scenes, exclusive fields, ...); ``allow_unknown_fields``
        names fields to send although the check does not know them. ``webhook`` is set in the body. The
        POST follows the never-duplicate rule of :meth:`generate_image`.
        """
        return self.create_job(RENDER, storyboard, webhook=webhook, allow_unknown_fields=allow_unknown_fields)

    def create_storyboard_preview(
        self, storyboard: dict[str, Any], *, webhook: str | None = None, allow_unknown_fields: tuple[str, ...] = ()
    ) -> str:
        """Create a storyboard preview job (``POST /pictoryapis/v2/video/storyboard``); return its job id.

        Checked like :meth:`render_video`. The completed job carries ``preview_url``, ``render_params`` and
        the processed ``storyboard`` (:meth:`get_job`); render it as it is with :meth:`render_preview`, or
        modified with :meth:`render_with_modifications`.
        """
        return self.create_job(PREVIEW, storyboard, webhook=webhook, allow_unknown_fields=allow_unknown_fields)

    def render_preview(self, preview_job_id: str, *, webhook: str | None = None) -> str:
        """Render a reviewed preview (``PUT /pictoryapis/v2/video/render/{preview_job_id}``); return the
        render job's id. Sent once: never retried after it may have reached Pictory."""
        return self.create_job(PREVIEW_RENDER, preview_job_id, webhook=webhook)

    def render_with_modifications(self, render_params: dict[str, Any], *, webhook: str | None = None) -> str:
        """Render a completed preview's ``renderParams``, modified or not (``POST /pictoryapis/v2/video/render``,
        the ``renderParams`` object itself as the body); return the render job's id.

        Read them with ``get_job(preview_job_id).render_params``. Sent once, like :meth:`render_preview`.
        """
        return self.create_job(RENDER_PARAMS, render_params, webhook=webhook)

    def create_job(self, kind: JobKind, *args: Any, **params: Any) -> str:
        """Validate, then send the create request of ``kind`` (:mod:`pictory_provider.kinds`); return its job id."""
        body = kind.build_request(*args, **params)
        method, path, sent = kind.create_request(body)
        what = (
            f"the {method} {path} request"
            if kind.method != "POST"
            else f"the Generate {kind.name.capitalize()} request"
        )
        job_id = parse_created_job(self._call(method, path, what, sent), kind.name)
        settings = ", ".join(f"{key}={value}" for key, value in body.items() if key in LOGGED_SETTINGS)
        log.info("Submitted Pictory %s job %s (%s)", kind.name, job_id, settings or "Pictory's defaults")
        return job_id

    def get_job(self, job_id: str, *, require_url: bool = True) -> PictoryJob:
        """Read a job (``GET /pictoryapis/v1/jobs/{job_id}``), retrying transient failures.

        A completed preview or transcription parses without a result URL (its shape shows its kind);
        ``require_url=False`` accepts any completed job without one (a job of unknown kind).
        """
        job_id = validate_job_id(job_id)
        body = self._call("GET", f"{JOBS_PATH}/{job_id}", f"GET job {job_id}")
        return parse_job(body, job_id, require_url=require_url)

    def wait_for_job(
        self, job_id: str, *, poll_interval: float = 10.0, timeout: float = 3600.0, require_url: bool = True
    ) -> PictoryJob:
        """Poll until the job completes and return it (synchronous; for non-deferrable use).

        :raises PictoryJobFailedError: the job failed or its outputs were cleaned.
        :raises PictoryJobTimeoutError: still running after ``timeout`` seconds (the job keeps running:
            Pictory has no cancel endpoint).
        """
        check_wait_settings(poll_interval, timeout)
        deadline = time.monotonic() + timeout
        polls, progress = 0, None
        while True:
            with self.deadline(deadline - time.monotonic()):
                job = self.get_job(job_id, require_url=require_url)
            polls += 1
            progress = log_render_progress(log, job, progress)
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

    def list_page(self, path: str, next_page_key: str | None = None) -> dict[str, Any]:
        """One page (newest first) of a list endpoint: generated images (``IMAGES_PATH``), jobs
        (``JOBS_PATH``), ...; ``{"items": [...], "nextPageKey": ...}``. Retries transient failures."""
        query = f"?{urlencode({'nextPageKey': next_page_key})}" if next_page_key else ""
        body = self._call("GET", path + query, f"GET {path}")
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise PictoryAPIError(f"Pictory returned a list response without an 'items' array for GET {path}")
        return body

    def read_fence(self) -> Fence:
        """Where the jobs list stands now: its newest job and Pictory's clock (``GET /jobs``, one page).

        Read just before a create request, so that a retry can tell the jobs created after it from
        older ones (:mod:`pictory_provider.reconcile`)."""
        items = self.list_page(JOBS_PATH)["items"]
        data = items[0].get("data") if items and isinstance(items[0], dict) else None
        newest = data.get("jobId") if isinstance(data, dict) and isinstance(data.get("jobId"), str) else None
        seen = self.transport.last_pictory_time
        if seen is None:
            log.warning("Pictory's answer carried no Date header: an unclear create could only be placed by list order")
        limit = self.transport.connect_timeout + self.transport.read_timeout  # a create is out at most this long
        return Fence(newest, seen[0] if seen else None, seen[1] if seen else time.time(), limit)

    def job_data(self, job_id: str) -> dict[str, Any]:
        """A job's ``data`` as Pictory sends it (``GET /jobs/{job_id}``; ``{}`` when it has none)."""
        job_id = validate_job_id(job_id)
        body = self._call("GET", f"{JOBS_PATH}/{job_id}", f"GET job {job_id}")
        data = body.get("data") if isinstance(body, dict) else None
        return data if isinstance(data, dict) else {}

    def get_quota(self) -> Quota:
        """Read the AI credits (used, limit, remaining) and other quotas of the billing term (``GET /quota``)."""
        return parse_quota(self._call("GET", QUOTA_PATH, "the quota read"))

    def get_ai_credit_usage(self, year: int | None = None, month: int | None = None) -> list[CreditTransaction]:
        """Read the AI-credit ledger of a month, newest first (``GET /aicredits/usage``; default this month).

        :raises PictoryValidationError: ``year`` without ``month``, or a month outside the last 12.
        """
        return parse_credit_usage(self._call("GET", usage_path(year, month), "the AI-credit usage read"))

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap authenticated call (list generated images): the UI's "Test" button.

        Answers within seconds, with a hint when it fails (see :mod:`pictory_provider.hooks.diagnosis`).
        """
        from pictory_provider.hooks.diagnosis import check_connection

        try:
            creds = self.get_credentials()
        except PictoryError as exc:
            return False, str(exc)
        return check_connection(creds, self.pictory_conn_id)

    # -- asynchronous path (triggerer) ---------------------------------------------------------

    @staticmethod
    def shared_session() -> contextlib.AbstractAsyncContextManager[aiohttp.ClientSession]:
        """Hold the event loop's shared ``aiohttp`` session open (a trigger does so for its whole wait)."""
        return SHARED_SESSIONS.use()

    async def aget_job(self, job_id: str, *, end_time: float | None = None, require_url: bool = True) -> PictoryJob:
        """Read a job with ``aiohttp`` on the running event loop, retrying transient failures (no wait
        runs past ``end_time``, epoch seconds: :class:`~pictory_provider.hooks.transport.DeadlineReached`)."""
        job_id = validate_job_id(job_id)
        creds = await self.aget_credentials()
        path, what = f"{JOBS_PATH}/{job_id}", f"GET job {job_id}"
        return parse_job(
            await self.transport.aget(creds, path, what, end_time=end_time), job_id, require_url=require_url
        )


def log_render_progress(logger: Any, job: PictoryJob, last: tuple[Any, Any] | None) -> tuple[Any, Any] | None:
    """Log a rendering job's ``renderProgress`` and message when they changed; return what was shown."""
    if job.render_progress is None and job.render_message is None:
        return last
    shown = (job.render_progress, job.render_message)
    if shown != last and job.status is JobStatus.IN_PROGRESS:
        logger.info("Pictory job %s: rendering %s%% (%s)", job.job_id, job.render_progress, job.render_message or "")
    return shown


def raise_for_failed_job(job: PictoryJob) -> None:
    """Raise :class:`PictoryJobFailedError` if the job failed or its outputs were cleaned
    (:class:`PictoryCreditsExhaustedError` if it failed for lack of AI credits)."""
    failure = job_failure(job)
    if failure:
        raise failed_job_error(job.job_id, *failure)
