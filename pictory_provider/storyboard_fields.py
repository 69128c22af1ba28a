"""The documented field names of a storyboard request, each list with the docs page it comes from.

Addresses are under ``https://docs.pictory.ai/``; "skill" is Pictory's own client,
pictoryai/pictory-claude-skills ``pictory-text-to-video/references/request-schema.md``. A field Pictory
adds later can still be sent: ``allow_unknown_fields=("newField",)`` on the hook, the operator or
:func:`pictory_provider.storyboard.build_render_request`.
"""

from __future__ import annotations

__all__ = [
    "BACKGROUND_FIELDS",
    "BACKGROUND_MUSIC_FIELDS",
    "CONTENT_SOURCES",
    "DROPPED_FIELDS",
    "EXCLUSIVE_PAIRS",
    "FIELD_SOURCES",
    "SCENE_BACKGROUND_MUSIC_FIELDS",
    "SCENE_EXCLUSIVE_PAIRS",
    "SCENE_FIELDS",
    "STORY_COPILOT_FIELDS",
    "TOP_LEVEL_FIELDS",
    "VOICE_OVER_FIELDS",
]

_PREVIEW = "api-reference/videos/create-storyboard-preview"
_SKILL = "skill"
_SUBTITLE_STYLES = "guides/branding-customization/subtitle-styles"

#: Top-level fields: ``api-reference/videos/create-storyboard-preview`` (the same body as
#: ``api-reference/videos/render-storyboard-video``) and the skill's request schema.
TOP_LEVEL_FIELDS = (
    "videoName",
    "videoWidth",
    "videoHeight",
    "aspectRatio",
    "language",
    "saveProject",
    "webhook",
    "webhookInput",
    "backgroundMusic",
    "voiceOver",
    "logo",
    "avatar",
    "subtitleStyle",
    "scenes",
    "templateId",
    "variables",
    "smartLayoutId",
    "smartLayoutName",
    "brandId",
    "brandName",
    "subtitleStyleId",
    "subtitleStyleName",
    "visualLibraryId",
    "visualSelectionPreference",
    "destinations",
    "awsConnectionId",
    "vimeoConnectionId",
    "projectMetadata",
    "storyboardVersion",
)
#: The content sources of a scene: exactly one, or none with a ``background`` (a visual-only scene).
CONTENT_SOURCES = ("story", "storyCoPilot", "blogUrl", "pptUrl", "audioUrl", "videoUrl")
#: Scene fields (skill; ``subtitleStyleName``/``subtitleStyleId`` override the video's style for one
#: scene: ``guides/branding-customization/subtitle-styles``, "Scene-Level Parameters").
SCENE_FIELDS = (
    *CONTENT_SOURCES,
    "audioLanguage",
    "transcript",
    "mediaRepurposeSettings",
    "isSSMLStory",
    "createSceneOnNewLine",
    "createSceneOnEndOfSentence",
    "maxSubtitleLines",
    "highlightKeywords",
    "hideSubtitles",
    "minimumDuration",
    "endPauseDuration",
    "sceneTransition",
    "subtitleStyle",
    "subtitleStyleId",
    "subtitleStyleName",
    "background",
    "voiceOver",
    "backgroundMusic",
    "elements",
    "caption",
    "avatar",
    "backgroundBrolls",
    "backgroundCorpus",
)
#: ``voiceOver`` (``create-storyboard-preview``: "nested inside the top-level voiceOver object").
VOICE_OVER_FIELDS = ("enabled", "aiVoices", "externalVoice")
#: ``backgroundMusic`` (skill).
BACKGROUND_MUSIC_FIELDS = ("enabled", "autoMusic", "musicUrl", "volume", "clips")
#: A scene's ``backgroundMusic`` only turns the storyboard's music on or off for that scene (skill).
SCENE_BACKGROUND_MUSIC_FIELDS = ("enabled",)
#: A scene's ``background`` (skill).
BACKGROUND_FIELDS = (
    "visualUrl",
    "type",
    "clips",
    "color",
    "searchFilter",
    "aiVisual",
    "colorOverlay",
    "settings",
    "motionGraphics",
)
#: A scene's ``storyCoPilot`` (skill).
STORY_COPILOT_FIELDS = ("prompt", "videoType", "duration", "platform", "tone")
#: Pairs of which at most one may be given (top level; skill, and ``subtitle-styles``: "use this OR
#: subtitleStyleId, not both").
EXCLUSIVE_PAIRS = (
    ("brandId", "brandName"),
    ("subtitleStyleId", "subtitleStyleName"),
    ("smartLayoutId", "smartLayoutName"),
)
#: The same rule for a scene's style override (``subtitle-styles``).
SCENE_EXCLUSIVE_PAIRS = (("subtitleStyleId", "subtitleStyleName"),)
#: Fields Pictory's own material sends but Pictory drops: a warning, not a refusal (why, per field).
DROPPED_FIELDS = {
    "videoDescription": (
        "sent by Pictory's own v2 example (pictoryai/api-examples-node, "
        "text_to_video_v2/bulletin_style/index.js) but not a documented storyboard field "
        f"({_PREVIEW}): Pictory drops it"
    ),
}
#: The docs page each field list comes from (``where`` in an error -> page).
FIELD_SOURCES = {
    "top level": f"{_PREVIEW}; {_SKILL}",
    "scenes[]": f"{_SKILL}; {_SUBTITLE_STYLES} (subtitleStyleName, subtitleStyleId)",
    "voiceOver": _PREVIEW,
    "backgroundMusic": _SKILL,
    "scenes[].background": _SKILL,
    "scenes[].storyCoPilot": _SKILL,
}
