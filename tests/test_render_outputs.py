"""Issue #27, renders as documented: a completed preview's player page and renderParams, waits with
defaults on any job, render with modifications, the render's audio and share URLs, webhookInput echoed,
and the storyboard check's documented fields and opt-in for unknown ones. Real HTTP against the emulator."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from pictory_provider.api import JobStatus, parse_job
from pictory_provider.exceptions import PictoryValidationError
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.kinds import RENDER_PARAMS
from pictory_provider.operators.render import PictoryRenderVideoOperator
from pictory_provider.storyboard import build_modified_render_request, build_render_request, storyboard_errors
from pictory_provider.triggers.pictory import PictoryJobTrigger
from pictory_provider.ui.plugin import supported

from .conftest import API_KEY
from .fakes import make_context
from .test_ui_app import client, session  # noqa: F401 (fixtures of the UI tab test)

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
JOB_ID = "4d82d040-4394-4371-867d-72ae1dd62b6d"
STORYBOARD = {
    "videoName": "release-notes",
    "aspectRatio": "16:9",
    "voiceOver": {"enabled": True, "aiVoices": [{"speaker": "Joanna", "speed": 100}]},
    "scenes": [{"story": "Version 2 is out."}, {"story": "It renders videos from text."}],
}


def board(**changes: Any) -> dict[str, Any]:
    return json.loads(json.dumps(STORYBOARD)) | changes


# -- a completed preview, and waits with defaults (items 2 and 7) ----------------------------------


def test_a_default_wait_on_a_preview_returns_its_player_page_render_params_and_project(pictory_conn):
    hook = PictoryHook(**FAST)
    preview_id = hook.create_storyboard_preview(board(saveProject=True))
    job = hook.wait_for_job(preview_id, poll_interval=0.05, timeout=20)  # defaults: no require_url=False
    assert job.status is JobStatus.COMPLETED and job.job_kind == "preview" and job.url is None
    assert job.preview_url.endswith(f"/v2/preview/{preview_id}") and job.project_id
    assert job.storyboard["videoName"] == "release-notes"
    texts = [e["text"] for e in job.render_params["elements"] if e["elementType"] == "SceneText"]
    assert texts == ["Version 2 is out.", "It renders videos from text."]
    page = requests.get(job.preview_url, params={"mode": "player"}, timeout=5)  # no key: a browser's iframe
    assert page.status_code == 200 and "Version 2 is out." in page.text
    assert API_KEY not in repr(job)


def test_a_default_trigger_completes_on_a_preview(pictory_conn):
    preview_id = PictoryHook(**FAST).create_storyboard_preview(board())
    trigger = PictoryJobTrigger(preview_id, poll_interval=0.1, hook_params=FAST)  # require_url left at its default

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    event = asyncio.run(asyncio.wait_for(first_event(), 20))
    assert (event["status"], event["job_kind"]) == ("success", "preview"), event["message"]
    assert event["preview_url"].endswith(preview_id)


def test_shapes_without_a_url_are_complete_and_an_image_without_one_is_malformed():
    preview = {"data": {"status": "completed", "previewUrl": "https://video.pictory.ai/v2/preview/x"}}
    assert parse_job(preview, JOB_ID).preview_url == "https://video.pictory.ai/v2/preview/x"
    legacy = {"data": {"status": "completed", "preview": "https://video.pictory.ai/p", "renderParams": {"output": {}}}}
    assert (parse_job(legacy, JOB_ID).preview_url, parse_job(legacy, JOB_ID).job_kind) == (
        "https://video.pictory.ai/p",
        "preview",
    )
    transcription = {"data": {"status": "completed", "transcript": [], "txt": "Hi", "mediaInfo": {}}}
    assert parse_job(transcription, JOB_ID).job_kind == "transcription"
    with pytest.raises(Exception, match="completed but has no data.url"):
        parse_job({"data": {"status": "completed", "width": 1024, "height": 1024}}, JOB_ID)


def test_the_preview_task_publishes_its_player_page(pictory_conn):
    ctx = make_context()
    operator = PictoryRenderVideoOperator(
        task_id="preview", storyboard=board(), preview_only=True, deferrable=False, poll_interval=0.1, hook_params=FAST
    )
    result = operator.execute(ctx)
    assert ctx["ti"].xcom["preview_url"] == result["preview_url"] and "/v2/preview/" in result["preview_url"]
    assert ctx["ti"].xcom["video_name"] == "release-notes"  # the render of this preview is titled by it in the UI


# -- render with modifications (items 3 and 10) ----------------------------------------------------


def test_render_with_modifications_renders_the_changed_render_params(pictory_conn):
    hook = PictoryHook(**FAST)
    preview = hook.wait_for_job(hook.create_storyboard_preview(board()), poll_interval=0.05, timeout=20)
    params = preview.render_params
    next(e for e in params["elements"] if e["elementType"] == "SceneText")["text"] = "Version 3 is out."
    render = hook.wait_for_job(hook.render_with_modifications(params), poll_interval=0.05, timeout=20)
    assert requests.get(render.txt_url, timeout=5).text.startswith("Version 3 is out.\n")
    creates = [(e["method"], e["path"]) for e in pictory_conn.request_log if e["route"] == "create"]
    assert creates[-1] == ("POST", "/pictoryapis/v2/video/render")


def test_the_operator_renders_render_params_and_refuses_a_wrapped_object(pictory_conn):
    with pytest.raises(PictoryValidationError, match="not wrapped"):
        build_modified_render_request({"renderParams": {"output": {}}})
    hook = PictoryHook(**FAST)
    params = hook.wait_for_job(hook.create_storyboard_preview(board()), poll_interval=0.05, timeout=20).render_params
    operator = PictoryRenderVideoOperator(
        task_id="render", render_params=json.dumps(params), deferrable=False, poll_interval=0.1, hook_params=FAST
    )
    assert operator.kind is RENDER_PARAMS and "render_params" in operator.template_fields
    ctx = make_context()
    result = operator.execute(ctx)
    assert result["url"].endswith(".mp4") and ctx["ti"].xcom["audio_url"].endswith(".mp3")


def test_render_video_takes_a_webhook_like_render_preview(pictory_conn):
    hook = PictoryHook(**FAST)
    job_id = hook.render_video(board(), webhook="https://hooks.example.com/done")
    assert pictory_conn.job(job_id)["webhook"] == "https://hooks.example.com/done"


# -- render outputs (item 4) -----------------------------------------------------------------------


def test_a_render_publishes_its_audio_and_the_share_url_is_read_under_both_spellings(pictory_conn):
    hook = PictoryHook(**FAST)
    job = hook.wait_for_job(hook.render_video(board()), poll_interval=0.05, timeout=20)
    audio = requests.get(job.audio_url, timeout=5)
    assert audio.headers["Content-Type"] == "audio/mpeg" and audio.content[:2] == b"\xff\xfb"
    data = {"status": "completed", "videoURL": "https://cdn.example.com/v.mp4"}
    for spelling in ("videoShareURL", "shareVideoURL"):
        parsed = parse_job({"data": data | {spelling: "https://video.pictory.ai/s/1"}}, JOB_ID)
        assert (parsed.share_url, parsed.job_kind) == ("https://video.pictory.ai/s/1", "render")


# -- webhookInput echoed (item 5) ------------------------------------------------------------------


@pytest.fixture
def receiver():
    deliveries: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            deliveries.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pictory", deliveries
    server.shutdown()
    server.server_close()


def test_each_webhook_delivery_names_its_dag_run_through_webhook_input(pictory_conn, receiver):
    url, deliveries = receiver
    jobs = {}
    for run_id in ("scheduled__2026-01-01", "manual__2026-01-02"):
        operator = PictoryRenderVideoOperator(
            task_id="render",
            storyboard=board(webhookInput={"dag_id": "{{ dag.dag_id }}", "run_id": "{{ run_id }}"}),
            webhook=url,
            wait_for_completion=False,
            hook_params=FAST,
        )
        ctx = make_context()
        ctx.update(run_id=run_id, dag=type("Dag", (), {"dag_id": "videos"})())
        operator.render_template_fields(ctx)
        jobs[operator.execute(ctx)] = run_id
    deadline = time.monotonic() + 20
    while len(deliveries) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert {d["job_id"]: d["webhookInput"]["run_id"] for d in deliveries} == jobs
    assert {d["webhookInput"]["dag_id"] for d in deliveries} == {"videos"}


# -- the storyboard check (item 6) -----------------------------------------------------------------


def test_documented_scene_fields_pass_and_videodescription_only_warns(pictory_conn, caplog):
    scenes = [{"story": "Hi", "subtitleStyleName": "Bold"}, {"story": "There", "subtitleStyleId": "style-1"}]
    assert storyboard_errors(board(scenes=scenes)) == []
    both = [{"story": "Hi", "subtitleStyleName": "Bold", "subtitleStyleId": "style-1"}]
    assert "not both" in storyboard_errors(board(scenes=both))[0]["errors"]
    with caplog.at_level(logging.WARNING):
        body = build_render_request(board(videoDescription="Release notes"))
    assert body["videoDescription"] == "Release notes" and "videoDescription" in caplog.text


def test_an_explicit_opt_in_sends_a_field_the_check_does_not_know(pictory_conn):
    new = board(newField=1, scenes=[{"story": "Hi", "sceneEffect": "zoom"}])
    with pytest.raises(PictoryValidationError, match="unknown field 'newField'"):
        build_render_request(new)
    assert build_render_request(new, allow_unknown_fields=("newField", "sceneEffect"))["newField"] == 1
    with pytest.raises(PictoryValidationError, match="did you mean videoName"):  # typos are still caught
        build_render_request(new | {"videoname": "x"}, allow_unknown_fields=("newField", "sceneEffect"))
    job_id = PictoryHook(**FAST).render_video(new, allow_unknown_fields=["newField", "sceneEffect"])
    assert pictory_conn.job(job_id)["status"] == "in-progress"
    operator = PictoryRenderVideoOperator(
        task_id="r", storyboard=new, allow_unknown_fields=["newField", "sceneEffect"], wait_for_completion=False
    )
    assert operator.execute(make_context())


# -- the UI's Pictory tab of a preview task embeds the player (item 2) -----------------------------


@pytest.mark.skipif(not supported(), reason="plugin apps need Airflow >= 3.1")
def test_the_preview_tasks_tab_embeds_the_player(client, session):  # noqa: F811 (the imported fixtures)
    from .test_ui_app import publish, task_query

    page_url = "https://video.pictory.ai/v2/preview/318e78f8-aec4-4217-a787-42f7e1302a2b"
    publish(session, "a_dag", "preview", {"job_id": JOB_ID, "preview_url": page_url, "project_id": None}, {})
    response = client.get("/pictory/task", params=task_query("a_dag", "preview"))
    assert f'<iframe src="{page_url}?mode=player"' in response.text and 'id="no-output"' not in response.text
    assert "frame-src http: https:" in response.headers["Content-Security-Policy"]
    publish(session, "a_dag", "evil", {"job_id": JOB_ID, "preview_url": "javascript:alert(1)"}, {})
    assert "<iframe" not in client.get("/pictory/task", params=task_query("a_dag", "evil")).text


def test_the_documented_storyboard_requests_pass_the_check():
    from .test_contract import CASES

    requests_ = {name: case["request"] for name, case in CASES.items() if "/v2/video/storyboard" in case["path"]}
    requests_ |= {name: case["request"] for name, case in CASES.items() if name.startswith(("render-comp", "preview-"))}
    assert len(requests_) >= 3
    for name, body in requests_.items():
        assert storyboard_errors(body) == [], name
