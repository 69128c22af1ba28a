"""Issue #10 items 4-10, 12 and 16: files, secrets, sync deadlines, body caps and malformed answers.

Every test drives the real hook, trigger, sensor or storage code over real HTTP (loopback) against the
emulator, with the emulator's fault injection producing the misbehaviour (drip, truncate, short_length,
redirect, wrong_job_id, huge, or a crafted 200 body).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import requests

from pictory_provider import api
from pictory_provider.api import JobStatus
from pictory_provider.exceptions import (
    PictoryAPIError,
    PictoryConfigError,
    PictoryDownloadError,
    PictoryError,
    PictoryJobFailedError,
    PictoryTransientError,
)
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.hooks.transport import MAX_RESPONSE_BYTES, describe_exception
from pictory_provider.sensors.pictory import PictoryImageJobSensor
from pictory_provider.storage import DEFAULT_DOWNLOAD_TIMEOUT, MAX_REDIRECTS, destination_for, store_image
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .conftest import conn_json
from .fakes import make_context

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
ROOT = Path(__file__).resolve().parent.parent


def hook(**kwargs) -> PictoryHook:
    return PictoryHook(**(FAST | kwargs))


def finished_job(emulator) -> tuple[str, str]:
    """A completed job id and its image URL."""
    job_id = hook().generate_image("A reliability test image", model="flux-schnell")
    job = hook().wait_for_job(job_id, poll_interval=0.1, timeout=10)
    assert job.url
    return job_id, job.url


def both_paths(job_id: str, **hook_kwargs) -> list[BaseException]:
    """The error ``get_job`` (sync) and ``aget_job`` (async) raise for the same answer."""
    errors: list[BaseException] = []
    for call in (lambda h: h.get_job(job_id), lambda h: asyncio.run(h.aget_job(job_id))):
        with pytest.raises(PictoryError) as err:
            call(hook(**hook_kwargs))
        errors.append(err.value)
    return errors


# -- 4. a failed write never destroys the file that was there --------------------------------------

_STORE_SCRIPT = textwrap.dedent(
    """
    import sys
    from pictory_provider.exceptions import PictoryDownloadError
    from pictory_provider.storage import store_image
    try:
        print("STORED", store_image(sys.argv[1], sys.argv[2], job_id=sys.argv[3]))
    except PictoryDownloadError as exc:
        print("ERROR", exc)
    """
)


def _store_without_override(url: str, target: Path, job_id: str) -> str:
    """Run store_image in a child process that cannot ignore file permissions (as root: no
    CAP_DAC_OVERRIDE/CAP_FOWNER), so a read-only file really is read-only."""
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"] if os.geteuid() == 0 else []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [*prefix, sys.executable, "-c", _STORE_SCRIPT, url, str(target), job_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


def test_failed_write_keeps_the_existing_read_only_file(pictory_conn, tmp_path):
    job_id, url = finished_job(pictory_conn)
    target = tmp_path / "latest.png"
    target.write_bytes(b"the image the user already had")
    target.chmod(0o444)

    outcome = _store_without_override(url, target, job_id)

    assert target.exists() and target.read_bytes() == b"the image the user already had"
    assert outcome.startswith("ERROR"), outcome
    assert "read-only" in outcome and str(target) in outcome
    assert [p.name for p in tmp_path.iterdir()] == ["latest.png"]  # no temporary file left over


def test_existing_file_is_replaced_whole_and_keeps_its_mode(pictory_conn, tmp_path):
    job_id, url = finished_job(pictory_conn)
    target = tmp_path / "latest.png"
    target.write_bytes(b"old")
    target.chmod(0o640)
    assert store_image(url, str(target), job_id=job_id) == str(target)
    assert target.read_bytes().startswith(b"\x89PNG") and target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["latest.png"]


# -- 5. truncated downloads are never stored -------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [
        "truncate",  # close-delimited body cut in half
        "short_length",  # Content-Length half the body
    ],
)
def test_truncated_download_is_refused(pictory_conn, tmp_path, kind):
    job_id, url = finished_job(pictory_conn)
    pictory_conn.add_fault(kind, route="file")
    with pytest.raises(PictoryDownloadError, match="incomplete .*no IEND chunk.*cut short; nothing was stored"):
        store_image(url, f"{tmp_path}/", job_id=job_id)
    assert list(tmp_path.iterdir()) == []
    assert pictory_conn.stats()["faults_applied"] == 1


# -- 6. the answer must be about the job that was asked for ----------------------------------------


def test_wrong_job_id_in_the_answer_is_an_error_on_both_paths(pictory_conn):
    job_id, _ = finished_job(pictory_conn)
    pictory_conn.add_fault("wrong_job_id", route="job", count=2)
    errors = both_paths(job_id)
    for error in errors:
        assert isinstance(error, PictoryAPIError)
        assert str(error) == (
            f"Pictory sent a malformed response for job {job_id}: "
            'it is about job "../../escaped", not the job that was asked for'
        )


def test_wrong_job_id_never_writes_outside_output_path(pictory_conn, tmp_path):
    job_id, _ = finished_job(pictory_conn)
    folder = tmp_path / "a" / "b" / "out"
    pictory_conn.add_fault("wrong_job_id", route="job", count=10)
    sensor = PictoryImageJobSensor(
        task_id="wait",
        job_id=job_id,
        deferrable=False,
        poke_interval=0.1,
        timeout=5,
        hook_params=FAST | {"max_attempts": 1},
        output_path=f"{folder}/",
    )
    with pytest.raises(PictoryAPIError, match="not the job that was asked for"):
        sensor.execute(make_context())
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_storage_only_names_files_after_a_valid_job_id(tmp_path):
    with pytest.raises(PictoryDownloadError, match="invalid job id"):
        destination_for(f"{tmp_path}/", "../../escaped")


# -- 7. redirects: http(s) only, bounded, never with credentials ------------------------------------


def test_redirect_to_a_non_http_scheme_is_refused(pictory_conn, tmp_path):
    job_id, url = finished_job(pictory_conn)
    pictory_conn.add_fault("redirect", route="file", body="file:///etc/passwd")
    with pytest.raises(PictoryDownloadError, match=r"non-http\(s\) URL: 'file:///etc/passwd' \(redirected from "):
        store_image(url, f"{tmp_path}/", job_id=job_id)
    assert list(tmp_path.iterdir()) == []


def test_redirect_loop_is_bounded(pictory_conn, tmp_path):
    job_id, url = finished_job(pictory_conn)
    pictory_conn.add_fault("redirect", route="file", body=url, count=100)
    with pytest.raises(PictoryDownloadError, match=f"more than {MAX_REDIRECTS} redirects"):
        store_image(url, f"{tmp_path}/", job_id=job_id)
    assert pictory_conn.stats()["requests"]["file"] == MAX_REDIRECTS + 1


@pytest.fixture
def netrc_for_loopback(tmp_path, monkeypatch) -> Path:
    """A ~/.netrc (HOME and NETRC) with credentials for 127.0.0.1 and localhost."""
    home = tmp_path / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text(
        "machine 127.0.0.1 login someone password netrc-secret\nmachine localhost login someone password netrc-secret\n"
    )
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NETRC", str(netrc))
    return netrc


def test_download_sends_no_credentials_even_across_hosts(pictory_conn, tmp_path, netrc_for_loopback):
    job_id, url = finished_job(pictory_conn)
    other_host = url.replace("127.0.0.1", "localhost")
    pictory_conn.add_fault("redirect", route="file", body=other_host)
    assert store_image(url, f"{tmp_path}/", job_id=job_id) == f"{tmp_path}/{job_id}.png"
    files = [entry for entry in pictory_conn.request_log if entry["route"] == "file"]
    assert [(entry["status"], entry["auth"]) for entry in files] == [(302, "none"), (200, "none")]


# -- 8. a key with control or non-Latin-1 characters is refused locally, never echoed ----------------

BROKEN_KEYS = {
    "inner line break": ("pictai_c0ffee\r\nTAILSECRET77", "a line break (U+000D) at position 14"),
    "tab": ("pictai_c0ffee\tTAILSECRET77", "a control character (U+0009) at position 14"),
    "non-Latin-1": ("pictai_c0ffee\u2026TAILSECRET77", "a character outside Latin-1 (U+2026) at position 14"),
}


@pytest.mark.parametrize("name", list(BROKEN_KEYS))
def test_broken_key_is_refused_without_echoing_it(emulator, monkeypatch, caplog, name):
    key, problem = BROKEN_KEYS[name]
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(emulator.base_url, key))
    texts: list[str] = []
    for call in (
        lambda h: h.get_job("00000000-0000-4000-8000-000000000000"),
        lambda h: asyncio.run(h.aget_job("00000000-0000-4000-8000-000000000000")),
        lambda h: h.generate_image("A key test"),
    ):
        with pytest.raises(PictoryConfigError) as err:
            call(hook())
        assert problem in str(err.value)
        texts += [str(err.value), repr(err.value)]
    ok, message = hook().test_connection()
    assert not ok and problem in message
    texts += [message] + [record.getMessage() for record in caplog.records]
    assert not [text for text in texts if "TAILSECRET77" in text or "c0ffee" in text]
    assert sum(emulator.stats()["requests"].values()) == 0  # refused before any request


def test_library_text_is_scrubbed_of_the_key_in_every_form():
    key = "pictai_c0ffee\r\nTAILSECRET77"
    try:
        requests.Request("GET", "http://127.0.0.1:9/", headers={"Authorization": key}).prepare()
    except requests.exceptions.InvalidHeader as exc:
        library_text = str(exc)
    assert "TAILSECRET77" in library_text  # requests quotes the header value...
    assert "TAILSECRET77" not in describe_exception(Exception(library_text), key)  # ...we never pass it on
    assert "TAILSECRET77" not in describe_exception(Exception(f"raw {key} and repr {key!r}"), key)


# -- 9. ~/.netrc never replaces the connection's key -------------------------------------------------


def test_connection_key_wins_over_netrc_on_both_paths(pictory_conn, netrc_for_loopback):
    job_id = hook().generate_image("A netrc test image")
    assert hook().get_job(job_id).job_id == job_id
    assert asyncio.run(hook().aget_job(job_id)).job_id == job_id
    assert hook().test_connection()[0]
    assert {entry["auth"] for entry in pictory_conn.request_log} == {"key"}


# -- 10. deadlines: the sync path gives up as soon as the async path; downloads have their own ------


def test_dripped_job_body_gives_up_after_connect_plus_read_on_both_paths(pictory_conn):
    job_id = hook().generate_image("A drip test image")
    timings = []
    for call in (lambda h: h.get_job(job_id), lambda h: asyncio.run(h.aget_job(job_id))):
        pictory_conn.clear_faults()
        pictory_conn.add_fault("drip", route="job", delay=0.5)
        started = time.monotonic()
        with pytest.raises(PictoryTransientError, match="after 1 attempt"):
            call(hook(connect_timeout=1, read_timeout=1, max_attempts=1))
        timings.append(time.monotonic() - started)
    assert all(1.5 < seconds < 3.5 for seconds in timings), timings


def test_sync_deadline_message_names_the_budget(pictory_conn):
    job_id = hook().generate_image("A drip test image")
    pictory_conn.add_fault("drip", route="job", delay=0.5)
    budget = r"no complete answer within 2 s \(connect_timeout \+ read_timeout\)"
    with pytest.raises(PictoryTransientError, match=budget):
        hook(connect_timeout=1, read_timeout=1, max_attempts=1).get_job(job_id)


def test_dripped_download_stops_at_download_timeout(pictory_conn, tmp_path):
    job_id, url = finished_job(pictory_conn)
    pictory_conn.add_fault("drip", route="file", delay=0.01)  # the PNG would take about a minute
    started = time.monotonic()
    with pytest.raises(PictoryDownloadError, match=r"did not finish within 1 s \(download_timeout\)"):
        store_image(url, f"{tmp_path}/", job_id=job_id, download_timeout=1)
    assert time.monotonic() - started < 2.5
    assert list(tmp_path.iterdir()) == []


def test_download_timeout_from_airflow_config(pictory_conn, tmp_path, monkeypatch):
    job_id, url = finished_job(pictory_conn)
    monkeypatch.setenv("AIRFLOW__PICTORY__DOWNLOAD_TIMEOUT", "0.5")
    pictory_conn.add_fault("drip", route="file", delay=0.01)
    with pytest.raises(PictoryDownloadError, match=r"within 0.5 s \(download_timeout\)"):
        store_image(url, f"{tmp_path}/", job_id=job_id)
    monkeypatch.delenv("AIRFLOW__PICTORY__DOWNLOAD_TIMEOUT")
    assert DEFAULT_DOWNLOAD_TIMEOUT == 300.0
    with pytest.raises(PictoryDownloadError, match="download_timeout must be greater than 0"):
        store_image(url, f"{tmp_path}/", job_id=job_id, download_timeout=0)


# -- 12. API response bodies are capped on both paths ------------------------------------------------


def test_huge_job_body_is_refused_on_both_paths(pictory_conn):
    job_id = hook().generate_image("A huge body test image")
    pictory_conn.add_fault("huge", route="job", size=MAX_RESPONSE_BYTES + 1024 * 1024, count=2)
    errors = both_paths(job_id)
    expected = f"Pictory's answer to GET job {job_id} is larger than the {MAX_RESPONSE_BYTES}-byte limit"
    assert all(isinstance(error, PictoryAPIError) and str(error).startswith(expected) for error in errors)
    assert pictory_conn.stats()["requests"]["job"] == 2  # one each, never retried


# -- 16. one rule for malformed answers, the same on both paths -------------------------------------


def _answer(job_id: str, data: dict, **top) -> dict:
    return {"job_id": job_id, "success": True, "data": data} | top


MALFORMED = {
    "completed without url": (
        {"status": "completed", "width": 1024, "height": 1024, "aiCreditsUsed": 2},
        "the job is completed but has no data.url",
    ),
    "width Infinity": (
        {"status": "completed", "url": "http://cdn/x.png", "width": float("inf"), "height": 1024},
        "data.width is Infinity (expected a whole number >= 0)",
    ),
    "aiCreditsUsed NaN": (
        {"status": "completed", "url": "http://cdn/x.png", "width": 1024, "aiCreditsUsed": float("nan")},
        "data.aiCreditsUsed is NaN (expected a finite number)",
    ),
    "url not a string": ({"status": "completed", "url": 42}, "data.url is 42 (expected a URL string)"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_answer_is_the_same_clear_error_on_both_paths(pictory_conn, name):
    job_id = hook().generate_image("A malformed answer test")
    data, problem = MALFORMED[name]
    pictory_conn.add_fault("status", route="job", status=200, body=_answer(job_id, data), count=2)
    errors = both_paths(job_id)
    expected = f"Pictory sent a malformed response for job {job_id}: {problem}"
    assert [(type(error), str(error)) for error in errors] == [(PictoryAPIError, expected)] * 2


def test_completed_without_url_fails_in_poke_mode_too(pictory_conn):
    job_id = hook().generate_image("A poke test image")
    data = {"status": "completed", "width": 1024, "height": 1024}
    pictory_conn.add_fault("status", route="job", status=200, body=_answer(job_id, data), count=10)
    sensor = PictoryImageJobSensor(
        task_id="wait", job_id=job_id, deferrable=False, poke_interval=0.1, timeout=5, hook_params=FAST
    )
    with pytest.raises(PictoryAPIError, match="completed but has no data.url"):
        sensor.execute(make_context())


def test_success_false_without_status_fails_promptly_on_both_paths(pictory_conn):
    job_id = hook().generate_image("A success false test")
    body = {"job_id": job_id, "success": False, "data": {}}
    pictory_conn.add_fault("status", route="job", status=200, body=body, count=100)
    job = hook().get_job(job_id)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "UNKNOWN_ERROR")
    assert job.error_message == "Pictory answered success: false with no job status"
    sensor = PictoryImageJobSensor(task_id="wait", job_id=job_id, deferrable=False, poke_interval=0.1, timeout=30)
    with pytest.raises(PictoryJobFailedError, match="UNKNOWN_ERROR: Pictory answered success: false"):
        sensor.execute(make_context())

    trigger = PictoryJobTrigger(job_id, poll_interval=0.1, end_time=time.time() + 20, hook_params=FAST)

    async def first_event() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    started = time.monotonic()
    event = asyncio.run(asyncio.wait_for(first_event(), 10))
    assert (event["status"], event["error_code"]) == ("failed", "UNKNOWN_ERROR")
    assert time.monotonic() - started < 3


def test_parse_job_keeps_the_requested_id_and_accepts_integral_floats():
    job_id = "4d82d040-4394-4371-867d-72ae1dd62b6d"
    data = {"status": "completed", "url": "https://cdn/x.png", "width": 1280.0, "height": 720, "aiCreditsUsed": 2}
    job = api.parse_job({"success": True, "data": data}, job_id)  # no top-level job_id: the asked one
    assert (job.job_id, job.width, job.height, job.ai_credits_used) == (job_id, 1280, 720, 2)
    assert json.dumps(job.to_dict())
