"""PictoryImageJobSensor: deferral, finished-before-defer, every event status, poke mode, soft_fail."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from airflow.providers.common.compat.sdk import AirflowSensorTimeout, AirflowSkipException, TaskDeferred

from pictory_provider.events import make_event
from pictory_provider.exceptions import (
    PictoryError,
    PictoryEventError,
    PictoryJobFailedError,
    PictoryValidationError,
)
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.sensors.pictory import PictoryImageJobSensor, default_deferrable
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .compat import AIRFLOW_V_3_0_PLUS
from .fakes import make_context

UNKNOWN_JOB = "00000000-0000-4000-8000-000000000000"
FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}


def context() -> dict:
    return make_context()


def sensor(**kwargs) -> PictoryImageJobSensor:
    return PictoryImageJobSensor(task_id="wait", **({"hook_params": FAST} | kwargs))


def submit(**kwargs) -> str:
    return PictoryHook(**FAST).generate_image("A sensor test image", **kwargs)


def test_template_fields_and_defaults(monkeypatch):
    monkeypatch.delenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", raising=False)
    s = PictoryImageJobSensor(task_id="w", job_id="{{ ti.xcom_pull(task_ids='submit', key='job_id') }}")
    assert {"job_id", "pictory_conn_id"} <= set(s.template_fields)
    assert (s.deferrable, s.poke_interval, s.timeout, s.pictory_conn_id) == (True, 10, 3600, "pictory_default")


@pytest.mark.parametrize(("env", "expected"), [("false", False), ("true", True)])
def test_default_deferrable_follows_the_environment(monkeypatch, env, expected):
    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", env)
    assert default_deferrable() is expected
    assert PictoryImageJobSensor(task_id="w", job_id=UNKNOWN_JOB).deferrable is expected


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"timeout": 0}, "timeout"),
        ({"poke_interval": 0}, "poll_interval"),
        ({"poke_interval": 100, "timeout": 10}, "at most the timeout"),
    ],
)
def test_bad_wait_settings_fail_at_construction(kwargs, needle):
    with pytest.raises(PictoryValidationError, match=needle):
        PictoryImageJobSensor(task_id="w", job_id=UNKNOWN_JOB, **kwargs)


def test_bad_job_id_fails_before_any_request(pictory_conn):
    with pytest.raises(PictoryValidationError, match="UUID"):
        sensor(job_id="not-a-job").execute(context())
    assert sum(pictory_conn.stats()["requests"].values()) == 0


def test_defers_with_trigger_method_and_timeout(pictory_conn):
    pictory_conn.set_job_seconds(30)
    job_id = submit()
    s = sensor(job_id=job_id, poke_interval=7, timeout=120)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        s.execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, PictoryJobTrigger)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=120)
    _, kwargs = trigger.serialize()
    assert kwargs["job_id"] == job_id and kwargs["poll_interval"] == 7.0
    assert before + 120 <= kwargs["end_time"] <= time.time() + 120
    assert pictory_conn.stats()["requests"]["job"] == 1  # checked once before deferring


def test_finished_job_returns_without_deferring(pictory_conn):
    pictory_conn.set_job_seconds(0)
    job_id = submit(model="nanobanana-pro")
    ctx = context()
    result = sensor(job_id=job_id).execute(ctx)
    assert result == {
        "job_id": job_id,
        "url": f"{pictory_conn.base_url}/files/{job_id}.png",
        "width": 1024,
        "height": 1024,
        "ai_credits_used": 14,
    }
    assert ctx["ti"].xcom == {"image_url": result["url"], "ai_credits_used": 14, "width": 1024, "height": 1024}


def test_failed_job_raises_before_deferring(pictory_conn):
    pictory_conn.set_job_seconds(0)
    pictory_conn.add_fault("fail_job", error_code="BAD_REFERENCE", error_message="reference image unreachable")
    job_id = submit()
    with pytest.raises(PictoryJobFailedError, match="BAD_REFERENCE: reference image unreachable"):
        sensor(job_id=job_id).execute(context())


def test_soft_fail_skips_a_job_that_already_failed_before_deferring(pictory_conn):
    pictory_conn.set_job_seconds(0)
    pictory_conn.add_fault("fail_job", error_code="E9", error_message="gone wrong")
    job_id = submit()
    with pytest.raises(AirflowSkipException, match="E9: gone wrong"):
        sensor(job_id=job_id, soft_fail=True).execute(context())


def test_execute_complete_success_pushes_xcom():
    ctx = context()
    event = make_event("success", UNKNOWN_JOB, "done") | {
        "url": "https://cdn/x.png",
        "width": 1280,
        "height": 720,
        "ai_credits_used": 2,
    }
    result = sensor(job_id=UNKNOWN_JOB).execute_complete(ctx, event)
    assert result == {
        "job_id": UNKNOWN_JOB,
        "url": "https://cdn/x.png",
        "width": 1280,
        "height": 720,
        "ai_credits_used": 2,
    }
    assert ctx["ti"].xcom == {"image_url": "https://cdn/x.png", "ai_credits_used": 2, "width": 1280, "height": 720}


@pytest.mark.parametrize(
    ("event", "error", "needle"),
    [
        (
            make_event("failed", UNKNOWN_JOB, "failed", error=("E42", "model unavailable")),
            PictoryJobFailedError,
            "E42: model unavailable",
        ),
        (
            make_event("error", UNKNOWN_JOB, "Gave up after 5 attempt(s); last cause: HTTP 503"),
            PictoryError,
            "last cause: HTTP 503",
        ),
        (
            make_event("timeout", UNKNOWN_JOB, "still 'in-progress' at the deadline"),
            AirflowSensorTimeout,
            "did not finish in time",
        ),
        (None, PictoryEventError, "event is None"),
        ("success", PictoryEventError, "must be a dict"),
        ({"status": "cancelled", "job_id": UNKNOWN_JOB}, PictoryEventError, "unknown status 'cancelled'"),
        ({"status": "success", "job_id": UNKNOWN_JOB}, PictoryEventError, "no image url"),
        ({"status": "success"}, PictoryEventError, "no job_id"),
    ],
)
def test_execute_complete_rejects_everything_but_success(event, error, needle):
    ctx = context()
    with pytest.raises(error, match=needle):
        sensor(job_id=UNKNOWN_JOB).execute_complete(ctx, event)
    assert ctx["ti"].xcom == {}


def test_soft_fail_turns_a_timeout_event_into_a_skip():
    timeout_event = {"event": make_event("timeout", UNKNOWN_JOB, "deadline")}
    with pytest.raises(AirflowSkipException):
        sensor(job_id=UNKNOWN_JOB, soft_fail=True).resume_execution("execute_complete", timeout_event, context())
    with pytest.raises(AirflowSensorTimeout):
        sensor(job_id=UNKNOWN_JOB).resume_execution("execute_complete", timeout_event, context())


def test_soft_fail_turns_a_deferral_timeout_into_a_skip():
    """Airflow's own deferral timeout (defer(timeout=...)) resumes the task with __fail__/TIMEOUT."""
    if AIRFLOW_V_3_0_PLUS:
        fail, timeout_error = {"error": "Trigger timeout"}, AirflowSensorTimeout
    else:  # Airflow 2 has no TaskDeferralTimeout: the scheduler's timeout resumes with a TaskDeferralError
        from airflow.exceptions import TaskDeferralError

        fail, timeout_error = {"error": "Trigger/execution timeout"}, TaskDeferralError
    with pytest.raises(AirflowSkipException):
        sensor(job_id=UNKNOWN_JOB, soft_fail=True).resume_execution("__fail__", fail, context())
    with pytest.raises(timeout_error):
        sensor(job_id=UNKNOWN_JOB).resume_execution("__fail__", fail, context())


def test_poke_mode_end_to_end_returns_the_same_result(pictory_conn):
    pictory_conn.set_job_seconds(1)
    job_id = submit(aspect_ratio="16:9")
    ctx = context()
    result = sensor(job_id=job_id, deferrable=False, poke_interval=0.2, timeout=30).execute(ctx)
    assert result["job_id"] == job_id and (result["width"], result["height"]) == (1280, 720)
    assert ctx["ti"].xcom["image_url"] == result["url"]
    assert pictory_conn.stats()["requests"]["job"] >= 3


def test_poke_mode_failed_job_raises_at_once(pictory_conn):
    pictory_conn.set_job_seconds(0.3)
    pictory_conn.add_fault("fail_job", error_code="E1", error_message="nope")
    job_id = submit()
    with pytest.raises(PictoryJobFailedError, match="E1: nope"):
        sensor(job_id=job_id, deferrable=False, poke_interval=0.1, timeout=30).execute(context())
    assert pictory_conn.stats()["requests"]["job"] <= 6


def test_poke_mode_timeout_and_soft_fail(pictory_conn):
    pictory_conn.set_job_seconds(60)
    job_id = submit()
    with pytest.raises(AirflowSensorTimeout):
        sensor(job_id=job_id, deferrable=False, poke_interval=0.1, timeout=0.3).execute(context())
    with pytest.raises(AirflowSkipException):
        sensor(job_id=job_id, deferrable=False, poke_interval=0.1, timeout=0.3, soft_fail=True).execute(context())
