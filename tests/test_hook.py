"""PictoryHook against the emulator over real HTTP (loopback): statuses, retries, errors, secrets."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import pytest

from pictory_provider.api import JobStatus
from pictory_provider.exceptions import (
    PictoryAuthError,
    PictoryConfigError,
    PictoryError,
    PictoryJobFailedError,
    PictoryJobTimeoutError,
    PictoryNotFoundError,
    PictorySubmissionUnclearError,
    PictoryTransientError,
    PictoryValidationError,
)
from pictory_provider.hooks.pictory import USER_AGENT, PictoryHook, base_url_from_host

from .conftest import API_KEY, conn_json

UNKNOWN_JOB = "00000000-0000-4000-8000-000000000000"
FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}


def fast_hook(**kwargs) -> PictoryHook:
    return PictoryHook(**(FAST | kwargs))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_init_touches_nothing(emulator, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_PICTORY_DEFAULT", raising=False)
    hook = PictoryHook("does_not_exist")  # no lookup, no request
    assert repr(hook) == "PictoryHook(pictory_conn_id='does_not_exist')"
    assert emulator.stats()["posts"] == 0
    assert sum(emulator.stats()["requests"].values()) == 0


def test_generate_and_wait_end_to_end(pictory_conn):
    hook = fast_hook()
    job_id = hook.generate_image("A lighthouse at dawn", model="flux-schnell", aspect_ratio="16:9")
    first = hook.get_job(job_id)
    assert first.status is JobStatus.IN_PROGRESS
    job = hook.wait_for_job(job_id, poll_interval=0.1, timeout=10)
    assert (job.status, job.width, job.height, job.ai_credits_used) == (JobStatus.COMPLETED, 1280, 720, 0.6)
    assert job.url.startswith(pictory_conn.base_url) and job.url.endswith(".png")
    assert pictory_conn.stats()["posts"] == 1


def test_requests_carry_documented_headers(pictory_conn):
    hook = fast_hook()
    creds = hook.get_credentials()
    assert creds.headers["Authorization"] == API_KEY  # raw key, no "Bearer"
    assert creds.headers["User-Agent"] == USER_AGENT
    assert API_KEY not in repr(creds)
    hook.generate_image("headers check")  # the emulator answers 401 to anything but a raw pictai_ key


def test_failed_job_raises_with_pictory_reason(pictory_conn):
    pictory_conn.add_fault("fail_job", error_code="CONTENT_POLICY", error_message="prompt was refused")
    hook = fast_hook()
    job_id = hook.generate_image("A forbidden thing")
    with pytest.raises(PictoryJobFailedError) as err:
        hook.wait_for_job(job_id, poll_interval=0.1, timeout=10)
    assert (err.value.error_code, err.value.error_message) == ("CONTENT_POLICY", "prompt was refused")
    assert "CONTENT_POLICY" in str(err.value) and job_id in str(err.value)


def test_wait_times_out_without_cancelling(pictory_conn):
    pictory_conn.set_job_seconds(30)
    hook = fast_hook()
    job_id = hook.generate_image("A slow image")
    started = time.monotonic()
    with pytest.raises(PictoryJobTimeoutError, match="keeps running"):
        hook.wait_for_job(job_id, poll_interval=0.1, timeout=0.5)
    assert time.monotonic() - started < 3


def test_unknown_job_is_404_not_retried(pictory_conn):
    with pytest.raises(PictoryNotFoundError, match="HTTP 404"):
        fast_hook().get_job(UNKNOWN_JOB)
    assert pictory_conn.stats()["requests"]["job"] == 1


def test_bad_key_is_401_not_retried(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(emulator.base_url, "pictai_wrong_key"))
    emulator_keys = emulator  # the session emulator accepts any pictai_ key; use a non-pictai one instead
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(emulator_keys.base_url, "sk-not-a-pictory-key"))
    with pytest.raises(PictoryAuthError, match="HTTP 401") as err:
        fast_hook().get_job(UNKNOWN_JOB)
    assert "sk-not-a-pictory-key" not in str(err.value)
    assert emulator.stats()["requests"]["job"] == 1


def test_server_errors_are_retried_then_succeed(pictory_conn):
    hook = fast_hook()
    job_id = hook.generate_image("Retry me")
    pictory_conn.add_fault("status", route="job", status=503, count=3)
    assert hook.get_job(job_id).job_id == job_id
    assert pictory_conn.stats()["requests"]["job"] == 4


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        ({"kind": "status", "status": 500}, "HTTP 500"),
        ({"kind": "non_json"}, "non-JSON body"),
        ({"kind": "rate_limit", "retry_after": 0}, "HTTP 429"),
        ({"kind": "reset"}, "Error"),
    ],
)
def test_retry_budget_exhausted_names_last_cause(pictory_conn, fault, needle):
    hook = fast_hook(max_attempts=3)
    job_id = hook.generate_image("Budget")
    pictory_conn.add_fault(fault.pop("kind"), route="job", count=10, **fault)
    with pytest.raises(PictoryTransientError) as err:
        hook.get_job(job_id)
    assert "after 3 attempt(s)" in str(err.value) and needle in str(err.value)
    assert pictory_conn.stats()["requests"]["job"] == 3
    if needle == "HTTP 429":  # the triggerer's path: a 429 is never a failure, it waits (issue 22)
        pictory_conn.clear_faults()
        pictory_conn.add_fault("rate_limit", route="job", retry_after=0, count=2)
        assert asyncio.run(hook.aget_job(job_id)).job_id == job_id
        assert pictory_conn.stats()["requests"]["job"] == 3 + 3
        return
    with pytest.raises(PictoryTransientError) as err:
        asyncio.run(hook.aget_job(job_id))
    assert "after 3 attempt(s)" in str(err.value) and needle in str(err.value)


def test_retry_after_is_honoured(pictory_conn):
    hook = fast_hook()
    job_id = hook.generate_image("Rate limited")
    pictory_conn.add_fault("rate_limit", route="job", retry_after=1)
    started = time.monotonic()
    hook.get_job(job_id)
    assert time.monotonic() - started >= 0.95


def test_read_timeout_is_retried(pictory_conn):
    hook = fast_hook(read_timeout=0.2)
    job_id = hook.generate_image("Slow answer")
    pictory_conn.add_fault("slow", route="job", delay=1)
    assert hook.get_job(job_id).job_id == job_id
    assert pictory_conn.stats()["requests"]["job"] == 2


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 500},
        {"kind": "status", "status": 502},
        {"kind": "reset"},
        {"kind": "non_json"},
        {"kind": "slow", "delay": 1},
    ],
)
def test_create_is_never_retried_once_it_may_have_reached_pictory(pictory_conn, fault):
    pictory_conn.add_fault(fault.pop("kind"), route="create", count=5, **fault)
    with pytest.raises(PictoryTransientError, match="duplicate paid job"):
        fast_hook(read_timeout=0.3).generate_image("Exactly once")
    assert pictory_conn.stats()["posts"] == 1


def test_create_is_retried_after_429(pictory_conn):
    pictory_conn.add_fault("rate_limit", route="create", retry_after=0, count=2)
    job_id = fast_hook().generate_image("Rate limited create")
    assert pictory_conn.stats()["posts"] == 3
    assert pictory_conn.stats()["jobs_created"] == 1
    assert job_id


def test_a_create_nothing_listens_for_fails_at_once_with_the_diagnosis(monkeypatch, caplog):
    """A refused connection cannot heal by waiting: diagnosed on the first try, no retry lines (it was
    never sent, so it is a plain transient error, not an unclear submission)."""
    port = free_port()
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(f"http://127.0.0.1:{port}"))
    started = time.monotonic()
    with pytest.raises(PictoryTransientError, match=r"after 1 attempt\(s\).*connection refused") as raised:
        PictoryHook(max_attempts=5, retry_min_wait=2.0).generate_image("Nobody home")
    assert time.monotonic() - started < 2.0
    assert not isinstance(raised.value, PictorySubmissionUnclearError)
    assert "retrying" not in caplog.text


def test_https_to_a_plain_http_server_fails_at_once_naming_the_http_url(pictory_conn, monkeypatch, caplog):
    https = pictory_conn.base_url.replace("http://", "https://")
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(https))
    started = time.monotonic()
    with pytest.raises(PictoryTransientError, match=r"after 1 attempt\(s\).*did you mean http://"):
        PictoryHook(max_attempts=5, retry_min_wait=2.0).get_job("00000000-0000-4000-8000-000000000000")
    assert time.monotonic() - started < 2.0
    assert "retrying" not in caplog.text


def test_validation_errors_before_any_request(pictory_conn):
    hook = fast_hook()
    for kwargs in (
        {"prompt": "tiny"},
        {"prompt": "valid prompt", "model": "bogus"},
        {"prompt": "valid prompt", "webhook": "ftp://x/y"},
    ):
        with pytest.raises(PictoryValidationError):
            hook.generate_image(**kwargs)
    with pytest.raises(PictoryValidationError):
        hook.get_job("not-a-uuid")
    assert sum(pictory_conn.stats()["requests"].values()) == 0


def test_api_400_maps_to_validation_error_with_fields(pictory_conn):
    pictory_conn.add_fault(
        "status",
        route="create",
        status=400,
        body=json.dumps(
            {
                "code": "INVALID_REQUEST_BODY",
                "message": "Request body validation failed",
                "fields": [{"name": "prompt", "errors": "prompt is not allowed"}],
            }
        ),
    )
    with pytest.raises(PictoryValidationError, match="prompt is not allowed") as err:
        fast_hook().generate_image("Rejected by the API")
    assert err.value.fields == [{"name": "prompt", "errors": "prompt is not allowed"}]
    assert pictory_conn.stats()["posts"] == 1


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        (None, None, "https://api.pictory.ai"),
        ("", None, "https://api.pictory.ai"),
        ("api.pictory.ai", None, "https://api.pictory.ai"),
        ("http://127.0.0.1:8931", None, "http://127.0.0.1:8931"),
        ("http://127.0.0.1:8931/", None, "http://127.0.0.1:8931"),
        ("127.0.0.1", 8931, "http://127.0.0.1:8931"),  # loopback: http (issue 15)
        ("pictory.internal", 8443, "https://pictory.internal:8443"),
        ("https://proxy.example.com/pictory/", None, "https://proxy.example.com/pictory"),
    ],
)
def test_base_url_forms(host, port, expected):
    assert base_url_from_host(host, port) == expected


@pytest.mark.parametrize("host", ["ftp://api.pictory.ai", "file:///etc/passwd", "http://"])
def test_unsupported_base_url(host):
    with pytest.raises(PictoryConfigError, match="Unsupported Pictory base URL"):
        base_url_from_host(host)


def test_uri_form_connection(emulator, monkeypatch):
    host = emulator.base_url.replace(":", "%3A").replace("/", "%2F")
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_URI", f"pictory://:{API_KEY}@{host}")
    hook = fast_hook(pictory_conn_id="pictory_uri")
    assert hook.get_credentials().base_url == emulator.base_url
    assert hook.test_connection() == (True, f"Connected to Pictory at {emulator.base_url}")


def test_missing_connection_and_missing_key(emulator, monkeypatch):
    with pytest.raises(PictoryConfigError, match="'nope' is not defined"):
        fast_hook(pictory_conn_id="nope").get_job(UNKNOWN_JOB)
    monkeypatch.setenv("AIRFLOW_CONN_NOKEY", json.dumps({"conn_type": "pictory", "host": emulator.base_url}))
    with pytest.raises(PictoryConfigError, match="has no API key"):
        fast_hook(pictory_conn_id="nokey").generate_image("No key here")
    assert sum(emulator.stats()["requests"].values()) == 0


def test_test_connection(pictory_conn, monkeypatch):
    assert fast_hook().test_connection() == (True, f"Connected to Pictory at {pictory_conn.base_url}")
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(pictory_conn.base_url, "bad-key"))
    ok, message = fast_hook().test_connection()
    assert not ok and "401" in message and "bad-key" not in message


def test_hook_rejects_bad_settings():
    with pytest.raises(ValueError, match="max_attempts"):
        PictoryHook(max_attempts=0)
    with pytest.raises(ValueError, match="timeout"):
        PictoryHook(read_timeout=0)


@pytest.mark.asyncio
async def test_aget_job_async_path(pictory_conn):
    hook = fast_hook()
    job_id = await asyncio.to_thread(hook.generate_image, "Async read")
    pictory_conn.add_fault("status", route="job", status=500, count=2)
    job = await hook.aget_job(job_id)
    assert job.job_id == job_id and job.status is JobStatus.IN_PROGRESS
    assert pictory_conn.stats()["requests"]["job"] == 3
    with pytest.raises(PictoryNotFoundError):
        await hook.aget_job(UNKNOWN_JOB)


@pytest.mark.asyncio
async def test_async_connection_refused_is_retried_as_a_restart_or_an_outage(monkeypatch):
    """In the triggerer the job exists, so its host answered before: a refusal is retried (a restart)."""
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(f"http://127.0.0.1:{free_port()}"))
    refused = r"after 2 attempt\(s\); last cause: ClientConnectorError: Cannot connect to host"
    with pytest.raises(PictoryTransientError, match=refused):
        await fast_hook(max_attempts=2).aget_job(UNKNOWN_JOB)


def test_api_key_never_in_errors_or_logs(pictory_conn, caplog, monkeypatch):
    """Drive every error path and scan the exception texts, reprs and log records for the key."""
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    hook = fast_hook(max_attempts=2, read_timeout=0.3)
    job_id = hook.generate_image("Secret scan")
    scenarios = [
        ("status", {"route": "job", "status": 500, "count": 20}),
        ("non_json", {"route": "job", "count": 20}),
        ("reset", {"route": "job", "count": 20}),
        ("slow", {"route": "job", "delay": 1, "count": 20}),
        ("rate_limit", {"route": "job", "retry_after": 0, "count": 20}),
    ]
    for kind, kwargs in scenarios:
        pictory_conn.clear_faults()
        pictory_conn.add_fault(kind, **kwargs)
        calls = [lambda: hook.get_job(job_id), lambda: asyncio.run(hook.aget_job(job_id))]
        if kind == "rate_limit":  # the async path waits out 429s (issue 22): its log is checked in test_rate_limit
            calls = calls[:1]
        for call in calls:
            with pytest.raises(PictoryError) as err:
                call()
            texts += [str(err.value), repr(err.value)]
    pictory_conn.clear_faults()
    with pytest.raises(PictoryError) as err:
        hook.get_job(UNKNOWN_JOB)
    texts += [str(err.value), repr(err.value), repr(hook), repr(hook.get_credentials())]
    texts += [record.getMessage() for record in caplog.records]
    assert len(texts) > 20
    assert not [text for text in texts if API_KEY in text]
