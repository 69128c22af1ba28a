"""What differs between Pictory job kinds (image, video, storyboard render, ...), as data in one table.

Both kinds share everything else: the job endpoint, the one job parser, the trigger, the event
schema, the completion path, the operator and sensor base classes. A kind only names its create
path, its request builder, the fields of its result, its XCom keys, its file type and its extra link.
Pure Python (no Airflow): the task-facing modules import it at DAG-parse time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pictory_provider import ai_studio, api, projects, storyboard, transcription

__all__ = [
    "ANY_JOB",
    "HIGHLIGHTS",
    "HIGHLIGHTS_FROM_JOB",
    "IMAGE",
    "JOB_KINDS",
    "KINDS_BY_SHAPE",
    "PREVIEW",
    "PREVIEW_RENDER",
    "PROJECT_RENDER",
    "RENDER",
    "RENDER_PARAMS",
    "TEMPLATE_RENDER",
    "TEXT_KINDS",
    "TRANSCRIPTION",
    "VIDEO",
    "JobKind",
    "TextFile",
]

#: A file a kind stores from a completed job's *text* (not a URL): its extension, the path key it is
#: published under, and how the text is made from the :class:`~pictory_provider.api.PictoryJob`
#: (``None``: the job does not carry it).
TextFile = tuple[str, str, Callable[[Any], "str | None"]]


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
    :param list_path: ``GET`` path listing the kind's outputs (reconciliation reads it), or ``None``
        when Pictory has no such list (renders): an unclear create of such a kind cannot be
        reconciled, so the next try fails with ``PictorySubmissionUnresolvedError`` instead of
        buying twice (unless ``resubmit_unclear=True``).
    :param method: HTTP method of the create request (``PUT`` renders a reviewed preview).
    :param path_fields: Body fields that go into ``path`` (``{name}`` placeholders) instead of the
        sent body; they stay in the body the fingerprint is taken of.
    :param requires_url: A completed job must carry a result URL (a preview has none).
    :param extra_files: Further files stored with ``output_path``: ``(result field, extension, path
        key)``; the render's subtitles.
    :param estimate: AI credits a request body will cost, or ``None`` when Pictory does not say
        before the job runs (renders: the job reports ``aiCreditsUsed``).
    :param url_field: The result field with the URL to show (a transcription's ``media_url``: its
        source media, which the operator knows; the job has no output URL).
    :param job_outputs: Result fields read from the completed job itself (texts, segments) instead of
        the trigger event, which stays small; ``None`` for kinds whose event carries everything.
    :param text_files: Files stored with ``output_path`` from the job's texts (:data:`TextFile`), each
        beside ``output_path`` (or ``<job_id>.<extension>`` in a folder), all or none.
    :param name_field: The request field that names the output (a storyboard's ``videoName``): the task
        publishes it as XCom ``video_name`` with the job id (the UI's title; Airflow truncates a large
        rendered storyboard, so its rendered fields may not hold it).
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
    list_path: str | None = None
    method: str = "POST"
    path_fields: tuple[str, ...] = ()
    requires_url: bool = True
    extra_files: tuple[tuple[str, str, str], ...] = ()
    estimate: Callable[[Mapping[str, Any]], float | None] = lambda body: None
    url_field: str = "url"
    job_outputs: Callable[[Any], dict[str, Any]] | None = None
    text_files: tuple[TextFile, ...] = ()
    name_field: str | None = None

    def create_request(self, body: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
        """``(method, path, sent body)`` of the create request for a built ``body``."""
        path = self.path.format(**{name: body[name] for name in self.path_fields})
        return self.method, path, {key: value for key, value in body.items() if key not in self.path_fields}

    def named_kind(self, result: Mapping[str, Any]) -> JobKind:
        """The kind whose XCom keys and file a result gets: this one, or for :data:`ANY_JOB` the kind
        the job's shape shows (itself when it shows none)."""
        return SHAPE_KINDS.get(str(result.get("job_kind")), self) if self.name == ANY_JOB_NAME else self

    @property
    def url_key(self) -> str:
        """The XCom key holding the output URL (``image_url`` / ``video_url``; a transcription's ``media_url``)."""
        return self.xcom_keys[self.url_field]

    @property
    def stored_files(self) -> tuple[tuple[str, str], ...]:
        """``(extension, path key)`` of every file stored beside the output (subtitles, a transcript's texts)."""
        return tuple((ext, key) for _, ext, key in self.extra_files) + tuple(
            (ext, key) for ext, key, _ in self.text_files
        )

    def result(self, job_id: str, source: Mapping[str, Any]) -> dict[str, Any]:
        """The task's return dict, from a trigger event or :meth:`PictoryJob.to_dict`."""
        return {"job_id": job_id} | {name: source.get(name) for name in self.result_fields}


ANY_JOB_NAME = "job"


def _image_estimate(body: Mapping[str, Any]) -> float:
    from pictory_provider.credits import estimate_credits

    return estimate_credits("image", body.get("model"))


def _video_estimate(body: Mapping[str, Any]) -> float:
    from pictory_provider.credits import estimate_credits

    return estimate_credits("video", body.get("model"), body.get("duration"))


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
    build_request=ai_studio.build_image_request,
    result_fields=("url", "width", "height", "ai_credits_used"),
    xcom_keys={"url": "image_url", "ai_credits_used": "ai_credits_used", "width": "width", "height": "height"},
    path_key="image_path",
    extension="png",
    link_name="Pictory Image",
    match_fields=("prompt", "model", "aspectRatio", "style", "referenceImageUrl"),
    request_defaults=lambda body: {"model": api.DEFAULT_MODEL, "aspectRatio": api.DEFAULT_ASPECT_RATIO},
    list_path=api.IMAGES_PATH,
    estimate=_image_estimate,
)

VIDEO = JobKind(
    name="video",
    path=api.VIDEOS_PATH,
    build_request=ai_studio.build_video_request,
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
    list_path=api.VIDEOS_PATH,
    estimate=_video_estimate,
)

#: What a render job publishes: its XCom key per result field.
_RENDER_XCOM = {
    "url": "video_url",
    "share_url": "share_url",
    "srt_url": "srt_url",
    "vtt_url": "vtt_url",
    "txt_url": "txt_url",
    "thumbnail_url": "thumbnail_url",
    "duration": "duration",
    "ai_credits_used": "ai_credits_used",
    "audio_url": "audio_url",
}
_RENDER_FILES = (("srt_url", "srt", "srt_path"), ("vtt_url", "vtt", "vtt_path"))

#: Storyboard fields that correlate or deliver a render without shaping the video: a change to them
#: (a webhook or ``projectMetadata`` templated per try, another destination) is the same request, so a
#: retry never renders again for it (https://docs.pictory.ai/api-reference/videos/render-storyboard-video:
#: webhook, webhookInput, saveProject, destinations with awsConnectionId/vimeoConnectionId, projectMetadata).
DELIVERY_FIELDS = (
    "webhook",
    "webhookInput",
    "projectMetadata",
    "destinations",
    "saveProject",
    "awsConnectionId",
    "vimeoConnectionId",
)

#: A storyboard rendered to a video (``POST /v2/video/storyboard/render``). Pictory has no list of
#: render jobs by storyboard, so ``list_path=None``: an unclear create is never reconciled by
#: guessing; the next try fails with ``PictorySubmissionUnresolvedError`` (never a second render).
RENDER = JobKind(
    name="render",
    path=storyboard.RENDER_PATH,
    build_request=storyboard.build_render_request,
    result_fields=tuple(_RENDER_XCOM),
    xcom_keys=_RENDER_XCOM,
    path_key="video_path",
    extension="mp4",
    link_name="Pictory Video",
    match_fields=tuple(name for name in storyboard.TOP_LEVEL_FIELDS if name not in DELIVERY_FIELDS),
    list_path=None,
    extra_files=_RENDER_FILES,
    name_field="videoName",
)

#: What a completed preview publishes: the player page to watch before paying, and with ``saveProject``
#: the project id (its ``renderParams`` and processed storyboard stay on :class:`~pictory_provider.api.PictoryJob`:
#: they can be large; a task that modifies them reads them with the hook).
_PREVIEW_XCOM = {"preview_url": "preview_url", "project_id": "project_id"}

#: A storyboard preview (``POST /v2/video/storyboard``): a job that completes without a video, to
#: review before paying for the render (:data:`PREVIEW_RENDER`, or :data:`RENDER_PARAMS` modified).
PREVIEW = JobKind(
    name="preview",
    path=storyboard.PREVIEW_PATH,
    build_request=storyboard.build_render_request,
    result_fields=tuple(_PREVIEW_XCOM),
    xcom_keys=_PREVIEW_XCOM,
    path_key="preview_path",
    extension="mp4",
    link_name="Pictory Video",
    match_fields=RENDER.match_fields,
    list_path=None,
    requires_url=False,
    name_field="videoName",
)

#: The render of a reviewed preview (``PUT /v2/video/render/{previewJobId}``): a render job.
PREVIEW_RENDER = JobKind(
    name="preview render",
    path=storyboard.RENDER_PREVIEW_PATH,
    build_request=storyboard.build_preview_render_request,
    result_fields=RENDER.result_fields,
    xcom_keys=_RENDER_XCOM,
    path_key="video_path",
    extension="mp4",
    link_name="Pictory Video",
    match_fields=("previewJobId",),
    list_path=None,
    method="PUT",
    path_fields=("previewJobId",),
    extra_files=_RENDER_FILES,
)

#: The render of a preview's ``renderParams``, modified or not (``POST /v2/video/render``,
#: https://docs.pictory.ai/api-reference/videos/render-video): a render job.
RENDER_PARAMS = JobKind(
    name="modified render",
    path=storyboard.RENDER_PARAMS_PATH,
    build_request=storyboard.build_modified_render_request,
    result_fields=RENDER.result_fields,
    xcom_keys=_RENDER_XCOM,
    path_key="video_path",
    extension="mp4",
    link_name="Pictory Video",
    match_fields=("output", "elements"),
    list_path=None,
    extra_files=_RENDER_FILES,
)

#: The render of a saved project, as people edited it in Pictory's web app (``POST
#: /v2/projects/{projectId}/render``, https://docs.pictory.ai/api-reference/videos/render-project: no body):
#: a render job. No list of render jobs by project: ``list_path=None`` (never bought twice).
PROJECT_RENDER = JobKind(
    name="project render",
    path=projects.PROJECT_RENDER_PATH,
    build_request=projects.build_project_render_request,
    result_fields=RENDER.result_fields,
    xcom_keys=_RENDER_XCOM,
    path_key="video_path",
    extension="mp4",
    link_name="Pictory Video",
    match_fields=("projectId",),
    list_path=None,
    path_fields=("projectId",),
    extra_files=_RENDER_FILES,
)

#: A template's video with its variables filled in: the storyboard render (``POST
#: /v2/video/storyboard/render``) of ``{videoName, templateId, variables}``, the variables checked against
#: the template's own (``GET /v1/templates/{id}``) first. A render job; ``list_path=None``.
TEMPLATE_RENDER = JobKind(
    name="template render",
    path=storyboard.RENDER_PATH,
    build_request=projects.build_template_render_request,
    result_fields=RENDER.result_fields,
    xcom_keys=_RENDER_XCOM,
    path_key="video_path",
    extension="mp4",
    link_name="Pictory Video",
    match_fields=("templateId", "variables", "videoName"),
    list_path=None,
    extra_files=_RENDER_FILES,
    name_field="videoName",
)


def _json_text(value: object) -> str | None:
    import json

    return None if value is None else json.dumps(value, ensure_ascii=False, indent=2) + "\n"


#: A transcription (``POST /v2/transcription``, ``api-reference/transcription/video-transcription``). Its
#: outputs are texts in the job (``txt``, ``srt``, ``vtt``, the ``transcript``), read from the job at
#: completion (the event stays small) and stored as files with ``output_path``. Pictory's jobs list
#: holds transcription jobs but not their ``fileUrl``, so an unclear create cannot be tied to its job:
#: ``list_path=None`` (the next try fails clearly instead of paying twice).
TRANSCRIPTION = JobKind(
    name="transcription",
    path=transcription.TRANSCRIPTION_PATH,
    build_request=transcription.build_transcription_request,
    result_fields=("media_url", "text", "duration", "media_info", "ai_credits_used"),
    xcom_keys={
        "media_url": "media_url",
        "text": "transcript_text",
        "duration": "duration",
        "media_info": "media_info",
        "ai_credits_used": "ai_credits_used",
    },
    path_key="transcript_path",
    extension="json",
    link_name="Pictory Transcript",
    match_fields=("fileUrl", "mediaType", "language"),
    request_defaults=lambda body: {
        "mediaType": transcription.DEFAULT_MEDIA_TYPE,
        "language": transcription.DEFAULT_LANGUAGE,
    },
    list_path=None,
    requires_url=False,
    url_field="media_url",
    job_outputs=transcription.transcription_outputs,
    text_files=(
        ("srt", "srt_path", lambda job: job.srt),
        ("vtt", "vtt_path", lambda job: job.vtt),
        ("txt", "txt_path", lambda job: job.txt),
        ("json", "transcript_path", lambda job: _json_text(job.transcript)),
    ),
)

_HIGHLIGHTS_XCOM = {
    "media_url": "media_url",
    "highlights": "highlights",
    "summary": "highlights_summary",
    "ai_credits_used": "ai_credits_used",
}
_HIGHLIGHTS_FILES: tuple[TextFile, ...] = (
    ("json", "highlights_path", lambda job: _json_text({"highlights": job.highlights, "summary": job.summary})),
)

#: Highlights of a transcript (``POST /v2/transcription/highlights``: ``generate-highlights-from-transcript``,
#: ``video-summary-transcription``). No list of highlights jobs to reconcile with: ``list_path=None``.
HIGHLIGHTS = JobKind(
    name="highlights",
    path=transcription.HIGHLIGHTS_PATH,
    build_request=transcription.build_highlights_request,
    result_fields=tuple(_HIGHLIGHTS_XCOM),
    xcom_keys=_HIGHLIGHTS_XCOM,
    path_key="highlights_path",
    extension="json",
    link_name="Pictory Highlights",
    match_fields=("transcript", "highlight_duration", "duration", "language"),
    list_path=None,
    requires_url=False,
    url_field="media_url",
    job_outputs=transcription.highlights_outputs,
    text_files=_HIGHLIGHTS_FILES,
)

#: Highlights of a completed transcription job (``POST /v2/transcription/{jobId}/highlights``,
#: ``generate-highlights-from-job``): a highlights job.
HIGHLIGHTS_FROM_JOB = JobKind(
    name="highlights",
    path=transcription.HIGHLIGHTS_FROM_JOB_PATH,
    build_request=transcription.build_highlights_from_job_request,
    result_fields=HIGHLIGHTS.result_fields,
    xcom_keys=_HIGHLIGHTS_XCOM,
    path_key="highlights_path",
    extension="json",
    link_name="Pictory Highlights",
    match_fields=("jobId", "highlight_duration", "language"),
    list_path=None,
    path_fields=("jobId",),
    requires_url=False,
    url_field="media_url",
    job_outputs=transcription.highlights_outputs,
    text_files=_HIGHLIGHTS_FILES,
)

#: Any job (image, video, render, preview, transcription): what the job has, and the named XCom keys
#: of the kind its shape shows (``job_kind``).
ANY_JOB = JobKind(
    name=ANY_JOB_NAME,
    path=api.JOBS_PATH,
    build_request=lambda **params: dict(params),
    result_fields=(
        "job_kind",
        *VIDEO.result_fields,
        *(name for name in RENDER.result_fields if name not in VIDEO.result_fields),
        *PREVIEW.result_fields,
    ),
    xcom_keys={},
    path_key="file_path",
    extension="bin",
    link_name="Pictory Job",
    requires_url=False,
)

#: The AI Studio kinds by name (the status scan reads their result fields).
JOB_KINDS: dict[str, JobKind] = {kind.name: kind for kind in (IMAGE, VIDEO)}
#: Every kind whose outputs a task publishes, by the ``job_kind`` a parsed job shows (the any-job
#: sensor publishes that kind's keys; the UI's gallery and task tab show these kinds). :data:`PREVIEW`
#: has no output file (the task tab embeds its player page); :data:`PREVIEW_RENDER` and
#: :data:`RENDER_PARAMS` publish exactly what :data:`RENDER` does.
KINDS_BY_SHAPE: dict[str, JobKind] = {
    **JOB_KINDS,
    RENDER.name: RENDER,
    TRANSCRIPTION.name: TRANSCRIPTION,
    HIGHLIGHTS.name: HIGHLIGHTS,
}
#: The kinds whose outputs are texts in the job (read from it at completion, stored as files).
TEXT_KINDS: dict[str, JobKind] = {kind.name: kind for kind in KINDS_BY_SHAPE.values() if kind.text_files}
#: Every kind a job's shape can show, for the any-job sensor's named XCom keys (a preview's player page too).
SHAPE_KINDS: dict[str, JobKind] = {**KINDS_BY_SHAPE, PREVIEW.name: PREVIEW}
