"""Buy each job at most once per request: the submission record kept in Airflow's task state store.

Three keys of the task instance's state store (Airflow >= 3.3; scoped to dag, run, task and map
index, so they survive retries and clearing):

- ``<job_id_key>`` (the operator's ``external_id_key``): the job id, written **before** anything else
  (XCom) as soon as Pictory answers.
- ``<job_id_key>_request``: the fingerprint of the rendered request that made that job. A try whose
  request renders the same reuses the job (no second purchase); a changed request submits anew.
- ``<job_id_key>_in_flight``: written just **before** the create request: its fingerprint, path and
  time. It is removed once the job id is stored, or when the request certainly created nothing. A
  try that finds it without a job id knows an earlier try may have created a job it never learnt
  about (a read timeout, a reset, a crash), and *reconciles*: it looks for that job in Pictory's
  lists and adopts it. When the lists cannot tell, the try fails with
  :class:`~pictory_provider.exceptions.PictorySubmissionUnresolvedError` instead of buying again,
  unless the user opted in (``resubmit_unclear=True``).

Reconciliation, generic over the job kind (:class:`~pictory_provider.kinds.JobKind`: its list path and the request
fields a list item repeats): items of the kind's list (newest first) created since the record's time minus
:data:`CLOCK_SKEW` that repeat the request are the candidates; each candidate's ``url`` leads to the
jobs list item with the same ``data.url``, whose ``jobId`` is adopted. The first older item is the
*anchor*: jobs listed before it in the jobs list are newer than the record. Jobs there that are
still running cannot be tied to a request (the jobs list has no prompt), so reconciliation waits
for them, bounded; exactly one candidate is adopted; several are ambiguous; none, with no unknown
job newer than the anchor, proves that the earlier request created nothing, so a new one is sent.

Pure apart from the callables passed in (store, list reader, post, clock), so it is tested directly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pictory_provider.api import JOBS_PATH, JobStatus
from pictory_provider.exceptions import (
    PictoryAuthError,
    PictoryConfigError,
    PictoryNotFoundError,
    PictorySubmissionUnclearError,
    PictorySubmissionUnresolvedError,
    PictoryTransientError,
    PictoryValidationError,
)
from pictory_provider.kinds import JobKind

__all__ = [
    "Scan",
    "SubmissionGuard",
    "TaskStateStore",
    "describe_request",
    "fingerprint",
    "guard_for",
    "matches_request",
    "scan",
]

log = logging.getLogger(__name__)

#: Seconds by which Pictory's clock may be behind the worker's: list items created up to this long
#: before the in-flight record still count as candidates.
CLOCK_SKEW = 120.0
#: List pages read per list and scan (100 items each at Pictory); beyond that the lists cannot tell.
MAX_PAGES = 20
#: Errors after which the create request certainly created nothing (refused before any job existed).
NOT_CREATED = (PictoryValidationError, PictoryAuthError, PictoryConfigError, PictoryNotFoundError)


class TaskStateStore(Protocol):
    """The part of Airflow's ``context["task_state_store"]`` used here."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


#: Reads one page of a list endpoint: ``(path, next_page_key) -> {"items": [...], "nextPageKey": ...}``.
ListPage = Callable[[str, "str | None"], Mapping[str, Any]]


def fingerprint(kind: JobKind, body: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of the create path and the rendered request body."""
    canonical = json.dumps({"path": kind.path, "body": body}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def describe_request(kind: JobKind, body: Mapping[str, Any]) -> str:
    """A short, key-free description of a request for logs and messages."""
    parts = []
    for name, value in body.items():
        if name == "webhook":
            continue  # may carry a token in its query
        text = str(value)
        parts.append(f"{name}={text[:60] + '...' if len(text) > 60 else text!r}")
    return f"POST {kind.path} ({', '.join(parts)})"


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def matches_request(kind: JobKind, body: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    """Whether a list item repeats every matched field of the request (defaults applied)."""
    defaults = kind.request_defaults(body)
    for name in kind.match_fields:
        expected = body.get(name, defaults.get(name))
        if item.get(name) != expected:
            return False
    return True


@dataclass
class Scan:
    """One pass over the kind's list and the jobs list."""

    matches: list[dict[str, Any]] = field(default_factory=list)
    job_ids: dict[str, str] = field(default_factory=dict)  # candidate url -> jobId
    running: list[str] = field(default_factory=list)  # unknown jobs newer than the anchor, in progress
    unexplained: list[str] = field(default_factory=list)  # newer unknown jobs that ended (failed, ...)
    complete: bool = True  # both lists were read far enough to prove what they show

    def candidates(self) -> list[str]:
        return [self.job_ids[item["url"]] for item in self.matches if item.get("url") in self.job_ids]


def scan(kind: JobKind, body: Mapping[str, Any], since: datetime, list_page: ListPage) -> Scan:
    """Read the kind's list down to ``since`` and the jobs list down to the anchor (see module doc)."""
    result = Scan()
    newer_urls: set[str] = set()
    anchor: str | None = None
    key: str | None = None
    reached = False
    for _ in range(MAX_PAGES):
        page = list_page(kind.path, key)
        for item in page.get("items") or []:
            if not isinstance(item, dict):
                continue
            created = _parse_time(item.get("createdDate"))
            if created is not None and created < since:
                anchor, reached = item.get("url") if isinstance(item.get("url"), str) else None, True
                break
            if matches_request(kind, body, item):
                result.matches.append(item)
            elif isinstance(item.get("url"), str):
                newer_urls.add(item["url"])
        key = page.get("nextPageKey")
        if reached or not key:
            break
    else:
        result.complete = False
    match_urls = {item.get("url") for item in result.matches}
    seen: set[str] = set()
    key, reached = None, False
    for _ in range(MAX_PAGES):
        page = list_page(JOBS_PATH, key)
        for item in page.get("items") or []:
            data = item.get("data") if isinstance(item, dict) else None
            if not isinstance(data, dict) or not isinstance(data.get("jobId"), str) or data["jobId"] in seen:
                continue  # de-duplicate: the list shifts while it is paged
            job_id, url = data["jobId"], data.get("url")
            seen.add(job_id)
            if anchor is not None and url == anchor:
                reached = True
                break
            status = JobStatus.parse(data.get("status"))
            if url in match_urls:
                result.job_ids[str(url)] = job_id
            elif status in (JobStatus.IN_PROGRESS, JobStatus.UNKNOWN):
                result.running.append(job_id)
            elif url not in newer_urls:
                result.unexplained.append(f"{job_id} ({status.value})")
        key = page.get("nextPageKey")
        if reached or not key:
            break
    else:
        result.complete = False
    return result


@dataclass
class SubmissionGuard:
    """Guards one task try's create request with the task state store (see the module docstring).

    ``store`` is ``None`` on Airflow < 3.3 (or ``durable=False``): then nothing is recorded and every
    try submits (the documented behaviour there).
    """

    store: TaskStateStore | None
    kind: JobKind
    body: Mapping[str, Any]
    job_id_key: str
    resubmit_unclear: bool = False
    wait_timeout: float = 3600.0
    poll_interval: float = 10.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    logger: Any = log

    def __post_init__(self) -> None:
        self.fingerprint = fingerprint(self.kind, self.body)
        self.request_key = f"{self.job_id_key}_request"
        self.in_flight_key = f"{self.job_id_key}_in_flight"

    # -- before the resume decision ----------------------------------------------------------------

    def prepare(self, list_page: ListPage) -> None:
        """Make the stored job id the one for this request: keep it, drop it, or adopt a lost one."""
        store = self.store
        if store is None:
            return
        job_id, made_by = store.get(self.job_id_key), store.get(self.request_key)
        if job_id:
            if made_by in (None, self.fingerprint):
                self.logger.info(
                    "Reusing Pictory job %s: it was submitted for this same request (fingerprint %s), so no "
                    "second %s is bought",
                    job_id,
                    self.fingerprint[:12] if made_by else "not recorded by older versions",
                    self.kind.name,
                )
                if store.get(self.in_flight_key):
                    store.delete(self.in_flight_key)
                return
            self.logger.info(
                "The request changed since Pictory job %s was submitted (fingerprint %s, now %s): submitting "
                "a new job for %s",
                job_id,
                str(made_by)[:12],
                self.fingerprint[:12],
                describe_request(self.kind, self.body),
            )
            store.delete(self.job_id_key)
            store.delete(self.request_key)
        record = store.get(self.in_flight_key)
        if not record:
            return
        if not isinstance(record, dict) or record.get("fingerprint") != self.fingerprint:
            self.logger.warning(
                "An earlier try's submission (%s) ended without an answer and may have created a Pictory job; "
                "the request has changed since, so it is not looked for: submitting the new request",
                record.get("request") if isinstance(record, dict) else record,
            )
            store.delete(self.in_flight_key)
            return
        self._reconcile(store, record, list_page)

    def _reconcile(self, store: TaskStateStore, record: dict[str, Any], list_page: ListPage) -> None:
        sent_at = _parse_time(record.get("sent_at")) or datetime.fromtimestamp(self.clock(), UTC)
        since = sent_at - timedelta(seconds=CLOCK_SKEW)
        if self.kind.list_path is None:  # nothing to look in (renders): never guess, never buy twice
            self._unresolved(store, record, sent_at, since, f"Pictory has no list of {self.kind.name} jobs to look in")
            return
        self.logger.warning(
            "An earlier try sent %s at %s and never learnt whether Pictory created the job: looking for it "
            "in GET %s and GET %s",
            record.get("request"),
            _iso(sent_at),
            self.kind.path,
            JOBS_PATH,
        )
        deadline = self.clock() + self.wait_timeout
        while True:
            found = scan(self.kind, self.body, since, list_page)
            candidates = found.candidates()
            if len(found.matches) == 1 and len(candidates) == 1:
                self.logger.info(
                    "Adopted Pictory job %s: the %s the earlier try created (created %s), not buying another",
                    candidates[0],
                    self.kind.name,
                    found.matches[0].get("createdDate"),
                )
                store.set(self.job_id_key, candidates[0])
                store.set(self.request_key, self.fingerprint)
                store.delete(self.in_flight_key)
                return
            if not found.matches and found.running and self.clock() < deadline:
                self.logger.info(
                    "No finished %s matches yet; waiting for %d running job(s) created since then: %s",
                    self.kind.name,
                    len(found.running),
                    ", ".join(found.running[:5]),
                )
                self.sleep(max(0.0, min(self.poll_interval, deadline - self.clock())))
                continue
            break
        if not found.matches and not found.running and not found.unexplained and found.complete:
            self.logger.info(
                "Pictory lists no job created since %s by that request: it created nothing; submitting it now",
                _iso(sent_at),
            )
            store.delete(self.in_flight_key)
            return
        self._unresolved(store, record, sent_at, since, self._unresolved_reason(found))

    def _unresolved(
        self, store: TaskStateStore, record: dict[str, Any], sent_at: datetime, since: datetime, reason: str
    ) -> None:
        if self.resubmit_unclear:
            self.logger.warning("%s; resubmit_unclear=True: submitting again (this may buy a second job)", reason)
            store.delete(self.in_flight_key)
            return
        raise PictorySubmissionUnresolvedError(
            f"An earlier try sent {record.get('request')} at {_iso(sent_at)} (request fingerprint "
            f"{self.fingerprint[:12]}) and did not learn whether Pictory created the job. {reason}, so it is "
            f"not submitted again (that could buy a second {self.kind.name}). Look in GET {self.kind.path} "
            f"(items created since {_iso(since)}) and GET {JOBS_PATH}; to submit anyway, set "
            "resubmit_unclear=True on the task, or delete the task state store key "
            f"{self.in_flight_key!r} (REST API .../taskInstances/{{task_id}}/state-store)"
        )

    def _unresolved_reason(self, found: Scan) -> str:
        if len(found.matches) > 1:
            listed = ", ".join(
                f"{found.job_ids.get(str(m.get('url')), m.get('id'))} ({m.get('createdDate')})" for m in found.matches
            )
            return f"{len(found.matches)} {self.kind.name}s match that request since then: {listed}"
        if found.matches:
            return f"a matching {self.kind.name} ({found.matches[0].get('url')}) has no job in the jobs list"
        if found.running:
            return (
                f"{len(found.running)} job(s) created since then were still running after {self.wait_timeout:g} s "
                f"and cannot be tied to a request: {', '.join(found.running[:5])}"
            )
        if found.unexplained:
            return (
                f"no matching {self.kind.name}, but {len(found.unexplained)} other job(s) created since then "
                f"cannot be tied to a request: {', '.join(found.unexplained[:5])}"
            )
        return f"the lists are longer than {MAX_PAGES} pages since then"

    # -- the create request --------------------------------------------------------------------------

    def submit(self, post: Callable[[], str]) -> str:
        """Record the submission as in flight, send it, then store the job id (before any XCom)."""
        store = self.store
        if store is None:
            return post()
        request = describe_request(self.kind, self.body)
        sent_at = datetime.fromtimestamp(self.clock(), UTC)
        store.set(
            self.in_flight_key,
            {
                "fingerprint": self.fingerprint,
                "path": self.kind.path,
                "sent_at": _iso(sent_at),
                "request": request,
            },
        )
        try:
            job_id = post()
        except NOT_CREATED:
            store.delete(self.in_flight_key)
            raise
        except PictoryTransientError as exc:
            if not isinstance(exc, PictorySubmissionUnclearError):  # never received: nothing was created
                store.delete(self.in_flight_key)
            else:
                self.logger.error(
                    "%s may have created a job although no job id came back; the next try looks for it "
                    "instead of submitting again",
                    request,
                )
            raise
        store.set(self.job_id_key, job_id)
        store.set(self.request_key, self.fingerprint)
        store.delete(self.in_flight_key)
        return job_id


def guard_for(operator: Any, context: Any, kind: JobKind, body: Mapping[str, Any]) -> SubmissionGuard:
    """The guard of one try of a resumable Pictory operator (its store only when ``durable``)."""
    store = context.get("task_state_store") if getattr(operator, "durable", False) else None
    return SubmissionGuard(
        store,
        kind,
        body,
        operator.external_id_key,
        resubmit_unclear=bool(getattr(operator, "resubmit_unclear", False)),
        wait_timeout=float(operator.timeout),
        poll_interval=float(operator.poll_interval),
    )
