"""What differs between Pictory job kinds (image, video), as data in one table.

Both kinds share everything else: the job endpoint, the one job parser, the trigger, the event
schema, the completion path, the operator and sensor base classes. A kind only names its create
path, its request builder, the fields of its result, its XCom keys, its file type and its extra link.
Pure Python (no Airflow): the task-facing modules import it at DAG-parse time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pictory_provider import api

__all__ = [
    "IMAGE",
    "JOB_KINDS",
    "VIDEO",
    "JobKind",
]


@dataclass(frozen=True)
class JobKind:
    """One kind of Pictory AI Studio job.

    :param name: ``"image"`` or ``"video"`` (used in messages).
    :param path: Create (``POST``) and list (``GET``) path.
    :param build_request: Validates arguments and returns the camelCase body (raises
        :class:`~pictory_provider.exceptions.PictoryValidationError`).
    :param result_fields: Keys of the task's return dict after ``job_id``; they are
        :class:`~pictory_provider.api.PictoryJob` attributes and trigger event keys of the same name.
    :param xcom_keys: Named XCom key per result field (``{"url": "image_url", ...}``).
    :param path_key: XCom key (and return-dict key) of the stored file's location.
    :param extension: File extension of the stored output; also selects the content check.
    :param link_name: Name of the operator's extra link (it points at the ``url`` XCom).
    :param match_fields: Request fields an item of the kind's list (``GET path``) repeats; they tie a
        listed item to a request when a retry reconciles an unclear create
        (:mod:`pictory_provider.submission`).
    :param request_defaults: The values Pictory applies to absent request fields (the list shows
        them), as a function of the request body (video defaults depend on the model).
    """

    name: str
    path: str
    build_request: Callable[..., dict[str, Any]]
    result_fields: tuple[str, ...]
    xcom_keys: Mapping[str, str]
    path_key: str
    extension: str
    link_name: str
    match_fields: tuple[str, ...] = ("prompt", "model")
    request_defaults: Callable[[Mapping[str, Any]], Mapping[str, Any]] = lambda body: {}

    @property
    def url_key(self) -> str:
        """The XCom key holding the output URL (``image_url`` / ``video_url``)."""
        return self.xcom_keys["url"]

    def result(self, job_id: str, source: Mapping[str, Any]) -> dict[str, Any]:
        """The task's return dict, from a trigger event or :meth:`PictoryJob.to_dict`."""
        return {"job_id": job_id} | {name: source.get(name) for name in self.result_fields}


def _video_defaults(body: Mapping[str, Any]) -> dict[str, Any]:
    """Pictory's defaults for a video request: the model's first aspect ratio and duration."""
    model = body.get("model") or api.DEFAULT_VIDEO_MODEL
    return {
        "model": api.DEFAULT_VIDEO_MODEL,
        "aspectRatio": api.VIDEO_ASPECT_RATIOS[model][0],
        "duration": api.VIDEO_DURATIONS[model][0],
    }


IMAGE = JobKind(
    name="image",
    path=api.IMAGES_PATH,
    build_request=api.build_image_request,
    result_fields=("url", "width", "height", "ai_credits_used"),
    xcom_keys={"url": "image_url", "ai_credits_used": "ai_credits_used", "width": "width", "height": "height"},
    path_key="image_path",
    extension="png",
    link_name="Pictory Image",
    match_fields=("prompt", "model", "aspectRatio", "style", "referenceImageUrl"),
    request_defaults=lambda body: {"model": api.DEFAULT_MODEL, "aspectRatio": api.DEFAULT_ASPECT_RATIO},
)

VIDEO = JobKind(
    name="video",
    path=api.VIDEOS_PATH,
    build_request=api.build_video_request,
    result_fields=(
        "url",
        "width",
        "height",
        "duration",
        "ai_credits_used",
        "thumbnail_url",
        "last_frame_image_url",
    ),
    xcom_keys={
        "url": "video_url",
        "duration": "duration",
        "width": "width",
        "height": "height",
        "ai_credits_used": "ai_credits_used",
        "thumbnail_url": "thumbnail_url",
        "last_frame_image_url": "last_frame_image_url",
    },
    path_key="video_path",
    extension="mp4",
    link_name="Pictory Video",
    match_fields=(
        "prompt",
        "model",
        "aspectRatio",
        "duration",
        "firstFrameImageUrl",
        "extendVideoUrl",
        "referenceImageUrls",
    ),
    request_defaults=_video_defaults,
)

JOB_KINDS: dict[str, JobKind] = {kind.name: kind for kind in (IMAGE, VIDEO)}
