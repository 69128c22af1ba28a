"""Which job, if any, an unclear create request made: the evidence in Pictory's lists, and the verdict.

A try whose create request ended without an answer (a read timeout, a reset, a 5xx) may have bought a
job it never learnt the id of. The next try reads Pictory's lists and decides from proof only. The
rules are invariants, checked over generated inputs (tests/test_reconcile_properties.py):

1. **Send again only on proof** that nothing the request could have made exists: every job listed
   above the *fence* (the newest job just before the request) is provably not the request's own:
   claimed by another task instance, of another kind by its shape, or a finished output of this kind
   with other output fields. A running job is never set aside for its position or a date.
2. **Adopt only** the one job above the fence that could be the request's own, when it is a finished
   output with the request's output fields, claimed by no other task instance, and created inside the
   request's *closed* window (in Pictory's clock: from the fence's ``Date`` to the moment the try gave
   up, or for a killed worker the request's time limit, plus :data:`LATE_CREATE_GRACE`).
3. **Everything else waits** while a job that could be the request's own still runs (bounded by
   ``reconcile_timeout``), **then fails clearly**: two candidates are *ambiguous*; an identical job
   outside the window, a failed job of unknown kind, an unreadable date, a lost fence or lists longer
   than :data:`MAX_PAGES` are *unresolved*. Neither buys anything.

Pure: the list reader and the job reader are passed in, and :func:`classify` takes plain data.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pictory_provider.api import JOBS_PATH, JobStatus, parse_job
from pictory_provider.exceptions import PictoryAPIError
from pictory_provider.kinds import JobKind

__all__ = [
    "LATE_CREATE_GRACE",
    "MAX_JOB_READS",
    "MAX_PAGES",
    "Evidence",
    "ListedJob",
    "Verdict",
    "Window",
    "classify",
    "matches_request",
    "parse_created",
    "read_evidence",
    "shape_kind",
]

log = logging.getLogger(__name__)

#: List pages read per list (100 items each at Pictory); beyond that the lists cannot tell.
MAX_PAGES = 20
#: Seconds after the client gave up in which Pictory may still create the job it had received.
LATE_CREATE_GRACE = 30.0
#: Tolerance between Pictory's ``Date`` header and its ``createdDate`` stamps (both Pictory's clock;
#: the header has whole seconds).
PICTORY_CLOCK_TOLERANCE = 2.0
#: How far below the window the kind's list is read (its order is the only stop; dates may disagree).
LIST_READ_MARGIN = 600.0
#: Completed jobs above the fence whose list item lacks its url are read one by one, at most this many.
MAX_JOB_READS = 20
#: Fields of a running job's ``data`` that only a render shows ("present only after rendering has
#: started": https://docs.pictory.ai/api-reference/jobs/get-video-render-job-by-id).
RENDER_PROGRESS_FIELDS = ("renderProgress", "renderProgressMessage", "renderState")

#: Reads one page of a list endpoint: ``(path, next_page_key) -> {"items": [...], "nextPageKey": ...}``.
ListPage = Callable[[str, "str | None"], Mapping[str, Any]]
#: Reads one job's ``data`` (``GET /jobs/{id}``).
JobData = Callable[[str], Mapping[str, Any]]


def parse_created(value: object) -> datetime | None:
    """A ``createdDate`` as an aware datetime: ISO 8601 with or without a zone (UTC assumed), or epoch
    seconds or milliseconds (number or digits). ``None`` when it cannot be read: never "new"."""
    if isinstance(value, bool):
        return None
    number: float | None = None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                return None
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if number is None or number != number:  # NaN
        return None
    if number >= 1e11:  # milliseconds (1e11 s is the year 5138)
        number /= 1000.0
    if not 1e8 <= number < 1e11:  # before 1973 or absurd: not a creation time
        return None
    return datetime.fromtimestamp(number, UTC)


def matches_request(kind: JobKind, body: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """Whether a list item repeats every matched field of the request (defaults applied)."""
    defaults = kind.request_defaults(body)
    return all(item.get(name) == body.get(name, defaults.get(name)) for name in kind.match_fields)


def shape_kind(data: Mapping[str, Any]) -> str | None:
    """The kind a job's ``data`` shows (``image``, ``video``, ``render``, ...), ``None`` when it shows
    none: an AI Studio job in progress is only ``{"status": "in-progress"}`` (docs: ai-studio/get-image-job,
    ai-studio/get-video-job), so it is of unknown kind."""
    if any(data.get(name) is not None for name in RENDER_PROGRESS_FIELDS):
        return "render"
    try:
        shown = parse_job({"data": dict(data)}, "?", require_url=False).job_kind
    except PictoryAPIError:  # a malformed item shows no kind: it stays "could be the request's own"
        return None
    # "image" is what a bare url leaves (a summary item of a video looks the same): no proof of a kind;
    # the kind's own list decides for those
    return None if shown == "image" else shown


@dataclass(frozen=True)
class Window:
    """When the request could have created its job, in Pictory's clock (epoch seconds).

    ``fence_job_id`` is the newest job before the request (``None``: the jobs list was empty).
    ``end`` is when the try gave up (or the request's time limit, for a killed worker); ``None`` only
    for records of older versions, and then nothing is ever adopted.
    """

    fence_job_id: str | None
    start: float | None
    end: float | None

    @property
    def closed(self) -> bool:
        return self.start is not None and self.end is not None

    def holds(self, created: float) -> bool:
        """Whether a ``createdDate`` (epoch seconds) lies in the closed window."""
        if self.start is None or self.end is None:
            return False
        return self.start - PICTORY_CLOCK_TOLERANCE <= created <= self.end + LATE_CREATE_GRACE

    def describe(self) -> str:
        fence = f"listed above job {self.fence_job_id}" if self.fence_job_id else "any job (the list was empty)"
        if self.start is None:
            return f"{fence}; Pictory sent no Date header, so no time bounds (nothing can be adopted)"
        end = "no end (nothing can be adopted)" if self.end is None else _iso(self.end + LATE_CREATE_GRACE)
        return f"{fence}, created {_iso(self.start)} to {end} (Pictory's clock)"


class Verdict(enum.Enum):
    """What the evidence says about the unclear request."""

    ADOPT = "adopt"
    WAIT = "wait"
    CREATED_NOTHING = "created nothing"
    AMBIGUOUS = "ambiguous"
    UNRESOLVED = "unresolved"


@dataclass
class Evidence:
    """What one read of the lists shows above the fence, and the verdict it supports.

    ``candidates``, ``running``, ``outside`` and ``undecided`` could each be the request's own job;
    ``claimed``, ``other_kind`` and ``other_request`` are provably not.
    """

    candidates: list[tuple[str, str]] = field(default_factory=list)  # (jobId, createdDate): identical, in window
    running: list[str] = field(default_factory=list)  # in progress, of this kind or of unknown kind
    outside: list[str] = field(default_factory=list)  # identical, created outside the closed window
    undecided: list[str] = field(default_factory=list)  # could be the request's own; the lists cannot tell
    claimed: list[str] = field(default_factory=list)  # another task instance published or stored it
    other_kind: int = 0  # their shape shows another kind (a render in progress, a finished video, ...)
    other_request: int = 0  # finished outputs of this kind with other output fields
    ignored_older: int = 0  # identical requests listed below the fence: created before the request
    complete: bool = True  # both lists were read far enough to prove what they show
    fence_found: bool = True

    @property
    def could_be_own(self) -> list[str]:
        """Every job above the fence that the lists cannot rule out as the request's own."""
        return [job for job, _ in self.candidates] + self.running + self.outside + self.undecided

    @property
    def verdict(self) -> Verdict:
        if len(self.candidates) >= 2:
            return Verdict.AMBIGUOUS
        if not self.complete or not self.fence_found:
            return Verdict.UNRESOLVED
        if not self.could_be_own:
            return Verdict.CREATED_NOTHING
        if len(self.candidates) == 1 and len(self.could_be_own) == 1:
            return Verdict.ADOPT
        if self.running:
            return Verdict.WAIT
        return Verdict.UNRESOLVED

    def summary(self) -> str:
        """The evidence in one line, for the log line that states a verdict."""
        parts = [
            f"{len(self.candidates)} candidate(s) in the window"
            + (f" ({', '.join(f'{j} created {c}' for j, c in self.candidates)})" if self.candidates else ""),
            f"{len(self.running)} running job(s) above the fence that could be its own"
            + (f" ({', '.join(self.running[:5])})" if self.running else ""),
        ]
        if self.outside:
            parts.append(f"{len(self.outside)} identical job(s) outside the window ({', '.join(self.outside[:5])})")
        if self.undecided:
            parts.append(f"cannot place: {'; '.join(self.undecided[:5])}")
        parts += [
            f"{len(self.claimed)} job(s) claimed by other task instances"
            + (f" ({', '.join(self.claimed[:5])})" if self.claimed else ""),
            f"{self.other_kind} job(s) of other kinds",
            f"{self.other_request} output(s) of other requests",
            f"{self.ignored_older} identical request(s) from before the request ignored",
        ]
        if not self.fence_found:
            parts.append("the fence job is no longer in the jobs list")
        if not self.complete:
            parts.append(f"the lists are longer than {MAX_PAGES} pages")
        return "; ".join(parts)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class ListedJob:
    """A job listed above the fence: its id, status, result url and the kind its data shows."""

    job_id: str
    status: JobStatus
    url: str | None
    shape: str | None


def classify(
    kind: JobKind,
    body: Mapping[str, Any],
    window: Window,
    jobs: list[ListedJob],
    items: Mapping[str, Mapping[str, Any]],
    claimed: Collection[str] = (),
    evidence: Evidence | None = None,
) -> Evidence:
    """Sort every job above the fence (``jobs``, newest first) into could-be-own and provably-not.

    ``items`` are the kind's list items by url; ``claimed`` the job ids other task instances hold.
    """
    evidence = evidence or Evidence()
    for job in jobs:
        if job.job_id in claimed:
            evidence.claimed.append(job.job_id)
        elif job.shape is not None and job.shape != kind.name:
            evidence.other_kind += 1
        elif job.status in (JobStatus.IN_PROGRESS, JobStatus.UNKNOWN):
            evidence.running.append(job.job_id)
        elif job.status is not JobStatus.COMPLETED:  # failed or cleaned: it may have been the request's own
            evidence.undecided.append(f"{job.job_id} ({job.status.value})")
        elif job.url is None:
            evidence.undecided.append(f"{job.job_id} (completed, no url in the jobs list)")
        elif (item := items.get(job.url)) is None:  # the kind's list was read past the window: not its output
            evidence.other_kind += 1
        elif not matches_request(kind, body, item):
            evidence.other_request += 1
        elif (created := parse_created(item.get("createdDate"))) is None:
            evidence.undecided.append(f"{job.job_id} (createdDate {item.get('createdDate')!r} is unreadable)")
        elif window.holds(created.timestamp()):
            evidence.candidates.append((job.job_id, str(item.get("createdDate"))))
        else:
            evidence.outside.append(f"{job.job_id} (created {item.get('createdDate')}, outside the window)")
    above = {job.url for job in jobs if job.url}
    evidence.ignored_older = sum(
        1 for url, item in items.items() if url not in above and matches_request(kind, body, item)
    )
    return evidence


def _jobs_above_fence(window: Window, list_page: ListPage, evidence: Evidence) -> list[ListedJob]:
    """The jobs list from the top down to the fence (newest first), de-duplicated by ``jobId``."""
    jobs: list[ListedJob] = []
    seen: set[str] = set()
    key: str | None = None
    for _ in range(MAX_PAGES):
        page = list_page(JOBS_PATH, key)
        for item in page.get("items") or []:
            data = item.get("data") if isinstance(item, dict) else None
            if not isinstance(data, dict) or not isinstance(data.get("jobId"), str) or data["jobId"] in seen:
                continue  # the list shifts while it is paged
            job_id = data["jobId"]
            seen.add(job_id)
            if job_id == window.fence_job_id:
                return jobs
            url = data.get("url")
            status = JobStatus.parse(data.get("status"))
            jobs.append(ListedJob(job_id, status, url if isinstance(url, str) else None, shape_kind(data)))
        key = page.get("nextPageKey")
        if not key:
            evidence.fence_found = window.fence_job_id is None
            return jobs
    evidence.complete = False
    return jobs


def _kind_items(
    kind: JobKind, window: Window, wanted: set[str], list_page: ListPage, evidence: Evidence
) -> dict[str, dict[str, Any]]:
    """Items of the kind's list by url, read until every wanted url is seen or the items are far older."""
    found: dict[str, dict[str, Any]] = {}
    floor = None if window.start is None else window.start - LIST_READ_MARGIN
    key: str | None = None
    for _ in range(MAX_PAGES):
        page = list_page(str(kind.list_path), key)
        for item in page.get("items") or []:
            if not isinstance(item, dict):
                continue
            url = item.get("url")
            if isinstance(url, str):
                found.setdefault(url, item)
            created = parse_created(item.get("createdDate"))
            far_older = floor is not None and created is not None and created.timestamp() < floor
            if wanted <= found.keys() or far_older:
                return found
        key = page.get("nextPageKey")
        if not key:
            return found
    if not wanted <= found.keys():
        evidence.complete = False
    return found


def read_evidence(
    kind: JobKind,
    body: Mapping[str, Any],
    window: Window,
    list_page: ListPage,
    job_data: JobData | None = None,
    claimed: Collection[str] = (),
) -> Evidence:
    """Read the jobs list down to the fence and the kind's list, then :func:`classify` every job above it."""
    evidence = Evidence()
    jobs = _jobs_above_fence(window, list_page, evidence)
    reads = 0
    for job in jobs:  # a summary item (status only) of a finished job: its own GET has the url
        if job.url is None and job.status is JobStatus.COMPLETED and job_data is not None and reads < MAX_JOB_READS:
            reads += 1
            data = job_data(job.job_id)
            url = data.get("url")
            job.url, job.shape = (url if isinstance(url, str) else None), shape_kind(data)
    wanted = {
        job.url
        for job in jobs
        if job.url
        and job.status is JobStatus.COMPLETED
        and job.job_id not in claimed
        and job.shape in (None, kind.name)
    }
    items = _kind_items(kind, window, wanted, list_page, evidence) if jobs else {}
    classify(kind, body, window, jobs, items, claimed, evidence)
    return evidence
