"""PictoryHook: the connection-aware client of Pictory's AI Studio API.

API methods only: the connection lookup lives here, the HTTP details (timeouts, retries, error mapping,
shared sessions, the per-key pacer) in :mod:`pictory_provider.hooks.transport`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

import aiohttp
import requests
from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

from pictory_provider.api import (
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
    PictoryConfigError,
    PictoryError,
    PictoryJobFailedError,
    PictoryJobTimeoutError,
)
from pictory_provider.get_provider_info import UI_FIELD_BEHAVIOUR
from pictory_provider.hooks.connection import (
    USER_AGENT,
    PictoryCredentials,
    base_url_from_host,
    credentials_from_connection,
    extra_of,
)
from pictory_provider.hooks.transport import SHARED_SESSIONS, PictoryTransport, describe_exception

__all__ = [
    "USER_AGENT",
    "JobStatus",
    "PictoryCredentials",
    "PictoryHook",
    "PictoryJob",
    "base_url_from_host",
    "describe_exception",
    "raise_for_failed_job",
]

log = logging.getLogger(__name__)


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
        return self.transport.session

    # -- synchronous path ---------------------------------------------------------------------

    def _call(self, method: str, path: str, what: str, payload: dict[str, Any] | None = None) -> Any:
        return self.transport.call(self.get_credentials(), method, path, what, payload)

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

    async def aget_job(self, job_id: str) -> PictoryJob:
        """Read a job with ``aiohttp`` on the running event loop, retrying transient failures."""
        job_id = validate_job_id(job_id)
        creds = await self.aget_credentials()
        return parse_job(await self.transport.aget(creds, f"{JOBS_PATH}/{job_id}", f"GET job {job_id}"), job_id)


def raise_for_failed_job(job: PictoryJob) -> None:
    """Raise :class:`PictoryJobFailedError` if the job failed or its outputs were cleaned."""
    failure = job_failure(job)
    if failure:
        raise PictoryJobFailedError(job.job_id, *failure)
