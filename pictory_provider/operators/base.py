"""The one Pictory operator: submit a job of a :class:`~pictory_provider.kinds.JobKind`, resume it on retry,
wait (deferred or not) and complete it. Every operator of the package is this class with a kind and its
own request parameters (:mod:`pictory_provider.operators.pictory`, ``render``, ``transcribe``)."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperator, ResumableJobMixin

from pictory_provider.credits import check_max_ai_credits, guard_spend, report_spend
from pictory_provider.events import XCOM_JOB_ID, XCOM_VIDEO_NAME, complete, complete_from_event
from pictory_provider.exceptions import PictoryJobTimeoutError, PictoryNotFoundError, PictoryValidationError
from pictory_provider.job_proofs import GONE_CONFIRM_SECONDS
from pictory_provider.kinds import IMAGE, JobKind
from pictory_provider.sensors.pictory import DEFAULT_CONN_ID, DEFAULT_TIMEOUT, default_deferrable
from pictory_provider.storage import check_output_paths, check_text_paths
from pictory_provider.submission import DEFAULT_RECONCILE_TIMEOUT
from pictory_provider.task_settings import check_hook_params, check_wait_settings, wait_seconds

if TYPE_CHECKING:
    from pictory_provider.hooks.pictory import PictoryHook

__all__ = ["DEFERRAL_SLACK", "MIN_DEFERRED_RECONCILE_WAIT", "NOT_FOUND_STATUS", "PictoryGenerateOperatorBase"]

#: The status the operator gives a stored job Pictory answers 404 for (treated like ``cleaned``).
NOT_FOUND_STATUS = "not-found"
#: Shortest deferred reconciliation wait (seconds). A trigger that fires within a second or two can beat
#: the scheduler to the deferring worker's exit, and Airflow then fails the resumed task (an Airflow
#: race, seen with 1 s and 5 s waits on a busy machine); reconciliation is rare, so it waits as long as
#: Pictory's recommended poll interval.
MIN_DEFERRED_RECONCILE_WAIT = 10.0
#: Extra seconds Airflow's deferral timeout allows beyond ``timeout``, so the trigger's own, clearer
#: ``timeout`` event normally arrives first.
DEFERRAL_SLACK = 60


def _sleep_trigger(seconds: float) -> Any:
    """A trigger that fires after ``seconds`` (Airflow's own ``TimeDeltaTrigger``)."""
    try:
        from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
    except ImportError:  # Airflow 2 without the standard provider
        from airflow.triggers.temporal import TimeDeltaTrigger  # type: ignore[no-redef]

    return TimeDeltaTrigger(timedelta(seconds=seconds))


class PictoryGenerateOperatorBase(ResumableJobMixin, BaseOperator):
    """Submit a Pictory job of :attr:`kind`, then (by default) wait for it and publish its result.

    Subclasses set :attr:`kind`, :attr:`request_fields` (the attributes passed to the kind's request
    builder, in order) and their extra link; submitting, resuming on retry, deferring, the
    synchronous wait and the completion are shared. See :class:`PictoryGenerateImageOperator`.
    """

    kind: ClassVar[JobKind] = IMAGE
    request_fields: ClassVar[tuple[str, ...]] = ()
    external_id_key = "pictory_job_id"
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poll_interval: float | timedelta = 10,
        timeout: float | timedelta = DEFAULT_TIMEOUT,
        output_path: str | None = None,
        pictory_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        resubmit_unclear: bool = False,
        reconcile_timeout: float | timedelta = DEFAULT_RECONCILE_TIMEOUT,
        max_ai_credits: float | None = None,
        check_quota: bool = False,
        adopt_job_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.adopt_job_id = adopt_job_id
        self.poll_interval, self.timeout = wait_seconds(poll_interval), wait_seconds(timeout)
        check_wait_settings(self.poll_interval, self.timeout)
        self.reconcile_timeout = wait_seconds(reconcile_timeout)
        if not self.reconcile_timeout >= 0:
            raise ValueError(f"reconcile_timeout must be 0 or more seconds (got {reconcile_timeout!r})")
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.output_path = output_path
        self.pictory_conn_id = pictory_conn_id
        self.hook_params = check_hook_params(hook_params)
        self.resubmit_unclear = resubmit_unclear
        self.max_ai_credits = check_max_ai_credits(max_ai_credits)
        self.check_quota = check_quota
        self._result: Any = None
        self._body: dict[str, Any] = {}  # the built request, once execute built it

    @cached_property
    def hook(self) -> PictoryHook:
        from pictory_provider.hooks.pictory import PictoryHook

        return PictoryHook(self.pictory_conn_id, **self.hook_params)

    def _request_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.request_fields}

    def _known_outputs(self) -> dict[str, Any]:
        """Result fields the task knows and the job does not say (a transcription's ``media_url``)."""
        return {}

    def _read_job(self, job_id: str) -> Any:
        """The job itself, for a kind whose outputs are texts in it (the trigger's event stays small)."""
        return self.hook.get_job(job_id, require_url=self.kind.requires_url)

    def _complete(self, context: Any, job: Any) -> dict[str, Any]:
        """:func:`~pictory_provider.events.complete` of a completed job read here (not from an event)."""
        result = self.kind.result(job.job_id, job.to_dict())
        return complete(context, result, self.output_path, self.kind, job=job, known=self._known_outputs())

    def execute(self, context: Any) -> Any:
        return self._execute(context, reconcile_deadline=None)

    def execute_after_reconcile_wait(
        self, context: Any, event: Any = None, reconcile_deadline: float | None = None
    ) -> Any:
        """Resume after a deferred reconciliation wait: look at Pictory's lists again, then go on."""
        return self._execute(context, reconcile_deadline=reconcile_deadline)

    def _execute(self, context: Any, reconcile_deadline: float | None) -> Any:
        from pictory_provider.submission import guard_for

        body = self.kind.build_request(**self._request_params())  # validated before any request
        # storable there (the MP4's subtitles, a transcript's files too)? known before paying
        if self.kind.text_files:
            check_text_paths(self.output_path, tuple(extension for extension, _, _ in self.kind.text_files))
        else:
            check_output_paths(self.output_path, self.kind.extension, tuple(ext for _, ext, _ in self.kind.extra_files))
        self._estimate = self.kind.estimate(body)
        self._body = body
        if self._estimate is None and self.max_ai_credits is not None:
            raise PictoryValidationError(
                f"max_ai_credits cannot be enforced for a {self.kind.name}: Pictory does not say what it costs "
                "before it runs (the job reports aiCreditsUsed); use check_quota=True instead. Nothing was sent",
                [{"name": "max_ai_credits", "errors": f"not available for a {self.kind.name}"}],
            )
        self._guard = guard_for(self, context, self.kind, body)
        if reconcile_deadline is None:
            reconcile_deadline = time.time() + self.reconcile_timeout
        # keep, drop or adopt the stored job for this request; wait while the lists cannot tell yet
        hook = self.hook
        while (wait := self._guard.prepare(hook.list_page, hook.job_data, deadline=reconcile_deadline)) is not None:
            if self.deferrable:
                wait = max(wait, MIN_DEFERRED_RECONCILE_WAIT)
                self.defer(
                    trigger=_sleep_trigger(wait),
                    method_name="execute_after_reconcile_wait",
                    kwargs={"reconcile_deadline": reconcile_deadline},
                    timeout=timedelta(seconds=wait + DEFERRAL_SLACK),
                )
            time.sleep(wait)
        self.execute_resumable(context)
        report_spend(self._result, check_quota=self.check_quota, read_quota=self.hook.get_quota)
        return self._result

    # -- ResumableJobMixin: submit once, resume on retry ----------------------------------------

    def submit_job(self, context: Any) -> str:
        params = self._request_params()
        # A new purchase (a resumed retry never gets here): the name and spend checks, before buying.
        self.check_before_buying(self._body)
        guard_spend(
            self._estimate,
            max_ai_credits=self.max_ai_credits,
            check_quota=self.check_quota,
            read_quota=self.hook.get_quota,
        )
        # The in-flight record first; the job id is stored before it reaches XCom.
        job_id = self._guard.submit(lambda: self.hook.create_job(self.kind, **params), self.hook.read_fence)
        self._publish_job(context, job_id)
        return job_id

    def _publish_job(self, context: Any, job_id: str) -> None:
        """XCom ``job_id``, and ``video_name`` when the request names its output (the kind's ``name_field``)."""
        context["ti"].xcom_push(key=XCOM_JOB_ID, value=job_id)
        name = self._body.get(self.kind.name_field) if self.kind.name_field else None
        if isinstance(name, str) and name:
            context["ti"].xcom_push(key=XCOM_VIDEO_NAME, value=name)

    def check_before_buying(self, body: dict[str, Any]) -> None:
        """Checks a subclass runs on the built request just before a new purchase (none here)."""

    def get_job_status(self, external_id: Any, context: Any) -> str:
        try:
            return self.hook.get_job(str(external_id), require_url=self.kind.requires_url).raw_status
        except PictoryNotFoundError:
            # One 404 (a CDN or proxy) is "not known yet": gone only when it repeats and the list drops it.
            job_id = str(external_id)
            status = self._guard.job_gone(
                job_id,
                lambda: self.hook.get_job(job_id, require_url=self.kind.requires_url).raw_status,
                self.hook.list_page,
            )
            if status is not None:
                return status
            # Gone: cleaned past Pictory's retention, or the connection now reaches another account. The
            # request is the same (a changed one never reaches here), so it is bought anew, like a cleaned job.
            self.log.warning(
                "Pictory answered HTTP 404 for job %s (task state store key %r, this same request) for %.0f s and "
                "the jobs list no longer holds it: its outputs are gone for this connection, so the request is "
                "submitted anew now (as for a 'cleaned' job)",
                external_id,
                self.external_id_key,
                GONE_CONFIRM_SECONDS,
            )
            return NOT_FOUND_STATUS

    def is_job_active(self, status: str) -> bool:
        from pictory_provider.api import JobStatus

        if status == NOT_FOUND_STATUS:
            return False
        return JobStatus.parse(status) in (JobStatus.IN_PROGRESS, JobStatus.UNKNOWN)

    def is_job_succeeded(self, status: str) -> bool:
        from pictory_provider.api import JobStatus

        return JobStatus.parse(status) is JobStatus.COMPLETED

    def poll_until_complete(self, external_id: Any, context: Any) -> None:
        job_id = str(external_id)
        self._publish_job(context, job_id)  # again on a resumed retry: XCom was cleared
        if not self.wait_for_completion:
            self._result = job_id
            return
        if self.deferrable:
            from pictory_provider.triggers.pictory import PictoryJobTrigger

            self.defer(
                trigger=PictoryJobTrigger(
                    job_id=job_id,
                    pictory_conn_id=self.pictory_conn_id,
                    poll_interval=self.poll_interval,
                    end_time=time.time() + self.timeout,
                    hook_params=self.hook_params,
                    require_url=self.kind.requires_url,
                ),
                method_name="execute_complete",
                timeout=self.execution_timeout or timedelta(seconds=self.timeout + DEFERRAL_SLACK),
            )
        job = self.hook.wait_for_job(
            job_id, poll_interval=self.poll_interval, timeout=self.timeout, require_url=self.kind.requires_url
        )
        self._result = self._complete(context, job)

    def get_job_result(self, external_id: Any, context: Any) -> Any:
        if self._result is None:  # a retry found the job already completed: collect it
            job_id = str(external_id)
            self._publish_job(context, job_id)
            if not self.wait_for_completion:
                return job_id
            self._result = self._complete(context, self.hook.get_job(job_id, require_url=self.kind.requires_url))
        return self._result

    # -- deferred completion ----------------------------------------------------------------------

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: validate the event, push XCom (and store the file), or raise."""
        result = complete_from_event(
            context,
            event,
            PictoryJobTimeoutError,
            self.output_path,
            self.kind,
            read_job=self._read_job,
            known=self._known_outputs(),
        )
        report_spend(result, check_quota=self.check_quota, read_quota=self.hook.get_quota)
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the stored file is the output (``None`` without the OpenLineage provider)."""
        from pictory_provider.lineage import openlineage_facets

        return openlineage_facets(self)
