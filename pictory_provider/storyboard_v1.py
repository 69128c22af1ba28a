"""Pictory's older v1 storyboard field names and their v2 equivalents, for the storyboard check's hints.

Pictory's own Python examples (pictoryai/api-examples-python) and its v1 reference
(docs.pictory.ai/reference/storyboard-api) still send the v1 body: ``audio.aiVoiceOver``, ``brandLogo``,
``textStyles``, scenes with ``text`` and ``textBackgroundColor``. A close spelling of a v2 name would be
a misleading hint ("brandLogo: did you mean brandId?"), so the check names the v2 field instead.
See docs/coming-from-v1.md.
"""

from __future__ import annotations

import re

__all__ = ["V1_SCENE_FIELDS", "V1_TOP_LEVEL_FIELDS", "v1_hint", "v1_voice_over_hint"]

_SUBTITLE = "the scene's (or the storyboard's) subtitleStyle"

#: v1 top-level field → what to write in v2.
V1_TOP_LEVEL_FIELDS: dict[str, str] = {
    "audio": "voiceOver ({'enabled': True, 'aiVoices': [{'speaker': ...}]}) and backgroundMusic "
    "({'enabled': True, 'autoMusic': True, 'volume': 0.5})",
    "brandLogo": "logo ({'url': ..., 'position': ...}), or brandId/brandName for a saved brand",
    "textStyles": "subtitleStyle ({'fontFamily', 'fontSize', 'color', 'backgroundColor', ...}) or subtitleStyleName",
    "videoDescription": "nothing: v2 has no description (remove it; videoName names the video)",
    "autoHighlightKeywords": "highlightKeywords on each scene",
    "output": "nothing: v2 renders the storyboard itself (POST /v2/video/storyboard/render, or "
    "preview_only=True then preview_job_id=...)",
    "next_generation_video": "nothing: a v1 render-request field (v2 renders the storyboard itself)",
    "containsTextToImage": "nothing: a v1 render-request field (v2 renders the storyboard itself)",
}
#: v1 scene field → what to write in v2.
V1_SCENE_FIELDS: dict[str, str] = {
    "text": "story",
    "article_url": "blogUrl",
    "articleUrl": "blogUrl",
    "fontFamily": f"fontFamily in {_SUBTITLE}",
    "fontSize": f"fontSize in {_SUBTITLE}",
    "textColor": f"color in {_SUBTITLE}",
    "textBackgroundColor": f"backgroundColor in {_SUBTITLE}",
    "splitTextOnNewLine": "createSceneOnNewLine",
    "splitTextOnPeriod": "createSceneOnEndOfSentence",
}
_SCENE = re.compile(r"scenes\[\d+\]")


def v1_hint(where: str, name: str) -> str | None:
    """``"'brandLogo' is a v1 field; in v2 use logo (...)"`` for a v1 name at ``where`` ("" or "scenes[i]")."""
    table = V1_TOP_LEVEL_FIELDS if where == "" else V1_SCENE_FIELDS if _SCENE.fullmatch(where) else {}
    v2 = table.get(name)
    return f"{name!r} is a v1 field (Pictory's example scripts); in v2 use {v2}" if v2 else None


def v1_voice_over_hint(where: str, value: object) -> str:
    """The v1 scene's ``voiceOver: true`` (a flag) is an object in v2; ``""`` for anything else."""
    if isinstance(value, bool) and _SCENE.fullmatch(where.removesuffix(".voiceOver")):
        return (
            f" (got {value!r}: a v1 flag; in v2 narration is the storyboard's voiceOver "
            "{'enabled': True, 'aiVoices': [...]}, and a scene's voiceOver object overrides it)"
        )
    return ""
