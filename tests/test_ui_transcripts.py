"""The UI plugin's views of a transcription (its text beside the source's player, the stored subtitles as the
player's track) and of highlights (their segments and summary), through the FastAPI app over Airflow's tables,
as tests/test_ui_app.py drives it."""

from __future__ import annotations

import html

import pytest

from pictory_provider.ui.plugin import supported

from .test_ui_app import client, publish, session, task_query  # noqa: F401 - `client` and `session` are fixtures

pytestmark = pytest.mark.skipif(not supported(), reason="plugin apps need Airflow >= 3.1")

TRANSCRIPTION_ID = "dddddddd-4444-4444-8444-444444444444"
HIGHLIGHTS_ID = "eeeeeeee-5555-4555-8555-555555555555"
SOURCE = "https://cdn.example.com/uploads/webinar.mp4"


def test_a_transcript_shows_beside_its_player_with_its_subtitles_and_highlights_show_their_segments(
    client,  # noqa: F811
    session,  # noqa: F811
    tmp_path,
):
    vtt = tmp_path / f"{TRANSCRIPTION_ID}.vtt"
    vtt.write_text("WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.400\nWelcome <everyone>.\n")
    transcribed = {
        "job_id": TRANSCRIPTION_ID,
        "media_url": SOURCE,
        "transcript_text": "Welcome <everyone>.\nThanks for having me.",
        "duration": 33.4,
        "media_info": {"duration": 33.4, "width": 1280, "height": 720},
        "ai_credits_used": None,
        "vtt_path": str(vtt),
        "transcript_path": str(tmp_path / f"{TRANSCRIPTION_ID}.json"),
    }
    publish(
        session,
        "a_dag",
        "transcribe",
        transcribed,
        {"file_url": SOURCE, "language": "en-US", "output_path": f"{tmp_path}/"},
    )
    segments = [{"start": 3.0, "end": 9.0, "text": "Today we show <how>."}]
    publish(
        session,
        "a_dag",
        "highlights",
        {
            "job_id": HIGHLIGHTS_ID,
            "media_url": None,
            "highlights": segments,
            "highlights_summary": "In short.",
            "ai_credits_used": None,
        },
        {"transcription_job_id": TRANSCRIPTION_ID, "highlight_duration": 30},
    )

    page = client.get("/pictory/task", params=task_query("a_dag", "transcribe")).text
    assert f'<video controls preload="metadata" src="{SOURCE}"' in page  # the source, in a player
    assert '<pre id="transcript"' in page and "Welcome &lt;everyone&gt;.\nThanks for having me." in page  # escaped
    track = html.unescape(page.split('<track kind="subtitles"')[1].split('src="')[1].split('"')[0])
    assert track.startswith("/pictory/file?") and track.endswith("part=vtt")
    served = client.get(track)
    assert served.status_code == 200 and served.text.startswith("WEBVTT")  # the stored .vtt, from our origin
    assert "<dt>Language</dt><dd>en-US</dd>" in page

    page = client.get("/pictory/task", params=task_query("a_dag", "highlights")).text
    assert '<table id="highlights">' in page and "3.0&ndash;9.0 s" in page and "Today we show &lt;how&gt;." in page
    assert '<p id="summary">In short.</p>' in page and "No viewable URL" not in page

    listed = {o["job_id"]: o for o in client.get("/pictory/api/outputs").json()["outputs"]}
    assert (listed[TRANSCRIPTION_ID]["kind"], listed[TRANSCRIPTION_ID]["url"]) == ("transcription", SOURCE)
    assert listed[HIGHLIGHTS_ID]["kind"] == "highlights"
    gallery = client.get("/pictory/").text
    assert '<p class="meta">In short.</p>' in gallery  # a highlights card shows its summary (it has no player)
    assert client.get("/pictory/", params={"kind": "transcription"}).status_code == 200
