"""Storyboard renders end to end against the emulator: the storyboard check (0 requests on refusal),
every job shape parsing, the hook's render/preview/PUT render, PictoryRenderVideoOperator in its modes,
PictoryJobSensor on any job, and the emulator's render routes."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from pathlib import Path

import pytest
import requests
from airflow.providers.common.compat.sdk import TaskDeferred

from pictory_provider.api import JobStatus, parse_job
from pictory_provider.events import EVENT_KEYS
from pictory_provider.exceptions import (
    PictoryAPIError,
    PictoryJobFailedError,
    PictorySubmissionUnresolvedError,
    PictoryTransientError,
    PictoryValidationError,
)
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.kinds import ANY_JOB, PREVIEW, PREVIEW_RENDER, RENDER, VIDEO
from pictory_provider.operators.render import PictoryRenderVideoOperator
from pictory_provider.sensors.pictory import PictoryJobSensor
from pictory_provider.storyboard import RENDER_PATH, storyboard_errors, storyboard_warnings
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .compat import AIRFLOW_V_3_3_PLUS
from .fakes import TaskStateStore, make_context
from .test_video_media import mp4_summary

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
JOB_ID = "4d82d040-4394-4371-867d-72ae1dd62b6d"
STORYBOARD = {
    "videoName": "release-notes",
    "aspectRatio": "16:9",
    "voiceOver": {"enabled": True, "aiVoices": [{"speaker": "Joanna", "speed": 100}]},
    "backgroundMusic": {"enabled": True, "autoMusic": True, "volume": 0.1},
    "scenes": [{"story": "Version 2 is out."}, {"story": "It renders videos from text."}],
}
RENDER_XCOM = {
    "video_url",
    "share_url",
    "srt_url",
    "vtt_url",
    "txt_url",
    "thumbnail_url",
    "duration",
    "ai_credits_used",
    "audio_url",
}


def board(**changes) -> dict:
    return json.loads(json.dumps(STORYBOARD)) | changes


def operator(**kwargs) -> PictoryRenderVideoOperator:
    params = {"task_id": "render", "hook_params": FAST, "poll_interval": 0.1}
    if "preview_job_id" not in kwargs:
        params["storyboard"] = board()
    return PictoryRenderVideoOperator(**(params | kwargs))


def requests_sent(emulator) -> int:
    return sum(emulator.stats()["requests"].values())


# -- the storyboard check, before any request ------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"videoname": "x"}, "unknown field 'videoname'.*did you mean videoName"),
        ({"scene": []}, "unknown field 'scene'.*did you mean scenes"),
        ({"voiceover": {"enabled": True}}, "unknown field 'voiceover'.*did you mean voiceOver"),
        ({"scenes": [{"story": "Hi", "voiceover": {}}]}, r"scenes\[0\].voiceover.*did you mean voiceOver"),
        ({"scenes": [{"storry": "Hi"}]}, r"scenes\[0\].storry.*did you mean story"),
        ({"scenes": [{"story": "Hi", "background": {"colour": "red"}}]}, "background.colour.*did you mean color"),
        ({"voiceOver": {"enabled": True, "aiVoice": []}}, "voiceOver.aiVoice.*did you mean aiVoices"),
        ({"videoName": ""}, "videoName is required"),
        ({"scenes": []}, "at least one scene"),
        ({"scenes": [{"story": "Hi", "blogUrl": "https://blog.example.com/p"}]}, "exactly one content source"),
        ({"scenes": [{"hideSubtitles": True}]}, "needs a content source"),
        ({"scenes": [{"audioUrl": "https://cdn.example.com/a.mp3"}]}, "audioLanguage is required"),
        ({"brandId": "b1", "brandName": "Acme"}, "brandId or brandName, not both"),
        ({"subtitleStyleId": "s", "subtitleStyleName": "S"}, "subtitleStyleId or subtitleStyleName"),
        ({"avatar": {"avatarId": "a1"}, "voiceOver": {"enabled": False}}, "avatar requires voiceOver.enabled"),
        ({"webhook": "https://hooks.example.com/" + "x" * 480}, "at most 500 characters"),
        ({"videoWidth": 1920}, "videoWidth and videoHeight must be given together"),
        ({"aspectRatio": "21:9"}, "aspectRatio must be one of"),
        ({"backgroundMusic": {"enabled": True, "autoMusic": True, "musicUrl": "https://m.example/a.mp3"}}, "not both"),
        ({"voiceOver": {"enabled": True, "aiVoices": [{"speaker": "Joanna", "speed": 300}]}}, "50 to 200"),
        # a scene's backgroundMusic only takes `enabled`: a typo there left the music playing
        ({"scenes": [{"story": "Hi", "backgroundMusic": {"enable": False}}]}, r"backgroundMusic.enable'.*enabled\?"),
        ({"scenes": [{"story": "Hi", "backgroundMusic": {"volume": 0.05}}]}, r"scenes\[0\].backgroundMusic.volume"),
        ({"scenes": [{"story": "Hi", "backgroundMusic": False}]}, r"scenes\[0\].backgroundMusic must be an object"),
    ],
)
def test_storyboard_check_refuses_with_zero_requests(pictory_conn, changes, needle):
    with pytest.raises(PictoryValidationError, match=needle):
        PictoryHook(**FAST).render_video(board(**changes))
    with pytest.raises(PictoryValidationError, match=needle):
        PictoryHook(**FAST).create_storyboard_preview(board(**changes))
    with pytest.raises(PictoryValidationError, match=needle):
        operator(storyboard=board(**changes)).execute(make_context())
    assert requests_sent(pictory_conn) == 0


def test_template_storyboards_need_no_scenes_and_valid_ones_pass():
    assert storyboard_errors({"videoName": "t", "templateId": "template-1", "variables": {"a": 1}}) == []
    assert storyboard_errors(board()) == []
    assert storyboard_errors(board(scenes=[{"background": {"color": "#000"}}])) == []  # a visual-only scene


def test_warnings_for_a_silent_video_and_full_volume_music(pictory_conn, caplog):
    silent = {key: value for key, value in board().items() if key != "voiceOver"}
    silent["backgroundMusic"] = {"enabled": True, "autoMusic": True}
    with caplog.at_level(logging.WARNING, logger="pictory_provider.storyboard"):
        PictoryHook(**FAST).render_video(silent)
    text = caplog.text
    assert "no voiceOver: Pictory renders a silent video" in text and "full volume" in text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pictory_provider.storyboard"):
        PictoryHook(**FAST).render_video(board())
    assert "silent" not in caplog.text and "full volume" not in caplog.text


# -- every job shape parses -------------------------------------------------------------------------


def test_render_job_shapes_parse():
    running = parse_job(
        {
            "job_id": JOB_ID,
            "success": True,
            "data": {"status": "in-progress", "renderProgress": 42, "renderProgressMessage": "Generating video"},
        },
        JOB_ID,
    )
    assert (running.status, running.render_progress, running.render_message) == (
        JobStatus.IN_PROGRESS,
        42,
        "Generating video",
    )
    done = parse_job(
        {
            "job_id": JOB_ID,
            "success": True,
            "data": {
                "status": "completed",
                "progress": 100,
                "videoURL": "https://cdn.example.com/v.mp4",
                "audioURL": "https://cdn.example.com/v.mp3",
                "videoShareURL": "https://video.pictory.ai/s/1",
                "thumbnail": "https://cdn.example.com/t.jpg",
                "srtFile": "https://cdn.example.com/v.srt",
                "vttFile": "https://cdn.example.com/v.vtt",
                "txtFile": "https://cdn.example.com/v.txt",
                "videoDuration": 65.6,
                "aiCreditsUsed": 48,
            },
        },
        JOB_ID,
    )
    assert RENDER.result(JOB_ID, done.to_dict()) == {
        "job_id": JOB_ID,
        "url": "https://cdn.example.com/v.mp4",
        "share_url": "https://video.pictory.ai/s/1",
        "srt_url": "https://cdn.example.com/v.srt",
        "vtt_url": "https://cdn.example.com/v.vtt",
        "txt_url": "https://cdn.example.com/v.txt",
        "thumbnail_url": "https://cdn.example.com/t.jpg",
        "duration": 65.6,
        "ai_credits_used": 48,
        "audio_url": "https://cdn.example.com/v.mp3",
    }
    assert done.job_kind == "render"
    failed = parse_job(
        {
            "job_id": JOB_ID,
            "success": False,
            "data": {"status": "failed", "error_code": "TEXT_TO_VIDEO_FAILED", "error_message": "bad speaker"},
        },
        JOB_ID,
    )
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "TEXT_TO_VIDEO_FAILED")
    with pytest.raises(PictoryAPIError, match="has data.videoURL"):
        parse_job({"data": {"status": "completed", "videoURL": "file:///etc/passwd"}}, JOB_ID)


def test_preview_and_other_jobs_parse_without_a_url():
    preview = parse_job({"success": True, "data": {"status": "completed", "progress": 100}}, JOB_ID, require_url=False)
    assert (preview.status, preview.url, preview.job_kind) == (JobStatus.COMPLETED, None, None)
    other = {"success": True, "data": {"status": "completed", "jobType": "transcription", "transcript": []}}
    job = parse_job(other, JOB_ID)  # its shape shows a kind without a URL: complete, not malformed
    assert (job.url, job.duration, job.job_kind, job.ai_credits_used) == (None, None, "transcription", None)
    image = {"success": True, "data": {"status": "completed", "width": 1024, "height": 1024, "aiCreditsUsed": 2}}
    with pytest.raises(PictoryAPIError, match="completed but has no data.url"):  # an image/video/render needs one
        parse_job(image, JOB_ID)


# -- hook ------------------------------------------------------------------------------------------


def test_render_preview_and_put_render_through_the_hook(pictory_conn):
    hook = PictoryHook(**FAST)
    preview_id = hook.create_storyboard_preview(board(webhookInput={"post": 7}))
    with pytest.raises(PictoryValidationError, match="not completed"):  # the emulator renders finished previews only
        hook.render_preview(preview_id)
    preview = hook.wait_for_job(preview_id, poll_interval=0.05, timeout=20, require_url=False)
    assert preview.url is None
    render_id = hook.render_preview(preview_id, webhook="https://hooks.example.com/done")
    job = hook.wait_for_job(render_id, poll_interval=0.05, timeout=20)
    assert job.url.endswith(f"{render_id}.mp4") and job.srt_url.endswith(".srt") and job.duration == 4
    log = pictory_conn.request_log
    assert [(e["method"], e["path"]) for e in log if e["route"] == "create"][-1] == (
        "PUT",
        f"/pictoryapis/v2/video/render/{preview_id}",
    )
    assert pictory_conn.stats()["posts"] == 3  # preview, the refused PUT, the PUT render


def test_the_render_create_is_never_repeated_once_it_may_have_reached_pictory(pictory_conn):
    pictory_conn.add_fault("status", route="create", status=502)
    with pytest.raises(PictoryTransientError, match="may have reached Pictory"):
        PictoryHook(**FAST).render_video(board())
    assert pictory_conn.stats()["posts"] == 1
    pictory_conn.add_fault("reset", route="create")
    with pytest.raises(PictoryTransientError, match="may have reached Pictory"):
        PictoryHook(**FAST).render_preview(JOB_ID)
    assert pictory_conn.stats()["posts"] == 2
    pictory_conn.add_fault("rate_limit", route="create", retry_after=0.01)
    PictoryHook(**FAST).render_video(board())  # a 429 was never accepted: retried
    assert pictory_conn.stats()["posts"] == 4 and pictory_conn.stats()["jobs_created"] == 1


def test_render_progress_is_logged_when_it_changes(pictory_conn, caplog):
    pictory_conn.set_job_seconds(0.6)
    hook = PictoryHook(**FAST)
    job_id = hook.render_video(board())
    with caplog.at_level(logging.INFO, logger="pictory_provider.hooks.pictory"):
        hook.wait_for_job(job_id, poll_interval=0.05, timeout=20)
    lines = [r.getMessage() for r in caplog.records if "rendering" in r.getMessage()]
    assert lines and all(job_id in line for line in lines)
    assert len(lines) == len(set(lines))  # logged on change only
    assert any("Preparing scenes" in line or "Generating voice-over" in line for line in lines)


# -- emulator: Pictory's validation and stripping -------------------------------------------------


def test_emulator_answers_invalid_request_body_with_fields(pictory_conn):
    response = requests.post(
        pictory_conn.base_url + RENDER_PATH,
        json={"videoname": "typo", "scenes": [{"story": "a", "blogUrl": "https://b.example/p"}]},
        headers={"Authorization": "pictai_test"},
        timeout=10,
    )
    body = response.json()
    assert response.status_code == 400 and body["code"] == "INVALID_REQUEST_BODY"
    assert {field["name"] for field in body["fields"]} == {"videoName", "scenes[0]"}  # the typo was stripped
    assert pictory_conn.stats()["jobs_created"] == 0


def test_emulator_strips_unknown_fields_silently_as_pictory_does(pictory_conn):
    hook = PictoryHook(**FAST)
    body = board(scenes=[{"story": "Hi", "voiceover": {"enabled": False}}], colour="red")
    job_id = hook._call("POST", RENDER_PATH, "a raw render", body)["data"]["jobId"]  # past the hook's check
    kept = pictory_conn._state._jobs[job_id].storyboard
    assert "colour" not in kept and kept["scenes"] == [{"story": "Hi"}]


def test_faults_apply_to_the_new_routes(pictory_conn):
    hook = PictoryHook(**FAST)
    pictory_conn.add_fault("status", route="lookup", status=503)
    assert hook.list_voices()[0]["name"] == "Joanna"  # a GET: retried
    assert pictory_conn.stats()["requests"]["lookup"] == 2
    pictory_conn.add_fault("status", route="upload", status=400)
    with pytest.raises(PictoryValidationError):
        hook.upload_media(__file__, content_type="text/x-python")
    pictory_conn.add_fault("status", route="upload", status=503)  # a signed URL buys nothing: retried
    pictory_conn.add_fault("status", route="signed_upload", status=503)  # the PUT overwrites: retried
    assert hook.upload_media(__file__, content_type="text/x-python").endswith("/test_render.py")
    pictory_conn.add_fault("status", route="lookup", status=502)
    assert hook.search_music("road")[0]["id"] == 165  # a search POST is retried too
    assert pictory_conn.stats()["faults_applied"] == 5


# -- lookups and upload ----------------------------------------------------------------------------


def test_upload_media_puts_the_bytes_without_the_api_key(pictory_conn, tmp_path):
    source = tmp_path / "logo.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    url = PictoryHook(**FAST).upload_media(str(source))
    fetched = requests.get(url, timeout=10)
    assert fetched.content == source.read_bytes() and fetched.headers["Content-Type"] == "image/png"
    # the emulator refuses a signed PUT that carries any Authorization header, as S3 does
    assert pictory_conn.stats()["requests"]["signed_upload"] == 1
    assert [e["auth"] for e in pictory_conn.request_log if e["route"] == "signed_upload"] == ["none"]


def test_upload_media_reads_any_object_storage_path(pictory_conn):
    from airflow.providers.common.compat.sdk import ObjectStoragePath
    from fsspec.implementations.memory import MemoryFileSystem

    try:
        from airflow.sdk.io import attach
    except ImportError:  # Airflow 2
        from airflow.io.store import attach

    attach("memory", fs=MemoryFileSystem())  # a non-local store, as s3:// or gs:// would be
    source = ObjectStoragePath("memory://pictory-tests/voice.mp3")
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(b"ID3 audio")
    url = PictoryHook(**FAST).upload_media(source)
    assert requests.get(url, timeout=10).content == b"ID3 audio"


@pytest.mark.parametrize(
    ("name", "content", "refusal"),
    [
        ("notes.weird-ext", b"x", "content_type="),  # no content type Pictory would take
        # an empty body goes out chunked, which a signed S3 PUT refuses (HTTP 501, retried 3 times)
        ("empty.png", b"", "is empty"),
    ],
)
def test_upload_media_refuses_before_any_request(pictory_conn, tmp_path, name, content, refusal):
    source = tmp_path / name
    source.write_bytes(content)
    with pytest.raises(PictoryValidationError, match=refusal):
        PictoryHook(**FAST).upload_media(str(source))
    assert requests_sent(pictory_conn) == 0


# -- operator --------------------------------------------------------------------------------------


def test_operator_modes_are_checked_at_construction():
    with pytest.raises(PictoryValidationError, match="needs one of"):
        PictoryRenderVideoOperator(task_id="r", storyboard=board(), preview_job_id=JOB_ID)
    with pytest.raises(PictoryValidationError, match="storyboard= "):
        PictoryRenderVideoOperator(task_id="r")
    assert operator().kind is RENDER and operator(preview_only=True).kind is PREVIEW
    assert operator(preview_job_id=JOB_ID).kind is PREVIEW_RENDER
    with pytest.raises(PictoryValidationError, match="a preview, which has no video to store"):
        operator(preview_only=True, output_path="/tmp/previews/")  # it would store nothing, silently
    assert set(PictoryRenderVideoOperator.template_fields) >= {"storyboard", "preview_job_id", "output_path"}


def test_render_waits_synchronously_and_stores_mp4_and_subtitles(pictory_conn, tmp_path):
    ctx = make_context()
    result = operator(deferrable=False, output_path=f"{tmp_path}/").execute(ctx)
    job_id = result["job_id"]
    assert result["video_path"] == f"{tmp_path}/{job_id}.mp4"
    assert (result["srt_path"], result["vtt_path"]) == (f"{tmp_path}/{job_id}.srt", f"{tmp_path}/{job_id}.vtt")
    assert set(ctx["ti"].xcom) == RENDER_XCOM | {"job_id", "video_name", "video_path", "srt_path", "vtt_path"}
    assert ctx["ti"].xcom["duration"] == 4 and ctx["ti"].xcom["video_url"] == result["url"]
    assert ctx["ti"].xcom["video_name"] == board()["videoName"]  # the UI's title
    summary = mp4_summary(Path(result["video_path"]).read_bytes())
    assert (summary["width"], summary["height"], summary["seconds"]) == (1280, 720, 4)
    assert "Version 2 is out." in Path(result["srt_path"]).read_text()
    share = requests.get(ctx["ti"].xcom["share_url"], timeout=10)  # every URL the emulator gives resolves
    assert share.status_code == 200 and result["url"] in share.text
    assert requests.get(ctx["ti"].xcom["txt_url"], timeout=10).text.startswith("Version 2 is out.")
    assert requests.get(ctx["ti"].xcom["thumbnail_url"], timeout=10).headers["Content-Type"] == "image/jpeg"
    assert Path(result["vtt_path"]).read_text().startswith("WEBVTT")


def test_render_defers_to_the_one_trigger_and_completes_from_its_event(pictory_conn, tmp_path):
    pictory_conn.set_job_seconds(0.3)
    ctx = make_context()
    op = operator(output_path=f"{tmp_path}/clip.mp4")
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    trigger = deferred.value.trigger
    assert type(trigger) is PictoryJobTrigger and trigger.serialize()[1].get("require_url", True) is True

    async def first_event():
        async for event in trigger.run():
            return event.payload

    event = asyncio.run(asyncio.wait_for(first_event(), 20))
    assert tuple(event) == EVENT_KEYS and event["status"] == "success" and event["job_kind"] == "render"
    result = op.execute_complete(ctx, event)
    assert (result["video_path"], result["srt_path"]) == (f"{tmp_path}/clip.mp4", f"{tmp_path}/clip.srt")
    assert Path(result["vtt_path"]).read_text().startswith("WEBVTT")


def test_preview_first_then_render_the_reviewed_preview(pictory_conn, tmp_path):
    ctx = make_context()
    preview = operator(preview_only=True, deferrable=False).execute(ctx)
    assert preview == {
        "job_id": ctx["ti"].xcom["job_id"],
        "preview_url": ctx["ti"].xcom["preview_url"],
        "project_id": None,
    }
    assert set(ctx["ti"].xcom) == {"job_id", "preview_url", "video_name"}  # no saveProject: no project_id
    render_ctx = make_context()
    result = operator(preview_job_id=preview["job_id"], deferrable=False, output_path=f"{tmp_path}/").execute(
        render_ctx
    )
    assert result["url"].endswith(".mp4") and Path(result["srt_path"]).exists()
    assert pictory_conn.job(result["job_id"])["kind"] == "render"
    assert "video_name" not in render_ctx["ti"].xcom  # its request names no video: the UI asks the preview's task


def test_render_refuses_max_ai_credits_before_any_request(pictory_conn):
    with pytest.raises(PictoryValidationError, match="max_ai_credits cannot be enforced"):
        operator(max_ai_credits=10).execute(make_context())
    assert requests_sent(pictory_conn) == 0


def test_failed_render_fails_with_pictorys_reason(pictory_conn):
    pictory_conn.add_fault("fail_job")
    with pytest.raises(PictoryJobFailedError, match="TEXT_TO_VIDEO_FAILED"):
        operator(deferrable=False).execute(make_context())


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="the task state store exists on Airflow >= 3.3")
@pytest.mark.parametrize(
    ("mode", "what"),
    [({}, "render jobs"), ({"preview_job_id": JOB_ID}, "preview render jobs")],
    ids=["render", "render of a preview (PUT)"],
)
def test_unclear_render_create_fails_the_retry_instead_of_rendering_twice(pictory_conn, mode, what):
    """No list of renders to look in: the retry refuses (PictorySubmissionUnresolvedError), 1 request only."""
    pictory_conn.add_fault("answer_late", route="create", delay=1.0)
    store = TaskStateStore()
    late = {**FAST, "read_timeout": 0.3, "max_attempts": 1}
    with pytest.raises(PictoryTransientError, match="may have reached Pictory"):
        operator(**mode, hook_params=late, deferrable=False).execute(make_context(store))
    with pytest.raises(PictorySubmissionUnresolvedError, match=f"no list of {what}") as raised:
        operator(**mode, deferrable=False).execute(make_context(store))
    assert pictory_conn.stats()["posts"] == 1
    # the hint names a list a person can read (the render path takes POSTs only; no path placeholder)
    text = str(raised.value)
    assert "Look in GET /pictoryapis/v1/jobs." in text and f"GET {RENDER_PATH}" not in text
    assert "{previewJobId}" not in text


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="the task state store exists on Airflow >= 3.3")
def test_retry_resumes_the_render_and_a_changed_storyboard_renders_anew(pictory_conn, caplog):
    store = TaskStateStore()
    first = operator(deferrable=False).execute(make_context(store))
    again = operator(deferrable=False).execute(make_context(store))
    assert again["job_id"] == first["job_id"] and pictory_conn.stats()["posts"] == 1
    with caplog.at_level(logging.INFO, logger="pictory_provider.submission"):
        changed = operator(deferrable=False, storyboard=board(videoName="other")).execute(make_context(store))
    assert changed["job_id"] != first["job_id"] and pictory_conn.stats()["posts"] == 2
    assert f"The request changed since Pictory job {first['job_id']} was submitted (changed: videoName)" in caplog.text
    webhook_only = board(videoName="other", webhook="https://hooks.example.com/x?try=2")  # not what is made
    assert (
        operator(deferrable=False, storyboard=webhook_only).execute(make_context(store))["job_id"] == changed["job_id"]
    )
    assert pictory_conn.stats()["posts"] == 2


# -- the any-job sensor ----------------------------------------------------------------------------


def test_job_sensor_waits_on_a_render_and_publishes_its_named_keys(pictory_conn, tmp_path):
    job_id = PictoryHook(**FAST).render_video(board())
    time.sleep(0.6)
    ctx = make_context()
    result = PictoryJobSensor(task_id="wait", job_id=job_id, hook_params=FAST, output_path=f"{tmp_path}/").execute(ctx)
    assert result["job_kind"] == "render" and result["url"].endswith(".mp4")
    assert set(ctx["ti"].xcom) == RENDER_XCOM | {"video_path", "srt_path", "vtt_path"}
    assert Path(result["srt_path"]).exists()


def test_job_sensor_takes_previews_images_and_other_jobs(pictory_conn):
    hook = PictoryHook(**FAST)
    preview_id = hook.create_storyboard_preview(board())
    image_id = hook.generate_image("A lighthouse at dawn")
    video_id = hook.generate_video("Waves roll onto the beach")
    (other_id,) = pictory_conn.add_other_jobs(1)
    time.sleep(0.6)
    video_keys = set(VIDEO.xcom_keys.values())  # pinned key by key in tests/test_video_api.py
    for job_id, kind, keys in (
        (preview_id, "preview", {"preview_url"}),  # a value that is None is not pushed
        (image_id, "image", {"image_url", "width", "height", "ai_credits_used"}),
        (video_id, "video", video_keys),
        # read from the job itself; what this bare job lacks (media, mediaInfo, credits) is not pushed
        (other_id, "transcription", {"transcript_text"}),
    ):
        ctx = make_context()
        result = PictoryJobSensor(task_id="wait", job_id=job_id, hook_params=FAST, deferrable=False).execute(ctx)
        assert (result["job_id"], result["job_kind"]) == (job_id, kind)
        assert set(ctx["ti"].xcom) == keys


def test_job_sensor_defers_with_a_trigger_that_needs_no_url(pictory_conn):
    pictory_conn.set_job_seconds(30)
    preview_id = PictoryHook(**FAST).create_storyboard_preview(board())
    with pytest.raises(TaskDeferred) as deferred:
        PictoryJobSensor(task_id="wait", job_id=preview_id, hook_params=FAST).execute(make_context())
    assert deferred.value.trigger.serialize()[1]["require_url"] is False
    assert ANY_JOB.requires_url is False


# -- stored subtitles, quota, signed upload -------------------------------------------------------


def test_subtitle_checks_and_companion_names():
    import io

    from pictory_provider.file_checks import check_srt, check_vtt
    from pictory_provider.storage import with_extension

    srt = b"1\r\n00:00:00,000 --> 00:00:02,000\r\nHello\r\n"
    assert check_srt(io.BytesIO(srt), len(srt)) is None
    assert "not SubRip" in check_srt(io.BytesIO(b"<html>oops</html>"), 17)
    assert "not UTF-8" in check_srt(io.BytesIO(b"\xff\xfe\xfa"), 3)
    assert check_vtt(io.BytesIO(b"WEBVTT\n\n"), 8) is None
    assert "no WEBVTT header" in check_vtt(io.BytesIO(b"1\n00:00"), 7)
    assert with_extension("s3://bucket/videos/", "srt") == "s3://bucket/videos/"
    assert with_extension("s3://bucket/videos/launch.mp4", "vtt") == "s3://bucket/videos/launch.vtt"
    assert with_extension("/data/launch", "srt") == "/data/launch.srt"


def test_check_quota_reads_the_quota_before_and_after_a_render(pictory_conn):
    result = operator(deferrable=False, check_quota=True).execute(make_context())
    assert result["url"].endswith(".mp4")
    assert pictory_conn.stats()["requests"]["quota"] == 2 and pictory_conn.stats()["posts"] == 1


def test_the_signed_upload_refuses_any_other_credential(pictory_conn):
    body = PictoryHook(**FAST)._call(
        "POST", "/pictoryapis/v1/media/generateurl", "upload url", {"fileName": "a.png", "contentType": "image/png"}
    )
    signed = body["data"]["signedUrl"]
    headers = {"Content-Type": "image/png"}
    refused = requests.put(signed, data=b"x", headers=headers | {"Authorization": "pictai_x"}, timeout=10)
    assert refused.status_code == 400
    assert requests.put(signed, data=b"x", headers={"Content-Type": "image/jpeg"}, timeout=10).status_code == 403
    assert requests.put(signed, data=b"x", headers=headers, timeout=10).status_code == 200


def test_job_sensor_deferred_path_completes_a_preview_without_a_url(pictory_conn):
    pictory_conn.set_job_seconds(0.3)
    preview_id = PictoryHook(**FAST).create_storyboard_preview(board())
    sensor = PictoryJobSensor(task_id="wait", job_id=preview_id, hook_params=FAST, poke_interval=0.1)
    ctx = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(ctx)

    async def first_event():
        async for event in deferred.value.trigger.run():
            return event.payload

    event = asyncio.run(asyncio.wait_for(first_event(), 20))
    assert (event["status"], event["url"], event["job_kind"]) == ("success", None, "preview")
    assert sensor.execute_complete(ctx, event)["job_id"] == preview_id
    assert ctx["ti"].xcom == {"preview_url": event["preview_url"]}  # project_id None: not pushed


@pytest.mark.parametrize("render", [json.dumps, repr])
def test_a_storyboard_template_rendered_to_text_is_read(pictory_conn, render):
    """``storyboard="{{ ti.xcom_pull(...) }}"`` renders a dict as text (its repr); JSON text works too."""
    result = operator(deferrable=False, storyboard=render(board())).execute(make_context())
    assert pictory_conn._state._jobs[result["job_id"]].storyboard["videoName"] == "release-notes"
    with pytest.raises(PictoryValidationError, match="neither JSON nor a dict literal"):
        operator(storyboard="{{ not rendered").execute(make_context())
    assert pictory_conn.stats()["posts"] == 1


def test_no_key_or_upload_signature_in_logs_or_errors(pictory_conn, tmp_path, caplog):
    from .conftest import API_KEY

    source = tmp_path / "clip.mp4"
    source.write_bytes(b"not a real video")
    hook = PictoryHook(**FAST)
    with caplog.at_level(logging.DEBUG):
        hook.upload_media(str(source))
        job_id = hook.render_video(board(webhook="https://hooks.example.com/x?token=t0ps3cret"))
        hook.wait_for_job(job_id, poll_interval=0.05, timeout=20)
        pictory_conn.add_fault("status", route="upload", status=500, count=5)
        with pytest.raises(PictoryTransientError) as raised:
            hook.upload_media(str(source))
    assert API_KEY not in caplog.text and API_KEY not in str(raised.value) and API_KEY not in repr(hook)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("pictory_provider"))
    assert "Uploaded clip.mp4" in ours and "X-Signature" not in ours and "t0ps3cret" not in ours


# -- adversarial review (issue #20) ----------------------------------------------------------------


def test_scene_voice_overs_are_no_silent_video():
    narrated = {key: value for key, value in board().items() if key != "voiceOver"}
    narrated["scenes"] = [{"story": "Hi.", "voiceOver": {"enabled": True, "aiVoices": [{"speaker": "Joanna"}]}}]
    assert storyboard_warnings(narrated) == []
    assert "silent video" in storyboard_warnings(narrated | {"scenes": [{"story": "Hi."}]})[0]


def test_scenes_templated_alone_get_a_hint(pictory_conn):
    """``"scenes": "{{ ti.xcom_pull(...) }}"`` renders to the list's text: the refusal says why."""
    with pytest.raises(PictoryValidationError, match=r"\(got str\); a template renders to text: template the whole"):
        operator(storyboard=board(scenes=repr([{"story": "Hi."}]))).execute(make_context())
    with pytest.raises(PictoryValidationError, match=r"at least one scene \(got dict\)"):
        operator(storyboard=board(scenes={"story": "Hi."})).execute(make_context())
    assert requests_sent(pictory_conn) == 0


def test_a_scene_may_turn_the_music_off():
    assert storyboard_errors(board(scenes=[{"story": "Quiet.", "backgroundMusic": {"enabled": False}}])) == []


@pytest.mark.parametrize("name", ["my clip #1.mp4", "what?.png", "naïve été.jpg"])
def test_upload_media_takes_file_names_with_url_characters(pictory_conn, tmp_path, name):
    source = tmp_path / name
    source.write_bytes(b"bytes of " + name.encode())
    url = PictoryHook(**FAST).upload_media(str(source))
    assert requests.get(url, timeout=10).content == source.read_bytes()


def test_upload_media_goes_through_the_environments_proxy(pictory_conn, tmp_path, monkeypatch):
    """Behind HTTP(S)_PROXY the signed PUT takes the proxy like every other request, still without the key."""
    import http.client
    import http.server
    import threading
    from urllib.parse import urlsplit

    seen: list[tuple[str, str, str | None]] = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        def forward(self) -> None:
            target = urlsplit(self.path)
            seen.append((self.command, target.path, self.headers.get("Authorization")))
            length = int(self.headers.get("Content-Length") or 0)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection")}
            upstream = http.client.HTTPConnection(target.netloc, timeout=10)
            query = f"?{target.query}" if target.query else ""
            upstream.request(self.command, target.path + query, self.rfile.read(length) or None, headers)
            answer = upstream.getresponse()
            body = answer.read()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = forward

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
        source = tmp_path / "voice.mp3"
        source.write_bytes(b"ID3 narration")
        url = PictoryHook(**FAST).upload_media(str(source))
        assert requests.get(url, timeout=10).content == b"ID3 narration"
    finally:
        server.shutdown()
        server.server_close()
    puts = [entry for entry in seen if entry[0] == "PUT"]
    assert len(puts) == 1 and puts[0][1].startswith("/_signed_uploads/") and puts[0][2] is None


def test_upload_media_sends_no_netrc_entry_after_a_redirect(pictory_conn, tmp_path, monkeypatch):
    """A signed URL that redirects (S3 answers 307 for a bucket's region) gets no ~/.netrc credentials."""
    import http.server
    import threading

    hook = PictoryHook(**FAST)
    signed = hook._call(
        "POST", "/pictoryapis/v1/media/generateurl", "upload", {"fileName": "a.png", "contentType": "image/png"}
    )
    real = signed["data"]

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(307)
            self.send_header("Location", real["signedUrl"])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password pictai_from_netrc\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    redirecting = {"signedUrl": f"http://127.0.0.1:{server.server_address[1]}/bucket/a.png?sig=1", "url": real["url"]}
    pictory_conn.add_fault("status", route="upload", status=200, body={"success": True, "data": redirecting})
    source = tmp_path / "a.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\nredirected")
    try:
        assert hook.upload_media(str(source)) == real["url"]
    finally:
        server.shutdown()
        server.server_close()
    assert requests.get(real["url"], timeout=10).content == source.read_bytes()
    assert [e["auth"] for e in pictory_conn.request_log if e["route"] == "signed_upload"] == ["none"]


def test_a_render_logs_no_made_up_estimate(pictory_conn, caplog):
    """Pictory does not say what a render costs before it runs: the log must not claim 0 AI credits."""
    with caplog.at_level(logging.INFO, logger="pictory_provider.credits"):
        operator(deferrable=False).execute(make_context())
        operator(deferrable=False, check_quota=True).execute(make_context())
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Estimated cost")]
    assert len(lines) == 2 and all("not known before the job runs" in line for line in lines)
    assert "AI credits remain" in lines[1]


def test_subtitle_destinations_are_checked_before_paying(pictory_conn, tmp_path):
    """output_path named like the subtitles would have the MP4 overwritten by them; an unusable
    subtitle destination would fail after the render was bought."""
    with pytest.raises(PictoryValidationError, match=r"where the \.srt subtitles go"):
        operator(output_path=f"{tmp_path}/launch.srt").execute(make_context())
    with pytest.raises(PictoryValidationError, match=r"where the \.vtt subtitles go"):
        operator(output_path=f"{tmp_path}/launch.VTT").execute(make_context())
    (tmp_path / "launch.vtt").mkdir()  # where launch.mp4's WebVTT subtitles would go
    with pytest.raises(PictoryValidationError, match=r"launch\.vtt.*existing folder.*the \.vtt subtitles"):
        operator(output_path=f"{tmp_path}/launch.mp4").execute(make_context())
    with pytest.raises(PictoryValidationError, match="launch.vtt"):
        operator(preview_job_id=JOB_ID, output_path=f"{tmp_path}/launch.mp4").execute(make_context())
    assert requests_sent(pictory_conn) == 0
    result = operator(deferrable=False, output_path=f"{tmp_path}/clip").execute(make_context())
    assert (result["video_path"], result["srt_path"]) == (f"{tmp_path}/clip", f"{tmp_path}/clip.srt")


def test_the_job_sensor_never_stores_a_render_under_its_subtitles_name(pictory_conn, tmp_path):
    job_id = PictoryHook(**FAST).render_video(board())
    time.sleep(0.6)
    sensor = PictoryJobSensor(task_id="wait", job_id=job_id, hook_params=FAST, output_path=f"{tmp_path}/clip.srt")
    with pytest.raises(PictoryValidationError, match=r"where the \.srt subtitles go"):
        sensor.execute(make_context())
    assert list(tmp_path.iterdir()) == []  # no MP4 overwritten by its subtitles under clip.srt


def test_the_sensors_pokes_log_the_render_progress_message(pictory_conn, capsys):
    pictory_conn.set_job_seconds(0.6)
    job_id = PictoryHook(**FAST).render_video(board())
    sensor = PictoryJobSensor(task_id="wait", job_id=job_id, hook_params=FAST, deferrable=False, poke_interval=0.05)
    capsys.readouterr()
    sensor.execute(make_context())
    assert re.search(
        rf"{job_id} is 'in-progress', rendering \d+% \((Preparing scenes|Generating voice-over)\)",
        capsys.readouterr().out,
    )
