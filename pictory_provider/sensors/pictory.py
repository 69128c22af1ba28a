"""PictoryImageJobSensor, PictoryVideoJobSensor and PictoryJobSensor (any job): wait for an existing Pictory
job, deferrable by default.

Both are one sensor, :class:`PictoryJobSensorBase`, parametrized by a
:class:`~pictory_provider.kinds.JobKind`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from pictory_provider.destination import check_output_path
from pictory_provider.events import complete, complete_from_event
from pictory_provider.kinds import ANY_JOB, IMAGE, VIDEO, JobKind
from pictory_provider.task_settings import check_hook_params, check_wait_settings, wait_seconds

if TYPE_CHECKING:
    from pictory_provider.hooks.pictory import PictoryHook

__all__ = [
    "DEFAULT_CONN_ID",
    "DEFAULT_TIMEOUT",
    "PictoryImageJobSensor",
    "PictoryJobSensor",
    "PictoryJobSensorBase",
    "PictoryVideoJobSensor",
    "default_deferrable",
]

DEFAULT_CONN_ID = "pictory_default"
DEFAULT_TIMEOUT = 60 * 60.0


def default_deferrable() -> bool:
    """``[operators] default_deferrable`` when set through the environment, else True.

    Airflow writes ``default_deferrable = false`` into every generated ``airflow.cfg``, so a false
    value there cannot be told apart from "unset": only ``AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE``
    (or a true value anywhere) is taken as the deployment's choice. Pass ``deferrable=False`` to a
    task to wait in a worker instead.
    """
    if "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE" in os.environ:
        return bool(conf.getboolean("operators", "default_deferrable"))
    return True


class PictoryJobSensorBase(BaseSensorOperator):
    """Wait for a Pictory job of :attr:`kind` and publish its result (see :class:`PictoryImageJobSensor`)."""

    kind: ClassVar[JobKind] = IMAGE
    template_fields: Sequence[str] = ("job_id", "pictory_conn_id", "output_path")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        job_id: str,
        pictory_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool | None = None,
        poke_interval: float | timedelta = 10,
        timeout: float | timedelta = DEFAULT_TIMEOUT,
        hook_params: dict[str, Any] | None = None,
        output_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        seconds = wait_seconds(poke_interval), wait_seconds(timeout)  # a timedelta, as Airflow's sensors allow
        check_wait_settings(*seconds)
        super().__init__(poke_interval=seconds[0], timeout=seconds[1], **kwargs)

        self.job_id = job_id
        self.pictory_conn_id = pictory_conn_id
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.hook_params = check_hook_params(hook_params)
        self.output_path = output_path

    @cached_property
    def hook(self) -> PictoryHook:
        from pictory_provider.hooks.pictory import PictoryHook

        return PictoryHook(self.pictory_conn_id, **self.hook_params)

    def poke(self, context: Any) -> bool | PokeReturnValue:
        from pictory_provider.api import JobStatus
        from pictory_provider.hooks.pictory import raise_for_failed_job

        job = self.hook.get_job(self.job_id, require_url=self.kind.requires_url)
        raise_for_failed_job(job)
        if job.status is not JobStatus.COMPLETED:
            progress = f", rendering {job.render_progress}%" if job.render_progress is not None else ""
            progress += f" ({job.render_message})" if job.render_message else ""
            self.log.info("Pictory job %s is %r%s", self.job_id, job.raw_status, progress)
            return False
        result = self.kind.result(job.job_id, job.to_dict())
        return PokeReturnValue(is_done=True, xcom_value=complete(context, result, self.output_path, self.kind, job=job))

    def execute(self, context: Any) -> Any:
        from pictory_provider.api import validate_job_id

        self.job_id = validate_job_id(self.job_id)
        check_output_path(self.output_path, self.kind.extension)  # before the wait, not after it (soft_fail or not)
        limits = [self.timeout] + ([self.execution_timeout.total_seconds()] if self.execution_timeout else [])
        with self.hook.deadline(min(limits)):  # no Retry-After sleeps a poke past the sensor's timeout
            return self._execute(context)

    def _execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        try:
            done = self.poke(context)
        except AirflowFailException as exc:  # a failed job: honour soft_fail/never_fail as a deferred wait would
            if self.soft_fail or getattr(self, "never_fail", False):
                raise AirflowSkipException(f"Skipping: {exc}") from exc
            raise
        if isinstance(done, PokeReturnValue):
            return done.xcom_value

        from pictory_provider.triggers.pictory import PictoryJobTrigger

        self.defer(
            trigger=PictoryJobTrigger(
                job_id=self.job_id,
                pictory_conn_id=self.pictory_conn_id,
                poll_interval=self.poke_interval,
                end_time=time.time() + self.timeout,
                hook_params=self.hook_params,
                require_url=self.kind.requires_url,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: validate the event, push XCom, or raise its error."""
        return complete_from_event(
            context,
            event,
            AirflowSensorTimeout,
            self.output_path,
            self.kind,
            read_job=lambda job_id: self.hook.get_job(job_id, require_url=self.kind.requires_url),
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: the stored file is the output (``None`` without the OpenLineage provider)."""
        from pictory_provider.lineage import openlineage_facets

        return openlineage_facets(self)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Any) -> Any:
        """Honour ``soft_fail`` when Airflow's own deferral timeout fires, on Airflow 3.0.x too.

        Airflow 3.0 turns that timeout into ``AirflowSensorTimeout`` after its ``soft_fail`` check, so
        the task failed instead of skipping. Other versions skip in the base class already, so only
        that case reaches the ``soft_fail`` branch here.
        """
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except AirflowSensorTimeout as exc:
            if self.soft_fail:
                raise AirflowSkipException(str(exc)) from exc
            raise


class PictoryImageJobSensor(PictoryJobSensorBase):
    """Wait for a Pictory image job and publish its result.

    Deferrable by default: after one immediate check the wait moves to Airflow's triggerer
    (:class:`~pictory_provider.triggers.pictory.PictoryJobTrigger`) and holds no worker slot. With
    ``deferrable=False`` it pokes with the synchronous hook (``mode="poke"`` or ``"reschedule"``).
    Both paths give the same result: XCom keys ``image_url``, ``ai_credits_used``, ``width`` and
    ``height``, and the return value ``{"job_id", "url", "width", "height", "ai_credits_used"}``.

    A failed job raises :class:`~pictory_provider.exceptions.PictoryJobFailedError` with Pictory's
    error code and message at once. Running past ``timeout`` raises ``AirflowSensorTimeout`` (a
    skip with ``soft_fail=True``). Pictory has no cancel endpoint: the job keeps running if the
    task is killed or times out.

    :param job_id: The Pictory job id (templated), e.g.
        ``"{{ ti.xcom_pull(task_ids='submit', key='job_id') }}"``.
    :param pictory_conn_id: The Airflow connection id (templated).
    :param deferrable: Wait in the triggerer (default: see :func:`default_deferrable`).
    :param poke_interval: Seconds between polls, in the triggerer too.
    :param timeout: Seconds to wait before giving up (default one hour).
    :param hook_params: Extra keyword arguments for ``PictoryHook`` (JSON primitives), such as
        ``{"max_attempts": 8}``.
    :param output_path: Where to store the PNG once done (templated): any ``ObjectStoragePath`` URL
        (``file://``, ``s3://``, ``gs://``, ...) or local path; a trailing ``/`` stores it as
        ``<job_id>.png`` in that folder. The stored path is pushed as XCom ``image_path``.
    """

    kind = IMAGE


class PictoryVideoJobSensor(PictoryJobSensorBase):
    """Wait for a Pictory video job and publish its result.

    The same waits and promises as :class:`PictoryImageJobSensor` (deferrable by default, one check
    before deferring, ``deferrable=False`` pokes; a failed job raises
    :class:`~pictory_provider.exceptions.PictoryJobFailedError`, a timeout ``AirflowSensorTimeout``).
    Both paths publish XCom ``video_url``, ``duration`` (seconds, a number), ``width``, ``height``,
    ``ai_credits_used``, ``thumbnail_url`` and ``last_frame_image_url``, and return
    ``{"job_id", "url", "width", "height", "duration", "ai_credits_used", "thumbnail_url",
    "last_frame_image_url"}``.

    :param job_id: The Pictory video job id (templated), e.g.
        ``"{{ ti.xcom_pull(task_ids='submit_video', key='job_id') }}"``.
    :param pictory_conn_id: The Airflow connection id (templated).
    :param deferrable: Wait in the triggerer (default: see :func:`default_deferrable`).
    :param poke_interval: Seconds between polls, in the triggerer too.
    :param timeout: Seconds to wait before giving up (default one hour).
    :param hook_params: Extra keyword arguments for ``PictoryHook`` (JSON primitives).
    :param output_path: Where to store the MP4 once done (templated): any ``ObjectStoragePath`` URL or
        local path; a trailing ``/`` stores it as ``<job_id>.mp4`` in that folder. The stored path is
        pushed as XCom ``video_path``.
    """

    kind = VIDEO


class PictoryJobSensor(PictoryJobSensorBase):
    """Wait for any Pictory job (image, video, storyboard render, preview, transcription, ...).

    The same waits and promises as :class:`PictoryImageJobSensor`; a completed job needs no result
    URL (a preview has none). It publishes what the job has: XCom ``job_id`` (the return value's),
    and the named keys of the kind the job's shape shows (``job_kind``): a render's ``video_url``,
    ``share_url``, ``srt_url``, ``vtt_url``, ``txt_url``, ``thumbnail_url``, ``duration``,
    ``ai_credits_used``; a video's or an image's keys as their own sensors push them; a transcription's
    ``transcript_text``, ``media_info``, ``duration`` (its texts are read from the job itself: the event
    stays small); highlights' ``highlights`` and ``highlights_summary``. The return value is
    ``{"job_id", "job_kind", "url", ...}`` with ``None`` for what the job does not have. With
    ``output_path`` the file of a job that has one is stored (a render's MP4 and subtitles too; a
    transcription's ``.srt``, ``.vtt``, ``.txt`` and ``.json``; highlights' ``.json``).

    :param job_id: The Pictory job id (templated).
    :param pictory_conn_id: The Airflow connection id (templated).
    :param deferrable: Wait in the triggerer (default: see :func:`default_deferrable`).
    :param poke_interval: Seconds between polls, in the triggerer too.
    :param timeout: Seconds to wait before giving up (default one hour).
    :param hook_params: Extra keyword arguments for ``PictoryHook`` (JSON primitives).
    :param output_path: Where to store the job's file, if it has one (templated).
    """

    kind = ANY_JOB
