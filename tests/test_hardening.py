"""Hardening against hostile or broken answers (issue #28), over real HTTP against the emulator.

The key quoted back by a server, ``Retry-After`` past any deadline, a refused connection diagnosed at
once, an upload ``PUT`` answered with a redirect: each is injected with the emulator's faults.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from urllib.parse import quote

import pytest

from pictory_provider.exceptions import PictoryAuthError, PictoryError, PictoryTransientError
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .conftest import conn_json

UNKNOWN_JOB = "00000000-0000-4000-8000-000000000000"
FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
#: A key with characters that URL-encoding changes, so the encoded form differs from the raw one.
ODD_KEY = "pictai_k3y+with/odd=chars"
ECHOES = (ODD_KEY, quote(ODD_KEY, safe=""), quote(ODD_KEY, safe="").lower())


def echo_key(emulator, route: str, count: int = 1) -> None:
    """A proxy or WAF that quotes the Authorization value back, raw and URL-encoded."""
    body = {"message": f"Unauthorized key {ODD_KEY} (as sent: {quote(ODD_KEY, safe='')})"}
    emulator.add_fault("status", route=route, status=401, body=body, count=count)


@pytest.fixture
def odd_key_conn(emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(emulator.base_url, ODD_KEY))
    return emulator


def assert_no_key(text: str) -> None:
    for form in ECHOES:
        assert form not in text, form


def test_a_key_quoted_back_never_reaches_a_worker_error_or_log(odd_key_conn, caplog):
    echo_key(odd_key_conn, "quota")
    with caplog.at_level(logging.DEBUG), pytest.raises(PictoryAuthError) as raised:
        PictoryHook(**FAST).get_quota()
    assert "Unauthorized key ***" in str(raised.value)
    assert_no_key(str(raised.value) + repr(raised.value.args) + caplog.text)


@pytest.mark.asyncio
async def test_a_key_quoted_back_never_reaches_the_trigger_event_or_its_log(odd_key_conn, caplog, capsys):
    job_id = await asyncio.to_thread(PictoryHook(**FAST).generate_image, "A key echo")
    echo_key(odd_key_conn, "job")
    trigger = PictoryJobTrigger(job_id, poll_interval=0.1, hook_params=FAST)
    with caplog.at_level(logging.DEBUG):
        events = [event async for event in trigger.run()]
    payload = events[0].payload
    assert payload["status"] == "error" and "Unauthorized key ***" in payload["message"]
    assert_no_key(json.dumps(payload) + caplog.text + "".join(capsys.readouterr()))
    from airflow.providers.common.compat.sdk import AirflowFailException

    from pictory_provider.events import complete_from_event

    with pytest.raises(AirflowFailException) as resumed:  # the task resumed from the event
        complete_from_event({}, payload, TimeoutError)
    assert isinstance(resumed.value, PictoryError)
    assert_no_key(str(resumed.value))


@pytest.mark.parametrize("retry_after", ["86400", "inf", "Wed, 21 Oct 2099 07:28:00 GMT"])
def test_a_long_retry_after_fails_the_worker_request_instead_of_sleeping(pictory_conn, retry_after):
    """A 429 asking for a day (seconds, ``inf`` or an HTTP-date) no longer holds a worker 300 s per try."""
    pictory_conn.add_fault("rate_limit", route="job", retry_after=retry_after, count=10)
    started = time.monotonic()
    with pytest.raises(PictoryTransientError, match="more than a worker waits between tries") as raised:
        PictoryHook().get_job(UNKNOWN_JOB)
    assert time.monotonic() - started < 5
    assert "after 1 attempt(s)" in str(raised.value)


def test_an_http_date_retry_after_is_honoured(pictory_conn):
    """``Retry-After: <HTTP-date>`` a few seconds ahead is waited out (it was ignored: our 0.01 s backoff)."""
    from email.utils import formatdate

    job_id = PictoryHook(**FAST).generate_image("A date to wait for")
    pictory_conn.add_fault("rate_limit", route="job", retry_after=formatdate(time.time() + 2, usegmt=True))
    started = time.monotonic()
    PictoryHook(**FAST).get_job(job_id)
    assert 0.8 < time.monotonic() - started < 5  # HTTP-dates have whole seconds


def test_a_sensor_timeout_caps_the_sleeps_of_its_poke(pictory_conn):
    """A sensor with ``timeout=5`` against ``Retry-After: 30``: the poke fails within the timeout."""
    from pictory_provider.sensors.pictory import PictoryImageJobSensor

    job_id = PictoryHook(**FAST).generate_image("A sensor that must not oversleep")
    pictory_conn.add_fault("rate_limit", route="job", retry_after=30, count=10)
    sensor = PictoryImageJobSensor(task_id="wait", job_id=job_id, timeout=5, poke_interval=1, deferrable=True)
    started = time.monotonic()
    with pytest.raises(PictoryTransientError, match="past the task's deadline"):
        sensor.execute({})
    assert time.monotonic() - started < 5


@pytest.mark.asyncio
async def test_a_trigger_whose_base_url_is_https_to_plain_http_fires_its_error_at_once(emulator, monkeypatch):
    """A wrong scheme never heals: diagnosed on the first try. (A refusal is retried in the triggerer:
    the job exists, so its host answered before; see the fault matrix's restart row.)"""
    https = emulator.base_url.replace("http://", "https://")
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(https))
    trigger = PictoryJobTrigger(UNKNOWN_JOB, poll_interval=0.1, hook_params={"retry_min_wait": 2.0})
    started = time.monotonic()
    events = [event async for event in trigger.run()]
    assert time.monotonic() - started < 2
    assert events[0].payload["status"] == "error"
    assert f"did you mean {emulator.base_url}" in events[0].payload["message"]


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 301},  # S3's wrong-region answer: no Location
        {"kind": "status", "status": 304},
        {"kind": "redirect", "status": 302, "body": "/_emulator/stats"},  # requests followed it as a GET
        {"kind": "redirect", "status": 303, "body": "/_emulator/stats"},
    ],
    ids=["301-no-location", "304", "302", "303"],
)
def test_an_upload_put_not_stored_is_never_reported_uploaded(pictory_conn, tmp_path, fault):
    from pictory_provider.exceptions import PictoryAPIError

    source = tmp_path / "logo.png"
    source.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    if fault["kind"] == "redirect":
        fault["body"] = pictory_conn.base_url + fault["body"]
    pictory_conn.add_fault(fault.pop("kind"), route="signed_upload", count=5, **fault)
    with pytest.raises(PictoryAPIError, match=f"HTTP {fault['status']}"):
        PictoryHook(**FAST).upload_media(str(source))


# -- item 4: subtitles cut short are never stored ---------------------------------------------------

STORYBOARD = {"videoName": "cut", "scenes": [{"story": "Version 2 is out."}, {"story": "It renders videos from text."}]}


def rendered_subtitles(emulator) -> dict[str, str]:
    """A completed render's subtitle URLs by extension."""
    hook = PictoryHook(**FAST)
    job = hook.wait_for_job(hook.render_video(STORYBOARD), poll_interval=0.05, timeout=20)
    return {"srt": job.srt_url, "vtt": job.vtt_url}


@pytest.mark.parametrize("extension", ["srt", "vtt"])
def test_subtitles_cut_short_without_a_content_length_are_not_stored(pictory_conn, tmp_path, extension):
    """Close-delimited and cut in half: the first cue is whole, the file is not."""
    from pictory_provider.exceptions import PictoryDownloadError
    from pictory_provider.storage import store_file

    url = rendered_subtitles(pictory_conn)[extension]
    job_id = url.rsplit("/", 1)[1].split(".")[0]
    whole = store_file(url, f"{tmp_path}/whole/", job_id=job_id, kind=extension)
    assert whole.endswith(f"{job_id}.{extension}")
    pictory_conn.add_fault("truncate", route="file")
    with pytest.raises(PictoryDownloadError, match="cut short or malformed .*nothing was stored"):
        store_file(url, f"{tmp_path}/cut/", job_id=job_id, kind=extension)
    assert not (tmp_path / "cut").exists() or list((tmp_path / "cut").iterdir()) == []
    assert pictory_conn.stats()["faults_applied"] == 1


SRT = "1\n00:00:00,000 --> 00:00:02,000\nHello\n\n2\n00:00:02,000 --> 00:00:04,000\nWorld\n"
VTT = "WEBVTT\n\nNOTE by hand\n\nintro\n00:00.000 --> 00:02.000 align:start\nHello\n\n00:02.000 --> 00:04.000\nWorld\n"


@pytest.mark.parametrize(
    ("kind", "text", "needle"),
    [
        ("srt", SRT[:-1], "its last cue ends without a line break"),
        ("srt", SRT[: SRT.index("World")], "cue 2 has no text"),
        ("srt", SRT[: SRT.rindex(" --> ") + 8], "cue 2 has no well-formed timing line"),
        ("srt", SRT[: SRT.index("2\n00:00:02") + 2], "cue 2 has no well-formed timing line"),
        ("srt", SRT.replace("00:00:00,000 --> 00:00:02,000", "00:00:03,000 --> 00:00:05,000"), "cue 2's times go back"),
        ("srt", SRT.replace("00:00:00,000 --> 00:00:02,000", "00:00:03,000 --> 00:00:02,000"), "cue 1's times go back"),
        ("srt", SRT.replace("\n2\n", "\nx\n"), "cue 2 does not start with its number"),
        ("vtt", VTT[:-3], "its last cue ends without a line break"),
        ("vtt", VTT[: VTT.rindex(" --> ") + 6], "cue 2 has no well-formed timing line"),
        ("vtt", VTT.replace("00:00.000 --> 00:02.000", "00:03.000 --> 00:05.000"), "cue 2's times go back"),
    ],
    ids=[
        *("srt-cut-in-text", "srt-no-text", "srt-cut-in-timing", "srt-cut-after-number", "srt-back", "srt-end-first"),
        *("srt-no-number", "vtt-cut-in-text", "vtt-cut-in-timing", "vtt-back"),
    ],
)
def test_every_cue_of_the_subtitles_is_checked(kind, text, needle):
    import io

    from pictory_provider.file_checks import FILE_CHECKS

    for whole in (SRT, VTT, SRT.replace("\n", "\r\n"), "WEBVTT\n"):
        check = FILE_CHECKS["vtt" if whole.startswith("WEBVTT") else "srt"]
        assert check(io.BytesIO(whole.encode()), len(whole.encode())) is None
    body = text.encode()
    assert needle in (FILE_CHECKS[kind](io.BytesIO(body), len(body)) or "")


# -- item 7: leftovers -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["ftp://files.example.com/a.png", "s3://bucket/a.png", "file:///tmp/a.png"])
def test_a_non_http_redirect_target_is_named_without_its_query(pictory_conn, tmp_path, target):
    from pictory_provider.exceptions import PictoryDownloadError
    from pictory_provider.storage import store_image

    hook = PictoryHook(**FAST)
    job = hook.wait_for_job(hook.generate_image("a lighthouse"), poll_interval=0.05, timeout=20)
    pictory_conn.add_fault("redirect", route="file", body=f"{target}?X-Amz-Signature=s3cr3t&X-Amz-Credential=AKIA")
    with pytest.raises(PictoryDownloadError) as refused:
        store_image(job.url, f"{tmp_path}/", job_id=job.job_id)
    assert f"non-http(s) URL: '{target}?...' (redirected from " in str(refused.value)
    assert "s3cr3t" not in str(refused.value) and "AKIA" not in str(refused.value)


def deeply_nested(levels: int) -> dict:
    inner: dict = {"end": True}
    for _ in range(levels):
        inner = {"more": inner}
    return inner


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"webhookInput": deeply_nested(5000)}, "it nests objects and lists deeper than 64 levels"),
        # every field within Pictory's documented rules (a story is at most 15,000 characters): only the size
        ({"scenes": [{"story": "x" * 15_000}] * 440}, r"its JSON is 6,6\d\d,\d+ bytes, over the 6,291,456-byte"),
        ({"webhookInput": {"at": float("nan")}}, "it is not JSON: Out of range float values"),
    ],
    ids=["too-deep", "too-large", "not-json"],
)
def test_a_storyboard_that_cannot_be_sent_is_refused_naming_the_limit(pictory_conn, changes, needle):
    """A deeply nested storyboard failed with a raw RecursionError; one over the request size was sent."""
    from pictory_provider.exceptions import PictoryValidationError
    from pictory_provider.operators.render import PictoryRenderVideoOperator

    from .fakes import make_context

    board = STORYBOARD | {"voiceOver": {"enabled": False}} | changes
    for send in (
        PictoryHook(**FAST).render_video,
        PictoryHook(**FAST).create_storyboard_preview,
        lambda b: PictoryRenderVideoOperator(task_id="r", storyboard=b, hook_params=FAST).execute(make_context()),
    ):
        with pytest.raises(PictoryValidationError, match=f"the storyboard cannot be sent: {needle}"):
            send(board)
    # The same through a template that rendered to text (too deep for json.dumps: written out).
    deep = json.dumps(STORYBOARD)[:-1] + ', "webhookInput": ' + '{"a": ' * 5000 + "1" + "}" * 5001
    text = deep if needle.startswith("it nests") else json.dumps(board)
    with pytest.raises(PictoryValidationError, match=f"the storyboard cannot be sent: {needle}"):
        PictoryRenderVideoOperator(task_id="text", storyboard=text, hook_params=FAST).execute(make_context())
    assert sum(pictory_conn.stats()["requests"].values()) == 0
    assert deeply_nested(64) and PictoryHook(**FAST).render_video(STORYBOARD | {"webhookInput": deeply_nested(60)})


def test_the_emulator_answers_413_past_the_inferred_request_limit_only(pictory_conn):
    import requests

    from pictory_provider.request_limits import MAX_REQUEST_BYTES
    from pictory_provider.storyboard import RENDER_PATH

    def post(size: int) -> int:
        body = b'{"videoName": "' + b"x" * (size - 17) + b'"}'
        url = pictory_conn.base_url + RENDER_PATH
        headers = {"Authorization": "pictai_test", "Content-Type": "application/json"}
        return requests.post(url, data=body, headers=headers, timeout=30).status_code

    assert (post(2 * 1024 * 1024), post(MAX_REQUEST_BYTES + 1)) == (400, 413)  # a 2 MB body is read (and refused)
