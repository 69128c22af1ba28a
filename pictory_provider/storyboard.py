"""The storyboard/render contract: paths, the documented field names and the check before a paid render.

Pictory silently strips unknown fields from a storyboard, so a typo (``videoname``, ``scene``,
``voiceover``) vanishes and the paid render comes out wrong. :func:`storyboard_errors` refuses unknown
names at the top level, in scenes and in their documented sub-objects, naming the documented field
("did you mean videoName?"), and checks Pictory's documented rules. Pure Python, shared by the hook,
the operator and the emulator (which, like Pictory, strips unknown fields instead: :func:`strip_unknown`).
Field names, each list with its docs page: :mod:`pictory_provider.storyboard_fields`. A field the check
does not know yet is sent with ``allow_unknown_fields=("newField",)``, so the check never blocks a
feature Pictory adds.
"""

from __future__ import annotations

import copy
import difflib
import logging
from collections.abc import Mapping
from typing import Any, TypedDict

from pictory_provider.api import validate_job_id
from pictory_provider.exceptions import PictoryAPIError, PictoryValidationError
from pictory_provider.request_limits import body_limit_problem, nesting_problem
from pictory_provider.storyboard_fields import (
    BACKGROUND_FIELDS,
    BACKGROUND_MUSIC_FIELDS,
    CONTENT_SOURCES,
    DROPPED_FIELDS,
    EXCLUSIVE_PAIRS,
    SCENE_BACKGROUND_MUSIC_FIELDS,
    SCENE_EXCLUSIVE_PAIRS,
    SCENE_FIELDS,
    STORY_COPILOT_FIELDS,
    TOP_LEVEL_FIELDS,
    VOICE_OVER_FIELDS,
)
from pictory_provider.storyboard_v1 import v1_hint, v1_voice_over_hint

__all__ = [
    "ASPECT_RATIOS",
    "MEDIA_UPLOAD_PATH",
    "PREVIEW_PATH",
    "RENDER_PARAMS_PATH",
    "RENDER_PATH",
    "RENDER_PREVIEW_PATH",
    "SCENE_FIELDS",
    "TOP_LEVEL_FIELDS",
    "Scene",
    "StoryboardRequest",
    "build_modified_render_request",
    "build_preview_render_request",
    "build_render_request",
    "parse_signed_upload",
    "storyboard_errors",
    "storyboard_warnings",
    "strip_unknown",
    "suggest_field",
]

log = logging.getLogger(__name__)

RENDER_PATH = "/pictoryapis/v2/video/storyboard/render"
PREVIEW_PATH = "/pictoryapis/v2/video/storyboard"
#: ``PUT``; ``{previewJobId}`` is the id of a completed preview job.
RENDER_PREVIEW_PATH = "/pictoryapis/v2/video/render/{previewJobId}"
#: ``POST``: render a completed preview's ``renderParams``, modified or not, sent as the body
#: (https://docs.pictory.ai/api-reference/videos/render-video).
RENDER_PARAMS_PATH = "/pictoryapis/v2/video/render"

ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:5")
WEBHOOK_MAX_LENGTH = 500
STORY_MAX_LENGTH = 15_000
COPILOT_PROMPT_MAX_LENGTH = 5_000
AI_VISUAL_PROMPT_MAX_LENGTH = 500


class Scene(TypedDict, total=False):
    """One scene of a storyboard (the common fields; see :data:`SCENE_FIELDS` for all)."""

    story: str
    storyCoPilot: dict[str, Any]
    blogUrl: str
    pptUrl: str
    audioUrl: str
    videoUrl: str
    audioLanguage: str
    background: dict[str, Any]
    voiceOver: dict[str, Any]
    minimumDuration: float
    sceneTransition: str
    createSceneOnEndOfSentence: bool


class StoryboardRequest(TypedDict, total=False):
    """The body of a render or preview request (the common fields; see :data:`TOP_LEVEL_FIELDS`)."""

    videoName: str
    scenes: list[Scene]
    aspectRatio: str
    videoWidth: int
    videoHeight: int
    language: str
    saveProject: bool
    webhook: str
    webhookInput: dict[str, Any]
    voiceOver: dict[str, Any]
    backgroundMusic: dict[str, Any]
    avatar: dict[str, Any]
    templateId: str
    variables: dict[str, Any]


def suggest_field(name: str, known: tuple[str, ...]) -> str | None:
    """The documented field ``name`` most likely meant (same letters in another case, or a close spelling)."""
    lowered = {field.lower(): field for field in known}
    if name.lower() in lowered:
        return lowered[name.lower()]
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def _error(name: str, errors: str) -> dict[str, str]:
    return {"name": name, "errors": errors}


#: What the unknown-field check lets through besides the documented names (``None``: no check).
Unknown = frozenset[str] | None


def _unknown(obj: Mapping[str, Any], known: tuple[str, ...], where: str, unknown: Unknown) -> list[dict[str, str]]:
    errors: list[dict[str, str]] = []
    for name in obj:
        if unknown is None or name in known or name in unknown:
            continue
        hint = suggest_field(str(name), known)
        label = f"{where}.{name}" if where else str(name)
        text = f"unknown field {label!r}: Pictory would silently drop it"
        v1 = v1_hint(where, str(name))  # Pictory's older field names: name the v2 field, not a look-alike
        errors.append(_error(label, text + (f"; {v1}" if v1 else f"; did you mean {hint}?" if hint else "")))
    return errors


def _is_http_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) > 8


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _voice_over_errors(voice: object, where: str, unknown: Unknown) -> list[dict[str, str]]:
    if not isinstance(voice, dict):
        return [_error(where, f"{where} must be an object{v1_voice_over_hint(where, voice)}")]
    errors = _unknown(voice, VOICE_OVER_FIELDS, where, unknown)
    if voice.get("aiVoices") is not None and voice.get("externalVoice") is not None:
        errors.append(_error(where, f"{where}: give aiVoices or externalVoice, not both"))
    voices = voice.get("aiVoices")
    if voices is not None:
        if not isinstance(voices, list) or not all(isinstance(item, dict) for item in voices):
            errors.append(_error(f"{where}.aiVoices", f"{where}.aiVoices must be a list of objects"))
        else:
            for index, item in enumerate(voices):
                speed = item.get("speed")
                if speed is not None and not (_is_number(speed) and 50 <= speed <= 200):
                    label = f"{where}.aiVoices[{index}].speed"
                    errors.append(_error(label, f"{label} must be a number from 50 to 200 (got {speed!r})"))
    return errors


def _music_errors(music: object, where: str, unknown: Unknown) -> list[dict[str, str]]:
    if not isinstance(music, dict):
        return [_error(where, f"{where} must be an object")]
    errors = _unknown(music, BACKGROUND_MUSIC_FIELDS, where, unknown)
    if music.get("autoMusic") and music.get("musicUrl") is not None:
        errors.append(_error(where, f"{where}: give autoMusic or musicUrl, not both"))
    volume = music.get("volume")
    if volume is not None and not (_is_number(volume) and 0 <= volume <= 1):
        errors.append(_error(f"{where}.volume", f"{where}.volume must be a number from 0 to 1 (got {volume!r})"))
    return errors


def _background_errors(background: object, where: str, unknown: Unknown) -> list[dict[str, str]]:
    if not isinstance(background, dict):
        return [_error(where, f"{where} must be an object")]
    errors = _unknown(background, BACKGROUND_FIELDS, where, unknown)
    given = [name for name in ("visualUrl", "color", "aiVisual") if background.get(name) is not None]
    if len(given) > 1:
        errors.append(_error(where, f"{where}: give one of visualUrl, color, aiVisual (got {', '.join(given)})"))
    visual = background.get("aiVisual")
    if visual is not None:
        if background.get("type") not in ("video", "image"):
            errors.append(_error(f"{where}.type", f"{where}.type ('video' or 'image') is required with aiVisual"))
        prompt = visual.get("prompt") if isinstance(visual, dict) else None
        if isinstance(prompt, str) and len(prompt) > AI_VISUAL_PROMPT_MAX_LENGTH:
            label = f"{where}.aiVisual.prompt"
            errors.append(_error(label, f"{label} must be at most {AI_VISUAL_PROMPT_MAX_LENGTH} characters"))
    return errors


def _scene_errors(scene: object, index: int, unknown: Unknown) -> list[dict[str, str]]:
    where = f"scenes[{index}]"
    if not isinstance(scene, dict):
        return [_error(where, f"{where} must be an object")]
    errors = _unknown(scene, SCENE_FIELDS, where, unknown)
    sources = [name for name in CONTENT_SOURCES if scene.get(name) not in (None, "")]
    if len(sources) > 1:
        errors.append(_error(where, f"{where} must have exactly one content source (got {', '.join(sources)})"))
    elif not sources and scene.get("background") is None:
        errors.append(_error(where, f"{where} needs a content source ({', '.join(CONTENT_SOURCES)}) or a background"))
    story = scene.get("story")
    if story is not None and (not isinstance(story, str) or len(story) > STORY_MAX_LENGTH):
        errors.append(_error(f"{where}.story", f"{where}.story must be text of at most {STORY_MAX_LENGTH} characters"))
    for name in ("blogUrl", "pptUrl", "audioUrl", "videoUrl"):
        if scene.get(name) is not None and not _is_http_url(scene[name]):
            errors.append(_error(f"{where}.{name}", f"{where}.{name} must be an http(s) URL (got {scene[name]!r})"))
    if (scene.get("audioUrl") or scene.get("videoUrl")) and not scene.get("audioLanguage"):
        errors.append(_error(f"{where}.audioLanguage", f"{where}.audioLanguage is required with audioUrl/videoUrl"))
    copilot = scene.get("storyCoPilot")
    if copilot is not None:
        errors += _copilot_errors(copilot, f"{where}.storyCoPilot", unknown)
    for first, second in SCENE_EXCLUSIVE_PAIRS:
        if scene.get(first) is not None and scene.get(second) is not None:
            errors.append(_error(f"{where}.{second}", f"{where}: give {first} or {second}, not both"))
    if scene.get("background") is not None:
        errors += _background_errors(scene["background"], f"{where}.background", unknown)
    if scene.get("voiceOver") is not None:
        errors += _voice_over_errors(scene["voiceOver"], f"{where}.voiceOver", unknown)
    music = scene.get("backgroundMusic")
    if music is not None:
        label = f"{where}.backgroundMusic"
        if not isinstance(music, dict):
            errors.append(_error(label, f"{label} must be an object"))
        else:  # track and volume are the storyboard's; Pictory drops them here
            errors += _unknown(music, SCENE_BACKGROUND_MUSIC_FIELDS, label, unknown)
    return errors


def _copilot_errors(copilot: object, where: str, unknown: Unknown) -> list[dict[str, str]]:
    if not isinstance(copilot, dict):
        return [_error(where, f"{where} must be an object")]
    errors = _unknown(copilot, STORY_COPILOT_FIELDS, where, unknown)
    prompt = copilot.get("prompt")
    if not isinstance(prompt, str) or not prompt or len(prompt) > COPILOT_PROMPT_MAX_LENGTH:
        errors.append(
            _error(f"{where}.prompt", f"{where}.prompt is required, 1 to {COPILOT_PROMPT_MAX_LENGTH} characters")
        )
    duration = copilot.get("duration")
    if duration is not None and not (_is_number(duration) and 1 <= duration <= 600):
        errors.append(_error(f"{where}.duration", f"{where}.duration must be 1 to 600 seconds (got {duration!r})"))
    return errors


def storyboard_errors(
    body: object, *, unknown: bool = True, allow_unknown_fields: tuple[str, ...] = ()
) -> list[dict[str, str]]:
    """Pictory-style ``fields`` errors for a storyboard request (empty if valid).

    ``unknown=False`` skips the unknown-field check (the emulator strips unknown fields, as Pictory does);
    ``allow_unknown_fields`` names fields the check lets through at any level (a field Pictory added
    after this provider); :data:`~pictory_provider.storyboard_fields.DROPPED_FIELDS` only warn.
    """
    if not isinstance(body, dict):
        return [_error("storyboard", f"the storyboard must be a dict (got {type(body).__name__})")]
    allowed: Unknown = frozenset(allow_unknown_fields) if unknown else None
    errors = _unknown(body, TOP_LEVEL_FIELDS + tuple(DROPPED_FIELDS), "", allowed)
    name = body.get("videoName")
    if not isinstance(name, str) or not name.strip():
        errors.append(_error("videoName", "videoName is required (a non-empty string)"))
    scenes = body.get("scenes")
    if scenes is None:
        if body.get("templateId") is None:
            errors.append(_error("scenes", "scenes is required (at least one scene) unless templateId is given"))
    elif not isinstance(scenes, list) or (not scenes and body.get("templateId") is None):
        got = "" if isinstance(scenes, list) else f" (got {type(scenes).__name__})"
        if isinstance(scenes, str):  # e.g. "{{ ti.xcom_pull(...) }}": Jinja renders a list as its text
            got += (
                "; a template renders to text: template the whole storyboard (it is read back as JSON or as "
                "the dict it printed), or set render_template_as_native_obj=True on the DAG"
            )
        errors.append(_error("scenes", f"scenes must be a list of at least one scene{got}"))
    else:
        for index, scene in enumerate(scenes):
            errors += _scene_errors(scene, index, allowed)
    ratio = body.get("aspectRatio")
    if ratio is not None and ratio not in ASPECT_RATIOS:
        errors.append(_error("aspectRatio", f"aspectRatio must be one of {', '.join(ASPECT_RATIOS)} (got {ratio!r})"))
    if (body.get("videoWidth") is None) != (body.get("videoHeight") is None):
        errors.append(_error("videoWidth", "videoWidth and videoHeight must be given together"))
    for first, second in EXCLUSIVE_PAIRS:
        if body.get(first) is not None and body.get(second) is not None:
            errors.append(_error(second, f"give {first} or {second}, not both"))
    webhook = body.get("webhook")
    if webhook is not None and (not _is_http_url(webhook) or len(webhook) > WEBHOOK_MAX_LENGTH):
        errors.append(_error("webhook", f"webhook must be an http(s) URL of at most {WEBHOOK_MAX_LENGTH} characters"))
    if body.get("webhookInput") is not None and not isinstance(body["webhookInput"], dict):
        errors.append(_error("webhookInput", "webhookInput must be an object"))
    voice = body.get("voiceOver")
    if voice is not None:
        errors += _voice_over_errors(voice, "voiceOver", allowed)
    if body.get("avatar") is not None and not (isinstance(voice, dict) and voice.get("enabled") is True):
        errors.append(_error("avatar", "avatar requires voiceOver.enabled: true"))
    if body.get("backgroundMusic") is not None:
        errors += _music_errors(body["backgroundMusic"], "backgroundMusic", allowed)
    return errors


def storyboard_warnings(body: Mapping[str, Any]) -> list[str]:
    """Valid but probably unintended: a silent video, background music at full volume, a field Pictory drops."""
    warnings = [f"{name}: {why}" for name, why in DROPPED_FIELDS.items() if name in body]
    scenes = body.get("scenes")
    scenes = scenes if isinstance(scenes, list) else []
    narrated_scenes = any(isinstance(scene, dict) and scene.get("voiceOver") is not None for scene in scenes)
    if body.get("voiceOver") is None and not narrated_scenes:  # a scene's voiceOver narrates that scene
        warnings.append(
            "the storyboard has no voiceOver: Pictory renders a silent video (add voiceOver, or "
            "voiceOver={'enabled': False} for a deliberately silent one)"
        )
    music = body.get("backgroundMusic")
    if isinstance(music, dict) and music.get("enabled", True) and music.get("volume") is None:
        warnings.append(
            "backgroundMusic has no volume: Pictory plays it at full volume (1.0); 0.08-0.15 suits narration"
        )
    return warnings


def strip_unknown(body: Mapping[str, Any]) -> dict[str, Any]:
    """The storyboard without unknown fields at the top level and in scenes (what Pictory keeps)."""
    kept = {name: copy.deepcopy(value) for name, value in body.items() if name in TOP_LEVEL_FIELDS}
    if isinstance(kept.get("scenes"), list):
        kept["scenes"] = [
            {name: value for name, value in scene.items() if name in SCENE_FIELDS} if isinstance(scene, dict) else scene
            for scene in kept["scenes"]
        ]
    return kept


def _raise(what: str, errors: list[dict[str, str]]) -> None:
    shown = "; ".join(error["errors"] for error in errors[:10])
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    raise PictoryValidationError(f"Invalid Pictory {what}: {shown}{more}; nothing was sent to Pictory", errors)


def build_render_request(
    storyboard: Mapping[str, Any],
    *,
    webhook: str | None = None,
    allow_unknown_fields: tuple[str, ...] | list[str] = (),
) -> dict[str, Any]:
    """The checked storyboard body (a deep copy; ``webhook`` set if given), or :class:`PictoryValidationError`.

    ``allow_unknown_fields``: field names sent although the check does not know them (at any level).
    """
    if not isinstance(storyboard, Mapping):
        _raise("storyboard", [_error("storyboard", f"the storyboard must be a dict (got {type(storyboard).__name__})")])
    if isinstance(allow_unknown_fields, str) or not all(isinstance(name, str) for name in allow_unknown_fields):
        _raise("storyboard", [_error("allow_unknown_fields", "allow_unknown_fields must be a list of field names")])
    problem = nesting_problem(storyboard)  # before the deep copy, which would recurse that deep
    body = {} if problem else copy.deepcopy(dict(storyboard))
    if webhook is not None:
        body["webhook"] = webhook
    if problem or (problem := body_limit_problem(body)):
        _raise("storyboard", [_error("storyboard", f"the storyboard cannot be sent: {problem}")])
    errors = storyboard_errors(body, allow_unknown_fields=tuple(allow_unknown_fields))
    if errors:
        _raise("storyboard", errors)
    for warning in storyboard_warnings(body):
        log.warning("Storyboard %r: %s", body.get("videoName"), warning)
    return body


def build_modified_render_request(render_params: Mapping[str, Any], *, webhook: str | None = None) -> dict[str, Any]:
    """The body of ``POST /v2/video/render``: a completed preview's ``renderParams``, sent as the body itself
    ("not wrapped in a renderParams property", docs ``api-reference/videos/render-video``); ``webhook``
    is added to it (inferred from Pictory's older render API, whose body took the callback URL)."""
    if not isinstance(render_params, Mapping) or not render_params:
        got = type(render_params).__name__
        _raise("render", [_error("renderParams", f"render_params must be a preview's renderParams dict (got {got})")])
    if set(render_params) == {"renderParams"}:
        _raise("render", [_error("renderParams", "send the renderParams content itself, not wrapped in renderParams")])
    body = copy.deepcopy(dict(render_params))
    if webhook is not None:
        if not _is_http_url(webhook) or len(webhook) > WEBHOOK_MAX_LENGTH:
            _raise(
                "render",
                [_error("webhook", f"webhook must be an http(s) URL of at most {WEBHOOK_MAX_LENGTH} characters")],
            )
        body["webhook"] = webhook
    return body


def build_preview_render_request(preview_job_id: str, *, webhook: str | None = None) -> dict[str, Any]:
    """``{"previewJobId": ..., "webhook": ...}``: the id goes into the ``PUT`` path, the rest is the body."""
    body: dict[str, Any] = {"previewJobId": validate_job_id(preview_job_id)}
    if webhook is not None:
        if not _is_http_url(webhook) or len(webhook) > WEBHOOK_MAX_LENGTH:
            _raise(
                "preview render",
                [_error("webhook", f"webhook must be an http(s) URL of at most {WEBHOOK_MAX_LENGTH} characters")],
            )
        body["webhook"] = webhook
    return body


# -- lookups and upload: the ids and URLs a storyboard needs (never invent them) -----------------

#: ``POST {"fileName", "contentType"}`` -> ``{"data": {"signedUrl", "url", "key"}}``.
MEDIA_UPLOAD_PATH = "/pictoryapis/v1/media/generateurl"


def parse_signed_upload(body: object) -> tuple[str, str]:
    """``(signedUrl, url)`` from a ``generateurl`` answer, or :class:`PictoryAPIError`."""
    data = body.get("data") if isinstance(body, dict) else None
    signed = data.get("signedUrl") if isinstance(data, dict) else None
    url = data.get("url") if isinstance(data, dict) else None
    if not _is_http_url(signed) or not _is_http_url(url):
        raise PictoryAPIError("Pictory's answer to the upload URL request has no http(s) data.signedUrl and data.url")
    return str(signed), str(url)
