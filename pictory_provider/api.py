"""The Pictory AI Studio API contract: paths, allowed values, request checks and the one job parser.

Pure Python (no Airflow, no HTTP library), shared by the hook, the trigger, the sensor, the operator
and the emulator, so every part agrees on what Pictory accepts and returns.
"""

from __future__ import annotations

import enum
import json
import math
import uuid
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from pictory_provider.exceptions import PictoryAPIError, PictoryValidationError

DEFAULT_BASE_URL = "https://api.pictory.ai"
IMAGES_PATH = "/pictoryapis/v1/aistudio/images"
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


class JobStatus(str, enum.Enum):
    """Documented states of a Pictory job; ``UNKNOWN`` stands for anything else Pictory sends."""

    IN_PROGRESS = "in-progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CLEANED = "cleaned"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> JobStatus:
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CLEANED)


@dataclass(frozen=True)
class PictoryJob:
    """One reading of ``GET /pictoryapis/v1/jobs/{id}`` for an image job."""

    job_id: str
    status: JobStatus
    raw_status: str
    url: str | None = None
    width: int | None = None
    height: int | None = None
    ai_credits_used: float | None = None
    error_code: str | None = None
    error_message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data


def job_failure(job: PictoryJob) -> tuple[str, str] | None:
    """Return ``(error_code, error_message)`` if the job failed or its outputs were cleaned, else None."""
    if job.status is JobStatus.FAILED:
        return job.error_code or "UNKNOWN_ERROR", job.error_message or "no error message given"
    if job.status is JobStatus.CLEANED:
        return "JOB_CLEANED", "the job's outputs were deleted (cleaned) before they were collected"
    return None


def check_wait_settings(poll_interval: float, timeout: float) -> None:
    """Validate a wait's ``poll_interval`` and ``timeout`` (seconds)."""
    if not timeout > 0:
        raise PictoryValidationError(f"timeout must be greater than 0 seconds (got {timeout!r})")
    if not 0 < poll_interval <= timeout:
        raise PictoryValidationError(
            f"poll_interval must be greater than 0 and at most the timeout ({timeout:g} s) (got {poll_interval!r})"
        )


def _field_error(name: str, errors: str) -> dict[str, str]:
    return {"name": name, "errors": errors}


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def image_request_errors(body: dict[str, Any]) -> list[dict[str, str]]:
    """Return Pictory-style ``fields`` errors for a camelCase Generate Image body (empty if valid)."""
    errors: list[dict[str, str]] = []
    prompt = body.get("prompt")
    if not isinstance(prompt, str):
        errors.append(_field_error("prompt", "prompt is required and must be a string"))
    elif not PROMPT_MIN_LENGTH <= len(prompt) <= PROMPT_MAX_LENGTH:
        errors.append(
            _field_error(
                "prompt",
                f"prompt must be {PROMPT_MIN_LENGTH} to {PROMPT_MAX_LENGTH} characters long (got {len(prompt)})",
            )
        )
    choices = (("model", MODELS), ("aspectRatio", ASPECT_RATIOS), ("style", STYLES))
    for name, allowed in choices:
        value = body.get(name)
        if value is not None and value not in allowed:
            errors.append(_field_error(name, f"{name} must be one of {', '.join(allowed)} (got {value!r})"))
    for name in ("referenceImageUrl", "webhook"):
        value = body.get(name)
        if value is not None and not _is_http_url(value):
            errors.append(_field_error(name, f"{name} must be an absolute http(s) URL (got {value!r})"))
    return errors


def build_image_request(
    prompt: str,
    *,
    model: str | None = None,
    aspect_ratio: str | None = None,
    style: str | None = None,
    reference_image_url: str | None = None,
    webhook: str | None = None,
) -> dict[str, Any]:
    """Build the documented camelCase body, or raise :class:`PictoryValidationError` naming the field."""
    body: dict[str, Any] = {"prompt": prompt}
    optional = {
        "model": model,
        "aspectRatio": aspect_ratio,
        "style": style,
        "referenceImageUrl": reference_image_url,
        "webhook": webhook,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    errors = image_request_errors(body)
    if errors:
        raise PictoryValidationError("Invalid Pictory image request: " + "; ".join(e["errors"] for e in errors), errors)
    return body


def validate_job_id(job_id: object) -> str:
    """Return ``job_id`` if it is a UUID string, else raise :class:`PictoryValidationError`."""
    try:
        uuid.UUID(str(job_id))
    except ValueError:
        pass
    else:
        if isinstance(job_id, str):
            return job_id
    raise PictoryValidationError(
        f"job_id must be a Pictory job UUID such as '4d82d040-4394-4371-867d-72ae1dd62b6d' (got {job_id!r})",
        [_field_error("job_id", "must be a UUID")],
    )


def parse_created_job(body: object) -> str:
    """Return ``data.jobId`` from a Generate Image response."""
    data = body.get("data") if isinstance(body, dict) else None
    job_id = data.get("jobId") if isinstance(data, dict) else None
    if not isinstance(job_id, str) or not job_id:
        raise PictoryAPIError("Pictory accepted the image request but returned no data.jobId")
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


def parse_job(body: object, job_id: str) -> PictoryJob:
    """Parse a ``GET /jobs/{id}`` body. The single parser used by the sync and the async paths.

    One rule for malformed answers, on every path: anything that cannot be trusted raises
    :class:`PictoryAPIError` naming the field and what was wrong. The answer must be about ``job_id``
    (the job that was asked for; a different top-level ``job_id`` is an error, and the returned job
    always carries the requested id). A ``completed`` job must carry an http(s) ``data.url``; numbers
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
    url = data.get("url")
    if url is not None and not isinstance(url, str):
        raise _malformed(job_id, f"data.url is {_shown(url)} (expected a URL string)")
    if status is JobStatus.COMPLETED and not _is_http_url(url):
        problem = "has no data.url" if url in (None, "") else f"has data.url {_shown(url)}, not an http(s) URL"
        raise _malformed(job_id, f"the job is completed but {problem}")
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
    )
