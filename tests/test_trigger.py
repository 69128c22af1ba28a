"""PictoryJobTrigger against the emulator over real HTTP: every outcome, exactly one event each."""

from __future__ import annotations

import asyncio
import importlib
import json
import time

import pytest
from airflow.triggers.base import TriggerEvent

from pictory_provider.events import EVENT_KEYS
from pictory_provider.exceptions import PictoryValidationError
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .conftest import API_KEY, conn_json

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
UNKNOWN_JOB = "00000000-0000-4000-8000-000000000000"


def submit(prompt: str = "A trigger test image", **kwargs) -> str:
    return PictoryHook(**FAST).generate_image(prompt, **kwargs)


async def run_to_end(trigger: PictoryJobTrigger, limit: float = 30) -> list[TriggerEvent]:
    async def drain() -> list[TriggerEvent]:
        return [event async for event in trigger.run()]

    return await asyncio.wait_for(drain(), limit)


def make(job_id: str, **kwargs) -> PictoryJobTrigger:
    return PictoryJobTrigger(job_id, poll_interval=kwargs.pop("poll_interval", 0.1), hook_params=FAST, **kwargs)


def only_event(events: list[TriggerEvent]) -> dict:
    assert len(events) == 1, events
    payload = events[0].payload
    assert tuple(payload) == EVENT_KEYS
    assert API_KEY not in repr(payload)
    return payload


def test_serialize_round_trips_with_primitives_only():
    trigger = PictoryJobTrigger(
        UNKNOWN_JOB, "my_conn", poll_interval=15, end_time=1795000000.5, hook_params={"max_attempts": 8}
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "pictory_provider.triggers.pictory.PictoryJobTrigger"
    assert kwargs == {
        "job_id": UNKNOWN_JOB,
        "pictory_conn_id": "my_conn",
        "poll_interval": 15.0,
        "end_time": 1795000000.5,
        "hook_params": {"max_attempts": 8},
    }
    module, _, name = classpath.rpartition(".")
    again = getattr(importlib.import_module(module), name)(**kwargs)
    assert again.serialize() == (classpath, kwargs)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [({"job_id": "nope"}, "UUID"), ({"job_id": UNKNOWN_JOB, "poll_interval": 0}, "poll_interval")],
)
def test_bad_arguments_fail_at_construction(kwargs, needle):
    with pytest.raises(PictoryValidationError, match=needle):
        PictoryJobTrigger(**kwargs)
    with pytest.raises(TypeError):
        PictoryJobTrigger(UNKNOWN_JOB, hook_params={"not_json": object()})


@pytest.mark.asyncio
async def test_success_after_several_polls(pictory_conn, capsys):
    job_id = await asyncio.to_thread(submit, model="nanobanana", aspect_ratio="9:16")
    event = only_event(await run_to_end(make(job_id)))
    assert event["status"] == "success"
    assert (event["job_id"], event["width"], event["height"], event["ai_credits_used"]) == (job_id, 720, 1280, 4)
    assert event["url"] == f"{pictory_conn.base_url}/files/{job_id}.png"
    assert pictory_conn.stats()["requests"]["job"] >= 3
    logged = capsys.readouterr().out  # Airflow's structlog renders trigger logs to stdout
    assert f"Pictory job {job_id} is 'in-progress' (poll 1)" in logged
    assert f"Pictory job {job_id}: firing success event (completed after " in logged
    assert f"Pictory job {job_id} is 'completed'" not in logged  # the final status is logged once
    assert API_KEY not in logged


@pytest.mark.asyncio
async def test_failed_job_carries_pictory_reason(pictory_conn):
    pictory_conn.add_fault("fail_job", error_code="NSFW_PROMPT", error_message="The prompt was rejected")
    job_id = await asyncio.to_thread(submit)
    event = only_event(await run_to_end(make(job_id)))
    assert (event["status"], event["error_code"], event["error_message"]) == (
        "failed",
        "NSFW_PROMPT",
        "The prompt was rejected",
    )


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 500, "count": 3},
        {"kind": "status", "status": 503, "count": 2},
        {"kind": "rate_limit", "retry_after": 1, "count": 1},
        {"kind": "non_json", "count": 2},
        {"kind": "non_json", "status": 403, "count": 1, "body": "<html>blocked</html>"},
        {"kind": "reset", "count": 2},
    ],
)
async def test_transient_faults_do_not_kill_the_wait(pictory_conn, fault):
    job_id = await asyncio.to_thread(submit)
    kind = fault.pop("kind")
    pictory_conn.add_fault(kind, route="job", **fault)
    started = time.monotonic()
    events = await run_to_end(make(job_id))
    event = only_event(events)
    if fault.get("status") == 403:  # a 403 is an auth refusal: reported at once, not retried
        assert event["status"] == "error" and "HTTP 403" in event["message"]
        return
    assert event["status"] == "success", event
    if kind == "rate_limit":
        assert time.monotonic() - started >= 0.95  # Retry-After honoured


@pytest.mark.asyncio
async def test_retry_budget_exhausted_yields_error_naming_the_cause(pictory_conn, capsys):
    job_id = await asyncio.to_thread(submit)
    pictory_conn.add_fault("status", route="job", status=502, count=100)
    trigger = PictoryJobTrigger(job_id, poll_interval=0.1, hook_params=FAST | {"max_attempts": 4})
    event = only_event(await run_to_end(trigger))
    assert event["status"] == "error"
    assert "after 4 attempt(s)" in event["message"] and "HTTP 502" in event["message"]
    assert pictory_conn.stats()["requests"]["job"] == 4
    logged = capsys.readouterr().out
    # structlog's rendering (Airflow 3.3) or the stdlib "{file:line} LEVEL - message" one (Airflow 2.11, 3.0)
    assert "[error    ] Giving up on Pictory job" in logged or "ERROR - Giving up on Pictory job" in logged
    assert "Traceback (most recent call last)" in logged  # full traceback before the error event
    assert logged.index("Traceback") < logged.index("firing error event")


@pytest.mark.asyncio
async def test_bad_key_yields_error_at_once(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(emulator.base_url, "not-a-pictory-key"))
    event = only_event(await run_to_end(make(UNKNOWN_JOB)))
    assert event["status"] == "error" and "HTTP 401" in event["message"]
    assert "not-a-pictory-key" not in event["message"]
    assert emulator.stats()["requests"]["job"] == 1


@pytest.mark.asyncio
async def test_unknown_job_yields_error_at_once(pictory_conn):
    event = only_event(await run_to_end(make(UNKNOWN_JOB)))
    assert event["status"] == "error" and "HTTP 404" in event["message"]
    assert pictory_conn.stats()["requests"]["job"] == 1


@pytest.mark.asyncio
async def test_missing_connection_yields_error(emulator):
    event = only_event(await run_to_end(PictoryJobTrigger(UNKNOWN_JOB, "no_such_conn", poll_interval=0.1)))
    assert event["status"] == "error" and "'no_such_conn' is not defined" in event["message"]


@pytest.mark.asyncio
async def test_end_time_yields_timeout(pictory_conn):
    pictory_conn.set_job_seconds(60)
    job_id = await asyncio.to_thread(submit)
    started = time.monotonic()
    event = only_event(await run_to_end(make(job_id, poll_interval=5, end_time=time.time() + 0.5)))
    assert event["status"] == "timeout" and "keeps running" in event["message"]
    assert time.monotonic() - started < 3  # the sleep is cut short at the deadline


@pytest.mark.asyncio
async def test_a_past_end_time_still_reports_a_finished_job(pictory_conn):
    pictory_conn.set_job_seconds(0)
    job_id = await asyncio.to_thread(submit)
    event = only_event(await run_to_end(make(job_id, end_time=time.time() - 10)))
    assert event["status"] == "success"


@pytest.mark.asyncio
async def test_cleaned_job_is_failed(pictory_conn):
    pictory_conn.set_job_seconds(0)
    job_id = await asyncio.to_thread(submit)
    import requests

    await asyncio.to_thread(
        requests.delete,
        f"{pictory_conn.base_url}/pictoryapis/v1/jobs/{job_id}/clean",
        headers={"Authorization": API_KEY},
        timeout=5,
    )
    event = only_event(await run_to_end(make(job_id)))
    assert (event["status"], event["error_code"]) == ("failed", "JOB_CLEANED")


@pytest.mark.asyncio
async def test_triggers_in_one_loop_share_keep_alive_connections(pictory_conn, monkeypatch):
    extra = {"max_requests_per_second": 0, "status_polling": "per_job"}  # GETs, not the shared list scan
    uncapped = json.loads(conn_json(pictory_conn.base_url)) | {"extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", json.dumps(uncapped))
    pictory_conn.set_job_seconds(1.0)
    job_ids = [await asyncio.to_thread(submit, f"Shared session image {i}") for i in range(20)]
    before = pictory_conn.stats()
    events = await asyncio.gather(*(run_to_end(make(job_id, poll_interval=0.1)) for job_id in job_ids))
    assert [only_event(e)["status"] for e in events] == ["success"] * 20
    after = pictory_conn.stats()
    polls = after["requests"]["job"] - before["requests"]["job"]
    connections = after["connections"] - before["connections"]
    assert polls >= 20 * 5
    # A session per poll would open one connection per poll; the shared pool reuses a handful.
    assert connections <= 20 and polls >= 5 * connections, (polls, connections)


def capped_connection(emulator, rate: float) -> str:
    return json.dumps(json.loads(conn_json(emulator.base_url)) | {"extra": {"max_requests_per_second": rate}})


@pytest.mark.asyncio
async def test_request_rate_cap_is_shared_by_every_trigger_of_a_connection(pictory_conn, monkeypatch):
    pictory_conn.set_job_seconds(2.0)
    job_ids = [await asyncio.to_thread(submit, f"Capped image {i}") for i in range(15)]
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", capped_connection(pictory_conn, 10))
    start = len(pictory_conn.request_log)
    events = await asyncio.gather(*(run_to_end(make(job_id, poll_interval=0.1)) for job_id in job_ids))
    assert [only_event(e)["status"] for e in events] == ["success"] * 15
    times = sorted(r["time"] for r in pictory_conn.request_log[start:] if r["route"] == "job")
    assert len(times) >= 30
    busiest = max(sum(1 for t in times if first <= t < first + 1.0) for first in times)
    assert busiest <= 11, busiest  # 10 per second (+1 for a window edge), though 15 triggers poll every 0.1 s


@pytest.mark.asyncio
async def test_a_429_pauses_every_trigger_of_the_connection(pictory_conn, monkeypatch):
    pictory_conn.set_job_seconds(3.0)
    job_ids = [await asyncio.to_thread(submit, f"Paused image {i}") for i in range(3)]
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", capped_connection(pictory_conn, 0))
    start = len(pictory_conn.request_log)
    pictory_conn.add_fault("rate_limit", route="job", retry_after=1, count=1)
    events = await asyncio.gather(*(run_to_end(make(job_id, poll_interval=0.2)) for job_id in job_ids))
    assert [only_event(e)["status"] for e in events] == ["success"] * 3
    log = [r for r in pictory_conn.request_log[start:] if r["route"] == "job"]
    limited = next(r["time"] for r in log if r["status"] == 429)
    # requests sent after the 429 was answered (allow 50 ms for ones already in flight)
    later = [r["time"] for r in log if r["time"] > limited + 0.05]
    assert later
    assert min(later) - limited >= 0.9  # nobody polled during the Retry-After pause


def test_invalid_rate_cap_is_a_config_error(pictory_conn, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", capped_connection(pictory_conn, -1))
    from pictory_provider.exceptions import PictoryConfigError

    with pytest.raises(PictoryConfigError, match="max_requests_per_second"):
        PictoryHook().get_credentials()
