"""Issue #29 item 1: the names a storyboard uses are checked against the account's lookups before a
render (or a preview) is bought, over real HTTP against the emulator (which serves the docs' lookups)."""

from __future__ import annotations

import json
import logging

import pytest

from pictory_provider.exceptions import PictoryValidationError
from pictory_provider.lookups import AVATARS_PATH, BRANDS_PATH, TEXT_STYLES_PATH, VOICES_PATH
from pictory_provider.operators.render import PictoryRenderVideoOperator
from pictory_provider.storyboard_names import names_used

from .fakes import make_context

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
STORYBOARD = {
    "videoName": "release-notes",
    "voiceOver": {"enabled": True, "aiVoices": [{"speaker": "Joanna", "speed": 100}]},
    "backgroundMusic": {"enabled": True, "autoMusic": True, "volume": 0.1},
    "scenes": [{"story": "Version 2 is out."}, {"story": "It renders videos from text."}],
}


def board(**changes) -> dict:
    return json.loads(json.dumps(STORYBOARD)) | changes


def render(storyboard: dict, **kwargs) -> dict:
    params = {"task_id": "render", "hook_params": FAST, "poll_interval": 0.1, "deferrable": False}
    return PictoryRenderVideoOperator(storyboard=storyboard, **(params | kwargs)).execute(make_context())


def gets(emulator, path: str) -> int:
    return sum(1 for entry in emulator.request_log if entry["method"] == "GET" and entry["path"] == path)


def test_a_misspelt_speaker_is_refused_with_the_closest_name_and_nothing_is_bought(pictory_conn):
    with pytest.raises(PictoryValidationError) as refused:
        render(board(voiceOver={"enabled": True, "aiVoices": [{"speaker": "Joana"}]}))
    message = str(refused.value)
    assert "voiceOver.aiVoices[0].speaker: unknown voice speaker 'Joana': did you mean Joanna?" in message
    assert "nothing was sent to Pictory" in message and "check_names=False" in message
    miss = "voiceOver.aiVoices[0].speaker: unknown voice speaker 'Joana': did you mean Joanna?"
    assert refused.value.fields == [{"name": "voiceOver.aiVoices[0].speaker", "errors": miss}]
    stats = pictory_conn.stats()
    assert stats["posts"] == 0 and stats["jobs_created"] == 0
    assert gets(pictory_conn, VOICES_PATH) == 1


@pytest.mark.parametrize(
    ("changes", "where", "needle"),
    [
        ({"brandName": "Corporate Blu"}, "brandName", "unknown brand 'Corporate Blu': did you mean Corporate Blue?"),
        ({"brandId": "eb67b4ba-0eef-41fa-a772-d9675cc3645d"}, "brandId", "did you mean eb67b4ba-0eef-41fa-a772"),
        ({"subtitleStyleName": "headliner"}, "subtitleStyleName", "did you mean Headliner? (names are compared"),
        (
            {"scenes": [{"story": "Hi.", "subtitleStyleName": "Headlner"}]},
            "scenes[0].subtitleStyleName",
            "unknown subtitle style 'Headlner': did you mean Headliner?",
        ),
        (
            {"scenes": [{"story": "Hi.", "voiceOver": {"enabled": True, "aiVoices": [{"speaker": "Fionna"}]}}]},
            "scenes[0].voiceOver.aiVoices[0].speaker",
            "did you mean Fiona?",
        ),
        ({"smartLayoutName": "Kinetik"}, "smartLayoutName", "unknown smart layout 'Kinetik': did you mean Kinetic?"),
        ({"smartLayoutId": "nope"}, "smartLayoutId", "the account has 202507141030549677ylq8k8gu44vy1y"),
        ({"templateId": "202507141030549677ylq8k8gu44vy1z"}, "templateId", "unknown template id"),
        (
            {"avatar": {"avatarId": "Annie_expressive12_publc"}},
            "avatar.avatarId",
            "did you mean Annie_expressive12_public",
        ),
        (
            {"avatar": {"avatarId": "e0e84faea390465896db75a83be45085"}},
            "avatar.avatarId",
            "that is the avatar Annie: send one of its looks' ids (Annie_expressive12_public, ",
        ),
    ],
)
def test_each_kind_of_name_is_checked(pictory_conn, changes, where, needle):
    with pytest.raises(PictoryValidationError) as refused:
        render(board(**changes))
    assert needle in str(refused.value)
    assert [field["name"] for field in refused.value.fields] == [where]
    assert pictory_conn.stats()["posts"] == 0 and pictory_conn.stats()["jobs_created"] == 0


def test_names_the_account_has_render_with_one_read_per_lookup(pictory_conn):
    """Every kind valid: rendered once; each needed lookup read once, the others not at all."""
    storyboard = board(
        voiceOver={"enabled": True, "aiVoices": [{"speaker": "Joanna"}, {"speaker": "Fiona"}]},
        brandName="Corporate Blue",
        subtitleStyleName="Headliner",
        avatar={"avatarId": "Brandon_expressive2_public"},
        scenes=[
            {"story": "Hi.", "subtitleStyleId": "6d9cc665-8087-4587-ab6d-f9d7d01f82c4"},
            {"story": "There.", "voiceOver": {"enabled": True, "aiVoices": [{"speaker": "Shreya"}]}},
        ],
    )
    render(storyboard)
    assert pictory_conn.stats()["jobs_created"] == 1
    assert gets(pictory_conn, VOICES_PATH) == gets(pictory_conn, TEXT_STYLES_PATH) == 1
    assert gets(pictory_conn, BRANDS_PATH) == 1 and gets(pictory_conn, AVATARS_PATH) == 2  # two pages
    assert sum(entry["path"].startswith("/pictoryapis/v1/templates") for entry in pictory_conn.request_log) == 0


def test_a_preview_is_checked_too(pictory_conn):
    with pytest.raises(PictoryValidationError, match="did you mean Joanna"):
        render(board(voiceOver={"enabled": True, "aiVoices": [{"speaker": "joanna"}]}), preview_only=True)
    assert pictory_conn.stats()["posts"] == 0


def test_check_names_false_sends_without_reading_lookups(pictory_conn):
    render(board(voiceOver={"enabled": True, "aiVoices": [{"speaker": "Joana"}]}), check_names=False)
    assert pictory_conn.stats()["jobs_created"] == 1 and gets(pictory_conn, VOICES_PATH) == 0


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 500, "count": 20},
        {"kind": "status", "status": 200, "body": {"unexpected": True}},
    ],
    ids=["http-500", "unexpected-shape"],
)
def test_an_unreadable_lookup_only_warns_and_the_render_is_bought_once(pictory_conn, caplog, fault):
    pictory_conn.add_fault(fault.pop("kind"), route="lookup", **fault)
    caplog.set_level(logging.WARNING)
    render(board(voiceOver={"enabled": True, "aiVoices": [{"speaker": "Joana"}]}))
    assert pictory_conn.stats()["jobs_created"] == 1 and pictory_conn.stats()["posts"] == 1
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("Could not read list_voices" in text and "unchecked" in text for text in warned)


def test_names_are_found_where_the_docs_put_them():
    """Pure: storyboard and scene speakers and styles, brand, layout, template and avatar; non-strings skipped."""
    storyboard = board(
        brandId="b",
        smartLayoutName="Kinetic",
        templateId="t",
        avatar={"avatarId": "a"},
        scenes=[
            {"story": "x", "subtitleStyleId": "s", "voiceOver": {"aiVoices": [{"speaker": None}, {"speaker": "F"}]}}
        ],
    )
    found = {use.where: use.value for use in names_used(storyboard)}
    assert found == {
        "voiceOver.aiVoices[0].speaker": "Joanna",
        "brandId": "b",
        "smartLayoutName": "Kinetic",
        "templateId": "t",
        "avatar.avatarId": "a",
        "scenes[0].voiceOver.aiVoices[1].speaker": "F",
        "scenes[0].subtitleStyleId": "s",
    }
