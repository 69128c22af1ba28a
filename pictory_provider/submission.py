"""Buy each job at most once per request: the submission record kept in Airflow's task state store.

Three keys of the task instance's state store (Airflow >= 3.3; scoped to dag, run, task and map
index, so they survive retries and clearing):

- ``<job_id_key>`` (the operator's ``external_id_key``): the job id, written **before** anything else
  (XCom) as soon as Pictory answers.
- ``<job_id_key>_request``: what the job was made for: the fingerprint of the request's *output
  fields* (the kind's ``match_fields`` with Pictory's defaults; never ``webhook``, so a webhook
  templated per try is the same request) and a digest per field, so a changed request names the
  field that changed. A try whose request has the same fingerprint reuses the job (no second
  purchase); a changed one submits anew.
- ``<job_id_key>_in_flight``: written just **before** the create request: the fingerprint, the
  request (key-free), and the *fence* (the newest job of ``GET /jobs`` and Pictory's clock, read just
  before sending; see :mod:`pictory_provider.reconcile`). After an unclear failure it also holds how
  long the request was out. It is removed once the job id is stored, or when the request certainly
  created nothing. A try that finds it without a job id *reconciles*: it adopts the one job the
  request can have created, waits (bounded by ``reconcile_timeout``) while a job that could be it is
  still running, sends the request again when the lists prove it created nothing, and otherwise
  fails with :class:`~pictory_provider.exceptions.PictorySubmissionUnresolvedError` instead of
  buying again, unless the user opted in (``resubmit_unclear=True``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pictory_provider.api import JOBS_PATH, without_query
from pictory_provider.exceptions import (
    PictoryConfigError,
    PictoryError,
    PictoryNotFoundError,
    PictorySubmissionAmbiguousError,
    PictorySubmissionUnclearError,
    PictorySubmissionUnresolvedError,
    PictoryTransientError,
    PictoryValidationError,
)
from pictory_provider.kinds import JobKind
from pictory_provider.reconcile import (
    MAX_PAGES,
    Evidence,
    JobData,
    ListPage,
    Verdict,
    Window,
    matches_request,
    read_evidence,
    shape_kind,
)

__all__ = [
    "DEFAULT_RECONCILE_TIMEOUT",
    "Fence",
    "SubmissionGuard",
    "TaskStateStore",
    "changed_fields",
    "created_nothing",
    "describe_request",
    "fingerprint",
    "guard_for",
    "matches_request",
    "output_fields",
    "read_claims",
]

log = logging.getLogger(__name__)

#: Seconds a retry waits, at most, for running jobs that could be its unclear request's own.
DEFAULT_RECONCILE_TIMEOUT = 600.0
#: HTTP answers to a create request that prove it created nothing: Pictory refused it before any job
#: existed (bad request, key, credits, conflict, size, validation), so the in-flight record is cleared.
DEFINITE_REFUSALS = frozenset({400, 401, 402, 403, 404, 409, 413, 422})


def created_nothing(exc: BaseException) -> str | None:
    """Why a create request that raised ``exc`` certainly created nothing, or ``None`` when it may have."""
    if isinstance(exc, PictorySubmissionUnclearError):
        return None
    if isinstance(exc, PictoryValidationError | PictoryConfigError):
        return "it was refused before any job existed"
    status = getattr(exc, "status", None)
    if isinstance(exc, PictoryError) and status in DEFINITE_REFUSALS:
        return f"Pictory answered HTTP {status}, which creates no job"
    if isinstance(exc, PictoryTransientError):
        return "it was never received (nothing reached Pictory)"
    return None


class TaskStateStore(Protocol):
    """The part of Airflow's ``context["task_state_store"]`` used here."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


@dataclass(frozen=True)
class Fence:
    """Where Pictory's jobs list stood just before a create request: its newest job (``None``: empty),
    Pictory's clock from the answer's ``Date`` header (epoch seconds; ``None`` without one), the
    worker's clock when the answer arrived and the longest the create request can be out."""

    newest_job_id: str | None
    pictory_time: float | None
    local_time: float
    #: The longest a create request can be out (connect + read timeout): a killed worker's window end.
    request_limit: float | None = None


def output_fields(kind: JobKind, body: Mapping[str, Any]) -> dict[str, Any]:
    """The request fields that define the output (the kind's match fields, Pictory's defaults applied)."""
    defaults = kind.request_defaults(body)
    return {name: body.get(name, defaults.get(name)) for name in kind.match_fields}


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def fingerprint(kind: JobKind, body: Mapping[str, Any]) -> str:
    """SHA-256 of the create path and the request's output fields (not ``webhook``: it does not change
    what is made, and is often templated per try)."""
    return hashlib.sha256(_canonical({"path": kind.path, "fields": output_fields(kind, body)})).hexdigest()


def _legacy_fingerprint(kind: JobKind, body: Mapping[str, Any]) -> str:
    """The fingerprint older versions stored (the whole body, webhook included), still honoured."""
    return hashlib.sha256(_canonical({"path": kind.path, "body": body})).hexdigest()


def _field_digests(kind: JobKind, body: Mapping[str, Any]) -> dict[str, str]:
    fields = output_fields(kind, body)
    return {name: hashlib.sha256(_canonical(value)).hexdigest()[:16] for name, value in fields.items()}


def changed_fields(before: object, kind: JobKind, body: Mapping[str, Any]) -> list[str]:
    """The output fields whose digest differs from a stored record's (``[]`` when it cannot tell)."""
    if not isinstance(before, dict) or not isinstance(before.get("fields"), dict):
        return []
    now = _field_digests(kind, body)
    return sorted(name for name in now.keys() | before["fields"].keys() if now.get(name) != before["fields"].get(name))


def describe_request(kind: JobKind, body: Mapping[str, Any]) -> str:
    """A short, key-free description of a request for logs and messages."""
    method, path, sent = kind.create_request(body)
    parts = []
    for name, value in sent.items():
        if name == "webhook":
            continue  # may carry a token in its query
        text = without_query(str(value))
        parts.append(f"{name}={text[:60] + '...' if len(text) > 60 else text!r}")
    return f"{method} {path} ({', '.join(parts)})"


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


#: Claims of other task instances: the job ids they published or stored (read only when reconciling).
Claims = Callable[[], Collection[str]]
#: Seconds over which a job's HTTP 404 must repeat (with the jobs list no longer holding it) before the
#: job counts as gone: one 404 from a CDN or a proxy is "not known yet", never a reason to buy again.
GONE_CONFIRM_SECONDS = 60.0


@dataclass
class SubmissionGuard:
    """Guards one task try's create request with the task state store (see the module docstring).

    ``store`` is ``None`` on Airflow < 3.3 (or ``durable=False``): then nothing is recorded and every
    try submits (the documented behaviour there). ``claims`` reads the job ids other task instances
    hold (sibling map indexes, other tasks of the run, earlier runs): such a job is never adopted.
    ``adopt_job_id`` is the user's word that a listed job is this request's own (checked first).
    """

    store: TaskStateStore | None
    kind: JobKind
    body: Mapping[str, Any]
    job_id_key: str
    resubmit_unclear: bool = False
    reconcile_timeout: float = DEFAULT_RECONCILE_TIMEOUT
    poll_interval: float = 10.0
    clock: Callable[[], float] = time.time
    logger: Any = log
    claims: Claims | None = None
    adopt_job_id: str | None = None
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.fingerprint = fingerprint(self.kind, self.body)
        self.request_key = f"{self.job_id_key}_request"
        self.in_flight_key = f"{self.job_id_key}_in_flight"

    def _made_for(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "fields": _field_digests(self.kind, self.body)}

    def _same_request(self, made_by: object) -> bool:
        if made_by is None:
            return True  # recorded by versions that kept no fingerprint
        if isinstance(made_by, dict):
            return made_by.get("fingerprint") == self.fingerprint
        return made_by in (self.fingerprint, _legacy_fingerprint(self.kind, self.body))

    def _changes(self, made_by: object) -> str:
        names = changed_fields(made_by, self.kind, self.body)
        return f"changed: {', '.join(names)}" if names else "the record does not say which field changed"

    def _claimed(self) -> Collection[str]:
        if self.claims is None:
            return ()
        try:
            return self.claims()
        except Exception as exc:  # claims narrow adoption; unread, nothing is adopted blindly either
            self.logger.warning("Could not read the job ids other task instances hold (%s)", type(exc).__name__)
            raise PictorySubmissionUnresolvedError(
                "Could not read which Pictory jobs other task instances hold, so no job is adopted or bought "
                "(a later retry looks again)"
            ) from None

    # -- before the resume decision ----------------------------------------------------------------

    def prepare(
        self,
        list_page: ListPage,
        job_data: JobData | None = None,
        *,
        deadline: float | None = None,
    ) -> float | None:
        """Make the stored job id the one for this request: keep it, drop it, or adopt a lost one.

        Returns ``None`` when decided, or the seconds to wait before calling again (jobs that could be
        the unclear request's own are still running and ``deadline``, epoch seconds, is not reached).
        """
        store = self.store
        if store is None:
            return None
        if self.adopt_job_id:
            self._adopt_named(store, list_page, job_data)
            return None
        job_id, made_by = store.get(self.job_id_key), store.get(self.request_key)
        if job_id:
            if self._same_request(made_by):
                self.logger.info(
                    "Reusing Pictory job %s: it was submitted for this same request (fingerprint %s), so no "
                    "second %s is bought",
                    job_id,
                    self.fingerprint[:12] if made_by else "not recorded by older versions",
                    self.kind.name,
                )
                if store.get(self.in_flight_key):
                    store.delete(self.in_flight_key)
                return None
            self.logger.info(
                "The request changed since Pictory job %s was submitted (%s): submitting a new job for %s",
                job_id,
                self._changes(made_by),
                describe_request(self.kind, self.body),
            )
            store.delete(self.job_id_key)
            store.delete(self.request_key)
        record = store.get(self.in_flight_key)
        if not record:
            return None
        if not isinstance(record, dict) or not self._same_request(record):
            if self.kind.list_path is None and isinstance(record, dict):
                # it cannot be looked up later either: never drop a possibly paid render silently
                self._unresolved(
                    store,
                    record,
                    None,
                    f"the request has changed since ({self._changes(record)}), and Pictory has no list of "
                    f"{self.kind.name} jobs to tell whether the earlier one was bought",
                )
                return None
            self.logger.warning(
                "An earlier try's submission (%s) ended without an answer and may have created a Pictory job; "
                "the request has changed since (%s), so it is not looked for: submitting the new request",
                record.get("request") if isinstance(record, dict) else record,
                self._changes(record),
            )
            store.delete(self.in_flight_key)
            return None
        return self._reconcile(store, record, list_page, job_data, deadline)

    def _window(self, record: Mapping[str, Any]) -> Window | None:
        fence = record.get("fence")
        if not isinstance(fence, dict):
            return None  # the jobs list could not be read before the request, or an older version's record
        start = fence.get("pictory_time")
        if not isinstance(start, int | float):
            return Window(fence.get("job_id"), None, None)
        elapsed = record.get("elapsed")
        if not isinstance(elapsed, int | float):  # the worker died mid-request: it was out at most this long
            elapsed = fence.get("limit")
        # the fence's Date header has whole seconds: the request's end is up to 1 s later
        end = start + float(elapsed) + 1.0 if isinstance(elapsed, int | float) else None
        return Window(fence.get("job_id"), float(start), end)

    def _reconcile(
        self,
        store: TaskStateStore,
        record: dict[str, Any],
        list_page: ListPage,
        job_data: JobData | None,
        deadline: float | None,
    ) -> float | None:
        if self.kind.list_path is None:  # nothing to look in (renders): never guess, never buy twice
            self._unresolved(store, record, None, f"Pictory has no list of {self.kind.name} jobs to look in")
            return None
        window = self._window(record)
        if window is None:
            why = (
                "the jobs list could not be read just before the request"
                if "fence" in record
                else "the record of it was written by an older version"
            )
            self._unresolved(store, record, None, why)
            return None
        self.logger.warning(
            "An earlier try sent %s at %s and never learnt whether Pictory created the job: looking for it "
            "in GET %s and GET %s (window: %s)",
            record.get("request"),
            record.get("sent_at"),
            self.kind.list_path,
            JOBS_PATH,
            window.describe(),
        )
        evidence = read_evidence(self.kind, self.body, window, list_page, job_data, self._claimed())
        verdict = evidence.verdict
        if verdict is Verdict.ADOPT:
            adopted, created = evidence.candidates[0]
            self.logger.info(
                "Adopted Pictory job %s: the only job above the fence that can be this request's own, an %s of "
                "this request created in its window (created %s) and held by no other task instance (%s); "
                "not buying another",
                adopted,
                self.kind.name,
                created,
                evidence.summary(),
            )
            self._keep(store, adopted)
            return None
        if verdict is Verdict.CREATED_NOTHING:
            self.logger.info(
                "Every job listed since the request sent at %s is provably another's (%s): it created nothing; "
                "submitting it now",
                record.get("sent_at"),
                evidence.summary(),
            )
            store.delete(self.in_flight_key)
            return None
        if verdict is Verdict.WAIT:
            now = self.clock()
            if deadline is not None and now < deadline:
                wait = max(0.0, min(self.poll_interval, deadline - now))
                self.logger.info(
                    "Not known yet: %d running job(s) created since the request could be its own (%s); "
                    "checking again in %.0f s (reconcile_timeout ends at %s)",
                    len(evidence.running),
                    evidence.summary(),
                    wait,
                    _iso(deadline),
                )
                return wait
        self._unresolved(store, record, evidence, None)
        return None

    def _keep(self, store: TaskStateStore, job_id: str) -> None:
        store.set(self.job_id_key, job_id)
        store.set(self.request_key, self._made_for())
        store.delete(self.in_flight_key)

    def _unresolved(
        self, store: TaskStateStore, record: Mapping[str, Any], evidence: Evidence | None, why: str | None
    ) -> None:
        if evidence is None:
            reason = why or "the lists cannot tell"
        elif evidence.verdict is Verdict.AMBIGUOUS:
            listed = ", ".join(f"{job} (created {created})" for job, created in evidence.candidates)
            count = len(evidence.candidates)
            reason = f"{count} {self.kind.name}s of that request were created in its window: {listed}"
        elif evidence.verdict is Verdict.WAIT:
            reason = (
                f"{len(evidence.running)} job(s) created since then were still running after reconcile_timeout "
                f"({self.reconcile_timeout:g} s) and could be its own ({evidence.summary()})"
            )
        else:
            reason = f"the lists cannot tell ({evidence.summary()})"
        if self.resubmit_unclear:
            self.logger.warning("%s; resubmit_unclear=True: submitting again (this may buy a second job)", reason)
            store.delete(self.in_flight_key)
            return None
        error = PictorySubmissionUnresolvedError
        if evidence is not None and evidence.verdict is Verdict.AMBIGUOUS:
            error = PictorySubmissionAmbiguousError  # a retry would see the same: fail without retrying
        retry_hint = (
            "a later retry looks again"
            if error is PictorySubmissionUnresolvedError and evidence is not None and evidence.running
            else "retrying does not change this"
        )
        could_be = [job.split(" ")[0] for job in evidence.could_be_own] if evidence is not None else []
        keep = (
            f"To keep one of the jobs that can be its own ({', '.join(could_be[:5])}), set adopt_job_id='<job id>' "
            "on the task and clear it: nothing is bought"
            if could_be
            else "To keep a job you know is its own, set adopt_job_id='<job id>' on the task and clear it: nothing "
            "is bought"
        )
        # where to look: the kind's list, if Pictory has one (a render's create path has no GET)
        look_in = f"GET {self.kind.list_path} and GET {JOBS_PATH}" if self.kind.list_path else f"GET {JOBS_PATH}"
        raise error(
            f"An earlier try sent {record.get('request')} at {record.get('sent_at')} (request fingerprint "
            f"{self.fingerprint[:12]}) and did not learn whether Pictory created the job. {reason}, so it is "
            f"not submitted again (that could buy a second {self.kind.name}); {retry_hint}. {keep}. Look in "
            f"{look_in}. To submit anyway (this may buy a second {self.kind.name}), set resubmit_unclear=True, "
            f"or delete the task state store key {self.in_flight_key!r} (REST API "
            ".../taskInstances/{task_id}/state-store)"
        )

    # -- the user's word: "this listed job is mine" ------------------------------------------------

    def _adopt_named(self, store: TaskStateStore, list_page: ListPage, job_data: JobData | None) -> None:
        """Keep ``adopt_job_id`` as this request's job, after checking it could be (nothing is bought)."""
        named = str(self.adopt_job_id)
        stored = store.get(self.job_id_key)
        if stored == named:
            if store.get(self.in_flight_key):
                store.delete(self.in_flight_key)
            return
        if stored and self._same_request(store.get(self.request_key)):
            raise PictoryValidationError(
                f"adopt_job_id={named!r}, but this task already holds Pictory job {stored} for this same request: "
                "adopting another would leave a paid job behind. Drop adopt_job_id (or set it to that job)",
                [{"name": "adopt_job_id", "errors": f"the task holds job {stored}"}],
            )
        if job_data is None:
            raise PictoryValidationError("adopt_job_id needs the job reader", [{"name": "adopt_job_id", "errors": "-"}])
        try:
            data = job_data(named)
        except PictoryNotFoundError:
            raise PictoryValidationError(
                f"adopt_job_id={named!r}: Pictory has no such job for this connection; nothing was bought",
                [{"name": "adopt_job_id", "errors": "no such job"}],
            ) from None
        problem = self._adoption_problem(named, data, list_page)
        if problem:
            raise PictoryValidationError(
                f"adopt_job_id={named!r} cannot be this request's job: {problem}; nothing was bought",
                [{"name": "adopt_job_id", "errors": problem}],
            )
        self.logger.warning(
            "Adopting Pictory job %s for %s as told by adopt_job_id (its shape and outputs fit the request); "
            "nothing is bought",
            named,
            describe_request(self.kind, self.body),
        )
        self._keep(store, named)

    def _adoption_problem(self, job_id: str, data: Mapping[str, Any], list_page: ListPage) -> str | None:
        shape = shape_kind(data)
        if (
            shape is not None
            and shape != self.kind.name
            and not (self.kind.name.endswith("render") and shape == "render")
        ):
            return f"it is a {shape} job, not a {self.kind.name}"
        if job_id in self._claimed():
            return "another task instance holds it"
        url = data.get("url")
        if self.kind.list_path is None or not isinstance(url, str):
            return None  # running, or a kind Pictory lists no outputs of: its shape is all there is to check
        key: str | None = None
        for _ in range(MAX_PAGES):
            page = list_page(self.kind.list_path, key)
            for item in page.get("items") or []:
                if isinstance(item, dict) and item.get("url") == url:
                    if matches_request(self.kind, self.body, item):
                        return None
                    return f"its output differs from the request ({', '.join(self._differences(item))})"
            key = page.get("nextPageKey")
            if not key:
                break
        return f"its output is not in GET {self.kind.list_path}"

    def _differences(self, item: Mapping[str, Any]) -> list[str]:
        wanted = output_fields(self.kind, self.body)
        return [name for name in self.kind.match_fields if item.get(name) != wanted.get(name)]

    # -- a stored job that answers 404 ------------------------------------------------------------------

    def job_gone(self, job_id: str, read_status: Callable[[], str], list_page: ListPage) -> str | None:
        """After ``GET /jobs/{job_id}`` answered 404: the job's status once it answers again, or ``None``
        when it is gone for good (the 404 repeated over :data:`GONE_CONFIRM_SECONDS` and the jobs list
        no longer holds it). Raises ``PictorySubmissionUnresolvedError`` when the list cannot tell."""
        first = self.clock()
        while True:
            listed = _listed_status(job_id, list_page)
            if listed is _TOO_LONG:
                raise PictorySubmissionUnresolvedError(
                    f"Pictory answers HTTP 404 for job {job_id} (stored under the task state store key "
                    f"{self.job_id_key!r}), and the jobs list is longer than {MAX_PAGES} pages, so it cannot "
                    "show whether the job is gone: nothing is bought; a later retry looks again"
                )
            if listed is not None:
                self.logger.warning(
                    "Pictory answered HTTP 404 for job %s, but the jobs list holds it (%s): not gone, keeping it",
                    job_id,
                    listed,
                )
                return str(listed)
            waited = self.clock() - first
            if waited >= GONE_CONFIRM_SECONDS:
                return None
            self.logger.warning(
                "Pictory answered HTTP 404 for job %s and the jobs list does not hold it: not known yet (one 404 "
                "may come from a proxy); asking again in %.0f s before buying anything",
                job_id,
                min(self.poll_interval, GONE_CONFIRM_SECONDS - waited),
            )
            self.sleep(max(0.0, min(self.poll_interval, GONE_CONFIRM_SECONDS - waited)))
            try:
                return read_status()
            except PictoryNotFoundError:
                continue

    # -- the create request --------------------------------------------------------------------------

    def submit(self, post: Callable[[], str], read_fence: Callable[[], Fence] | None = None) -> str:
        """Read the fence, record the submission as in flight, send it, then store the job id (before
        any XCom). Without ``read_fence`` the record has no fence and cannot be reconciled."""
        store = self.store
        if store is None:
            return post()
        request = describe_request(self.kind, self.body)
        fence = None
        if read_fence is not None:
            try:
                fence = read_fence()
            except PictoryError as exc:  # nothing bought yet; an unclear create will then not be placed
                self.logger.warning(
                    "Could not read the jobs list before %s (%s): if this create ends unclear, the next try "
                    "cannot tell which job is its own and fails with PictorySubmissionUnresolvedError instead "
                    "of guessing",
                    request,
                    exc,
                )
        sent = self.clock()
        record: dict[str, Any] = self._made_for() | {
            "path": self.kind.path,
            "sent_at": _iso(sent),
            "request": request,
        }
        record["fence"] = (
            None
            if fence is None
            else {"job_id": fence.newest_job_id, "pictory_time": fence.pictory_time, "limit": fence.request_limit}
        )
        store.set(self.in_flight_key, record)
        try:
            job_id = post()
        except PictoryError as exc:
            reason = created_nothing(exc)
            if reason is not None:
                self.logger.info("%s created nothing (%s): the in-flight record is cleared", request, reason)
                store.delete(self.in_flight_key)
            elif isinstance(exc, PictorySubmissionUnclearError):
                if fence is not None:  # how long the request was out, measured from the fence's answer
                    record["elapsed"] = math.ceil(max(0.0, self.clock() - fence.local_time))
                    store.set(self.in_flight_key, record)
                self.logger.error(
                    "%s may have created a job although no job id came back; the next try looks for it "
                    "instead of submitting again",
                    request,
                )
            raise
        store.set(self.job_id_key, job_id)
        store.set(self.request_key, self._made_for())
        store.delete(self.in_flight_key)
        return job_id


_TOO_LONG = object()


def _listed_status(job_id: str, list_page: ListPage) -> object:
    """The status the jobs list shows for ``job_id``: ``None`` when it does not hold it, ``_TOO_LONG``
    when it is longer than :data:`~pictory_provider.reconcile.MAX_PAGES` pages."""
    key: str | None = None
    for _ in range(MAX_PAGES):
        page = list_page(JOBS_PATH, key)
        for item in page.get("items") or []:
            data = item.get("data") if isinstance(item, dict) else None
            if isinstance(data, dict) and data.get("jobId") == job_id:
                return str(data.get("status") or "in-progress")
        key = page.get("nextPageKey")
        if not key:
            return None
    return _TOO_LONG


def read_claims(context: Any, job_id_xcom_key: str) -> Claims:
    """The job ids other task instances hold, read from XCom when reconciling: every task of this DAG
    run (all map indexes) and this task in earlier runs."""

    def claims() -> set[str]:
        ti = context["ti"]
        dag = context.get("dag")
        task_ids = list(getattr(dag, "task_ids", None) or [ti.task_id])
        found: set[str] = set()
        pulls = [ti.xcom_pull(task_ids=task_ids, key=job_id_xcom_key)]
        pulls.append(ti.xcom_pull(task_ids=[ti.task_id], key=job_id_xcom_key, include_prior_dates=True))
        for values in pulls:
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, str) and value:
                    found.add(value)
        return found

    return claims


def guard_for(operator: Any, context: Any, kind: JobKind, body: Mapping[str, Any]) -> SubmissionGuard:
    """The guard of one try of a resumable Pictory operator (its store only when ``durable``)."""
    from pictory_provider.events import XCOM_JOB_ID

    store = context.get("task_state_store") if getattr(operator, "durable", False) else None
    adopt = getattr(operator, "adopt_job_id", None)
    return SubmissionGuard(
        store,
        kind,
        body,
        operator.external_id_key,
        resubmit_unclear=bool(getattr(operator, "resubmit_unclear", False)),
        reconcile_timeout=float(getattr(operator, "reconcile_timeout", DEFAULT_RECONCILE_TIMEOUT)),
        poll_interval=float(operator.poll_interval),
        claims=read_claims(context, XCOM_JOB_ID) if "ti" in context else None,
        adopt_job_id=str(adopt).strip() if adopt else None,
    )
