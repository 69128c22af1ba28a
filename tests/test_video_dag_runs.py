"""The video example DAGs through real `airflow dags test` (one Airflow home for the module).

Image to video: both operators defer, the video starts from the image's URL (templated from XCom), both
files are stored and the credits are reported. Blog posts to narrated videos: mapped storyboard renders
defer, MP4 + subtitles are stored, the voice comes from list_voices, the spend is reported. The
preview -> approval -> render DAG's shape is checked (its human approval cannot run unattended)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS, EXAMPLE_DAGS
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


BLOG_DAG_ID = "example_pictory_blog_to_video"


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="the example uses airflow.sdk (Airflow 3)")
def test_example_blog_posts_become_narrated_videos(home, emulator, tmp_path):  # noqa: F811
    emulator.set_job_seconds(0)  # done at the trigger's first poll (the operator defers without looking)
    result, output = run(home, emulator, BLOG_DAG_ID, {"output_path": f"{tmp_path}/"})
    assert result.returncode == 0, output[-4000:]
    assert output.count("[DAG TEST] running trigger in line") == 3  # every mapped render deferred
    xcom = home.xcom(BLOG_DAG_ID)
    assert xcom[("pick_voice", -1, "return_value")] == "Joanna"  # the first en-US voice Pictory listed
    stored = []
    for index in range(3):
        render = xcom[("render_video", index, "return_value")]
        job_id = render["job_id"]
        record = emulator.job(job_id)
        assert record["kind"] == "render"
        assert render["video_path"] == f"{tmp_path}/{job_id}.mp4"
        assert (render["srt_path"], render["vtt_path"]) == (f"{tmp_path}/{job_id}.srt", f"{tmp_path}/{job_id}.vtt")
        assert xcom[("render_video", index, "video_url")] == render["url"]
        # the UI's title, whole even when Airflow truncates the rendered storyboard
        assert xcom[("render_video", index, "video_name")] == emulator._state._jobs[job_id].storyboard["videoName"]
        summary = mp4_summary(Path(render["video_path"]).read_bytes())
        assert (summary["width"], summary["height"]) == (1280, 720)
        assert "-->" in Path(render["srt_path"]).read_text()
        stored += [Path(render["video_path"]).name, Path(render["srt_path"]).name, Path(render["vtt_path"]).name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(stored)
    board = emulator._state._jobs[xcom[("render_video", 0, "job_id")]].storyboard
    assert board["voiceOver"]["aiVoices"][0]["speaker"] == "Joanna" and board["videoName"] == "release-2-0"
    report = xcom[("spend_report", -1, "return_value")]
    assert report["ai_credits_used"] == 6  # one AI-visual title scene (2 credits in the emulator) per post
    assert "3 videos, 6 AI credits" in output
    assert emulator.stats()["posts"] == 3


def test_approval_example_previews_then_waits_for_a_human_before_rendering():
    """Skipped under `dags test`: the approval waits for a person (Airflow >= 3.1 HITL)."""
    if not AIRFLOW_V_3_1_PLUS:
        pytest.skip("the human-in-the-loop operators arrive in Airflow 3.1")
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow < 3.1
        from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE_DAGS / "example_pictory_render_approval.py"))
    assert bag.import_errors == {}
    dag = bag.dags["example_pictory_render_approval"]
    preview, approve, render = (dag.get_task(task_id) for task_id in ("preview", "approve", "render"))
    assert (preview.kind.name, render.kind.name) == ("preview", "preview render")
    assert type(approve).__name__ == "ApprovalOperator"
    assert approve.downstream_task_ids == {"render"} and preview.downstream_task_ids == {"approve"}
    assert render.preview_job_id == "{{ ti.xcom_pull(task_ids='preview', key='job_id') }}"
    # Without a response_timeout an approval nobody answers waits forever, silently.
    assert approve.response_timeout is not None and approve.response_timeout.total_seconds() > 0
    assert render.trigger_rule == "all_success"  # a timed-out (failed) approval never reaches the render


def test_the_approval_docs_say_where_to_approve_and_what_a_timeout_does():
    page = (Path(__file__).resolve().parent.parent / "docs" / "renders.md").read_text(encoding="utf-8")
    section = page.split("### Preview first, then a human approval")[1].split("\n## ")[0]
    for needle in ("Browse → Required Actions", "response_timeout", "nothing is bought", "hitlDetails"):
        assert needle in section, needle


TEMPLATE_DAG_ID = "example_pictory_template_videos"


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="the example uses airflow.sdk (Airflow 3)")
def test_example_template_videos_one_render_per_csv_row(home, emulator, tmp_path):  # noqa: F811
    emulator.set_job_seconds(0)  # done at the trigger's first poll (the operator defers without looking)
    result, output = run(home, emulator, TEMPLATE_DAG_ID, {"output_path": f"{tmp_path}/"})
    assert result.returncode == 0, output[-4000:]
    assert output.count("[DAG TEST] running trigger in line") == 3  # every mapped render deferred
    xcom = home.xcom(TEMPLATE_DAG_ID)
    names = ["Ada Lovelace", "Grace Hopper", "Alan Turing"]
    assert [row["Name"] for row in xcom[("read_rows", -1, "return_value")]] == names
    for index, name in enumerate(names):
        render = xcom[("render_template_video", index, "return_value")]
        board = emulator._state._jobs[render["job_id"]].storyboard
        assert board["templateId"] == "202507141030549677ylq8k8gu44vy1y" and board["videoName"] == f"welcome-{index}"
        assert board["variables"]["Name"] == name
        assert Path(render["video_path"]).exists() and name in Path(render["srt_path"]).read_text()
    assert "3 personalised videos" in output
    assert emulator.stats()["posts"] == 3
    assert emulator.stats()["requests"]["lookup"] == 3  # each render read the template once before buying
