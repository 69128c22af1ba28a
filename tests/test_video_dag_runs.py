"""The image-to-video example DAG through real `airflow dags test`: both operators defer, the video starts
from the image's URL (templated from XCom), both files are stored and the credits are reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from .compat import AIRFLOW_V_3_0_PLUS
from .test_dag_runs import home, outlast_task_startup, png_size, run  # noqa: F401 - `home` is a fixture
from .test_video_media import mp4_summary

pytestmark = pytest.mark.timeout(600)
DAG_ID = "example_pictory_image_to_video"


def test_example_image_to_video(home, emulator, tmp_path):  # noqa: F811
    outlast_task_startup(emulator)
    result, output = run(home, emulator, DAG_ID, {"output_path": f"{tmp_path}/"})
    assert result.returncode == 0, output[-4000:]
    assert output.count("[DAG TEST] running trigger in line") == 2  # the image and the video deferred
    xcom = home.xcom(DAG_ID)
    image_url = xcom[("generate_image", -1, "image_url")]
    video = xcom[("animate_image", -1, "return_value")]
    job_id = xcom[("animate_image", -1, "job_id")]
    assert emulator.job(job_id)["first_frame_image_url"] == image_url  # the template pulled the image's URL
    files = f"{emulator.base_url}/files/{job_id}"
    assert video == {
        "job_id": job_id,
        "url": f"{files}.mp4",
        "width": 1280,
        "height": 720,
        "duration": 5,
        "ai_credits_used": 8,
        "thumbnail_url": f"{files}-thumbnail.jpg",
        "last_frame_image_url": f"{files}-last-frame.png",
        "video_path": f"{tmp_path}/{job_id}.mp4",
    }
    for key in ("duration", "width", "height", "ai_credits_used", "thumbnail_url", "last_frame_image_url"):
        assert xcom[("animate_image", -1, key)] == video[key]
    assert xcom[("animate_image", -1, "video_url")] == video["url"]
    assert xcom[("animate_image", -1, "video_path")] == video["video_path"]
    summary = mp4_summary(Path(video["video_path"]).read_bytes())
    assert (summary["width"], summary["height"], summary["seconds"]) == (1280, 720, 5)
    image_path = Path(xcom[("generate_image", -1, "image_path")])
    assert png_size(image_path) == (1280, 720)
    report = xcom[("report", -1, "return_value")]
    assert report == {"image_path": str(image_path), "video_path": video["video_path"], "ai_credits_used": 8.6}
    assert "Total: 8.6 AI credits" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([image_path.name, f"{job_id}.mp4"])
    assert emulator.stats()["posts"] == 2
    if AIRFLOW_V_3_0_PLUS:  # Airflow 3 stores extra links as XCom
        assert xcom[("animate_image", -1, "_link_PictoryVideoLink")] == video["url"]
        assert xcom[("generate_image", -1, "_link_PictoryImageLink")] == image_url
