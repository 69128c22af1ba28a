"""The AI Studio request contract: validation and builders of the image and video create requests.

Every rule comes from Pictory's reference (``ai-studio/generate-image``, ``ai-studio/generate-video``;
values in :mod:`pictory_provider.api`). The hook, the kinds table and the emulator all validate with
these functions, so a request the provider would send is one the emulator accepts. Pure Python.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pictory_provider.api import (
    ASPECT_RATIOS,
    DEFAULT_VIDEO_MODEL,
    MAX_REFERENCE_IMAGES,
    MODELS,
    PROMPT_MAX_LENGTH,
    PROMPT_MIN_LENGTH,
    STYLES,
    VIDEO_ASPECT_RATIOS,
    VIDEO_DURATIONS,
    VIDEO_MODELS,
    VIDEO_SOURCE_FIELDS,
    _is_http_url,
)
from pictory_provider.exceptions import PictoryValidationError

__all__ = ["build_image_request", "build_video_request", "image_request_errors", "video_request_errors"]


def _field_error(name: str, errors: str) -> dict[str, str]:
    return {"name": name, "errors": errors}


def _prompt_errors(prompt: object) -> list[dict[str, str]]:
    if not isinstance(prompt, str):
        return [_field_error("prompt", "prompt is required and must be a string")]
    if not PROMPT_MIN_LENGTH <= len(prompt) <= PROMPT_MAX_LENGTH:
        return [
            _field_error(
                "prompt",
                f"prompt must be {PROMPT_MIN_LENGTH} to {PROMPT_MAX_LENGTH} characters long (got {len(prompt)})",
            )
        ]
    return []


def image_request_errors(body: dict[str, Any]) -> list[dict[str, str]]:
    """Return Pictory-style ``fields`` errors for a camelCase Generate Image body (empty if valid)."""
    errors = _prompt_errors(body.get("prompt"))
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


def _checked_body(
    kind: str,
    prompt: str,
    optional: dict[str, Any],
    request_errors: Callable[[dict[str, Any]], list[dict[str, str]]],
) -> dict[str, Any]:
    """The camelCase body (fields left ``None`` omitted), or :class:`PictoryValidationError` naming them."""
    body: dict[str, Any] = {"prompt": prompt} | {key: value for key, value in optional.items() if value is not None}
    errors = request_errors(body)
    if errors:
        raise PictoryValidationError(
            f"Invalid Pictory {kind} request: " + "; ".join(e["errors"] for e in errors), errors
        )
    return body


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
    optional = {
        "model": model,
        "aspectRatio": aspect_ratio,
        "style": style,
        "referenceImageUrl": reference_image_url,
        "webhook": webhook,
    }
    return _checked_body("image", prompt, optional, image_request_errors)


def video_request_errors(body: dict[str, Any]) -> list[dict[str, str]]:
    """Return Pictory-style ``fields`` errors for a camelCase Generate Video body (empty if valid).

    Aspect ratio and duration are checked against the chosen model, or Pictory's default model
    (``pixverse5.5``) when none is given.
    """
    errors = _prompt_errors(body.get("prompt"))
    model = body.get("model")
    if model is not None and model not in VIDEO_MODELS:
        errors.append(_field_error("model", f"model must be one of {', '.join(VIDEO_MODELS)} (got {model!r})"))
        model = None
    effective = model or DEFAULT_VIDEO_MODEL
    for name, table in (("aspectRatio", VIDEO_ASPECT_RATIOS), ("duration", VIDEO_DURATIONS)):
        value, allowed = body.get(name), table[effective]
        if value is not None and value not in allowed:
            errors.append(
                _field_error(name, f"{name} must be one of {', '.join(allowed)} for model {effective} (got {value!r})")
            )
    for name in ("firstFrameImageUrl", "extendVideoUrl", "webhook"):
        value = body.get(name)
        if value is not None and not _is_http_url(value):
            errors.append(_field_error(name, f"{name} must be an absolute http(s) URL (got {value!r})"))
    references = body.get("referenceImageUrls")
    if references is not None:
        if not isinstance(references, list) or not 1 <= len(references) <= MAX_REFERENCE_IMAGES:
            errors.append(
                _field_error(
                    "referenceImageUrls",
                    f"referenceImageUrls must be a list of 1 to {MAX_REFERENCE_IMAGES} absolute http(s) URLs "
                    f"(got {references!r})",
                )
            )
        elif not all(_is_http_url(url) for url in references):
            bad = [url for url in references if not _is_http_url(url)]
            errors.append(
                _field_error("referenceImageUrls", f"referenceImageUrls must be absolute http(s) URLs (got {bad!r})")
            )
    given = [name for name in VIDEO_SOURCE_FIELDS if body.get(name) is not None]
    if len(given) > 1:
        errors.append(
            _field_error(
                given[1],
                f"at most one of {', '.join(VIDEO_SOURCE_FIELDS)} may be given (got {', '.join(given)})",
            )
        )
    return errors


def build_video_request(
    prompt: str,
    *,
    model: str | None = None,
    aspect_ratio: str | None = None,
    duration: str | int | None = None,
    first_frame_image_url: str | None = None,
    extend_video_url: str | None = None,
    reference_image_urls: list[str] | tuple[str, ...] | None = None,
    webhook: str | None = None,
) -> dict[str, Any]:
    """Build the documented camelCase Generate Video body, or raise :class:`PictoryValidationError`.

    ``duration`` is Pictory's string (``"8s"``); a whole number of seconds (``8``) is accepted too.
    """
    if isinstance(duration, int) and not isinstance(duration, bool):
        duration = f"{duration}s"
    references: Any = reference_image_urls
    if isinstance(references, tuple):
        references = list(references)
    optional = {
        "model": model,
        "aspectRatio": aspect_ratio,
        "duration": duration,
        "firstFrameImageUrl": first_frame_image_url,
        "extendVideoUrl": extend_video_url,
        "referenceImageUrls": references,
        "webhook": webhook,
    }
    return _checked_body("video", prompt, optional, video_request_errors)
