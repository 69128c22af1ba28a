"""One status scan per API key: the triggers of a key learn their jobs' states from the job list.

Every waiting :class:`~pictory_provider.triggers.pictory.PictoryJobTrigger` of one API key (same base
URL and key digest, whatever the connection id) in one event loop registers its job with the key's
:class:`StatusScan`. When enough jobs wait (or the connection's extra ``status_polling`` is ``list``),
the triggers due in one tick share one walk of ``GET /pictoryapis/v1/jobs`` (newest first, paged by
an opaque ``nextPageKey``) instead of one ``GET /jobs/{id}`` each; see ``docs/performance.md``.

Every page goes through the key's adaptive rate and 429 pause like any other request; a page
answered 429 is asked again after the pause, so a throttled walk resumes where it was (it never
starts over, and never counts as a failure) and reaches the oldest jobs like the newest. A job the walk
does not find (older than the page budget, skipped because the list shifted while it was read) or a
completed item without every output its kind publishes (a summary item with ``status`` and ``url``
only) is read with its own ``GET /jobs/{id}``, so nothing is lost and both paths fire the same events. A
failing list (5xx, timeout, junk) is retried with backoff and never fails a trigger by itself: its
triggers hear "no news" and wait, and after ``max_attempts`` failures in a row they fall back to their
own GETs (with their own failure budget) until the list answers again. A 401/403/404 from the list
hands every trigger to its own GET, which reports the right error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from pictory_provider.api import JOB_DATA_KEYS, JOBS_PATH
from pictory_provider.exceptions import PictoryError, PictoryNotFoundError, PictoryTransientError
from pictory_provider.hooks.connection import PictoryCredentials
from pictory_provider.hooks.ratelimit import pacer_for
from pictory_provider.hooks.transport import DeadlineReached, PictoryTransport, RetryableError
from pictory_provider.kinds import JOB_KINDS

log = logging.getLogger(__name__)

__all__ = ["SCAN_MIN_JOBS", "SCAN_PAGE_BUDGET", "StatusScan", "scan_registration"]

#: In ``auto`` mode, a key uses the list once this many of its jobs wait in one triggerer, and goes
#: back to per-job GETs below half of it; below it, per-job GETs cost less (see the crossover in
#: ``docs/performance.md``). A walk also stops paging once fewer unseen jobs than this remain and
#: their own GETs are fewer requests than the pages still to read (estimated from earlier walks).
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


def _published_keys(data: dict[str, Any]) -> set[str]:
    """The ``data`` keys a completed job of this item's kind carries (the trigger does not know the
    kind): the result fields every kind publishes, plus those of each kind the item shows signs of
    (one of its own fields, or its file type in ``url``)."""
    kinds = list(JOB_KINDS.values())
    common = set.intersection(*(set(kind.result_fields) for kind in kinds))
    fields = set(common)
    url = data.get("url")
    path = urlsplit(url).path if isinstance(url, str) else ""
    for kind in kinds:
        own = set(kind.result_fields) - common
        if path.endswith("." + kind.extension) or any(data.get(JOB_DATA_KEYS[name]) is not None for name in own):
            fields |= own
    return {JOB_DATA_KEYS[name] for name in fields}


def _lacks_outputs(data: dict[str, Any]) -> bool:
    """A completed item without a field its kind publishes (no ``url``, or a summary item without
    ``width``/``height``/``aiCreditsUsed``, or a video's ``duration``/thumbnail): its own GET has them,
    so both paths give the same event. Only completed items: a job is read this way at most once."""
    return data.get("status") == "completed" and any(data.get(key) is None for key in _published_keys(data))


@dataclass(eq=False)
class _Waiter:
    """One trigger waiting for its job's next state from the scan."""

    job_id: str
    last_status: str | None
    poll_interval: float
    due: float  # loop time of the next walk that looks for this job
    future: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class StatusScan:
    """The shared status scan of one API key in one event loop (see the module docstring).

    Waiting triggers are not woken per poll: the scan walks the list once per tick (a grid of the
    triggers' ``poll_interval``) and wakes a trigger only when its job's status changed, or when
    the job must be read with its own GET.

    :param creds: The key's credentials (the first registered trigger's).
    :param transport: Sends the list pages (one try each; the scan does its own backoff).
    """

    def __init__(self, creds: PictoryCredentials, transport: PictoryTransport) -> None:
        self.creds = creds
        self.transport = transport
        #: Where this scan's tick grid lies in the interval (a fraction): random, so the triggerers of a
        #: key (separate processes, one clock) do not all walk the list at the same moments.
        self.phase = random.random()
        self.page_budget = SCAN_PAGE_BUDGET
        self.min_jobs = SCAN_MIN_JOBS
        self.registered: dict[str, int] = {}  # job id -> number of triggers waiting for it
        self._depth: dict[str, int] = {}  # job id -> the page of the list it was last seen on
        self._waiters: dict[str, list[_Waiter]] = {}
        self._runner: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Future[Any] | None = None
        self._failures = 0
        self._unavailable_until = 0.0
        self._listing = False
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
            self._depth.pop(job_id, None)
        if not self.registered and self._runner is not None:
            self._runner.cancel()  # the last trigger left: stop scanning at once
            self._runner = None

    def uses_list(self, mode: str) -> bool:
        """Whether a trigger of this ``status_polling`` mode learns its state from the list now."""
        if mode == "per_job" or asyncio.get_running_loop().time() < self._unavailable_until:
            return False
        if mode == "list":
            return True
        # auto: switch to the list at min_jobs, back to GETs below half of it (no flapping at the edge);
        # while Pictory throttles the key, stay on the list as long as a walk is fewer requests
        waiting = len(self.registered)
        throttled = pacer_for(self.creds).adaptive.w_max is not None
        pages = max(self._depth.values(), default=waiting)  # the pages a walk reads (from earlier walks)
        keep = self._listing and throttled and waiting > pages
        self._listing = keep or waiting >= (self.min_jobs // 2 if self._listing else self.min_jobs)
        return self._listing

    # -- polling ------------------------------------------------------------------------------

    async def poll(
        self,
        job_id: str,
        mode: str,
        *,
        last_status: str | None = None,
        poll_interval: float = 10.0,
        end_time: float | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """The job's response body once it differs from ``last_status`` (the first reading at once).

        Returns ``(body, paced)``: ``paced`` is True when the body came from a walk of the list (the
        scan already waited for the tick), False for the job's own GET (the caller sleeps its
        interval before it asks again).

        :raises DeadlineReached: ``end_time`` (epoch seconds) came first.
        :raises PictoryError: from the job's own GET, as on the per-job path.
        """
        if mode == "auto" and last_status is None and not self.uses_list(mode):
            # a first reading: let the triggers that start together register before choosing the mode,
            # or the first few of a burst of hundreds would each send a GET
            await asyncio.sleep(BATCH_WINDOW)
        if self.uses_list(mode):
            loop = asyncio.get_running_loop()
            now = loop.time()
            due = now if last_status is None else _next_tick(now, poll_interval, self.phase)
            waiter = _Waiter(job_id, last_status, poll_interval, due)
            self._waiters.setdefault(job_id, []).append(waiter)
            if self._runner is None:
                self._runner = loop.create_task(self._run())
            elif self._wakeup is not None and due < loop.time() + 0.5:
                _resolve(self._wakeup, None)
            timer = None
            if end_time is not None:  # a slow or failing list must not hold a trigger past its deadline
                timer = loop.call_at(now + max(0.0, end_time - time.time()), _resolve, waiter.future, _DEADLINE)
            try:
                outcome = await waiter.future
            finally:
                if timer is not None:
                    timer.cancel()
                self._drop(waiter)
            if outcome is _DEADLINE:
                raise DeadlineReached
            if outcome is not _FETCH:
                return outcome, True
            self.stats["fallbacks"] += 1
        path, what = f"{JOBS_PATH}/{job_id}", f"GET job {job_id}"
        return await self.transport.aget(self.creds, path, what, end_time=end_time), False

    def _drop(self, waiter: _Waiter) -> None:
        waiters = self._waiters.get(waiter.job_id, [])
        if waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._waiters[waiter.job_id]

    async def _run(self) -> None:
        """Walk the list at every tick some waiter is due, until nobody waits."""
        loop = asyncio.get_running_loop()
        try:
            while self._waiters:
                pending = [w.due for waiters in self._waiters.values() for w in waiters if not w.future.done()]
                if not pending:  # answered triggers are still leaving
                    await asyncio.sleep(0)
                    continue
                delay = min(pending) - loop.time()
                if delay > 0:  # sleep until the tick, or until a new trigger asks for its first state
                    self._wakeup = loop.create_future()
                    timer = loop.call_later(delay, _resolve, self._wakeup, None)
                    try:
                        await self._wakeup
                    finally:
                        timer.cancel()
                        self._wakeup = None
                    continue
                await asyncio.sleep(BATCH_WINDOW)  # let every trigger of this tick join
                horizon = loop.time() + BATCH_WINDOW
                due = {
                    job_id: [w for w in waiters if w.due <= horizon and not w.future.done()]
                    for job_id, waiters in self._waiters.items()
                }
                due = {job_id: waiters for job_id, waiters in due.items() if waiters}
                if due:
                    await self._serve(due)
        finally:
            if self._runner is asyncio.current_task():
                self._runner = None

    async def _serve(self, due: dict[str, list[_Waiter]]) -> None:
        loop = asyncio.get_running_loop()
        seen: set[str] = set()

        def answer(job_id: str, outcome: Any) -> None:
            seen.add(job_id)
            for waiter in due.get(job_id, ()):
                if outcome is _FETCH or outcome["data"].get("status") != waiter.last_status:
                    _resolve(waiter.future, outcome)
                else:  # unchanged: look again at its next tick, without waking the trigger
                    waiter.due = _next_tick(loop.time(), waiter.poll_interval, self.phase)

        self.stats["scans"] += 1
        try:
            await self._walk(set(due), answer)
        except (RetryableError, PictoryTransientError) as exc:
            self._failures += 1
            self.stats["failures"] += 1
            wait = self.transport.backoff_seconds(self._failures, exc)
            give_up = self._failures >= self.transport.max_attempts
            log.warning(
                "Pictory job list failed (%d in a row): %s; %d waiting job(s) %s; next list in %.1f s",
                self._failures,
                exc,
                len(due) - len(seen),
                "read one by one" if give_up else "keep waiting",
                wait,
            )
            for job_id, waiters in due.items():
                if job_id not in seen:
                    for waiter in waiters:
                        if give_up:
                            _resolve(waiter.future, _FETCH)
                        else:  # no news: the triggers keep waiting, the list is asked again later
                            waiter.due = loop.time() + wait
            return
        except PictoryError as exc:  # 401/403/404/400: each trigger's own GET reports the right error
            if isinstance(exc, PictoryNotFoundError):
                self._unavailable_until = loop.time() + LIST_UNAVAILABLE_SECONDS
            log.warning("Pictory job list refused (%s); reading %d job(s) one by one", exc, len(due) - len(seen))
        except Exception:
            log.exception("Unexpected error in the Pictory job list scan; reading the waiting jobs one by one")
        else:
            self._failures = 0
        for job_id in due:  # not seen: beyond the page budget, skipped by a shifting list, or an error
            if job_id not in seen:
                answer(job_id, _FETCH)

    async def _walk(self, wanted: set[str], answer: Any) -> None:
        """Read pages, newest first, until every job of ``wanted`` was seen (or paging stops)."""
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
                    continue  # another job type, a job nobody waits for now, or junk
                wanted.discard(job_id)  # first sighting wins: a shifted page may show it again
                self._depth[job_id] = pages
                if _lacks_outputs(data):  # type: ignore[arg-type]
                    answer(job_id, _FETCH)
                else:
                    answer(job_id, {"job_id": job_id, "success": item.get("success"), "data": data})
            key = body.get("nextPageKey")
            if not isinstance(key, str) or not key or self._gets_cheaper(wanted, pages):
                break  # the end of the list, or the rest is cheaper with their own GETs

    def _gets_cheaper(self, wanted: set[str], pages: int) -> bool:
        """Whether the unseen jobs cost fewer requests read one by one than the pages still to read.

        Only when fewer than ``min_jobs`` remain. The pages still to read are estimated from where
        the last walks saw those jobs (a job not seen yet is guessed on the next page); a walk two
        pages past that without finding them reads them one by one.
        """
        if not wanted or len(wanted) >= self.min_jobs:
            return not wanted
        for job_id in wanted:  # not seen by any walk yet: guess the next page (corrected when it shows)
            self._depth.setdefault(job_id, pages + 1)
        still = max(self._depth[job_id] for job_id in wanted) - pages
        return still < -1 or len(wanted) <= still


def _next_tick(now: float, interval: float, phase: float = 0.0) -> float:
    """The next tick of the shared grid of ``interval`` seconds (so one walk serves every trigger),
    shifted by ``phase`` (a fraction of the interval)."""
    offset = phase * interval
    return (math.floor((now - offset) / interval) + 1) * interval + offset


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
