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

import logging
import math
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pictory_provider import job_proofs
from pictory_provider.api import JOBS_PATH
from pictory_provider.exceptions import (
    PictoryError,
    PictoryNotFoundError,
    PictorySubmissionAmbiguousError,
    PictorySubmissionUnclearError,
    PictorySubmissionUnresolvedError,
    PictoryValidationError,
)
from pictory_provider.fingerprint import (
    changed_fields,
    describe_request,
    field_digests,
    fingerprint,
    legacy_fingerprint,
    output_fields,
)
from pictory_provider.job_proofs import Claims, created_nothing, read_claims
from pictory_provider.kinds import JobKind
from pictory_provider.reconcile import (
    Evidence,
    JobData,
    ListPage,
    Verdict,
    Window,
    matches_request,
    read_evidence,
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


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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
        return {"fingerprint": self.fingerprint, "fields": field_digests(self.kind, self.body)}

    def _same_request(self, made_by: object) -> bool:
        if made_by is None:
            return True  # recorded by versions that kept no fingerprint
        if isinstance(made_by, dict):
            return made_by.get("fingerprint") == self.fingerprint
        return made_by in (self.fingerprint, legacy_fingerprint(self.kind, self.body))

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
        problem = job_proofs.adoption_problem(self.kind, self.body, named, data, list_page, self._claimed())
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

    # -- a stored job that answers 404 ------------------------------------------------------------------

    def job_gone(self, job_id: str, read_status: Callable[[], str], list_page: ListPage) -> str | None:
        """After ``GET /jobs/{job_id}`` answered 404: the job's status once it answers again, or ``None``
        when it is gone for good (see :func:`~pictory_provider.job_proofs.confirm_gone`)."""
        return job_proofs.confirm_gone(
            job_id,
            read_status,
            list_page,
            store_key=self.job_id_key,
            poll_interval=self.poll_interval,
            clock=self.clock,
            sleep=self.sleep,
            logger=self.logger,
        )

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
