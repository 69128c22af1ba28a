"""Which job, if any, an unclear create request made: the evidence in Pictory's lists, and the verdict.

A try whose create request ended without an answer (a read timeout, a reset, a 5xx) may have bought a
job it never learnt the id of. The next try reads Pictory's lists and decides, from evidence only:

- **The fence.** Just before sending, the try read the newest job of ``GET /jobs`` (the fence) and
  Pictory's clock (the ``Date`` header of that answer). The jobs list is newest first, so the jobs
  listed above the fence are exactly the jobs created after the fence was read: a job created
  before the request was sent is never a candidate, whatever the clocks say.
- **The window.** In Pictory's own clock: from the fence's ``Date`` to the moment the try gave up
  (the fence's ``Date`` plus the try's own elapsed seconds), plus :data:`LATE_CREATE_GRACE` for a job
  Pictory created while the client had already given up. Worker clocks never enter it.
- **Candidates** are the jobs above the fence whose output is in the kind's list (``GET
  /aistudio/images``, ...) with the request's match fields and a ``createdDate`` inside the window.

Verdicts (:class:`Verdict`): exactly one candidate and no running job that could be the request's
own: **adopt** it. Jobs above the fence still running (inside the window): **wait** (one of them may
be the request's own; "not known yet", never "adopt the completed one"). Two or more candidates:
**ambiguous** (fails for good: a retry sees the same). Nothing above the fence that could be the
request's: it **created nothing**, send it again. Anything the lists cannot place (an unreadable
``createdDate``, a date that contradicts the list order, a failed job above the fence, lists longer
than :data:`MAX_PAGES`): **unresolved**.

Pure: the list reader and the job reader are passed in, so every rule is tested directly.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pictory_provider.api import JOBS_PATH, JobStatus
from pictory_provider.kinds import JobKind

__all__ = [
    "LATE_CREATE_GRACE",
    "MAX_JOB_READS",
    "MAX_PAGES",
    "Evidence",
    "Verdict",
    "Window",
    "matches_request",
    "parse_created",
    "read_evidence",
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


@dataclass(frozen=True)
class Window:
    """When the request could have created its job, in Pictory's clock (epoch seconds).

    ``fence_job_id`` is the newest job before the request (``None``: the jobs list was empty).
    ``end`` is ``None`` while the request's end is not known (then no upper bound applies).
    """

    fence_job_id: str | None
    start: float | None
    end: float | None

    def describe(self) -> str:
        fence = f"listed above job {self.fence_job_id}" if self.fence_job_id else "any job (the list was empty)"
        if self.start is None:
            return f"{fence}; Pictory sent no Date header, so no time bounds"
        end = "open" if self.end is None else _iso(self.end + LATE_CREATE_GRACE)
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
    """What one read of the lists shows above the fence, and the verdict it supports."""

    candidates: list[tuple[str, str]] = field(default_factory=list)  # (jobId, createdDate) inside the window
    running: list[str] = field(default_factory=list)  # above the fence, in progress, not known to be later
    later_matches: list[str] = field(default_factory=list)  # identical requests created after the window
    undecided: list[str] = field(default_factory=list)  # could be the request's own; the lists cannot tell
    others: int = 0  # jobs above the fence that are other requests' (other prompts, other kinds)
    ignored_older: int = 0  # identical requests listed below the fence: created before the request
    complete: bool = True  # both lists were read far enough to prove what they show
    fence_found: bool = True

    @property
    def verdict(self) -> Verdict:
        if len(self.candidates) >= 2:
            return Verdict.AMBIGUOUS
        if not self.complete or not self.fence_found:
            return Verdict.UNRESOLVED
        if self.running:
            return Verdict.WAIT
        if self.undecided:
            return Verdict.UNRESOLVED
        if len(self.candidates) == 1:
            return Verdict.ADOPT
        if self.later_matches:
            return Verdict.UNRESOLVED
        return Verdict.CREATED_NOTHING

    def summary(self) -> str:
        """The evidence in one line, for the log line that states a verdict."""
        parts = [
            f"{len(self.candidates)} candidate(s) in the window"
            + (f" ({', '.join(f'{j} created {c}' for j, c in self.candidates)})" if self.candidates else ""),
            f"{len(self.running)} running job(s) above the fence"
            + (f" ({', '.join(self.running[:5])})" if self.running else ""),
            f"{self.ignored_older} identical request(s) from before the request ignored",
            f"{self.others} other job(s) above the fence",
        ]
        if self.later_matches:
            later = ", ".join(self.later_matches[:5])
            parts.append(f"{len(self.later_matches)} identical request(s) after the window ({later})")
        if self.undecided:
            parts.append(f"cannot place: {'; '.join(self.undecided[:5])}")
        if not self.fence_found:
            parts.append("the fence job is no longer in the jobs list")
        if not self.complete:
            parts.append(f"the lists are longer than {MAX_PAGES} pages")
        return "; ".join(parts)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class _Job:
    job_id: str
    status: JobStatus
    url: str | None


def _jobs_above_fence(window: Window, list_page: ListPage, evidence: Evidence) -> list[_Job]:
    """The jobs list from the top down to the fence (newest first), de-duplicated by ``jobId``."""
    jobs: list[_Job] = []
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
            jobs.append(_Job(job_id, JobStatus.parse(data.get("status")), url if isinstance(url, str) else None))
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
        page = list_page(kind.path, key)
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
) -> Evidence:
    """Read the jobs list down to the fence and the kind's list, and classify every job above the fence."""
    evidence = Evidence()
    jobs = _jobs_above_fence(window, list_page, evidence)
    reads = 0
    for job in jobs:  # a summary item (status only) of a finished job: its own GET has the url
        if job.url is None and job.status is JobStatus.COMPLETED and job_data is not None and reads < MAX_JOB_READS:
            reads += 1
            url = job_data(job.job_id).get("url")
            job.url = url if isinstance(url, str) else None
    wanted = {job.url for job in jobs if job.url and job.status is JobStatus.COMPLETED}
    items = _kind_items(kind, window, wanted, list_page, evidence) if jobs else {}
    low = None if window.start is None else window.start - PICTORY_CLOCK_TOLERANCE
    high = None if window.end is None else window.end + LATE_CREATE_GRACE
    after_window = False  # the list is newest first: above a job created after the window, all are too
    classified: list[tuple[_Job, str]] = []
    for job in reversed(jobs):  # oldest first
        item = items.get(job.url) if job.url else None
        created = parse_created(item.get("createdDate")) if item else None
        if created is not None and high is not None and created.timestamp() > high:
            after_window = True
        if job.status in (JobStatus.IN_PROGRESS, JobStatus.UNKNOWN):
            classified.append((job, "later" if after_window else "running"))
            continue
        if job.status is not JobStatus.COMPLETED:  # failed or cleaned: it may have been the request's own
            classified.append((job, "later" if after_window else f"{job.job_id} ({job.status.value})"))
            continue
        if item is None:
            if job.url is None:
                classified.append((job, f"{job.job_id} (completed, no url in the jobs list)"))
            else:
                classified.append((job, "other"))  # not an output of this kind
            continue
        if not matches_request(kind, body, item):
            classified.append((job, "other"))
            continue
        if created is None:
            classified.append((job, f"{job.job_id} (createdDate {item.get('createdDate')!r} is unreadable)"))
        elif low is not None and created.timestamp() < low:
            classified.append(
                (job, f"{job.job_id} (listed after the request but created {item.get('createdDate')}: clocks disagree)")
            )
        elif high is not None and created.timestamp() > high:
            classified.append((job, "later-match"))
        else:
            classified.append((job, "candidate"))
    for job, label in classified:
        if label == "running":
            evidence.running.append(job.job_id)
        elif label == "candidate":
            item = items[str(job.url)]
            evidence.candidates.append((job.job_id, str(item.get("createdDate"))))
        elif label == "later-match":
            evidence.later_matches.append(job.job_id)
        elif label in ("other", "later"):
            evidence.others += 1
        else:
            evidence.undecided.append(label)
    above = {job.url for job in jobs if job.url}
    evidence.ignored_older = sum(
        1 for url, item in items.items() if url not in above and matches_request(kind, body, item)
    )
    evidence.candidates.reverse()  # newest first, as listed
    return evidence
