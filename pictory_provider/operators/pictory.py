"""Prompt in, result out: PictoryGenerateImageOperator (image) and PictoryGenerateVideoOperator (video).

Both are one operator, :class:`PictoryGenerateOperatorBase`, parametrized by a
:class:`~pictory_provider.kinds.JobKind`; the subclasses only declare their request arguments.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import BaseOperator, ResumableJobMixin

from pictory_provider.credits import check_max_ai_credits, guard_spend, report_spend
from pictory_provider.events import XCOM_JOB_ID, complete, complete_from_event
from pictory_provider.exceptions import PictoryJobTimeoutError, PictoryNotFoundError, PictoryValidationError
from pictory_provider.job_proofs import GONE_CONFIRM_SECONDS
from pictory_provider.kinds import IMAGE, VIDEO, JobKind
from pictory_provider.links import PictoryXComLink
from pictory_provider.sensors.pictory import DEFAULT_CONN_ID, DEFAULT_TIMEOUT, default_deferrable
from pictory_provider.storage import check_output_paths, check_text_paths
from pictory_provider.submission import DEFAULT_RECONCILE_TIMEOUT
from pictory_provider.task_settings import check_hook_params, check_wait_settings, wait_seconds

if TYPE_CHECKING:
    from pictory_provider.hooks.pictory import PictoryHook

__all__ = [
    "PictoryGenerateImageOperator",
    "PictoryGenerateOperatorBase",
    "PictoryGenerateVideoOperator",
    "PictoryImageLink",
    "PictoryVideoLink",
]

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


class PictoryImageLink(PictoryXComLink):
    """Operator extra link "Pictory Image": the generated image's URL (XCom ``image_url``)."""

    name = IMAGE.link_name
    url_xcom_key = IMAGE.url_key


class PictoryVideoLink(PictoryXComLink):
    """Operator extra link "Pictory Video": the generated video's URL (XCom ``video_url``)."""

    name = VIDEO.link_name
    url_xcom_key = VIDEO.url_key


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
        context["ti"].xcom_push(key=XCOM_JOB_ID, value=job_id)
        return job_id

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
        context["ti"].xcom_push(key=XCOM_JOB_ID, value=job_id)  # again on a resumed retry: XCom was cleared
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
            context["ti"].xcom_push(key=XCOM_JOB_ID, value=job_id)
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


class PictoryGenerateImageOperator(PictoryGenerateOperatorBase):
    """Generate an image with Pictory's AI Studio and, by default, wait for it.

    The job id is pushed as XCom ``job_id`` as soon as Pictory accepts the request, so a crash never
    loses a paid job. With ``wait_for_completion=False`` the task returns the job id (pair it with
    :class:`~pictory_provider.sensors.pictory.PictoryImageJobSensor`). Otherwise it waits, in the
    triggerer when ``deferrable`` (the default), and publishes exactly what the sensor publishes: XCom
    ``image_url``, ``ai_credits_used``, ``width``, ``height`` (and ``image_path`` with
    ``output_path``), and the return value ``{"job_id", "url", "width", "height", "ai_credits_used"}``.

    Retries do not buy a second image on Airflow >= 3.3: the job id is kept in the task state store,
    tied to a fingerprint of the rendered request, and a retry (or a cleared task whose request renders
    the same) resumes waiting on the same job or collects its result; a changed request, or a job that
    failed, is submitted afresh. A try that may have created a job without learning its id (a read
    timeout on the create request) makes the next try look for that job in Pictory's lists and adopt
    it, or fail clearly when they cannot tell (see :mod:`pictory_provider.submission`). On older
    Airflow every try submits a new job: use ``wait_for_completion=False`` plus the sensor, and put the
    retries on the sensor.

    Pictory has no cancel endpoint: a killed or timed-out task leaves the job running remotely.

    :param prompt: What to draw, 5 to 5,000 characters (templated).
    :param model: ``seedream3.0`` (Pictory's default), ``flux-schnell``, ``nanobanana`` or
        ``nanobanana-pro`` (templated).
    :param aspect_ratio: ``1:1``, ``16:9`` or ``9:16`` (templated).
    :param style: ``photorealistic``, ``artistic``, ``cartoon``, ``minimalist``, ``vintage`` or
        ``futuristic`` (templated).
    :param reference_image_url: Public http(s) URL of a reference image (templated).
    :param webhook: http(s) URL Pictory POSTs the finished job to (templated).
    :param wait_for_completion: Wait for the image (default) or return the job id at once.
    :param deferrable: Wait in the triggerer, holding no worker slot (default True; see
        :func:`~pictory_provider.sensors.pictory.default_deferrable`).
    :param poll_interval: Seconds between status polls.
    :param timeout: Seconds to wait for the image (default one hour).
    :param output_path: Store the PNG there after completion (templated; any ``ObjectStoragePath``
        URL or local path; a trailing ``/`` means ``<folder>/<job_id>.png``).
    :param pictory_conn_id: The Airflow connection id (templated).
    :param hook_params: Extra ``PictoryHook`` keyword arguments (JSON primitives).
    :param resubmit_unclear: When an earlier try's create request may have created a job that
        Pictory's lists cannot identify, submit again anyway (may buy a second image) instead of
        failing with ``PictorySubmissionUnresolvedError`` (default False).
    :param reconcile_timeout: After an unclear create, how long (seconds, default 600) the next try
        waits for running jobs that could be that request's own before failing with
        ``PictorySubmissionUnresolvedError`` (Airflow retries it later). The wait is deferred
        when ``deferrable``.
    :param adopt_job_id: This request's job is that listed Pictory job: keep it instead of buying (the way
        out of ``PictorySubmissionAmbiguousError``/``PictorySubmissionUnresolvedError``, whose messages list
        the jobs that can be the request's own; templated). Checked before use: the job must exist, be
        of this kind, be held by no other task instance, and its output must repeat the request's fields.
    :param max_ai_credits: Fail with ``PictoryBudgetError`` before any request when the estimated cost
        (the model's price) exceeds this many AI credits.
    :param check_quota: Read the quota first and fail with ``PictoryBudgetError``, without sending the
        request, when the remaining AI credits cannot cover the estimate (advisory: concurrent tasks
        can pass together). A retry that resumes an existing job is not checked again.
    """

    kind = IMAGE
    request_fields = ("prompt", "model", "aspect_ratio", "style", "reference_image_url", "webhook")
    template_fields: Sequence[str] = (*request_fields, "output_path", "pictory_conn_id", "adopt_job_id")
    operator_extra_links = (PictoryImageLink(),)

    def __init__(
        self,
        *,
        prompt: str,
        model: str | None = None,
        aspect_ratio: str | None = None,
        style: str | None = None,
        reference_image_url: str | None = None,
        webhook: str | None = None,
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
        super().__init__(
            wait_for_completion=wait_for_completion,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            output_path=output_path,
            pictory_conn_id=pictory_conn_id,
            hook_params=hook_params,
            resubmit_unclear=resubmit_unclear,
            reconcile_timeout=reconcile_timeout,
            max_ai_credits=max_ai_credits,
            check_quota=check_quota,
            adopt_job_id=adopt_job_id,
            **kwargs,
        )
        self.prompt = prompt
        self.model = model
        self.aspect_ratio = aspect_ratio
        self.style = style
        self.reference_image_url = reference_image_url
        self.webhook = webhook


class PictoryGenerateVideoOperator(PictoryGenerateOperatorBase):
    """Generate a video with Pictory's AI Studio and, by default, wait for it.

    The same modes and promises as :class:`PictoryGenerateImageOperator`: the job id goes to XCom
    ``job_id`` as soon as Pictory accepts the request; ``wait_for_completion=False`` returns the job id
    (pair it with :class:`~pictory_provider.sensors.pictory.PictoryVideoJobSensor`); otherwise it waits,
    in the triggerer when ``deferrable`` (the default), and publishes exactly what the video sensor
    publishes: XCom ``video_url``, ``duration`` (seconds, a number), ``width``, ``height``,
    ``ai_credits_used``, ``thumbnail_url``, ``last_frame_image_url`` (and ``video_path`` with
    ``output_path``), and the return value ``{"job_id", "url", "width", "height", "duration",
    "ai_credits_used", "thumbnail_url", "last_frame_image_url"}``. On Airflow >= 3.3 a retry resumes
    the same job instead of paying for a second video.

    Animate an upstream image with
    ``first_frame_image_url="{{ ti.xcom_pull(task_ids='image', key='image_url') }}"``.

    :param prompt: What should happen in the video, 5 to 5,000 characters (templated).
    :param model: ``pixverse5.5`` (Pictory's default; 1.6 AI credits per second), ``veo3.1_fast``
        (10) or ``veo3.1`` (20) (templated).
    :param aspect_ratio: veo models: ``16:9`` or ``9:16``; ``pixverse5.5`` also ``1:1``, ``3:4`` and
        ``4:3`` (templated).
    :param duration: veo models: ``"4s"``, ``"6s"`` or ``"8s"``; ``pixverse5.5``: ``"5s"``, ``"8s"``
        or ``"10s"``; a whole number of seconds works too (templated).
    :param first_frame_image_url: Public http(s) URL of the image the video starts from (templated).
    :param extend_video_url: Public http(s) URL of a video to continue (templated).
    :param reference_image_urls: 1 to 3 public http(s) URLs of reference images (templated). At most
        one of ``first_frame_image_url``, ``extend_video_url`` and ``reference_image_urls``.
    :param webhook: http(s) URL Pictory POSTs the finished job to (templated).
    :param wait_for_completion: Wait for the video (default) or return the job id at once.
    :param deferrable: Wait in the triggerer, holding no worker slot (default True).
    :param poll_interval: Seconds between status polls.
    :param timeout: Seconds to wait for the video (default one hour).
    :param output_path: Store the MP4 there after completion (templated; any ``ObjectStoragePath``
        URL or local path; a trailing ``/`` means ``<folder>/<job_id>.mp4``).
    :param pictory_conn_id: The Airflow connection id (templated).
    :param hook_params: Extra ``PictoryHook`` keyword arguments (JSON primitives).
    :param resubmit_unclear: When an earlier try's create request may have created a job that
        Pictory's lists cannot identify, submit again anyway (may buy a second video) instead of
        failing with ``PictorySubmissionUnresolvedError`` (default False).
    :param reconcile_timeout: After an unclear create, how long (seconds, default 600) the next try
        waits for running jobs that could be that request's own (deferred when ``deferrable``).
    :param max_ai_credits: Fail with ``PictoryBudgetError`` before any request when the estimated cost
        (the model's per-second price times the duration) exceeds this many AI credits.
    :param check_quota: Read the quota first and fail with ``PictoryBudgetError``, without sending the
        request, when the remaining AI credits cannot cover the estimate (advisory: concurrent tasks
        can pass together). A retry that resumes an existing job is not checked again.
    """

    kind = VIDEO
    request_fields = (
        "prompt",
        "model",
        "aspect_ratio",
        "duration",
        "first_frame_image_url",
        "extend_video_url",
        "reference_image_urls",
        "webhook",
    )
    template_fields: Sequence[str] = (*request_fields, "output_path", "pictory_conn_id", "adopt_job_id")
    operator_extra_links = (PictoryVideoLink(),)

    def __init__(
        self,
        *,
        prompt: str,
        model: str | None = None,
        aspect_ratio: str | None = None,
        duration: str | int | None = None,
        first_frame_image_url: str | None = None,
        extend_video_url: str | None = None,
        reference_image_urls: list[str] | None = None,
        webhook: str | None = None,
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
        super().__init__(
            wait_for_completion=wait_for_completion,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            output_path=output_path,
            pictory_conn_id=pictory_conn_id,
            hook_params=hook_params,
            resubmit_unclear=resubmit_unclear,
            reconcile_timeout=reconcile_timeout,
            max_ai_credits=max_ai_credits,
            check_quota=check_quota,
            adopt_job_id=adopt_job_id,
            **kwargs,
        )
        self.prompt = prompt
        self.model = model
        self.aspect_ratio = aspect_ratio
        self.duration = duration
        self.first_frame_image_url = first_frame_image_url
        self.extend_video_url = extend_video_url
        self.reference_image_urls = reference_image_urls
        self.webhook = webhook
