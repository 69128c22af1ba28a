"""One status scan per API key: the triggers of a key learn their jobs' states from the job list.

Every waiting :class:`~pictory_provider.triggers.pictory.PictoryJobTrigger` of one API key (same base
URL and key digest, whatever the connection id) in one event loop registers its job with the key's
:class:`StatusScan`. When enough jobs wait (or the connection's extra ``status_polling`` is ``list``),
the triggers due in one tick share one walk of ``GET /pictoryapis/v1/jobs`` (newest first, paged by
an opaque ``nextPageKey``) instead of one ``GET /jobs/{id}`` each; see ``docs/performance.md``.

Every page goes through the key's rate cap and 429 pause like any other request. A job the walk
does not find (older than the page budget, skipped because the list shifted while it was read) or a
completed item without its outputs is read with its own ``GET /jobs/{id}``, so nothing is lost. A
failing list (5xx, timeout, junk) is retried with backoff and never fails a trigger by itself: its
triggers hear "no news" and wait, and after ``max_attempts`` failures in a row they fall back to their
own GETs (with their own failure budget) until the list answers again. A 401/403/404 from the list
hands every trigger to its own GET, which reports the right error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from pictory_provider.api import JOBS_PATH
from pictory_provider.exceptions import PictoryError, PictoryNotFoundError, PictoryTransientError
from pictory_provider.hooks.connection import PictoryCredentials
from pictory_provider.hooks.transport import DeadlineReached, PictoryTransport, RetryableError

log = logging.getLogger(__name__)

__all__ = ["SCAN_MIN_JOBS", "SCAN_PAGE_BUDGET", "StatusScan", "scan_registration"]

#: In ``auto`` mode, a key uses the list once this many of its jobs wait in one triggerer; below it,
#: per-job GETs cost less (see the crossover in ``docs/performance.md``). A walk also stops paging
#: once fewer unseen jobs than this remain: their own GETs are cheaper than more pages.
SCAN_MIN_JOBS = 20
#: Most pages one walk reads; jobs not seen by then are read with their own GET.
SCAN_PAGE_BUDGET = 100
#: How long a scan waits for the other triggers of its tick to join before it starts (seconds).
BATCH_WINDOW = 0.02
#: After a 404 from the list (no list endpoint behind this base URL), per-job GETs for this long.
LIST_UNAVAILABLE_SECONDS = 600.0

_FETCH: Any = object()  # "read this job with its own GET"
_DEADLINE: Any = object()  # the trigger's end_time came before the scan's answer


def _resolve(future: asyncio.Future[Any], outcome: Any) -> None:
    if not future.done():  # a cancelled trigger's future is done already
        future.set_result(outcome)


def _lacks_outputs(data: dict[str, Any]) -> bool:
    """A completed item whose outputs the list left out: the job's own GET has them."""
    return data.get("status") == "completed" and not data.get("url")


class StatusScan:
    """The shared status scan of one API key in one event loop (see the module docstring).

    :param creds: The key's credentials (the first registered trigger's).
    :param transport: Sends the list pages (one try each; the scan does its own backoff).
    """

    def __init__(self, creds: PictoryCredentials, transport: PictoryTransport) -> None:
        self.creds = creds
        self.transport = transport
        self.page_budget = SCAN_PAGE_BUDGET
        self.min_jobs = SCAN_MIN_JOBS
        self.registered: dict[str, int] = {}  # job id -> number of triggers waiting for it
        self._batch: dict[str, list[asyncio.Future[Any]]] = {}
        self._runner: asyncio.Task[None] | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._unavailable_until = 0.0
        #: Counters for logs and benchmarks: walks, pages read, jobs handed to their own GET.
        self.stats = {"scans": 0, "pages": 0, "fallbacks": 0, "failures": 0}

    # -- registration -------------------------------------------------------------------------

    def register(self, job_id: str) -> None:
        self.registered[job_id] = self.registered.get(job_id, 0) + 1

    def unregister(self, job_id: str) -> None:
        left = self.registered.get(job_id, 0) - 1
        if left > 0:
            self.registered[job_id] = left
        else:
            self.registered.pop(job_id, None)
        if not self.registered and self._runner is not None:
            self._runner.cancel()  # the last trigger left: stop scanning at once
            self._runner = None

    def uses_list(self, mode: str) -> bool:
        """Whether a trigger of this ``status_polling`` mode learns its state from the list now."""
        if mode == "per_job" or asyncio.get_running_loop().time() < self._unavailable_until:
            return False
        return mode == "list" or len(self.registered) >= self.min_jobs

    # -- polling ------------------------------------------------------------------------------

    async def poll(self, job_id: str, mode: str, end_time: float | None = None) -> dict[str, Any] | None:
        """The job's response body now, or ``None`` for "no news this tick" (the list is failing).

        :raises DeadlineReached: ``end_time`` (epoch seconds) came first.
        :raises PictoryError: from the job's own GET, as on the per-job path.
        """
        if self.uses_list(mode):
            loop = asyncio.get_running_loop()
            future: asyncio.Future[Any] = loop.create_future()
            self._batch.setdefault(job_id, []).append(future)
            if self._runner is None:
                self._runner = loop.create_task(self._run())
            timer = None
            if end_time is not None:  # a slow list must not hold a trigger past its deadline
                at = loop.time() + max(0.0, end_time - time.time())
                timer = loop.call_at(at, _resolve, future, _DEADLINE)
            try:
                outcome = await future
            finally:
                if timer is not None:
                    timer.cancel()
            if outcome is _DEADLINE:
                raise DeadlineReached
            if outcome is not _FETCH:
                return outcome  # type: ignore[no-any-return]
            self.stats["fallbacks"] += 1
        path, what = f"{JOBS_PATH}/{job_id}", f"GET job {job_id}"
        return await self.transport.aget(self.creds, path, what, end_time=end_time)  # type: ignore[no-any-return]

    async def _run(self) -> None:
        """Serve batches until none is waiting: one walk per batch, batches one after another."""
        try:
            while self._batch:
                await asyncio.sleep(BATCH_WINDOW)  # let every trigger of this tick join
                batch, self._batch = self._batch, {}
                await self._serve(batch)
        finally:
            if self._runner is asyncio.current_task():
                self._runner = None

    async def _serve(self, batch: dict[str, list[asyncio.Future[Any]]]) -> None:
        def answer(job_id: str, outcome: Any) -> None:
            for future in batch.pop(job_id, ()):
                _resolve(future, outcome)

        loop = asyncio.get_running_loop()
        try:
            if loop.time() < self._retry_at:  # the list is backing off
                outcome = _FETCH if self._failures >= self.transport.max_attempts else None
                for job_id in list(batch):
                    answer(job_id, outcome)
                return
            self.stats["scans"] += 1
            try:
                await self._walk(batch, answer)
            except (RetryableError, PictoryTransientError) as exc:
                self._failures += 1
                self.stats["failures"] += 1
                wait = self.transport.backoff_seconds(self._failures, exc)
                self._retry_at = loop.time() + wait
                log.warning(
                    "Pictory job list failed (%d in a row): %s; %d waiting job(s) %s; next list in %.1f s",
                    self._failures,
                    exc,
                    len(batch),
                    "read one by one" if self._failures >= self.transport.max_attempts else "keep waiting",
                    wait,
                )
                outcome = _FETCH if self._failures >= self.transport.max_attempts else None
                for job_id in list(batch):
                    answer(job_id, outcome)
                return
            except PictoryError as exc:  # 401/403/404/400: each trigger's own GET reports the right error
                if isinstance(exc, PictoryNotFoundError):
                    self._unavailable_until = loop.time() + LIST_UNAVAILABLE_SECONDS
                log.warning("Pictory job list refused (%s); reading %d job(s) one by one", exc, len(batch))
            except Exception:
                log.exception("Unexpected error in the Pictory job list scan; reading %d job(s) one by one", len(batch))
            self._failures = 0
        finally:
            for job_id in list(batch):  # not seen, beyond the budget, or an unexpected error
                answer(job_id, _FETCH)

    async def _walk(self, batch: dict[str, list[asyncio.Future[Any]]], answer: Any) -> None:
        """Read pages, newest first, until every job of ``batch`` was seen (or paging stops)."""
        wanted = {job_id for job_id, futures in batch.items() if any(not f.done() for f in futures)}
        key: str | None = None
        pages = 0
        while wanted and pages < self.page_budget:
            path = JOBS_PATH if key is None else f"{JOBS_PATH}?nextPageKey={quote(key, safe='')}"
            body = await self.transport.aget(self.creds, path, "the job list", max_attempts=1)
            pages += 1
            self.stats["pages"] += 1
            items = body.get("items") if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise RetryableError("a job list page without an 'items' list")
            for item in items:
                data = item.get("data") if isinstance(item, dict) else None
                job_id = data.get("jobId") if isinstance(data, dict) else None
                if not isinstance(job_id, str) or job_id not in wanted:
                    continue  # another job type, another trigger's job already served, or junk
                wanted.discard(job_id)  # first sighting wins: a shifted page may show it again
                if _lacks_outputs(data):  # type: ignore[arg-type]
                    answer(job_id, _FETCH)
                else:
                    answer(job_id, {"job_id": job_id, "success": item.get("success"), "data": data})
            key = body.get("nextPageKey")
            if not isinstance(key, str) or not key or len(wanted) < self.min_jobs:
                break  # the end of the list, or the rest is cheaper with their own GETs


_SCANS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], StatusScan]] = (
    weakref.WeakKeyDictionary()
)


def scan_for(creds: PictoryCredentials) -> StatusScan | None:
    """The running loop's scan of this key, if any trigger of it is registered."""
    return _SCANS.get(asyncio.get_running_loop(), {}).get((creds.base_url, creds.key_digest))


@contextlib.asynccontextmanager
async def scan_registration(
    creds: PictoryCredentials, transport: PictoryTransport, job_id: str
) -> AsyncIterator[StatusScan]:
    """Register ``job_id`` with its key's scan for the block (created on first use, dropped and
    stopped when its last job leaves, also when the waiting task is cancelled)."""
    scans = _SCANS.setdefault(asyncio.get_running_loop(), {})
    key = (creds.base_url, creds.key_digest)
    scan = scans.get(key)
    if scan is None:
        scan = scans[key] = StatusScan(creds, transport)
    scan.register(job_id)
    try:
        yield scan
    finally:
        scan.unregister(job_id)
        if not scan.registered and scans.get(key) is scan:
            del scans[key]
