"""The webinar example DAG through real `airflow dags test` (one Airflow home for the module): the recording is
uploaded, transcribed (four files stored), its highlights generated from the transcription job, and rendered
as a narrated video with subtitles; every paid task defers and the trigger's event completes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pictory_provider.emulator.media import encode_mp4

from .compat import AIRFLOW_V_3_0_PLUS
from .test_dag_runs import home, run  # noqa: F401 - `home` is a fixture
from .test_video_media import mp4_summary

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="the example uses airflow.sdk (Airflow 3)"),
]
DAG_ID = "example_pictory_webinar_highlights"


def test_example_webinar_becomes_a_narrated_highlight_video(home, emulator, tmp_path):  # noqa: F811
    emulator.set_job_seconds(0)  # done at the trigger's first poll (the operators defer without looking)
    recording = tmp_path / "recording" / "q3-webinar.mp4"
    recording.parent.mkdir()
    recording.write_bytes(encode_mp4(320, 180, 2, (10, 20, 30), (90, 100, 110)))
    out = tmp_path / "out"
    conf = {"recording": str(recording), "output_path": f"{out}/", "highlight_seconds": 15}
    result, output = run(home, emulator, DAG_ID, conf)
    assert result.returncode == 0, output[-4000:]
    assert output.count("[DAG TEST] running trigger in line") == 3  # transcription, highlights, render
    xcom = home.xcom(DAG_ID)
    transcript = xcom[("transcribe", -1, "return_value")]
    job_id = transcript["job_id"]
    upload_url = xcom[("upload", -1, "return_value")]
    assert transcript["media_url"] == upload_url and upload_url.endswith("/q3-webinar.mp4")
    assert emulator.job(job_id)["prompt"] == upload_url  # Pictory was asked to transcribe the upload
    for extension, key in (("srt", "srt_path"), ("vtt", "vtt_path"), ("txt", "txt_path"), ("json", "transcript_path")):
        assert transcript[key] == f"{out}/{job_id}.{extension}"
    assert Path(transcript["txt_path"]).read_text() == transcript["text"] == xcom[("transcribe", -1, "transcript_text")]
    assert json.loads(Path(transcript["transcript_path"]).read_text())[0]["words"][0]["word"] == "Welcome"
    highlights = xcom[("highlights", -1, "highlights")]
    assert emulator.job(xcom[("highlights", -1, "job_id")])["source_job_id"] == job_id  # from the job, by id
    assert 0 < sum(s["end"] - s["start"] for s in highlights) <= 15
    video = xcom[("render", -1, "return_value")]
    board = emulator._state._jobs[video["job_id"]].storyboard
    assert [scene["story"] for scene in board["scenes"]] == [segment["text"] for segment in highlights]
    assert board["voiceOver"]["aiVoices"][0]["speaker"] == xcom[("pick_voice", -1, "return_value")]
    assert mp4_summary(Path(video["video_path"]).read_bytes())["width"] == 1280
    assert highlights[0]["text"] in Path(video["srt_path"]).read_text()  # the narrated highlights, subtitled
    assert xcom[("report", -1, "return_value")] == {
        "transcript": transcript["txt_path"],
        "video": video["video_path"],
        "subtitles": video["srt_path"],
    }
    assert emulator.stats()["posts"] == 3  # one transcription, one highlights job, one render
