"""The emulator's jobs: image and video jobs it creates, other jobs an account holds, list page keys."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pictory_provider import api
from pictory_provider.api import JobStatus

DEFAULT_FAIL_CODE = "IMAGE_GENERATION_FAILED"
DEFAULT_FAIL_MESSAGE = "The image could not be generated"
FILES_PREFIX = "/files/"


@dataclass
class Job:
    """An image job as the emulator stores it (:class:`VideoJob` for videos)."""

    kind = "image"
    fail_code, fail_message = DEFAULT_FAIL_CODE, DEFAULT_FAIL_MESSAGE

    id: str
    seq: int
    prompt: str
    model: str
    aspect_ratio: str
    style: str | None
    reference_image_url: str | None
    webhook: str | None
    origin: str
    created_at: float
    completes_at: float
    error_code: str | None = None
    error_message: str | None = None
    cleaned: bool = False

    @property
    def size(self) -> tuple[int, int]:
        return api.ASPECT_RATIO_SIZES[self.aspect_ratio]

    @property
    def credits(self) -> float:
        return api.MODEL_CREDITS[self.model]

    def completed_data(self) -> dict[str, Any]:
        """The result fields of a completed job's ``data``."""
        width, height = self.size
        return {"url": f"{self.origin}{FILES_PREFIX}{self.id}.png", "width": width, "height": height}

    @property
    def outcome(self) -> JobStatus:
        return JobStatus.FAILED if self.error_code is not None else JobStatus.COMPLETED

    def status(self, now: float) -> JobStatus:
        if self.cleaned:
            return JobStatus.CLEANED
        return JobStatus.IN_PROGRESS if now < self.completes_at else self.outcome

    def payload(self, status: JobStatus) -> dict[str, Any]:
        """The ``GET /jobs/{id}`` body for this job in ``status``."""
        data: dict[str, Any] = {"status": status.value}
        if status is JobStatus.COMPLETED:
            data.update(self.completed_data(), aiCreditsUsed=self.credits)
        elif status is JobStatus.FAILED:
            data.update(error_code=self.error_code, error_message=self.error_message)
        return {"job_id": self.id, "success": status is not JobStatus.FAILED, "data": data}

    def list_item(self) -> dict[str, Any]:
        width, height = self.size
        item: dict[str, Any] = {
            "url": f"{self.origin}{FILES_PREFIX}{self.id}.png",
            "id": self.id,
            "prompt": self.prompt,
            "aspectRatio": self.aspect_ratio,
            "createdDate": datetime.fromtimestamp(self.created_at, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "model": self.model,
            "width": width,
            "height": height,
        }
        if self.style is not None:
            item["style"] = self.style
        if self.reference_image_url is not None:
            item["referenceImageUrl"] = self.reference_image_url
        return item

    def record(self, now: float) -> dict[str, Any]:
        width, height = self.size
        return {
            "job_id": self.id,
            "status": self.status(now).value,
            "prompt": self.prompt,
            "model": self.model,
            "aspect_ratio": self.aspect_ratio,
            "style": self.style,
            "reference_image_url": self.reference_image_url,
            "webhook": self.webhook,
            "width": width,
            "height": height,
            "ai_credits_used": self.credits,
            "created_at": self.created_at,
            "completes_at": self.completes_at,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "cleaned": self.cleaned,
        }


@dataclass
class VideoJob(Job):
    """A video job: media under ``/files/<id>.mp4``, ``-thumbnail.jpg``, ``-preview.jpg``, ``-last-frame.png``."""

    kind = "video"
    fail_code, fail_message = "VIDEO_GENERATION_FAILED", "The video could not be generated"
    duration: str = ""
    first_frame_image_url: str | None = None
    extend_video_url: str | None = None
    reference_image_urls: list[str] | None = None

    @property
    def size(self) -> tuple[int, int]:
        return api.VIDEO_ASPECT_RATIO_SIZES[self.aspect_ratio]

    @property
    def seconds(self) -> int:
        return int(api.parse_duration(self.duration) or 1)

    @property
    def credits(self) -> float:
        return api.video_credits(self.model, self.duration)

    def completed_data(self) -> dict[str, Any]:
        width, height = self.size
        base = f"{self.origin}{FILES_PREFIX}{self.id}"
        return {
            "url": f"{base}.mp4",
            "duration": self.duration,
            "width": width,
            "height": height,
            "thumbnailImageUrl": f"{base}-thumbnail.jpg",
            "previewImageUrl": f"{base}-preview.jpg",
            "lastFrameImageUrl": f"{base}-last-frame.png",
        }

    def list_item(self) -> dict[str, Any]:
        item = super().list_item()
        data = self.completed_data()
        item.update({key: data[key] for key in ("url", "duration", "thumbnailImageUrl", "previewImageUrl")})
        item["lastFrameImageUrl"] = data["lastFrameImageUrl"]
        for key, value in (
            ("firstFrameImageUrl", self.first_frame_image_url),
            ("extendVideoUrl", self.extend_video_url),
            ("referenceImageUrls", self.reference_image_urls),
        ):
            if value is not None:
                item[key] = value
        return item

    def record(self, now: float) -> dict[str, Any]:
        return super().record(now) | {
            "kind": self.kind,
            "duration": self.duration,
            "first_frame_image_url": self.first_frame_image_url,
            "extend_video_url": self.extend_video_url,
            "reference_image_urls": self.reference_image_urls,
        }


def new_job(kind: str, body: dict[str, Any], **common: Any) -> Job:
    """A :class:`Job` or :class:`VideoJob` from a validated camelCase request body (Pictory's defaults applied)."""
    if kind == "video":
        model = body.get("model", api.DEFAULT_VIDEO_MODEL)
        return VideoJob(
            prompt=body["prompt"],
            model=model,
            aspect_ratio=body.get("aspectRatio", api.VIDEO_ASPECT_RATIOS[model][0]),
            duration=body.get("duration", api.VIDEO_DURATIONS[model][0]),
            style=None,
            reference_image_url=None,
            first_frame_image_url=body.get("firstFrameImageUrl"),
            extend_video_url=body.get("extendVideoUrl"),
            reference_image_urls=body.get("referenceImageUrls"),
            webhook=body.get("webhook"),
            **common,
        )
    return Job(
        prompt=body["prompt"],
        model=body.get("model", api.DEFAULT_MODEL),
        aspect_ratio=body.get("aspectRatio", api.DEFAULT_ASPECT_RATIO),
        style=body.get("style"),
        reference_image_url=body.get("referenceImageUrl"),
        webhook=body.get("webhook"),
        **common,
    )


@dataclass
class OtherJob:
    """A job of another type in the account (a transcription, a render): only listed and read."""

    id: str
    seq: int
    status: str
    data: dict[str, Any]

    def payload(self) -> dict[str, Any]:
        return {"job_id": self.id, "success": True, "data": {"status": self.status, **self.data}}


#: How ``GET /jobs`` pages: ``"key"`` continues after the last item of the previous page (stable
#: while jobs arrive); ``"offset"`` continues at a position, so jobs arriving between two page reads
#: shift the list and the reader sees an item twice (both are opaque base64 tokens to clients).
PAGINGS = ("key", "offset")


def encode_page_key(seq: int, prefix: str = "seq") -> str:
    return base64.urlsafe_b64encode(f"{prefix}:{seq}".encode()).decode()


def decode_page_key(key: str, prefix: str = "seq") -> int:
    """Return the number a ``nextPageKey`` carries; ``ValueError`` if it is not ours."""
    try:
        text = base64.urlsafe_b64decode(key.encode()).decode()
    except (binascii.Error, UnicodeError):
        raise ValueError("invalid nextPageKey") from None
    found, _, number = text.partition(":")
    if found != prefix or not number.isdigit():
        raise ValueError("invalid nextPageKey")
    return int(number)
