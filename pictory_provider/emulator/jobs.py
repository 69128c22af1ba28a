"""The emulator's jobs: image and video jobs it creates, other jobs an account holds, list page keys."""

from __future__ import annotations

import base64
import binascii
import time
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


#: Render size per storyboard aspect ratio (the emulator's choice).
RENDER_SIZES = {"16:9": (1280, 720), "9:16": (720, 1280), "1:1": (960, 960), "4:5": (864, 1080)}
#: Seconds of rendered video per scene (the emulator's choice), and the longest render it makes.
RENDER_SCENE_SECONDS, RENDER_MAX_SECONDS = 2, 12
#: Emulator's price of a render: AI credits per scene with an ``aiVisual`` background (Pictory's real
#: price depends on the AI visuals, voices and avatars; only the finished job reports it).
RENDER_AI_VISUAL_CREDITS = 2.0
_RENDER_STAGES = ((30, "Preparing scenes"), (60, "Generating voice-over"), (101, "Rendering video"))


def render_size(board: dict[str, Any]) -> tuple[int, int]:
    """A storyboard's video size: ``videoWidth`` x ``videoHeight``, else by its aspect ratio."""
    if isinstance(board.get("videoWidth"), int) and isinstance(board.get("videoHeight"), int):
        return min(board["videoWidth"], 1920), min(board["videoHeight"], 1920)
    return RENDER_SIZES.get(str(board.get("aspectRatio", "16:9")), RENDER_SIZES["16:9"])


def scene_text(scene: object) -> str:
    """What a scene says (its story, or a description of its other source) for subtitles."""
    if not isinstance(scene, dict):
        return ""
    if isinstance(scene.get("story"), str):
        return " ".join(scene["story"].split())
    copilot = scene.get("storyCoPilot")
    if isinstance(copilot, dict) and isinstance(copilot.get("prompt"), str):
        return str(copilot["prompt"])
    for name in ("blogUrl", "pptUrl", "audioUrl", "videoUrl"):
        if isinstance(scene.get(name), str):
            return f"Narration from {scene[name]}"
    return ""


def _timestamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    return (
        f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d}{separator}{millis % 1000:03d}"
    )


@dataclass
class RenderJob(VideoJob):
    """A storyboard render: its MP4 (as videos), ``.srt``, ``.vtt`` and ``.txt`` from the scenes' text."""

    kind = "render"
    fail_code, fail_message = "TEXT_TO_VIDEO_FAILED", "The video could not be rendered"
    storyboard: dict[str, Any] | None = None

    @property
    def scenes(self) -> list[Any]:
        scenes = (self.storyboard or {}).get("scenes")
        return scenes if isinstance(scenes, list) and scenes else [{}]

    @property
    def size(self) -> tuple[int, int]:
        return render_size(self.storyboard or {})

    @property
    def credits(self) -> float:
        ai = sum(
            1 for scene in self.scenes if isinstance(scene, dict) and (scene.get("background") or {}).get("aiVisual")
        )
        return ai * RENDER_AI_VISUAL_CREDITS

    def progress(self, now: float) -> tuple[int, str]:
        total = max(self.completes_at - self.created_at, 1e-6)
        percent = max(0, min(99, int(100 * (now - self.created_at) / total)))
        return percent, next(message for limit, message in _RENDER_STAGES if percent < limit)

    def payload(self, status: JobStatus) -> dict[str, Any]:
        body = super().payload(status)
        if status is JobStatus.IN_PROGRESS:
            percent, message = self.progress(time.time())
            body["data"].update(renderProgress=percent, renderProgressMessage=message, renderState="RUNNING")
        return body

    def completed_data(self) -> dict[str, Any]:
        """Pictory's skill (references/api-endpoints.md) and ``api-reference/projects/get-project-by-id``
        (``audioURL``; the render job page promises "video, audio, subtitles, and thumbnail")."""
        base = f"{self.origin}{FILES_PREFIX}{self.id}"
        return {
            "progress": 100,
            "videoURL": f"{base}.mp4",
            "audioURL": f"{base}.mp3",
            "videoShareURL": f"{self.origin}/share/{self.id}",
            "thumbnail": f"{base}-thumbnail.jpg",
            "srtFile": f"{base}.srt",
            "vttFile": f"{base}.vtt",
            "txtFile": f"{base}.txt",
            "videoDuration": float(self.seconds),
        }

    def subtitles(self, extension: str) -> str:
        """The scenes' text as ``srt``, ``vtt`` or ``txt``, one cue per scene over the video's length."""
        texts = [scene_text(scene) or "..." for scene in self.scenes]
        if extension == "txt":
            return "\n".join(texts) + "\n"
        step = self.seconds / len(texts)
        separator = "," if extension == "srt" else "."
        cues = []
        for index, text in enumerate(texts):
            timing = f"{_timestamp(index * step, separator)} --> {_timestamp((index + 1) * step, separator)}"
            cues.append(f"{index + 1}\n{timing}\n{text}\n" if extension == "srt" else f"{timing}\n{text}\n")
        return ("" if extension == "srt" else "WEBVTT\n\n") + "\n".join(cues)


@dataclass
class PreviewJob(Job):
    """A storyboard preview: completes without a video; its (stripped) storyboard can then be rendered."""

    kind = "preview"
    fail_code, fail_message = "TEXT_TO_VIDEO_FAILED", "The storyboard preview could not be created"
    storyboard: dict[str, Any] | None = None

    @property
    def credits(self) -> float:
        return 0.0

    def completed_data(self) -> dict[str, Any]:
        """``previewUrl``, ``renderParams``, ``storyboard`` and, with ``saveProject``, the project id
        (https://docs.pictory.ai/api-reference/jobs/get-storyboard-preview-job-by-id). The URL is the
        emulator's own player page (Pictory's: ``https://video.pictory.ai/v2/preview/<id>``); the shape of
        ``renderParams`` (``output``; ``elements`` with ``elementType``, ``startTime``, ``duration``) follows
        the page's and ``api-reference/videos/render-video``'s descriptions, its values are inferred."""
        board = self.storyboard or {}
        data: dict[str, Any] = {
            "previewUrl": f"{self.origin}{PREVIEW_PAGE_PREFIX}{self.id}",
            "renderParams": render_params(board),
            "storyboard": board,
        }
        if board.get("saveProject") is True:
            data["projectId"] = self.id.replace("-", "")  # inferred: Pictory's project ids are hex strings
        return data


#: The emulator's preview player pages (Pictory's: ``https://video.pictory.ai/v2/preview/<id>``).
PREVIEW_PAGE_PREFIX = "/v2/preview/"


def render_params(board: dict[str, Any]) -> dict[str, Any]:
    """A preview's ``renderParams``: output settings, and per scene a background and its text (inferred)."""
    scenes = board.get("scenes") if isinstance(board.get("scenes"), list) else []
    width, height = render_size(board)
    elements: list[dict[str, Any]] = []
    for index, scene in enumerate(scenes or [{}]):
        start = index * RENDER_SCENE_SECONDS
        timing = {"startTime": start, "duration": RENDER_SCENE_SECONDS}
        elements.append(
            {"elementType": "backgroundElement", **timing, "type": "image", "backgroundColor": "rgba(0,0,0,1)"}
        )
        elements.append({"elementType": "SceneText", **timing, "text": scene_text(scene)})
    name = str(board.get("videoName", ""))
    return {
        "output": {"name": name, "title": name, "format": "mp4", "width": width, "height": height},
        "elements": elements,
    }


def storyboard_of_render_params(params: dict[str, Any]) -> dict[str, Any]:
    """What the emulator renders of ``renderParams``: one scene per ``SceneText`` element, at the output size."""
    found = params.get("output")
    output: dict[str, Any] = found if isinstance(found, dict) else {}
    texts = [
        str(element.get("text", ""))
        for element in params.get("elements") or []
        if isinstance(element, dict) and element.get("elementType") == "SceneText"
    ]
    board: dict[str, Any] = {"videoName": str(output.get("name") or "render"), "scenes": [{"story": t} for t in texts]}
    if isinstance(output.get("width"), int) and isinstance(output.get("height"), int):
        board.update(videoWidth=output["width"], videoHeight=output["height"])
    for name in ("webhook", "webhookInput"):
        if params.get(name) is not None:
            board[name] = params[name]
    return board


def _storyboard_job(kind: str, body: dict[str, Any], **common: Any) -> Job:
    scenes = body.get("scenes")
    scenes = scenes if isinstance(scenes, list) else []
    seconds = max(1, min(RENDER_MAX_SECONDS, RENDER_SCENE_SECONDS * max(len(scenes), 1)))
    shared = {
        "prompt": str(body.get("videoName", "")),
        "model": "storyboard",
        "aspect_ratio": body.get("aspectRatio", "16:9"),
        "style": None,
        "reference_image_url": None,
        "webhook": body.get("webhook"),
        "storyboard": body,
    }
    if kind == "preview":
        return PreviewJob(**shared, **common)
    return RenderJob(**shared, duration=f"{seconds}s", **common)


def new_job(kind: str, body: dict[str, Any], **common: Any) -> Job:
    """A :class:`Job`, :class:`VideoJob`, :class:`RenderJob` or :class:`PreviewJob` from a validated
    camelCase request body (Pictory's defaults applied); a transcription or highlights job
    (:mod:`pictory_provider.emulator.transcripts`)."""
    if kind in ("transcription", "highlights"):
        from pictory_provider.emulator.transcripts import new_transcription_job  # it imports this module

        return new_transcription_job(kind, body, **common)
    if kind in ("render", "preview"):
        return _storyboard_job(kind, body, **common)
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
