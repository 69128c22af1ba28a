"""Issue #30 end to end: transcription, highlights, a saved project's render and a template video, each
deferred to the real triggerer against the emulator; one paid job each, the transcription's texts stored."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest

pytestmark = pytest.mark.timeout(600)
DAG_ID = "e2e_pictory_scheduled_work"
TASKS = ("transcribe", "highlights", "project", "template")


def test_each_capability_runs_through_the_real_triggerer(cluster, e2e_emulator, tmp_path):
    e2e_emulator.reset()
    e2e_emulator.set_job_seconds(600)  # each job runs until its task waits in the triggerer
    run_id = cluster.trigger(DAG_ID, {"output_path": f"{tmp_path}/"})
    for task_id in TASKS:  # one after another: deferred, then its job finishes, then the task resumes
        row = cluster.wait_deferred(DAG_ID, run_id, task_id)
        assert row[1] == "pictory_provider.triggers.pictory.PictoryJobTrigger"  # the one trigger
        assert e2e_emulator.finish_jobs() == 1
        cluster.wait_for(lambda t=task_id: cluster.task_state(DAG_ID, run_id, t) in ("success", "failed"), 120)
    state = cluster.wait_for_run(DAG_ID, run_id, timeout=120)
    states = {task_id: cluster.task_state(DAG_ID, run_id, task_id) for task_id in TASKS}
    failed = next((task_id for task_id, value in states.items() if value != "success"), None)
    errors = (
        [line[:600] for line in cluster.task_log(DAG_ID, run_id, failed).splitlines() if "rror" in line]
        if failed
        else []
    )
    assert state == "success", (states, errors[-8:])
    assert e2e_emulator.stats()["posts"] == 4  # one paid job per task

    transcript = cluster.xcom(DAG_ID, run_id, "transcribe")
    job_id = transcript["job_id"]
    for extension in ("srt", "vtt", "txt", "json"):
        assert Path(f"{tmp_path}/{job_id}.{extension}").stat().st_size > 0
    assert Path(f"{tmp_path}/{job_id}.vtt").read_text().startswith("WEBVTT")
    assert cluster.xcom(DAG_ID, run_id, "transcribe", "transcript_text")

    assert cluster.xcom(DAG_ID, run_id, "highlights", "highlights")  # segments of the transcription
    for task_id in ("project", "template"):
        assert cluster.xcom(DAG_ID, run_id, task_id, "video_url").endswith(".mp4")
    template_job = cluster.xcom(DAG_ID, run_id, "template")["job_id"]
    assert e2e_emulator.job(template_job)["kind"] == "render"
    # the template video's name, published with its job id, titles its tab in the real api-server's UI
    assert cluster.xcom(DAG_ID, run_id, "template", "video_name") == "welcome-ada"
    query = urlencode({"dag_id": DAG_ID, "run_id": run_id, "task_id": "template", "map_index": -1})
    status, page = cluster.fetch(f"/pictory/task?{query}")
    assert status == 200 and '<h1 id="title">welcome-ada</h1>' in page.decode(), page[:300]
