"""The UI plugin's data layer and pages: pure functions over XCom rows, asset events and rendered fields."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from pictory_provider import api
from pictory_provider.kinds import KINDS_BY_SHAPE
from pictory_provider.ui import gallery, pages
from pictory_provider.ui.gallery import AssetEventRow, TaskKey, XComRow

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
IMAGE_JOB, VIDEO_JOB, SENSOR_JOB = (
    "11111111-1111-4111-8111-111111111111",
    "22222222-2222-4222-8222-222222222222",
    "33333333-3333-4333-8333-333333333333",
)


def published(dag_id, task_id, values, at=T0, run_id="run1", map_index=-1):
    """The XCom rows a task instance leaves: one per key."""
    return [XComRow(dag_id, run_id, task_id, map_index, key, value, at) for key, value in values.items()]


def image_values(job_id=IMAGE_JOB, credits=0.6, path=None):
    values = {"job_id": job_id, "image_url": f"https://cdn.pictory.ai/{job_id}.png", "ai_credits_used": credits}
    values |= {"width": 1280, "height": 720}
    return values | ({"image_path": path} if path else {})


def video_values(job_id=VIDEO_JOB):
    return {
        "job_id": job_id,
        "video_url": f"https://cdn.pictory.ai/{job_id}.mp4",
        "duration": 5,
        "width": 1280,
        "height": 720,
        "ai_credits_used": 8,
        "thumbnail_url": "https://cdn.pictory.ai/thumb.png",
        "last_frame_image_url": "https://cdn.pictory.ai/last.png",
    }


def test_operator_and_sensor_outputs_one_per_job_with_the_submitter_as_request():
    rows = [
        *published("d_image", "generate", image_values(path="/data/a.png")),
        # submit (wait_for_completion=False) + sensor: the sensor's return value carries the job id
        *published("d_sensor", "submit", {"job_id": SENSOR_JOB, "return_value": SENSOR_JOB}),
        *published(
            "d_sensor",
            "wait",
            {k: v for k, v in image_values(SENSOR_JOB, 2).items() if k != "job_id"}
            | {"return_value": {"job_id": SENSOR_JOB, "url": "x"}},
            at=T0 + timedelta(minutes=1),
        ),
        # a downstream report with multiple_outputs publishes ai_credits_used: not a job
        *published("d_sensor", "report", {"ai_credits_used": 2.6}, at=T0 + timedelta(minutes=2)),
        # a downstream task re-publishing the same job counts once
        *published("d_image", "copy", image_values(), at=T0 + timedelta(minutes=3)),
        *published("d_video", "animate", video_values(), at=T0 + timedelta(minutes=4)),
    ]
    outputs = gallery.outputs_from_xcoms(rows)
    assert [(o.task.dag_id, o.task.task_id, o.kind, o.job_id) for o in outputs] == [
        ("d_video", "animate", "video", VIDEO_JOB),
        ("d_sensor", "wait", "image", SENSOR_JOB),
        ("d_image", "generate", "image", IMAGE_JOB),
    ]
    by_job = {o.job_id: o for o in outputs}
    assert by_job[SENSOR_JOB].request_task == TaskKey("d_sensor", "run1", "submit", -1)
    assert by_job[IMAGE_JOB].request_task == by_job[IMAGE_JOB].task
    assert by_job[IMAGE_JOB].stored_path == "/data/a.png"
    assert by_job[IMAGE_JOB].fields == {"url": image_values()["image_url"], "ai_credits_used": 0.6} | {
        "width": 1280,
        "height": 720,
    }
    assert by_job[VIDEO_JOB].fields["duration"] == 5
    assert by_job[VIDEO_JOB].fields["thumbnail_url"] == "https://cdn.pictory.ai/thumb.png"
    summary = gallery.spend(outputs)
    assert (summary.total, summary.jobs) == (10.6, 3)  # 0.6 + 2 + 8: the report's 2.6 and the copy are not jobs


def test_a_task_without_url_or_job_id_is_not_an_output():
    rows = [
        *published("d", "no_url", {"job_id": IMAGE_JOB, "ai_credits_used": 1}),
        *published("d", "no_job", {"image_url": "https://x/y.png", "return_value": "not a dict"}),
    ]
    assert gallery.outputs_from_xcoms(rows) == []


def test_kinds_come_from_the_kinds_table_and_the_best_matching_kind_wins():
    render = {
        "job_id": "render-1",
        "video_url": "https://video.pictory.ai/r.mp4",
        "share_url": "https://app.pictory.ai/share/r",
        "srt_url": "https://x/r.srt",
        "vtt_url": "https://x/r.vtt",
        "thumbnail_url": "https://x/r.jpg",
        "duration": 30,
        "ai_credits_used": 0,
    }
    rows = [*published("d", "video", video_values()), *published("d", "render", render, at=T0 + timedelta(1))]
    # the default kinds are the kinds table's: a storyboard render shares the video's URL key
    outputs = {o.task.task_id: o for o in gallery.outputs_from_xcoms(rows)}
    assert (outputs["video"].kind, outputs["render"].kind) == ("video", "render")
    assert outputs["render"].fields["vtt_url"] == "https://x/r.vtt"
    assert {"share_url", "srt_url", "vtt_url", "image_url", "video_url", "image_path", "video_path", "job_id"} <= (
        gallery.xcom_keys()
    )
    page = pages.task_page(outputs["render"].task, outputs["render"], outputs["render"].url, stored_href=None)
    assert '<track kind="subtitles" label="Subtitles" default src="https://x/r.vtt">' in page
    assert 'href="https://app.pictory.ai/share/r"' in page  # the link to Pictory


def test_asset_events_add_jobs_whose_xcom_is_gone():
    xcom = gallery.outputs_from_xcoms(published("d", "generate", image_values(credits=2)))
    events = [
        # the same job as the XCom: XCom wins, counted once
        AssetEventRow("d", "run1", "generate", -1, {"job_id": IMAGE_JOB, "url": "https://x/old.png"}, T0),
        # an earlier try of a cleared task: only its asset event is left
        AssetEventRow(
            "d", "run0", "generate", -1, {"job_id": SENSOR_JOB, "url": "https://x/a.png", "ai_credits_used": 2}, T0
        ),
        AssetEventRow("d", "run0", "video", -1, {"job_id": VIDEO_JOB, "url": "https://x/v.mp4", "duration": 5}, T0),
        AssetEventRow("d", "run0", "other", -1, {"note": "not a Pictory job"}, T0),
        AssetEventRow("d", "run0", "other", -1, "not a dict", T0),
    ]
    merged = gallery.merge_outputs(xcom, gallery.outputs_from_asset_events(events))
    by_job = {o.job_id: o for o in merged}
    assert set(by_job) == {IMAGE_JOB, SENSOR_JOB, VIDEO_JOB}
    assert by_job[IMAGE_JOB].source == "xcom"
    assert (by_job[SENSOR_JOB].source, by_job[SENSOR_JOB].kind) == ("asset_event", "image")
    assert by_job[VIDEO_JOB].kind == "video"
    assert gallery.spend(merged).total == 4


def test_filters_and_spend_by_day_and_dag():
    rows = []
    for day in range(3):
        for n, dag_id in enumerate(("a", "b", "a")):
            job = f"{day}{n}"
            at = T0 + timedelta(days=day, minutes=n)
            rows += published(dag_id, f"t{n}", image_values(job, credits=0.6), at=at, run_id=f"r{day}")
    rows += published("b", "vid", video_values(), at=T0 + timedelta(days=1))
    outputs = gallery.outputs_from_xcoms(rows)
    assert len(outputs) == 10
    day2 = T0.date() + timedelta(days=1)
    assert {o.job_id for o in gallery.filter_outputs(outputs, since=day2, until=day2)} == {"10", "11", "12", VIDEO_JOB}
    assert [o.kind for o in gallery.filter_outputs(outputs, kind="video")] == ["video"]
    assert {o.task.dag_id for o in gallery.filter_outputs(outputs, dag_id="a")} == {"a"}
    summary = gallery.spend(outputs)
    assert summary.by_day == [(T0.date(), 1.8, 3), (day2, 9.8, 4), (day2 + timedelta(days=1), 1.8, 3)]
    assert summary.by_dag == [("b", 9.8, 4), ("a", 3.6, 6)]
    assert (summary.total, summary.jobs) == (13.4, 10)
    empty = gallery.spend([])
    assert (empty.total, empty.jobs, empty.by_day, empty.by_dag) == (0, 0, [], [])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://cdn.pictory.ai/a.png", "https://cdn.pictory.ai/a.png"),
        ("http://127.0.0.1:8931/files/a.png", "http://127.0.0.1:8931/files/a.png"),
        ("javascript:alert(1)", None),
        ("data:text/html,<b>", None),
        ("//evil.example/a.png", None),
        ("https://x/a.png\n<script>", None),
        (None, None),
        (42, None),
    ],
)
def test_only_http_urls_reach_the_browser(value, expected):
    assert gallery.safe_url(value) == expected


def test_bad_credit_values_count_as_zero():
    rows = published("d", "t", image_values(credits=float("nan"))) + published(
        "d", "u", image_values(VIDEO_JOB, credits="3")
    )
    assert [o.credits for o in gallery.outputs_from_xcoms(rows)] == [0.0, 0.0]


def rendered(output, fields):
    from dataclasses import replace

    return replace(output, request=fields)


def test_pages_escape_everything_from_airflow_records():
    hostile = "<script>alert('x')</script>"
    values = image_values() | {"image_url": "javascript:alert(1)"}
    output = gallery.outputs_from_xcoms(published(f"dag{hostile}", "t", values, run_id=hostile))[0]
    output = rendered(output, {"prompt": hostile, "model": api.DEFAULT_MODEL})
    html = pages.gallery_page(
        [output],
        gallery.spend([output]),
        filters=pages.Filters(dag_id=hostile),
        dag_ids=[hostile],
        kinds=list(KINDS_BY_SHAPE),
        quota=pages.QuotaView(["pictory_default"], "pictory_default", error=hostile),
        media_src={output.job_id: output.url},
        ui_base="",
        plugin_route="pictory-output",
        shown=60,
    )
    task = pages.task_page(output.task, output, output.url, stored_href=None)
    for page in (html, task):
        assert hostile not in page
        assert "&lt;script&gt;" in page
        assert "javascript:" not in page
    assert "No viewable URL was recorded" in task


def test_gallery_page_shows_cards_spend_and_quota():
    video = published("d", "vid", video_values(), map_index=3, at=T0 + timedelta(minutes=1))
    outputs = gallery.outputs_from_xcoms(published("d", "img", image_values(path="/x.png")) + video)
    quota = {"ai_credits_used": 10.0, "ai_credits_limit": 100.0, "ai_credits_remaining": 90.0}
    html = pages.gallery_page(
        outputs,
        gallery.spend(outputs),
        filters=pages.Filters(kind="image"),
        dag_ids=["d"],
        kinds=list(KINDS_BY_SHAPE),
        quota=pages.QuotaView(["pictory_default"], "pictory_default", quota=quota),
        media_src={IMAGE_JOB: "/pictory/file?x=1", VIDEO_JOB: video_values()["video_url"]},
        ui_base="/airflow",
        plugin_route="pictory-output",
        shown=1,
    )
    assert 'data-job-id="' + IMAGE_JOB not in html  # only the newest one is shown
    assert 'data-job-id="' + VIDEO_JOB in html
    assert 'href="/airflow/dags/d/runs/run1/tasks/vid/mapped/3/plugin/pictory-output"' in html
    assert '<video controls preload="metadata" src="https://cdn.pictory.ai/' in html
    assert 'poster="https://cdn.pictory.ai/thumb.png"' in html
    assert "1-1 of 2" in html and 'id="older" href="?kind=image&amp;offset=1"' in html  # the filters kept
    assert '<span class="credits">8.6</span> AI credits, 2 jobs' in html
    assert "90</span> AI credits left of 100" in html
    assert '<option value="image" selected>Image</option>' in html  # the kind's name, as the page calls it
    empty = pages.gallery_page(
        [],
        gallery.spend([]),
        filters=pages.Filters(),
        dag_ids=[],
        kinds=list(KINDS_BY_SHAPE),
        quota=pages.QuotaView([]),
        media_src={},
        ui_base="",
        plugin_route="pictory-output",
        shown=60,
    )
    assert "No Pictory outputs in the DAGs you may read" in empty
    assert "No Pictory connection you may read" in empty


def test_task_page_shows_the_output_and_its_facts():
    output = gallery.outputs_from_xcoms(published("d", "t", image_values(path="/data/a.png")))[0]
    output = rendered(output, {"prompt": "A lighthouse", "model": "flux-schnell", "aspect_ratio": "16:9"})
    page = pages.task_page(output.task, output, "/pictory/file?f=1", stored_href="/pictory/file?f=1")
    assert '<img src="/pictory/file?f=1"' in page
    assert '<h1 id="title">A lighthouse</h1>' in page
    for fact in (
        IMAGE_JOB,
        "flux-schnell",
        "16:9",
        "1280 &times; 720",
        '<span class="credits" id="credits">0.6</span>',
    ):
        assert fact in page
    assert '<a href="/pictory/file?f=1">/data/a.png</a>' in page
    missing = pages.task_page(TaskKey("d", "r", "t", -1), None, None, stored_href=None)
    assert 'id="no-output"' in missing


def test_request_summary_prefers_the_prompt_then_a_render_name():
    assert gallery.request_summary({"prompt": "p", "model": "m", "output_path": "/x"}) == ("p", [("model", "m")])
    assert gallery.request_summary({"video_name": "Weekly recap", "prompt": ""})[0] == "Weekly recap"
    assert gallery.request_summary({}) == (None, [])
    board = {"videoName": "Blog: Airflow 3", "scenes": [{"story": "..."}]}
    assert gallery.request_summary({"storyboard": board, "preview_job_id": None}) == ("Blog: Airflow 3", [])


def test_only_sensors_return_values_are_read():
    rows = [
        *published("d", "operator", image_values()),
        *published("d", "submit", {"job_id": SENSOR_JOB}),
        *published("d", "sensor", {k: v for k, v in image_values(SENSOR_JOB).items() if k != "job_id"}),
        *published("d", "other", {"ai_credits_used": 1}),
        *published("d", "video_sensor", {"video_url": "https://x/v.mp4"}, map_index=2),
    ]
    assert gallery.tasks_without_job_id(rows) == {
        TaskKey("d", "run1", "sensor", -1),
        TaskKey("d", "run1", "video_sensor", 2),
    }
    assert "return_value" not in gallery.xcom_keys()


def test_pages_allow_only_their_own_script():
    import base64
    import hashlib
    import re

    page = pages.task_page(TaskKey("d", "r", "t", -1), None, None, stored_href=None)
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    policy = pages.HEADERS["Content-Security-Policy"]
    assert f"script-src 'sha256-{digest}'" in policy
    assert "frame-ancestors 'self'" in policy and "default-src 'none'" in policy
    assert pages.HEADERS["Referrer-Policy"] == "same-origin"


def render_values(job_id=VIDEO_JOB):
    cdn = f"https://cdn.pictory.ai/{job_id}"
    return {
        "job_id": job_id,
        "video_url": f"{cdn}.mp4",
        "share_url": f"https://app.pictory.ai/share/{job_id}",
        "srt_url": f"{cdn}.srt",
        "vtt_url": f"{cdn}.vtt",
        "txt_url": f"{cdn}.txt",
        "thumbnail_url": f"{cdn}.jpg",
        "audio_url": f"{cdn}.mp3",
        "duration": 42,
        "ai_credits_used": 12,
    }


def test_a_renders_links_are_named_and_each_url_is_listed_once():
    output = gallery.outputs_from_xcoms(published("d", "render", render_values()))[0]
    page = pages.task_page(output.task, output, output.url, stored_href=None)
    links = re.findall(r'<a href="([^"]+)" target="_blank" rel="noopener" title="[^"]+">([^<]+)</a>', page)
    assert [label for _, label in links] == [
        "Open on Pictory",
        "Download",
        "Subtitles (SRT)",
        "Subtitles (VTT)",
        "Transcript (TXT)",
        "Narration audio",
        "Thumbnail",
    ]
    hrefs = [href for href, _ in links]
    assert len(hrefs) == len(set(hrefs)) == 7  # Pictory's page is not listed twice
    for raw in ("Srt url", "Vtt url", "Share url", "Thumbnail url", "Audio url", "On Pictory"):
        assert raw not in page
    assert '<span class="badge">Video</span>' in page
    same = render_values() | {"share_url": render_values()["video_url"]}  # one URL under two fields
    output = gallery.outputs_from_xcoms(published("d", "render", same))[0]
    page = pages.task_page(output.task, output, output.url, stored_href=None)
    assert page.count(f'href="{same["video_url"]}"') == 1 and ">Open on Pictory</a>" in page


def test_a_transcripts_source_is_one_link_not_two():
    values = {"job_id": IMAGE_JOB, "media_url": "https://cdn.example.com/talk.mp3", "transcript_text": "Hello."}
    output = gallery.outputs_from_xcoms(published("d", "transcribe", values))[0]
    page = pages.task_page(output.task, output, output.url, stored_href=None)
    assert page.count('href="https://cdn.example.com/talk.mp3"') == 1
    assert ">Source media</a>" in page


def test_a_renders_title_is_the_video_name_it_published():
    """Airflow truncates a rendered storyboard over [core]max_templated_field_length (4096 characters), so
    the name comes from XCom ``video_name``; the render of a reviewed preview without one says what it is."""
    values = render_values() | {"video_name": "Spring launch"}
    output = gallery.outputs_from_xcoms(published("d", "render", values))[0]
    output = rendered(output, {"storyboard": "Truncated. You can change this behaviour in [core]max_templated_..."})
    assert output.title == "Spring launch"
    assert '<h1 id="title">Spring launch</h1>' in pages.task_page(output.task, output, None, stored_href=None)
    unnamed = gallery.outputs_from_xcoms(published("d", "render", render_values()))[0]
    assert rendered(unnamed, {"preview_job_id": IMAGE_JOB}).title == "Render of a reviewed storyboard preview"
    assert rendered(unnamed, {}).title is None


def test_a_sensors_render_is_titled_by_the_name_its_submitter_published():
    submit = published("d", "submit", {"job_id": VIDEO_JOB, "video_name": "Spring launch"})
    waited = {key: value for key, value in render_values().items() if key != "job_id"}
    wait = published("d", "wait", waited | {"return_value": {"job_id": VIDEO_JOB}}, at=T0 + timedelta(minutes=1))
    (output,) = gallery.outputs_from_xcoms(submit + wait)
    assert (output.task.task_id, output.request_task.task_id) == ("wait", "submit")
    assert output.title == "Spring launch"
