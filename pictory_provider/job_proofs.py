"""What proves a job is, or is not, a request's own: a definite refusal, another task's claim, a job gone for good.

- A create request answered with an HTTP status that creates no job (:data:`DEFINITE_REFUSALS`)
  certainly created nothing: its in-flight record is cleared (:func:`created_nothing`).
- A job another task instance published or stored (a sibling map index, another task of the run, this
  task in an earlier run) is that instance's: never adopted (:func:`read_claims`).
- A job the user names (``adopt_job_id``) must be of the request's kind, claimed by nobody else,
  and its output must repeat the request's fields (:func:`adoption_problem`).
- A stored job that answers 404 is gone only when the 404 repeats over :data:`GONE_CONFIRM_SECONDS`
  and the jobs list no longer holds it; one 404 (a CDN or a proxy) is "not known yet"
  (:func:`confirm_gone`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

from pictory_provider.api import JOBS_PATH
from pictory_provider.exceptions import (
    PictoryConfigError,
    PictoryError,
    PictoryNotFoundError,
    PictorySubmissionUnclearError,
    PictorySubmissionUnresolvedError,
    PictoryTransientError,
    PictoryValidationError,
)
from pictory_provider.fingerprint import output_fields
from pictory_provider.kinds import JobKind
from pictory_provider.reconcile import MAX_PAGES, ListPage, matches_request, shape_kind

__all__ = [
    "DEFINITE_REFUSALS",
    "GONE_CONFIRM_SECONDS",
    "Claims",
    "adoption_problem",
    "confirm_gone",
    "created_nothing",
    "read_claims",
]

log = logging.getLogger("pictory_provider.submission")

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


#: Claims of other task instances: the job ids they published or stored (read only when reconciling).
Claims = Callable[[], Collection[str]]
#: Seconds over which a job's HTTP 404 must repeat (with the jobs list no longer holding it) before the
#: job counts as gone: one 404 from a CDN or a proxy is "not known yet", never a reason to buy again.
GONE_CONFIRM_SECONDS = 60.0


def confirm_gone(
    job_id: str,
    read_status: Callable[[], str],
    list_page: ListPage,
    *,
    store_key: str,
    poll_interval: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    logger: Any = log,
) -> str | None:
    """After ``GET /jobs/{job_id}`` answered 404: the job's status once it answers again, or ``None``
    when it is gone for good (the 404 repeated over :data:`GONE_CONFIRM_SECONDS` and the jobs list
    no longer holds it). Raises ``PictorySubmissionUnresolvedError`` when the list cannot tell."""
    first = clock()
    while True:
        listed = _listed_status(job_id, list_page)
        if listed is _TOO_LONG:
            raise PictorySubmissionUnresolvedError(
                f"Pictory answers HTTP 404 for job {job_id} (stored under the task state store key "
                f"{store_key!r}), and the jobs list is longer than {MAX_PAGES} pages, so it cannot "
                "show whether the job is gone: nothing is bought; a later retry looks again"
            )
        if listed is not None:
            logger.warning(
                "Pictory answered HTTP 404 for job %s, but the jobs list holds it (%s): not gone, keeping it",
                job_id,
                listed,
            )
            return str(listed)
        waited = clock() - first
        if waited >= GONE_CONFIRM_SECONDS:
            return None
        logger.warning(
            "Pictory answered HTTP 404 for job %s and the jobs list does not hold it: not known yet (one 404 "
            "may come from a proxy); asking again in %.0f s before buying anything",
            job_id,
            min(poll_interval, GONE_CONFIRM_SECONDS - waited),
        )
        sleep(max(0.0, min(poll_interval, GONE_CONFIRM_SECONDS - waited)))
        try:
            return read_status()
        except PictoryNotFoundError:
            continue


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


def adoption_problem(
    kind: JobKind,
    body: Mapping[str, Any],
    job_id: str,
    data: Mapping[str, Any],
    list_page: ListPage,
    claimed: Collection[str],
) -> str | None:
    """Why a job the user names cannot be the request's own (``None``: it can). ``data`` is the job's."""
    shape = shape_kind(data)
    expected = "render" if kind.name.endswith("render") else kind.name  # a render of a preview is a render
    if shape is not None and shape != expected:
        return f"it is a {shape} job, not a {kind.name}"
    if job_id in claimed:
        return "another task instance holds it"
    url = data.get("url")
    if kind.list_path is None or not isinstance(url, str):
        return None  # running, or a kind Pictory lists no outputs of: its shape is all there is to check
    key: str | None = None
    for _ in range(MAX_PAGES):
        page = list_page(kind.list_path, key)
        for item in page.get("items") or []:
            if isinstance(item, dict) and item.get("url") == url:
                if matches_request(kind, body, item):
                    return None
                wanted = output_fields(kind, body)
                differ = [name for name in kind.match_fields if item.get(name) != wanted.get(name)]
                return f"its output differs from the request ({', '.join(differ)})"
        key = page.get("nextPageKey")
        if not key:
            break
    return f"its output is not in GET {kind.list_path}"
