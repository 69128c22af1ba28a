"""Pictory's older v1 storyboard (as its own Python examples build it) is refused before any request, and
each v1 field is named with its v2 equivalent instead of a look-alike ("brandLogo: did you mean brandId?")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pictory_provider.exceptions import PictoryValidationError
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.storyboard import storyboard_errors
from pictory_provider.storyboard_v1 import V1_SCENE_FIELDS, V1_TOP_LEVEL_FIELDS

ROOT = Path(__file__).resolve().parent.parent
FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}

#: The body pictoryai/api-examples-python's texttovideo/addbrandlogo example sends (v1), field by field.
V1_SCENE = {
    "text": "Version 2 is out.",
    "fontFamily": "Roboto",
    "textColor": "#00FF00",
    "fontSize": 32,
    "textBackgroundColor": "#000000",
    "voiceOver": True,
    "splitTextOnNewLine": False,
    "splitTextOnPeriod": True,
}
V1_STORYBOARD = {
    "videoName": "Text_To_Video_English",
    "videoDescription": "Text_To_Video_English",
    "language": "en",
    "audio": {
        "autoBackgroundMusic": True,
        "backGroundMusicVolume": 0.5,
        "aiVoiceOver": {"speaker": "Jackson", "speed": 100, "amplifyLevel": 0},
    },
    "brandLogo": {"url": "https://cdn.example.com/logo.png", "verticalAlignment": "top"},
    "textStyles": {"fontFamily": "Roboto", "textColor": "#FFFF00"},
    "scenes": [V1_SCENE, {**V1_SCENE, "text": None, "article_url": "https://blog.example.com/post"}],
}


def test_a_v1_storyboard_names_the_v2_fields_and_sends_nothing(pictory_conn):
    with pytest.raises(PictoryValidationError) as raised:
        PictoryHook(**FAST).render_video(V1_STORYBOARD)
    assert sum(pictory_conn.stats()["requests"].values()) == 0
    by_name = {error["name"]: error["errors"] for error in raised.value.fields}
    expected = {
        "brandLogo": "in v2 use logo",
        "textStyles": "in v2 use subtitleStyle",
        "audio": "in v2 use voiceOver",
        "scenes[0].text": "in v2 use story",
        "scenes[0].textBackgroundColor": "in v2 use backgroundColor in the scene's",
        "scenes[0].textColor": "in v2 use color in the scene's",
        "scenes[0].splitTextOnPeriod": "in v2 use createSceneOnEndOfSentence",
        "scenes[1].article_url": "in v2 use blogUrl",
        "scenes[0].voiceOver": "a v1 flag",
    }
    for name, text in expected.items():
        assert text in by_name[name], (name, by_name[name])
    assert "videoDescription" not in by_name  # Pictory's own v2 example sends it: dropped with a warning
    assert not [message for message in by_name.values() if "did you mean" in message]


def test_v2_typos_still_get_did_you_mean():
    errors = {e["name"]: e["errors"] for e in storyboard_errors({"videoname": "x", "scenes": [{"storry": "Hi"}]})}
    assert "did you mean videoName?" in errors["videoname"]
    assert "did you mean story?" in errors["scenes[0].storry"]


def test_the_v1_page_lists_every_mapped_field():
    page = (ROOT / "docs" / "coming-from-v1.md").read_text(encoding="utf-8")
    missing = [name for name in (*V1_TOP_LEVEL_FIELDS, *V1_SCENE_FIELDS) if not re.search(rf"`{name}`", page)]
    assert missing == []
    assert "coming-from-v1.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
