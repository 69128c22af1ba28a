"""PictoryGenerateImageOperator: prompt in, image (URL, size, credits, optionally a stored PNG) out."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, BaseOperatorLink, ResumableJobMixin, XCom

from pictory_provider.api import check_wait_settings
from pictory_provider.events import XCOM_IMAGE_URL, XCOM_JOB_ID, complete, complete_from_event, job_result
from pictory_provider.exceptions import PictoryJobTimeoutError
from pictory_provider.sensors.pictory import DEFAULT_CONN_ID, DEFAULT_TIMEOUT, default_deferrable

if TYPE_CHECKING:
    from pictory_provider.hooks.pictory import PictoryHook

__all__ = [
    "PictoryGenerateImageOperator",
    "PictoryImageLink",
]

#: Extra seconds Airflow's deferral timeout allows beyond ``timeout``, so the trigger's own, clearer
#: ``timeout`` event normally arrives first.
DEFERRAL_SLACK = 60


class PictoryImageLink(BaseOperatorLink):
    """Operator extra link "Pictory Image": the generated image's URL (XCom ``image_url``)."""

    name = "Pictory Image"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return XCom.get_value(key=XCOM_IMAGE_URL, ti_key=ti_key) or ""


class PictoryGenerateImageOperator(ResumableJobMixin, BaseOperator):
    """Generate an image with Pictory's AI Studio and, by default, wait for it.

    The job id is pushed as XCom ``job_id`` as soon as Pictory accepts the request, so a crash never
    loses a paid job. With ``wait_for_completion=False`` the task returns the job id (pair it with
    :class:`~pictory_provider.sensors.pictory.PictoryImageJobSensor`). Otherwise it waits, in the
    triggerer when ``deferrable`` (the default), and publishes exactly what the sensor publishes: XCom
    ``image_url``, ``ai_credits_used``, ``width``, ``height`` (and ``image_path`` with
    ``output_path``), and the return value ``{"job_id", "url", "width", "height", "ai_credits_used"}``.

    Retries do not buy a second image on Airflow >= 3.3: the job id is kept in the task state store
    and a retry resumes waiting on the same job (or collects its finished result); only a job that
    failed is submitted afresh. On older Airflow every try submits a new job: use
    ``wait_for_completion=False`` plus the sensor, and put the retries on the sensor.

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
    """

    template_fields: Sequence[str] = (
        "prompt",
        "model",
        "aspect_ratio",
        "style",
        "reference_image_url",
        "webhook",
        "output_path",
        "pictory_conn_id",
    )
    operator_extra_links = (PictoryImageLink(),)
    external_id_key = "pictory_job_id"
    ui_color = "#e8f0fe"

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
        poll_interval: float = 10,
        timeout: float = DEFAULT_TIMEOUT,
        output_path: str | None = None,
        pictory_conn_id: str = DEFAULT_CONN_ID,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_wait_settings(poll_interval, timeout)
        self.prompt = prompt
        self.model = model
        self.aspect_ratio = aspect_ratio
        self.style = style
        self.reference_image_url = reference_image_url
        self.webhook = webhook
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.output_path = output_path
        self.pictory_conn_id = pictory_conn_id
        self.hook_params = dict(hook_params or {})
        self._result: Any = None

    @cached_property
    def hook(self) -> PictoryHook:
        from pictory_provider.hooks.pictory import PictoryHook

        return PictoryHook(self.pictory_conn_id, **self.hook_params)

    def execute(self, context: Any) -> Any:
        self.execute_resumable(context)
        return self._result

    # -- ResumableJobMixin: submit once, resume on retry ----------------------------------------

    def submit_job(self, context: Any) -> str:
        job_id = self.hook.generate_image(
            self.prompt,
            model=self.model,
            aspect_ratio=self.aspect_ratio,
            style=self.style,
            reference_image_url=self.reference_image_url,
            webhook=self.webhook,
        )
        context["ti"].xcom_push(key=XCOM_JOB_ID, value=job_id)
        return job_id

    def get_job_status(self, external_id: Any, context: Any) -> str:
        return self.hook.get_job(str(external_id)).raw_status

    def is_job_active(self, status: str) -> bool:
        from pictory_provider.api import JobStatus

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
                ),
                method_name="execute_complete",
                timeout=self.execution_timeout or timedelta(seconds=self.timeout + DEFERRAL_SLACK),
            )
        job = self.hook.wait_for_job(job_id, poll_interval=self.poll_interval, timeout=self.timeout)
        self._result = complete(
            context, job_result(job_id, job.url, job.width, job.height, job.ai_credits_used), self.output_path
        )

    def get_job_result(self, external_id: Any, context: Any) -> Any:
        if self._result is None:  # a retry found the job already completed: collect it
            job_id = str(external_id)
            context["ti"].xcom_push(key=XCOM_JOB_ID, value=job_id)
            if not self.wait_for_completion:
                return job_id
            job = self.hook.get_job(job_id)
            self._result = complete(
                context, job_result(job_id, job.url, job.width, job.height, job.ai_credits_used), self.output_path
            )
        return self._result

    # -- deferred completion ----------------------------------------------------------------------

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: validate the event, push XCom (and store the PNG), or raise."""
        return complete_from_event(context, event, PictoryJobTimeoutError, self.output_path)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the stored file is the output (``None`` without the OpenLineage provider)."""
        from pictory_provider.lineage import openlineage_facets

        return openlineage_facets(self)
