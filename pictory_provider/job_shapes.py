"""What a job's ``data`` shows: its kind, and the storyboard outputs (render, preview) as documented.

Pure functions on the ``data`` object of ``GET /pictoryapis/v1/jobs/{id}``, used by the one job
parser (:func:`pictory_provider.api.parse_job`). Addresses are under ``https://docs.pictory.ai/``.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = [
    "HIGHLIGHTS_KEYS",
    "TRANSCRIPTION_KEYS",
    "URL_LESS_KINDS",
    "job_kind",
    "parse_job_body",
    "progress",
    "storyboard_outputs",
]

#: Kinds whose completed job carries no result URL: complete, not malformed, without one.
URL_LESS_KINDS = ("preview", "transcription", "highlights")

#: Keys of a completed storyboard preview's ``data``
#: (``api-reference/jobs/get-storyboard-preview-job-by-id``; ``integrations/storyboard-video-preview/
#: embed-preview-player``: "poll the job ... to get the previewUrl and renderParams"). ``preview`` is the
#: URL's name in Pictory's older reference (``pictory-api.readme.io/reference/get_pictoryapis-v1-jobs-job-id``).
PREVIEW_KEYS = ("previewUrl", "preview", "renderParams", "storyboard")
#: The saved project's id with ``saveProject: true`` (the page names it "Unique identifier of the saved
#: project"; the key ``projectId`` is inferred from Pictory's project objects, which carry ``projectId``
#: in their scenes, ``api-reference/projects/get-project-by-id``).
PROJECT_ID_KEYS = ("projectId", "project_id")
#: A transcription job's outputs (``api-reference/jobs/get-transcription-job-by-id``): the texts and
#: ``mediaInfo`` show a transcription even before its ``transcript`` is there (the page: completion is
#: judged by the status and the presence of transcript data).
TRANSCRIPTION_KEYS = ("transcript", "mediaInfo", "txt", "srt", "vtt")
#: A highlights job's outputs (inferred, see :data:`pictory_provider.transcription.HIGHLIGHT_KEYS`).
HIGHLIGHTS_KEYS = ("highlight", "highlights")
#: A render's share page under both spellings of Pictory's material: ``videoShareURL`` (Pictory's skill,
#: pictoryai/pictory-claude-skills ``references/api-endpoints.md``) and ``shareVideoURL``
#: (``api-reference/projects/get-project-by-id``).
SHARE_URL_KEYS = ("videoShareURL", "shareVideoURL")
#: A render's audio track: ``audioURL`` (``api-reference/projects/get-project-by-id``; the render job page
#: ``api-reference/jobs/get-video-render-job-by-id`` promises "output URLs for the rendered video, audio,
#: subtitles, and thumbnail").
AUDIO_URL_KEY = "audioURL"


def _first_str(data: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    value = next((data[key] for key in keys if data.get(key) not in (None, "")), None)
    return None if value is None else str(value)


def storyboard_outputs(data: dict[str, Any]) -> dict[str, Any]:
    """The render and preview results of ``data`` as :class:`~pictory_provider.api.PictoryJob` fields."""
    render_params = data.get("renderParams")
    board = data.get("storyboard")
    return {
        "share_url": _first_str(data, SHARE_URL_KEYS),
        "audio_url": _first_str(data, (AUDIO_URL_KEY,)),
        "preview_url": _first_str(data, ("previewUrl", "preview")),
        "project_id": _first_str(data, PROJECT_ID_KEYS),
        "render_params": render_params if isinstance(render_params, dict) else None,
        "storyboard": board if isinstance(board, dict) else None,
    }


def progress(value: object) -> float | None:
    """``renderProgress`` as a number 0-100; informational, so an unreadable value is ``None``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return int(value) if float(value).is_integer() else float(value)


def job_kind(data: dict[str, Any], url_field: str) -> str | None:
    """The kind ``data`` shows: a render (``videoURL``), a video, an image, a preview, a transcription,
    highlights, or Pictory's ``jobType``; ``None`` when it shows none."""
    if url_field == "videoURL" or any(data.get(name) is not None for name in ("srtFile", *SHARE_URL_KEYS)):
        return "render"
    if data.get("url") is not None:
        video = any(data.get(name) is not None for name in ("duration", "thumbnailImageUrl", "lastFrameImageUrl"))
        return "video" if video else "image"
    if any(data.get(name) is not None for name in PREVIEW_KEYS):
        return "preview"
    if any(data.get(name) is not None for name in TRANSCRIPTION_KEYS[1:]):
        return "transcription"  # its texts or media info: a transcription (highlights it asked for too)
    if any(data.get(name) is not None for name in HIGHLIGHTS_KEYS):
        return "highlights"
    if data.get("transcript") is not None:
        return "transcription"
    found = data.get("jobType")
    return found if isinstance(found, str) and found else None


def parse_job_body(body: Any) -> Any:
    """:func:`~pictory_provider.api.parse_job` of a whole ``GET /jobs/{id}`` body, about its own ``job_id``
    (the contract tests feed documented examples through it)."""
    from pictory_provider.api import parse_job

    return parse_job(body, str(body.get("job_id")) if isinstance(body, dict) else "")
