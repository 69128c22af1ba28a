"""Video jobs end to end against the emulator: the hook's request, PictoryGenerateVideoOperator in its
three modes, PictoryVideoJobSensor deferred and poking, the one trigger on a video job, resume on retry."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, TaskDeferred

from pictory_provider.api import VIDEOS_PATH
from pictory_provider.events import EVENT_KEYS, make_event
from pictory_provider.exceptions import (
    PictoryEventError,
    PictoryJobFailedError,
    PictoryTransientError,
    PictoryValidationError,
)
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.operators.pictory import (
    PictoryGenerateImageOperator,
    PictoryGenerateOperatorBase,
    PictoryGenerateVideoOperator,
    PictoryVideoLink,
)
from pictory_provider.sensors.pictory import PictoryImageJobSensor, PictoryJobSensorBase, PictoryVideoJobSensor
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .compat import AIRFLOW_V_3_3_PLUS
from .fakes import TaskStateStore, make_context
from .test_video_media import mp4_summary

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
VIDEO_XCOM = {"video_url", "duration", "width", "height", "ai_credits_used", "thumbnail_url", "last_frame_image_url"}
RESULT_KEYS = [
    "job_id",
    "url",
    "width",
    "height",
    "duration",
    "ai_credits_used",
    "thumbnail_url",
    "last_frame_image_url",
]
needs_task_state_store = pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="the task state store arrives in 3.3")


def operator(**kwargs) -> PictoryGenerateVideoOperator:
    params = {"task_id": "video", "prompt": "A kite over the dunes", "hook_params": FAST, "poll_interval": 0.1}
    return PictoryGenerateVideoOperator(**(params | kwargs))


def sensor(**kwargs) -> PictoryVideoJobSensor:
    return PictoryVideoJobSensor(task_id="wait_video", **({"hook_params": FAST} | kwargs))


def submit(**kwargs) -> str:
    return PictoryHook(**FAST).generate_video("A sensor test video", **kwargs)


def expected_result(base_url: str, job_id: str, width: int, height: int, seconds: int, credits: float) -> dict:
    files = f"{base_url}/files/{job_id}"
    return {
        "job_id": job_id,
        "url": f"{files}.mp4",
        "width": width,
        "height": height,
        "duration": seconds,
        "ai_credits_used": credits,
        "thumbnail_url": f"{files}-thumbnail.jpg",
        "last_frame_image_url": f"{files}-last-frame.png",
    }


def video_xcom(result: dict) -> dict:
    renamed = {"url": "video_url"}
    return {renamed.get(key, key): value for key, value in result.items() if key not in ("job_id", "video_path")}


# -- one design -------------------------------------------------------------------------------------


def test_image_and_video_share_one_operator_and_one_sensor():
    assert issubclass(PictoryGenerateVideoOperator, PictoryGenerateOperatorBase)
    assert issubclass(PictoryGenerateImageOperator, PictoryGenerateOperatorBase)
    assert issubclass(PictoryVideoJobSensor, PictoryJobSensorBase)
    assert issubclass(PictoryImageJobSensor, PictoryJobSensorBase)
    for name in ("submit_job", "poll_until_complete", "get_job_result", "execute_complete", "execute"):
        assert name not in vars(PictoryGenerateVideoOperator), name
    for name in ("poke", "execute", "execute_complete", "__init__"):
        assert name not in vars(PictoryVideoJobSensor), name


def test_templated_fields_link_and_defaults():
    op = operator()
    assert set(op.template_fields) == {
        "prompt",
        "model",
        "aspect_ratio",
        "duration",
        "first_frame_image_url",
        "extend_video_url",
        "reference_image_urls",
        "webhook",
        "output_path",
        "pictory_conn_id",
        "adopt_job_id",
    }
    assert [link.name for link in op.operator_extra_links] == ["Pictory Video"]
    assert isinstance(op.operator_extra_links[0], PictoryVideoLink)
    assert (op.deferrable, op.wait_for_completion, op.timeout) == (True, True, 3600)
    assert {"job_id", "pictory_conn_id", "output_path"} <= set(sensor(job_id="x").template_fields)


# -- hook ---------------------------------------------------------------------------------------------


def test_generate_video_posts_the_documented_body(pictory_conn):
    hook = PictoryHook(**FAST)
    job_id = hook.generate_video(
        "The lighthouse beam sweeps the fog",
        model="veo3.1",
        aspect_ratio="9:16",
        duration="6s",
        first_frame_image_url="https://cdn.example.com/first.png",
        webhook="http://127.0.0.1:9/hook",
    )
    record = pictory_conn.job(job_id)
    assert record["kind"] == "video"
    assert (record["prompt"], record["model"], record["aspect_ratio"], record["duration"]) == (
        "The lighthouse beam sweeps the fog",
        "veo3.1",
        "9:16",
        "6s",
    )
    assert record["first_frame_image_url"] == "https://cdn.example.com/first.png"
    assert (record["width"], record["height"], record["ai_credits_used"]) == (720, 1280, 120)
    refs = hook.generate_video("Mix these looks", reference_image_urls=["https://a.example/1.png"] * 2)
    assert pictory_conn.job(refs)["reference_image_urls"] == ["https://a.example/1.png"] * 2
    assert pictory_conn.job(refs)["model"] == "pixverse5.5"  # Pictory's default, with its first ratio/duration
    assert (pictory_conn.job(refs)["aspect_ratio"], pictory_conn.job(refs)["duration"]) == ("16:9", "5s")
    posts = [entry for entry in pictory_conn.request_log if entry["method"] == "POST"]
    assert [(entry["path"], entry["status"]) for entry in posts] == [(VIDEOS_PATH, 200)] * 2


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"prompt": "tiny"}, "prompt"),
        ({"model": "sora"}, "model must be one of veo3.1, veo3.1_fast, pixverse5.5"),
        ({"model": "veo3.1", "aspect_ratio": "1:1"}, "aspectRatio must be one of 16:9, 9:16 for model veo3.1"),
        ({"duration": "6s"}, "duration must be one of 5s, 8s, 10s for model pixverse5.5"),
        ({"first_frame_image_url": "None"}, "firstFrameImageUrl"),
        ({"reference_image_urls": ["https://a/1.png"] * 4}, "referenceImageUrls"),
        ({"extend_video_url": "https://a/v.mp4", "first_frame_image_url": "https://a/f.png"}, "at most one of"),
        ({"webhook": "not-a-url"}, "webhook"),
    ],
)
def test_invalid_input_fails_before_any_request(pictory_conn, kwargs, needle):
    with pytest.raises(PictoryValidationError, match=needle):
        operator(**kwargs).execute(make_context())
    args = {"prompt": "A valid prompt"} | kwargs
    with pytest.raises(PictoryValidationError, match=needle):
        PictoryHook(**FAST).generate_video(args.pop("prompt"), **args)
    assert sum(pictory_conn.stats()["requests"].values()) == 0


def test_the_video_post_is_never_repeated_once_it_may_have_reached_pictory(pictory_conn):
    pictory_conn.add_fault("status", route="create", status=500)
    with pytest.raises(PictoryTransientError):
        PictoryHook(**FAST).generate_video("A video that must not be bought twice")
    assert pictory_conn.stats()["posts"] == 1  # a 5xx may have created the job: no second POST
    pictory_conn.add_fault("rate_limit", route="create", retry_after=0.01)
    job_id = PictoryHook(**FAST).generate_video("A video after a 429")  # a 429 was never accepted: retried
    assert pictory_conn.stats()["posts"] == 3 and pictory_conn.job(job_id)["kind"] == "video"


def test_emulator_rejects_what_the_hook_rejects(pictory_conn):
    """The emulator's 400 uses the same rules (a body sent past the hook's checks)."""
    hook = PictoryHook(**FAST)
    body = {"prompt": "A valid prompt", "model": "veo3.1", "duration": "10s", "referenceImageUrls": []}
    with pytest.raises(PictoryValidationError) as raised:
        hook._call("POST", VIDEOS_PATH, "a raw video request", body)
    assert {field["name"] for field in raised.value.fields} == {"duration", "referenceImageUrls"}
    assert pictory_conn.stats()["jobs_created"] == 0


# -- operator: three modes --------------------------------------------------------------------------


def test_submit_only_returns_job_id_and_pushes_it(pictory_conn):
    ctx = make_context()
    job_id = operator(wait_for_completion=False, model="veo3.1_fast", duration="4s").execute(ctx)
    assert ctx["ti"].xcom == {"job_id": job_id}
    assert pictory_conn.job(job_id)["kind"] == "video"
    assert pictory_conn.stats()["posts"] == 1


def test_deferrable_wait_defers_to_the_one_trigger(pictory_conn):
    ctx = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator(timeout=600, poll_interval=9).execute(ctx)
    trigger = deferred.value.trigger
    assert type(trigger) is PictoryJobTrigger
    assert (trigger.job_id, trigger.poll_interval) == (ctx["ti"].xcom["job_id"], 9.0)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=660)


def test_the_trigger_fires_the_video_fields_and_execute_complete_publishes_them(pictory_conn, tmp_path):
    pictory_conn.set_job_seconds(0.2)
    ctx = make_context()
    op = operator(model="veo3.1", aspect_ratio="16:9", duration="8s", output_path=f"{tmp_path}/")
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)

    async def first_event():
        async for event in deferred.value.trigger.run():
            return event.payload

    event = asyncio.run(asyncio.wait_for(first_event(), 20))
    assert tuple(event) == EVENT_KEYS and event["status"] == "success"
    result = op.execute_complete(ctx, event)
    job_id = ctx["ti"].xcom["job_id"]
    expected = expected_result(pictory_conn.base_url, job_id, 1280, 720, 8, 160)
    assert list(result) == [*RESULT_KEYS, "video_path"]
    assert result == expected | {"video_path": f"{tmp_path}/{job_id}.mp4"}
    assert ctx["ti"].xcom == {"job_id": job_id} | video_xcom(result) | {"video_path": result["video_path"]}
    assert set(ctx["ti"].xcom) == VIDEO_XCOM | {"job_id", "video_path"}
    summary = mp4_summary(Path(result["video_path"]).read_bytes())
    assert (summary["width"], summary["height"], summary["seconds"]) == (1280, 720, 8)


def test_synchronous_wait_stores_the_mp4(pictory_conn, tmp_path):
    ctx = make_context()
    target = tmp_path / "out" / "clip.mp4"
    result = operator(deferrable=False, aspect_ratio="3:4", duration="5s", output_path=str(target)).execute(ctx)
    assert result == expected_result(pictory_conn.base_url, result["job_id"], 720, 960, 5, 8) | {
        "video_path": str(target)
    }
    assert ctx["ti"].xcom["video_url"] == result["url"] and ctx["ti"].xcom["duration"] == 5
    summary = mp4_summary(target.read_bytes())
    assert (summary["width"], summary["height"], summary["seconds"]) == (720, 960, 5)


def test_failed_video_job_fails_with_reason_and_no_resubmission(pictory_conn):
    pictory_conn.add_fault("fail_job")
    with pytest.raises(PictoryJobFailedError, match="VIDEO_GENERATION_FAILED: The video could not be generated"):
        operator(deferrable=False).execute(make_context())
    assert pictory_conn.stats()["posts"] == 1


def test_execute_complete_errors_match_the_image_operator():
    job_id = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(PictoryEventError, match="carries no video url"):
        operator().execute_complete(make_context(), {"status": "success", "job_id": job_id})
    with pytest.raises(PictoryJobFailedError, match="E1: nope"):
        operator().execute_complete(make_context(), make_event("failed", job_id, "x", error=("E1", "nope")))


@needs_task_state_store
def test_retry_resumes_the_submitted_video_instead_of_buying_another(pictory_conn, tmp_path):
    store = TaskStateStore()
    with pytest.raises(TaskDeferred) as first:
        operator().execute(make_context(store))
    job_id = first.value.trigger.job_id
    assert store.values["pictory_job_id"] == job_id and set(store.values) == {
        "pictory_job_id",
        "pictory_job_id_request",
    }
    with pytest.raises(TaskDeferred) as second:  # still running: waits on the same job again
        operator().execute(make_context(store))
    assert second.value.trigger.job_id == job_id
    time.sleep(0.6)  # the first job (0.5 s) has completed: a retry collects it
    ctx = make_context(store)
    result = operator(output_path=f"{tmp_path}/").execute(ctx)
    assert result["job_id"] == job_id and result["video_path"].endswith(f"{job_id}.mp4")
    assert ctx["ti"].xcom["video_url"] == result["url"]
    assert pictory_conn.stats()["posts"] == 1


# -- sensor -----------------------------------------------------------------------------------------


def test_sensor_defers_with_the_one_trigger(pictory_conn):
    pictory_conn.set_job_seconds(30)
    job_id = submit()
    with pytest.raises(TaskDeferred) as deferred:
        sensor(job_id=job_id, poke_interval=7, timeout=120).execute(make_context())
    assert type(deferred.value.trigger) is PictoryJobTrigger
    assert deferred.value.trigger.job_id == job_id
    assert deferred.value.timeout == timedelta(seconds=120)
    assert pictory_conn.stats()["requests"]["job"] == 1


def test_sensor_finished_job_returns_the_video_result(pictory_conn, tmp_path):
    pictory_conn.set_job_seconds(0)
    job_id = submit(model="veo3.1_fast", duration="4s", aspect_ratio="9:16")
    ctx = make_context()
    result = sensor(job_id=job_id, output_path=f"{tmp_path}/").execute(ctx)
    assert result == expected_result(pictory_conn.base_url, job_id, 720, 1280, 4, 40) | {
        "video_path": f"{tmp_path}/{job_id}.mp4"
    }
    assert ctx["ti"].xcom == video_xcom(result) | {"video_path": result["video_path"]}


def test_sensor_poke_mode_gives_the_same_result(pictory_conn):
    pictory_conn.set_job_seconds(0.3)
    job_id = submit(duration="10s", aspect_ratio="1:1")
    ctx = make_context()
    result = sensor(job_id=job_id, deferrable=False, poke_interval=0.1, timeout=30).execute(ctx)
    assert result == expected_result(pictory_conn.base_url, job_id, 960, 960, 10, 16)
    assert set(ctx["ti"].xcom) == VIDEO_XCOM
    assert pictory_conn.stats()["requests"]["job"] >= 2  # it really poked until done


def test_sensor_failed_job_and_timeout_event(pictory_conn):
    pictory_conn.set_job_seconds(0)
    pictory_conn.add_fault("fail_job", error_code="UNSAFE_FRAME", error_message="first frame refused")
    job_id = submit()
    with pytest.raises(PictoryJobFailedError, match="UNSAFE_FRAME: first frame refused"):
        sensor(job_id=job_id).execute(make_context())
    with pytest.raises(AirflowSensorTimeout):
        sensor(job_id=job_id).execute_complete(make_context(), make_event("timeout", job_id, "deadline"))


# -- spend control and submission guard for videos (shared operator base) --------------------------


def test_video_budget_refuses_with_zero_requests(pictory_conn):
    from pictory_provider.exceptions import PictoryBudgetError

    task = operator(model="veo3.1", duration="8s", max_ai_credits=100)
    with pytest.raises(PictoryBudgetError, match=r"160") as refused:
        task.execute(make_context())
    assert refused.value.estimate == 160 and refused.value.limit == 100
    assert sum(pictory_conn.stats()["requests"].values()) == 0


def test_video_check_quota_reads_once_and_never_posts(pictory_conn):
    from pictory_provider.exceptions import PictoryBudgetError

    pictory_conn.set_credits(limit=10, used=0)
    with pytest.raises(PictoryBudgetError, match=r"16"):  # pixverse5.5, 10 s: 1.6 x 10
        operator(duration="10s", check_quota=True).execute(make_context())
    stats = pictory_conn.stats()
    assert stats["requests"]["quota"] == 1 and stats["posts"] == 0


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="the task state store exists on Airflow >= 3.3")
def test_unclear_video_create_is_adopted_by_the_retry(pictory_conn):
    """The create answers after the read timeout (the video job exists): the retry finds it, no 2nd POST."""
    pictory_conn.set_job_seconds(0.2)
    pictory_conn.add_fault("answer_late", route="create", delay=2.0)
    store = TaskStateStore()
    late = {**FAST, "read_timeout": 0.5, "max_attempts": 1}
    with pytest.raises(PictoryTransientError, match="may have reached Pictory"):
        operator(hook_params=late, deferrable=False).execute(make_context(store))
    time.sleep(2.0)  # the late answer is sent and the job completes
    result = operator(deferrable=False).execute(make_context(store))
    assert pictory_conn.stats()["posts"] == 1 and pictory_conn.stats()["jobs_created"] == 1
    assert result["url"].endswith(".mp4") and store.values["pictory_job_id"] == result["job_id"]
