"""The Pictory AI Studio API contract: paths, allowed values, request checks and the one job parser.

Pure Python (no Airflow, no HTTP library), shared by the hook, the trigger, the sensor, the operator
and the emulator, so every part agrees on what Pictory accepts and returns.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from pictory_provider.exceptions import PictoryAPIError, PictoryValidationError

__all__ = [
    "ASPECT_RATIOS",
    "ASPECT_RATIO_SIZES",
    "DEFAULT_ASPECT_RATIO",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "IMAGES_PATH",
    "JOBS_PATH",
    "MODELS",
    "MODEL_CREDITS",
    "PROMPT_MAX_LENGTH",
    "PROMPT_MIN_LENGTH",
    "STYLES",
    "JobStatus",
    "PictoryJob",
    "build_image_request",
    "check_wait_settings",
    "image_request_errors",
    "job_failure",
    "parse_created_job",
    "parse_job",
    "validate_job_id",
]

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


def _optional_int(value: object) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _optional_number(value: object) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def parse_job(body: object, job_id: str) -> PictoryJob:
    """Parse a ``GET /jobs/{id}`` body. The single parser used by the sync and the async paths."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise PictoryAPIError(f"Pictory returned a job response without a 'data' object for job {job_id}")
    data = body["data"]
    raw_status = str(data.get("status", ""))
    return PictoryJob(
        job_id=str(body.get("job_id") or job_id),
        status=JobStatus.parse(raw_status),
        raw_status=raw_status,
        url=_optional_str(data.get("url")),
        width=_optional_int(data.get("width")),
        height=_optional_int(data.get("height")),
        ai_credits_used=_optional_number(data.get("aiCreditsUsed")),
        error_code=_optional_str(data.get("error_code")),
        error_message=_optional_str(data.get("error_message")),
    )
