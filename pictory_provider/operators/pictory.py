"""Prompt in, result out: PictoryGenerateImageOperator (image) and PictoryGenerateVideoOperator (video).

Both are one operator, :class:`PictoryGenerateOperatorBase`, parametrized by a
:class:`~pictory_provider.kinds.JobKind`; the subclasses only declare their request arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pictory_provider.kinds import IMAGE, VIDEO
from pictory_provider.links import PictoryXComLink
from pictory_provider.operators.base import PictoryGenerateOperatorBase
from pictory_provider.sensors.pictory import DEFAULT_CONN_ID, DEFAULT_TIMEOUT
from pictory_provider.submission import DEFAULT_RECONCILE_TIMEOUT

__all__ = [
    "PictoryGenerateImageOperator",
    "PictoryGenerateOperatorBase",
    "PictoryGenerateVideoOperator",
    "PictoryImageLink",
    "PictoryVideoLink",
]


class PictoryImageLink(PictoryXComLink):
    """Operator extra link "Pictory Image": the generated image's URL (XCom ``image_url``)."""

    name = IMAGE.link_name
    url_xcom_key = IMAGE.url_key


class PictoryVideoLink(PictoryXComLink):
    """Operator extra link "Pictory Video": the generated video's URL (XCom ``video_url``)."""

    name = VIDEO.link_name
    url_xcom_key = VIDEO.url_key


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
