"""The Pictory AI Studio API contract: paths, allowed values, request checks and the one job parser.

Pure Python (no Airflow, no HTTP library), shared by the hook, the trigger, the sensor, the operator
and the emulator, so every part agrees on what Pictory accepts and returns.
"""

from __future__ import annotations

import enum
import json
import math
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pictory_provider import job_shapes, transcription
from pictory_provider.exceptions import PictoryAPIError, PictoryValidationError

__all__ = [
    "ASPECT_RATIOS",
    "ASPECT_RATIO_SIZES",
    "DEFAULT_ASPECT_RATIO",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "IMAGES_PATH",
    "JOBS_PATH",
    "JOB_DATA_KEYS",
    "MODELS",
    "MODEL_CREDITS",
    "PROMPT_MAX_LENGTH",
    "PROMPT_MIN_LENGTH",
    "STYLES",
    "JobStatus",
    "PictoryJob",
    "job_failure",
    "parse_created_job",
    "parse_duration",
    "parse_job",
    "validate_job_id",
    "video_credits",
    "without_query",
]

DEFAULT_BASE_URL = "https://api.pictory.ai"
IMAGES_PATH = "/pictoryapis/v1/aistudio/images"
VIDEOS_PATH = "/pictoryapis/v1/aistudio/videos"
JOBS_PATH = "/pictoryapis/v1/jobs"

PROMPT_MIN_LENGTH = 5
PROMPT_MAX_LENGTH = 5000
#: AI credits charged per image, by model (docs.pictory.ai, Generate Image).
MODEL_CREDITS: dict[str, float] = {
    "seedream3.0": 2,
    "flux-schnell": 0.6,
    "nanobanana": 4,
    "nanobanana-pro": 14,
}
MODELS = tuple(MODEL_CREDITS)
DEFAULT_MODEL = "seedream3.0"
#: Output size per aspect ratio (the emulator's choice; Pictory does not document exact sizes).
ASPECT_RATIO_SIZES: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "16:9": (1280, 720),
    "9:16": (720, 1280),
}
ASPECT_RATIOS = tuple(ASPECT_RATIO_SIZES)
DEFAULT_ASPECT_RATIO = "1:1"
STYLES = ("photorealistic", "artistic", "cartoon", "minimalist", "vintage", "futuristic")

#: AI credits charged per generated second of video, by model (docs.pictory.ai, Generate Video).
VIDEO_MODEL_CREDITS_PER_SECOND: dict[str, float] = {"veo3.1": 20, "veo3.1_fast": 10, "pixverse5.5": 1.6}
VIDEO_MODELS = tuple(VIDEO_MODEL_CREDITS_PER_SECOND)
DEFAULT_VIDEO_MODEL = "pixverse5.5"
_VEO_RATIOS, _VEO_DURATIONS = ("16:9", "9:16"), ("4s", "6s", "8s")
#: Aspect ratios per video model; the first one is Pictory's default for that model.
VIDEO_ASPECT_RATIOS: dict[str, tuple[str, ...]] = {
    "veo3.1": _VEO_RATIOS,
    "veo3.1_fast": _VEO_RATIOS,
    "pixverse5.5": ("16:9", "9:16", "1:1", "3:4", "4:3"),
}
#: Durations per video model; the first one is Pictory's default for that model.
VIDEO_DURATIONS: dict[str, tuple[str, ...]] = {
    "veo3.1": _VEO_DURATIONS,
    "veo3.1_fast": _VEO_DURATIONS,
    "pixverse5.5": ("5s", "8s", "10s"),
}
#: Video size per aspect ratio (the emulator's choice; Pictory documents pixverse 9:16 as 720x1280).
VIDEO_ASPECT_RATIO_SIZES: dict[str, tuple[int, int]] = {
    "16:9": (1280, 720),
    "9:16": (720, 1280),
    "1:1": (960, 960),
    "4:3": (960, 720),
    "3:4": (720, 960),
}
#: The video inputs of which at most one may be given.
VIDEO_SOURCE_FIELDS = ("firstFrameImageUrl", "extendVideoUrl", "referenceImageUrls")
MAX_REFERENCE_IMAGES = 3


class JobStatus(enum.StrEnum):
    """Documented states of a Pictory job; ``UNKNOWN`` stands for anything else Pictory sends."""

    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CLEANED = "cleaned"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> JobStatus:
        try:
            return cls(value) if isinstance(value, str) else cls.UNKNOWN
        except ValueError:
            return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CLEANED)


@dataclass(frozen=True)
class PictoryJob:
    """One reading of ``GET /pictoryapis/v1/jobs/{id}``, for a job of any kind (image or video).

    Video jobs also carry ``duration`` (seconds, ``"8s"`` -> ``8``), ``thumbnail_url``,
    ``preview_image_url`` and ``last_frame_image_url``; they are ``None`` for images. Storyboard
    render jobs carry ``url`` (Pictory's ``videoURL``), ``share_url``, ``thumbnail_url``, the subtitle
    files ``srt_url``/``vtt_url``/``txt_url`` and ``duration`` (``videoDuration``); while rendering,
    ``render_progress`` (0-100) and ``render_message``; a render's ``audio_url`` (``audioURL``). A
    completed preview carries ``preview_url`` (an embeddable player page), ``render_params`` (to render
    with modifications), the processed ``storyboard`` and, with ``saveProject``, ``project_id``. A
    completed transcription carries ``transcript`` (sentences of timed words), the texts ``txt``, ``srt``
    and ``vtt``, ``media_info`` and ``duration`` (``mediaInfo.duration``); a highlights job carries
    ``highlights`` (segments ``{start, end, text}``) and ``summary`` (:mod:`pictory_provider.transcription`).
    ``job_kind`` is the kind the job's shape shows (``image``, ``video``, ``render``, ``preview``,
    ``transcription``, or Pictory's ``jobType``), ``None`` when it shows none (:mod:`pictory_provider.job_shapes`).
    Fields a job does not have are ``None``: any job parses.
    """

    job_id: str
    status: JobStatus
    raw_status: str
    url: str | None = None
    width: int | None = None
    height: int | None = None
    ai_credits_used: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    duration: float | None = None
    thumbnail_url: str | None = None
    preview_image_url: str | None = None
    last_frame_image_url: str | None = None
    share_url: str | None = None
    srt_url: str | None = None
    vtt_url: str | None = None
    txt_url: str | None = None
    render_progress: float | None = None
    render_message: str | None = None
    job_kind: str | None = None
    audio_url: str | None = None
    preview_url: str | None = None
    project_id: str | None = None
    render_params: dict[str, Any] | None = field(default=None, repr=False)
    storyboard: dict[str, Any] | None = field(default=None, repr=False)
    transcript: list[Any] | None = field(default=None, repr=False)
    txt: str | None = field(default=None, repr=False)
    srt: str | None = field(default=None, repr=False)
    vtt: str | None = field(default=None, repr=False)
    media_info: dict[str, Any] | None = None
    highlights: list[dict[str, Any]] | None = field(default=None, repr=False)
    summary: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


#: The key in a job's ``data`` of each :class:`PictoryJob` result attribute (what :func:`parse_job` reads).
JOB_DATA_KEYS: dict[str, str] = {
    "url": "url",
    "width": "width",
    "height": "height",
    "ai_credits_used": "aiCreditsUsed",
    "duration": "duration",
    "thumbnail_url": "thumbnailImageUrl",
    "preview_image_url": "previewImageUrl",
    "last_frame_image_url": "lastFrameImageUrl",
}


def job_failure(job: PictoryJob) -> tuple[str, str] | None:
    """Return ``(error_code, error_message)`` if the job failed or its outputs were cleaned, else None."""
    if job.status is JobStatus.FAILED:
        return job.error_code or "UNKNOWN_ERROR", job.error_message or "no error message given"
    if job.status is JobStatus.CLEANED:
        return "JOB_CLEANED", "the job's outputs were deleted (cleaned) before they were collected"
    return None


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def video_credits(model: str, duration: str) -> float:
    """AI credits Pictory charges for a video of ``duration`` (e.g. ``"8s"``) made with ``model``."""
    return round(VIDEO_MODEL_CREDITS_PER_SECOND[model] * (parse_duration(duration) or 0), 2)


def parse_duration(value: object) -> float | None:
    """Seconds as a number from Pictory's ``"8s"`` (or a plain number); ``None`` if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip().lower().removesuffix("s").strip()
        try:
            value = float(text)
        except ValueError:
            return None
    if not isinstance(value, (int, float)) or value != value or value < 0:
        return None
    return int(value) if float(value).is_integer() else float(value)


#: A URL of any scheme (``https://``, ``ftp://``, ``s3://``: a redirect may name any) or a relative one after
#: ``url:``, up to its query.
_URL_QUERY = re.compile(r"((?:\b[A-Za-z][A-Za-z0-9+.-]*://|url: /)[^\s?#'\"<>]*)\?[^\s#'\"<>)]*")


def without_query(text: str) -> str:
    """``text`` with the query of every URL in it replaced by ``?...``: a signed URL's token must not
    outlive the file in task logs and error messages (XCom and asset events keep the full URL)."""
    return _URL_QUERY.sub(r"\1?...", text)


def validate_job_id(job_id: object) -> str:
    """Return ``job_id`` if it is a UUID string, else raise :class:`PictoryValidationError`."""
    try:
        uuid.UUID(str(job_id))
    except ValueError:
        pass
    else:
        if isinstance(job_id, str):
            return job_id
    hint = ""
    text = "" if job_id is None else str(job_id).strip()
    inside = _UUID_INSIDE.search(text)
    if text in ("", "None", "null", "[]"):
        hint = (
            ": an empty or 'None' job_id usually means the template's xcom_pull found nothing; check its "
            "task_ids and key='job_id', and that the submitting task runs upstream"
        )
    elif inside:
        hint = f": it contains the job id {inside.group(0)}; pull only that, e.g. xcom_pull(..., key='job_id')"
    raise PictoryValidationError(
        f"job_id must be a Pictory job UUID such as '4d82d040-4394-4371-867d-72ae1dd62b6d' (got {job_id!r}){hint}",
        [{"name": "job_id", "errors": "must be a UUID"}],
    )


_UUID_INSIDE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def parse_created_job(body: object, what: str = "image") -> str:
    """Return ``data.jobId`` from a Generate Image (or Generate Video) response."""
    data = body.get("data") if isinstance(body, dict) else None
    job_id = data.get("jobId") if isinstance(data, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise PictoryAPIError(f"Pictory accepted the {what} request but returned no data.jobId")
    return job_id


def _malformed(job_id: str, what: str) -> PictoryAPIError:
    return PictoryAPIError(f"Pictory sent a malformed response for job {job_id}: {what}")


def _number(data: dict[str, Any], name: str, job_id: str, *, integer: bool) -> Any:
    """``data[name]`` as a finite number (a whole number >= 0 if ``integer``); None if absent or null."""
    value = data.get(name)
    if value is None:
        return None
    valid = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if valid and integer:
        valid = value >= 0 and float(value).is_integer()
    if not valid:
        expected = "a whole number >= 0" if integer else "a finite number"
        raise _malformed(job_id, f"data.{name} is {_shown(value)} (expected {expected})")
    return int(value) if integer else value


def _shown(value: object) -> str:
    text = json.dumps(value) if isinstance(value, (int, float, str, bool)) else type(value).__name__
    return text if len(text) <= 80 else text[:77] + "..."


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def parse_job(body: object, job_id: str, *, require_url: bool = True) -> PictoryJob:
    """Parse a ``GET /jobs/{id}`` body. The single parser used by the sync and the async paths.

    One rule for malformed answers, on every path: anything that cannot be trusted raises
    :class:`PictoryAPIError` naming the field and what was wrong. The answer must be about ``job_id``
    (the job that was asked for; a different top-level ``job_id`` is an error, and the returned job
    always carries the requested id). A result URL (``url``, render jobs' ``videoURL``) must be an
    http(s) URL when present; a ``completed`` job must carry one unless its shape shows a kind without
    one (a preview, a transcription: :data:`~pictory_provider.job_shapes.URL_LESS_KINDS`) or
    ``require_url=False`` (any job of unknown kind: then it parses with ``url=None``). Numbers
    must be finite (``width``/``height`` whole numbers >= 0). ``success: false`` without a known
    status means the job failed.
    """
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise PictoryAPIError(f"Pictory returned a job response without a 'data' object for job {job_id}")
    data = body["data"]
    answered_for = body.get("job_id")
    if answered_for is not None and answered_for != job_id:
        raise _malformed(job_id, f"it is about job {_shown(answered_for)}, not the job that was asked for")
    raw_status = "" if data.get("status") is None else str(data["status"])
    status = JobStatus.parse(raw_status)
    error_code, error_message = _optional_str(data.get("error_code")), _optional_str(data.get("error_message"))
    if body.get("success") is False and status is JobStatus.UNKNOWN:
        status = JobStatus.FAILED
        error_code = error_code or "UNKNOWN_ERROR"
        shown = f"status {raw_status!r}" if raw_status else "no job status"
        error_message = error_message or f"Pictory answered success: false with {shown}"
    url_field = "videoURL" if data.get("url") is None and data.get("videoURL") is not None else "url"
    url = data.get(url_field)
    if url is not None and not isinstance(url, str):
        raise _malformed(job_id, f"data.{url_field} is {_shown(url)} (expected a URL string)")
    kind = job_shapes.job_kind(data, url_field)
    require_url = require_url and kind not in job_shapes.URL_LESS_KINDS
    if status is JobStatus.COMPLETED and (require_url or url not in (None, "")) and not _is_http_url(url):
        problem = f"has no data.{url_field}" if url in (None, "") else f"has data.{url_field} {_shown(url)}"
        raise _malformed(job_id, f"the job is completed but {problem}" + (", not an http(s) URL" if url else ""))
    duration = data.get("duration") if data.get("duration") is not None else data.get("videoDuration")
    media_info = data.get("mediaInfo")
    if duration is None and isinstance(media_info, dict):
        duration = media_info.get("duration")
    if kind == "transcription" and status is JobStatus.COMPLETED and data.get("transcript") is None:
        # "Verify both the in-progress status and the presence of transcript data to determine completion"
        # (api-reference/jobs/get-transcription-job-by-id): its outputs are arriving, the wait goes on
        status, raw_status = JobStatus.IN_PROGRESS, "completed (transcript data not there yet)"
    return PictoryJob(
        job_id=job_id,
        status=status,
        raw_status=raw_status,
        url=url or None,
        width=_number(data, "width", job_id, integer=True),
        height=_number(data, "height", job_id, integer=True),
        ai_credits_used=_number(data, "aiCreditsUsed", job_id, integer=False),
        error_code=error_code,
        error_message=error_message,
        duration=parse_duration(duration),
        thumbnail_url=_optional_str(data.get("thumbnailImageUrl") or data.get("thumbnail")),
        preview_image_url=_optional_str(data.get("previewImageUrl")),
        last_frame_image_url=_optional_str(data.get("lastFrameImageUrl")),
        srt_url=_optional_str(data.get("srtFile")),
        vtt_url=_optional_str(data.get("vttFile")),
        txt_url=_optional_str(data.get("txtFile")),
        render_progress=job_shapes.progress(data.get("renderProgress")),
        render_message=_optional_str(data.get("renderProgressMessage")),
        job_kind=kind,
        **job_shapes.storyboard_outputs(data),
        **transcription.job_outputs(data),
    )
