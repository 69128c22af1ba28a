"""The trigger event schema and the task result (XCom) contract, defined once.

``PictoryJobTrigger`` builds events with :func:`make_event`; the sensor and the operator hand them to
:func:`complete_from_event`, which validates them and pushes the same XCom as the non-deferrable path.
One schema and one completion path for every job kind: what differs (result fields, XCom keys, file
type) comes from :mod:`pictory_provider.kinds`. Light on imports: the task-facing modules import this
at DAG-parse time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pictory_provider import lineage
from pictory_provider.credits import failed_job_error
from pictory_provider.exceptions import PictoryError, PictoryEventError, PictoryWaitError
from pictory_provider.kinds import IMAGE, JobKind

if TYPE_CHECKING:
    from pictory_provider.api import PictoryJob

__all__ = [
    "ERROR",
    "EVENT_KEYS",
    "EVENT_STATUSES",
    "FAILED",
    "SUCCESS",
    "TIMEOUT",
    "XCOM_AI_CREDITS",
    "XCOM_HEIGHT",
    "XCOM_IMAGE_PATH",
    "XCOM_IMAGE_URL",
    "XCOM_JOB_ID",
    "XCOM_VIDEO_NAME",
    "XCOM_WIDTH",
    "complete",
    "complete_from_event",
    "job_result",
    "make_event",
    "push_result",
    "validate_event",
]

log = logging.getLogger(__name__)

SUCCESS, FAILED, ERROR, TIMEOUT = "success", "failed", "error", "timeout"
#: ``error_code`` of an ``error`` event whose cause another try would meet again (the exception's
#: class name, set by the trigger): the task then fails without retrying (:class:`PictoryWaitError`).
DETERMINISTIC_ERRORS = frozenset(
    {"PictoryAuthError", "PictoryNotFoundError", "PictoryConfigError", "PictoryValidationError"}
)
EVENT_STATUSES = (SUCCESS, FAILED, ERROR, TIMEOUT)
#: Every event carries exactly these keys (JSON primitives only). ``duration``, ``thumbnail_url`` and
#: ``last_frame_image_url`` are video results, ``share_url``, ``audio_url`` and the subtitle URLs render
#: results, ``preview_url`` and ``project_id`` preview results (``None`` where a job has none);
#: ``job_kind`` is the kind the job's shape shows.
EVENT_KEYS = (
    "status",
    "job_id",
    "url",
    "width",
    "height",
    "ai_credits_used",
    "error_code",
    "error_message",
    "message",
    "duration",
    "thumbnail_url",
    "last_frame_image_url",
    "share_url",
    "srt_url",
    "vtt_url",
    "txt_url",
    "job_kind",
    "audio_url",
    "preview_url",
    "project_id",
)
#: Named XCom keys pushed on success, beside the ``return_value`` dict.
XCOM_IMAGE_URL, XCOM_AI_CREDITS, XCOM_WIDTH, XCOM_HEIGHT = "image_url", "ai_credits_used", "width", "height"
XCOM_JOB_ID, XCOM_IMAGE_PATH = "job_id", "image_path"
#: The name of the output the request asked for (a storyboard's ``videoName``), beside the job id.
XCOM_VIDEO_NAME = "video_name"


def make_event(
    status: str,
    job_id: str,
    message: str,
    job: PictoryJob | None = None,
    error: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Build a trigger event payload; result fields come from ``job``, ``error`` is (code, message)."""
    if status not in EVENT_STATUSES:
        raise ValueError(f"unknown event status {status!r}")
    return {
        "status": status,
        "job_id": job_id,
        "url": job.url if job else None,
        "width": job.width if job else None,
        "height": job.height if job else None,
        "ai_credits_used": job.ai_credits_used if job else None,
        "error_code": error[0] if error else None,
        "error_message": error[1] if error else None,
        "message": message,
        "duration": job.duration if job else None,
        "thumbnail_url": job.thumbnail_url if job else None,
        "last_frame_image_url": job.last_frame_image_url if job else None,
        "share_url": job.share_url if job else None,
        "srt_url": job.srt_url if job else None,
        "vtt_url": job.vtt_url if job else None,
        "txt_url": job.txt_url if job else None,
        "job_kind": job.job_kind if job else None,
        "audio_url": job.audio_url if job else None,
        "preview_url": job.preview_url if job else None,
        "project_id": job.project_id if job else None,
    }


def validate_event(event: object, kind: JobKind = IMAGE) -> dict[str, Any]:
    """Return the event if it follows the schema, else raise :class:`PictoryEventError`."""
    if event is None:
        raise PictoryEventError("No trigger event was received from PictoryJobTrigger (event is None)")
    if not isinstance(event, dict):
        raise PictoryEventError(f"The trigger event must be a dict, got {type(event).__name__}")
    status = event.get("status")
    if status not in EVENT_STATUSES:
        raise PictoryEventError(
            f"The trigger event has an unknown status {status!r}; expected one of {', '.join(EVENT_STATUSES)}"
        )
    if not isinstance(event.get("job_id"), str):
        raise PictoryEventError("The trigger event has no job_id")
    if status == SUCCESS and kind.requires_url and not isinstance(event.get("url"), str):
        raise PictoryEventError(f"The success event for job {event['job_id']} carries no {kind.name} url")
    return event


def job_result(job_id: str, url: str | None, width: Any, height: Any, ai_credits_used: Any) -> dict[str, Any]:
    """The image task's return value on success (kept for custom operators; see :meth:`JobKind.result`)."""
    return IMAGE.result(job_id, {"url": url, "width": width, "height": height, "ai_credits_used": ai_credits_used})


def push_result(context: Any, result: dict[str, Any], kind: JobKind = IMAGE) -> None:
    """Push the kind's named XCom keys (images: ``image_url``, ``ai_credits_used``, ``width``, ``height``).

    A field the job does not have (``None``) is not pushed: ``xcom_pull`` gives ``None`` for it either way,
    and Airflow 3.0's execution API refuses a ``None`` XCom value (HTTP 422, the task fails)."""
    ti = context["ti"]
    for field, key in kind.xcom_keys.items():
        if (value := result.get(field)) is not None:
            ti.xcom_push(key=key, value=value)


def complete(
    context: Any,
    result: dict[str, Any],
    output_path: str | None = None,
    kind: JobKind = IMAGE,
    *,
    job: PictoryJob | None = None,
    read_job: Callable[[str], PictoryJob] | None = None,
    known: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Finish a successful wait: push the named XComs and, with ``output_path``, store the output file.

    The one completion path of the sensors (deferred and poke) and the operators, for every kind. With
    ``output_path`` the stored location is pushed as XCom ``image_path`` (``video_path``) and added to
    the returned dict. A kind whose outputs are texts in the job (a transcription, highlights:
    :attr:`JobKind.job_outputs`) takes them from ``job``, else reads the job with ``read_job`` (the
    trigger's event carries no texts), and stores them as files (:attr:`JobKind.text_files`, all or
    none). ``known``: result fields the caller knows and the job does not say (a transcription's
    ``media_url``, the file it was asked to transcribe).
    """
    named = kind.named_kind(result)  # the any-job sensor: the kind the job's shape shows
    if known:
        result = result | {name: value for name, value in known.items() if result.get(name) is None}
    if named.job_outputs is not None:
        if job is None:
            if read_job is None:
                raise PictoryEventError(f"The {named.name} of job {result['job_id']} needs the job read to complete")
            job = read_job(result["job_id"])
        result = result | named.job_outputs(job)
    push_result(context, result, named)
    if output_path and named.text_files and job is not None:
        result = result | _store_texts(context, result["job_id"], job, output_path, named)
    elif output_path and result.get("url"):
        from pictory_provider.storage import check_output_paths, store_file, with_extension

        if named.extra_files:  # a sensor's output_path is first seen here: never the subtitles' own name
            check_output_paths(output_path, named.extension, tuple(ext for _, ext, _ in named.extra_files))
        stored = store_file(result["url"], output_path, job_id=result["job_id"], kind=named.extension)
        result = result | {named.path_key: stored}
        context["ti"].xcom_push(key=named.path_key, value=stored)
        for field, extension, path_key in named.extra_files:  # a render's subtitles, beside its MP4
            url = result.get(field)
            extra = None
            if url:
                target = with_extension(output_path, extension)
                extra = store_file(url, target, job_id=result["job_id"], kind=extension)
            result = result | {path_key: extra}
            context["ti"].xcom_push(key=path_key, value=extra)
    lineage.record_outputs(context, result)  # the outlets' asset event extra and hook-level lineage
    return result


def _store_texts(context: Any, job_id: str, job: PictoryJob, output_path: str, kind: JobKind) -> dict[str, Any]:
    """Store every text file of ``kind`` from ``job`` (all or none: a missing text stores nothing) and
    push their paths."""
    from pictory_provider.exceptions import PictoryAPIError
    from pictory_provider.storage import check_text_paths, store_texts

    check_text_paths(output_path, tuple(extension for extension, _, _ in kind.text_files))  # a sensor's: first seen
    texts = [(extension, key, render(job)) for extension, key, render in kind.text_files]
    missing = [f".{extension}" for extension, _, text in texts if text is None]
    if missing:
        raise PictoryAPIError(
            f"Pictory's completed {kind.name} job {job_id} carries no {', '.join(missing)} text; nothing was stored "
            "(a retry reads the job again)"
        )
    paths = store_texts([(extension, str(text)) for extension, _, text in texts], output_path, job_id=job_id)
    stored = {key: path for (_, key, _), path in zip(texts, paths, strict=True)}
    for key, path in stored.items():
        context["ti"].xcom_push(key=key, value=path)
    return stored


def complete_from_event(
    context: Any,
    event: object,
    timeout_error: type[BaseException],
    output_path: str | None = None,
    kind: JobKind = IMAGE,
    *,
    read_job: Callable[[str], PictoryJob] | None = None,
    known: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate a trigger event; on success :func:`complete` it, otherwise raise the matching error.

    ``timeout_error`` is raised for a ``timeout`` event (the sensor passes ``AirflowSensorTimeout`` so
    ``soft_fail`` applies). ``read_job`` and ``known``: see :func:`complete`.
    """
    checked = validate_event(event, kind)
    status, job_id, message = checked["status"], checked["job_id"], checked.get("message") or ""
    log.info("Resumed by PictoryJobTrigger: %s event for Pictory job %s (%s)", status, job_id, message)
    if status == FAILED:
        raise failed_job_error(job_id, checked.get("error_code"), checked.get("error_message"))
    if status == TIMEOUT:
        raise timeout_error(f"Pictory job {job_id} did not finish in time: {message}")
    if status == ERROR:
        error = PictoryWaitError if checked.get("error_code") in DETERMINISTIC_ERRORS else PictoryError
        raise error(f"Waiting for Pictory job {job_id} failed: {message}")
    return complete(context, kind.result(job_id, checked), output_path, kind, read_job=read_job, known=known)
