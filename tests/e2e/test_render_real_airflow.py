"""A storyboard render through the real deployment: the operator defers to the real triggerer, which
logs the render's progress, and the finished MP4 and its subtitles are stored; one render is bought."""

from __future__ import annotations

import json
import time
from html import escape
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.conftest import API_KEY
from tests.test_video_media import mp4_summary

pytestmark = pytest.mark.timeout(600)
DAG_ID = "e2e_pictory_render"


def test_render_in_the_real_triggerer_stores_mp4_and_subtitles(cluster, e2e_emulator, tmp_path):
    e2e_emulator.reset()
    e2e_emulator.set_job_seconds(600)  # renders until the operator waits in the triggerer
    run_id = cluster.trigger(DAG_ID, {"output_path": f"{tmp_path}/"})
    row = cluster.wait_deferred(DAG_ID, run_id, "render")
    assert row[1] == "pictory_provider.triggers.pictory.PictoryJobTrigger"  # the one trigger
    assert API_KEY not in str(row[3])
    deferred_at = time.time()

    def triggerer_polled() -> bool:  # the trigger read the running render at least once
        return any(e["time"] > deferred_at and e["route"] in ("job", "list") for e in e2e_emulator.request_log)

    cluster.wait_for(triggerer_polled, timeout=120, what="the trigger's first poll")

    def triggerer_logged_progress() -> bool:  # checked below: wait for the line, not a fixed time
        logs = (cluster.home / "logs").rglob("*trigger*")
        return any(": rendering " in path.read_text(errors="replace") for path in logs if path.is_file())

    cluster.wait_for(triggerer_logged_progress, timeout=60, interval=0.5, what="the trigger to log the progress")
    assert e2e_emulator.finish_jobs() == 1
    assert cluster.wait_for_run(DAG_ID, run_id, timeout=300) == "success"

    result = cluster.xcom(DAG_ID, run_id, "render")
    job_id = result["job_id"]
    assert e2e_emulator.job(job_id)["kind"] == "render"
    assert result["video_path"] == f"{tmp_path}/{job_id}.mp4"
    assert (result["srt_path"], result["vtt_path"]) == (f"{tmp_path}/{job_id}.srt", f"{tmp_path}/{job_id}.vtt")
    assert cluster.xcom(DAG_ID, run_id, "render", "video_url") == result["url"]
    assert cluster.xcom(DAG_ID, run_id, "render", "srt_url").endswith(".srt")
    summary = mp4_summary(Path(result["video_path"]).read_bytes())
    assert (summary["width"], summary["height"], summary["seconds"]) == (720, 1280, 4)
    assert "Rendered in the real triggerer." in Path(result["srt_path"]).read_text()
    assert Path(result["vtt_path"]).read_text().startswith("WEBVTT")
    assert e2e_emulator.stats()["posts"] == 1
    logs = {path: path.read_text() for path in (cluster.home / "logs").rglob("*trigger*")}
    assert any(f"Pictory job {job_id}: rendering " in text for text in logs.values())  # logged by the triggerer

    # the UI plugin's task tab: the stored MP4 in a player with the subtitles track, titled by the storyboard
    query = urlencode({"dag_id": DAG_ID, "run_id": run_id, "task_id": "render", "map_index": -1})
    status, page = cluster.fetch(f"/pictory/task?{query}")
    assert status == 200, page[:300]
    html = page.decode()
    # the stored subtitles, through the plugin: a browser loads a track only from the page's own origin
    vtt_src = escape(f"/pictory/file?{query}&part=vtt")
    assert "<video" in html and f'<track kind="subtitles" label="Subtitles" default src="{vtt_src}">' in html, html
    status, vtt = cluster.fetch(f"/pictory/file?{query}&part=vtt")
    assert status == 200 and vtt.decode() == Path(result["vtt_path"]).read_text()
    assert "e2e-render" in html and job_id in html
    outputs = json.loads(cluster.fetch(f"/pictory/api/outputs?dag_id={DAG_ID}")[1])["outputs"]
    assert [(o["kind"], o["job_id"]) for o in outputs if o["run_id"] == run_id] == [("render", job_id)]
