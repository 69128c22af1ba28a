"""Image → video through a real Airflow deployment: both operators defer in the real triggerer, the video
starts from the image's URL, the triggerer is killed mid video wait, and the chain still ends with one
image, one video, both files stored and no secret anywhere."""

from __future__ import annotations

import signal
import struct
import time
from pathlib import Path

import pytest

from tests.conftest import API_KEY
from tests.test_video_media import mp4_summary

pytestmark = pytest.mark.timeout(900)
DAG_ID = "example_pictory_image_to_video"


def test_image_to_video_chain_in_the_real_triggerer(cluster, e2e_emulator, tmp_path):
    e2e_emulator.reset()
    e2e_emulator.set_job_seconds(600)
    run_id = cluster.trigger(DAG_ID, {"output_path": f"{tmp_path}/"})
    image_row = cluster.wait_deferred(DAG_ID, run_id, "generate_image")
    assert image_row[1] == "pictory_provider.triggers.pictory.PictoryJobTrigger"
    e2e_emulator.set_job_seconds(25)  # the video renders long enough to kill the triggerer under it
    assert e2e_emulator.finish_jobs() == 1  # the image, now that its operator waits in the triggerer
    video_row = cluster.wait_deferred(DAG_ID, run_id, "animate_image", timeout=180)
    assert video_row[1] == "pictory_provider.triggers.pictory.PictoryJobTrigger"  # the one trigger
    assert API_KEY not in str(video_row[3])
    cluster.kill_component("triggerer", signal.SIGKILL)
    time.sleep(2)
    cluster.start_component("triggerer")
    assert cluster.wait_for_run(DAG_ID, run_id, timeout=300) == "success"

    image_url = cluster.xcom(DAG_ID, run_id, "generate_image", "image_url")
    video_job = cluster.xcom(DAG_ID, run_id, "animate_image", "job_id")
    assert e2e_emulator.job(video_job)["first_frame_image_url"] == image_url
    video = cluster.xcom(DAG_ID, run_id, "animate_image")
    assert video["url"] == cluster.xcom(DAG_ID, run_id, "animate_image", "video_url")
    assert (video["width"], video["height"], video["duration"], video["ai_credits_used"]) == (1280, 720, 5, 8)
    assert cluster.xcom(DAG_ID, run_id, "animate_image", "last_frame_image_url").endswith("-last-frame.png")
    summary = mp4_summary(Path(video["video_path"]).read_bytes())
    assert (summary["width"], summary["height"], summary["seconds"]) == (1280, 720, 5)
    image_path = Path(cluster.xcom(DAG_ID, run_id, "generate_image", "image_path"))
    assert struct.unpack(">II", image_path.read_bytes()[16:24]) == (1280, 720)
    assert cluster.xcom(DAG_ID, run_id, "report")["ai_credits_used"] == 8.6
    assert e2e_emulator.stats()["posts"] == 2  # one image, one video: nothing bought twice
    assert list((cluster.home / "logs").rglob("*.log.trigger.*")), "the triggers ran in the triggerer process"


def test_no_secret_anywhere(cluster):
    assert cluster.files_containing(API_KEY) == []
    assert cluster.tables_containing(API_KEY) == []
