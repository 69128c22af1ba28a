"""Transcription and highlights end to end against the emulator: the checks before any request (0 requests on
refusal), the job shapes, the hook, PictoryTranscribeOperator and PictoryHighlightsOperator in their modes
(wait, defer and complete from the trigger's event, resume, spend), the texts stored whole beside
``output_path``, PictoryJobSensor on these jobs, and the emulator's routes, faults and webhooks."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import pytest
import requests
from airflow.providers.common.compat.sdk import TaskDeferred

from pictory_provider import transcription
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
from pictory_provider.kinds import HIGHLIGHTS, HIGHLIGHTS_FROM_JOB, KINDS_BY_SHAPE, TRANSCRIPTION
from pictory_provider.operators.transcribe import PictoryHighlightsOperator, PictoryTranscribeOperator
from pictory_provider.sensors.pictory import PictoryJobSensor
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .compat import AIRFLOW_V_3_3_PLUS
from .conftest import API_KEY
from .fakes import TaskStateStore, make_context

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
JOB_ID = "4d82d040-4394-4371-867d-72ae1dd62b6d"
FILE_URL = "https://cdn.example.com/webinars/q3-webinar.mp4"
TRANSCRIPTION_XCOM = {"media_url", "transcript_text", "duration", "media_info", "ai_credits_used"}
TEXT_PATHS = {"srt_path", "vtt_path", "txt_path", "transcript_path"}
SEGMENTS = [
    {"text": "Welcome to our product demo.", "start": 0, "end": 3.5},
    {"text": "Today we'll show you the key features.", "start": 3.5, "end": 7.2},
]


def transcribe(**kwargs) -> PictoryTranscribeOperator:
    defaults = {"task_id": "transcribe", "file_url": FILE_URL, "hook_params": FAST, "poll_interval": 0.1}
    return PictoryTranscribeOperator(**(defaults | kwargs))


def highlights(**kwargs) -> PictoryHighlightsOperator:
    return PictoryHighlightsOperator(**({"task_id": "highlights", "hook_params": FAST, "poll_interval": 0.1} | kwargs))


def requests_sent(emulator) -> int:
    return sum(emulator.stats()["requests"].values())


def first_event(trigger: PictoryJobTrigger) -> dict:
    async def run():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(asyncio.wait_for(run(), 20))


# -- refused before any request --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda h: h.transcribe("/data/webinar.mp4"), "fileUrl must be an absolute http"),
        (lambda h: h.transcribe("ftp://files.example.com/webinar.mp4"), "upload_media"),
        (lambda h: h.transcribe(FILE_URL, media_type="movie"), "mediaType must be one of video, audio"),
        (lambda h: h.transcribe(FILE_URL, language="en_US"), "did you mean 'en-US'"),
        (lambda h: h.transcribe(FILE_URL, language="English"), "language must be a language code"),
        (lambda h: h.transcribe(FILE_URL, webhook="hooks.example.com/x"), "webhook must be an absolute http"),
        (lambda h: h.generate_highlights([]), "non-empty list"),
        (lambda h: h.generate_highlights("[]"), "non-empty list"),
        (lambda h: h.generate_highlights("Welcome everyone"), "neither JSON nor a list"),
        (lambda h: h.generate_highlights([{"text": "Hi"}]), r"transcript\[0\] needs text, start and end"),
        (lambda h: h.generate_highlights([{"words": [{"word": "Hi"}]}]), "needs word, start_time and end_time"),
        (
            lambda h: h.generate_highlights([{"words": [{"word": "", "start_time": 0, "end_time": 1, "is_pause": 1}]}]),
            "no spoken words",
        ),
        (lambda h: h.generate_highlights(SEGMENTS, highlight_duration=0), "whole number of seconds >= 1"),
        (lambda h: h.generate_highlights(SEGMENTS, highlight_duration=2.5), "whole number of seconds"),
        (lambda h: h.generate_highlights(SEGMENTS, duration=-1), "duration must be"),
        (lambda h: h.generate_highlights(SEGMENTS, language="Spanish"), "language must be a language code"),
        (lambda h: h.generate_highlights(), "exactly one of transcript"),
        (lambda h: h.generate_highlights(SEGMENTS, transcription_job_id=JOB_ID), "exactly one of transcript"),
        (lambda h: h.generate_highlights(transcription_job_id="None"), "job_id must be a Pictory job UUID"),
        (lambda h: h.generate_highlights(transcription_job_id=JOB_ID, duration=60), "duration goes with transcript"),
    ],
)
def test_bad_input_is_refused_before_any_request(pictory_conn, call, needle):
    with pytest.raises(PictoryValidationError, match=needle):
        call(PictoryHook(**FAST))
    assert requests_sent(pictory_conn) == 0


def test_operators_refuse_before_any_request(pictory_conn, tmp_path):
    operator = transcribe(media_type="{{ params.kind }}")
    operator.media_type = "podcast"  # as the template rendered it
    with pytest.raises(PictoryValidationError, match="mediaType"):
        operator.execute(make_context())
    with pytest.raises(PictoryValidationError, match="max_ai_credits cannot be enforced for a transcription"):
        transcribe(max_ai_credits=5).execute(make_context())
    with pytest.raises(PictoryValidationError, match="no spoken words"):
        highlights(transcript=[{"text": " ", "start": 0, "end": 1}]).execute(make_context())
    (tmp_path / "taken.srt").mkdir()  # where the .srt of output_path "taken.txt" would go
    with pytest.raises(PictoryValidationError, match="existing folder"):
        transcribe(output_path=str(tmp_path / "taken.txt")).execute(make_context())
    assert requests_sent(pictory_conn) == 0
    with pytest.raises(PictoryValidationError, match="exactly one of transcript"):
        highlights()
    with pytest.raises(PictoryValidationError, match="duration goes with transcript"):
        highlights(transcription_job_id=JOB_ID, duration=30)


def test_literal_bad_input_is_refused_when_the_dag_is_parsed():
    with pytest.raises(PictoryValidationError, match="checked when the DAG is parsed.*mediaType"):
        transcribe(media_type="movie")
    with pytest.raises(PictoryValidationError, match="checked when the DAG is parsed.*fileUrl"):
        transcribe(file_url="/recordings/q3.mp4")
    with pytest.raises(PictoryValidationError, match="checked when the DAG is parsed.*non-empty list"):
        highlights(transcript=[])
    # templates and XCom references are checked when the task runs (their values are not known yet)
    transcribe(file_url="{{ ti.xcom_pull(task_ids='upload') }}", language="{{ params.language }}")
    highlights(transcript="{{ ti.xcom_pull(task_ids='edit') }}")


def test_an_undocumented_format_is_sent_with_a_warning(pictory_conn, caplog):
    with caplog.at_level(logging.WARNING, logger="pictory_provider.transcription"):
        PictoryHook(**FAST).transcribe("https://cdn.example.com/talk.webm")
    assert "ends in .webm, which is not among the formats Pictory documents" in caplog.text
    assert pictory_conn.stats()["posts"] == 1


# -- job shapes ------------------------------------------------------------------------------------


def test_transcription_and_highlights_shapes_parse():
    words = [{"word": "Hi", "start_time": 0, "end_time": 0.4, "speakerId": 1, "sentence_index": 0}]
    data = {"status": "completed", "transcript": [{"speakerId": 1, "words": words}], "txt": "Hi", "srt": "1\n"}
    data |= {"vtt": "WEBVTT\n", "mediaInfo": {"duration": 12.5, "width": 1280}}
    job = parse_job({"job_id": JOB_ID, "success": True, "data": data}, JOB_ID)  # no URL needed
    assert (job.status, job.job_kind, job.duration, job.url) == (JobStatus.COMPLETED, "transcription", 12.5, None)
    assert (job.txt, job.srt, job.vtt, job.media_info["width"]) == ("Hi", "1\n", "WEBVTT\n", 1280)
    assert "transcript=" not in repr(job) and "'Hi'" not in repr(job)  # big texts stay out of logs
    # "completion is judged by the status and the presence of transcript data": no transcript yet, still waiting
    early = parse_job({"data": {"status": "completed", "txt": "Hi", "mediaInfo": {}}}, JOB_ID)
    assert (early.status, early.job_kind) == (JobStatus.IN_PROGRESS, "transcription")
    assert JobStatus.parse(early.raw_status) is JobStatus.UNKNOWN  # the operator's resume sees it as running
    segments = [{"start": 1, "end": 4.5, "text": "The point."}, {"start_time": 9, "end_time": 12, "text": "Two."}]
    found = parse_job({"data": {"status": "completed", "highlight": segments, "summary": "In short."}}, JOB_ID)
    assert (found.job_kind, found.summary) == ("highlights", "In short.")
    assert found.highlights == [{"start": 1, "end": 4.5, "text": "The point."}, {"start": 9, "end": 12, "text": "Two."}]
    sentences = parse_job({"data": {"status": "completed", "highlights": [{"speakerId": 1, "words": words}]}}, JOB_ID)
    assert sentences.highlights == [{"start": 0, "end": 0.4, "text": "Hi"}]


def test_the_kinds_are_data_with_no_list_to_reconcile_with():
    for kind in (TRANSCRIPTION, HIGHLIGHTS, HIGHLIGHTS_FROM_JOB):
        assert kind.list_path is None and kind.requires_url is False and kind.estimate({}) is None
    assert KINDS_BY_SHAPE["transcription"] is TRANSCRIPTION and KINDS_BY_SHAPE["highlights"] is HIGHLIGHTS
    assert TRANSCRIPTION.url_key == "media_url" and dict(TRANSCRIPTION.stored_files)["json"] == "transcript_path"
    method, path, sent = HIGHLIGHTS_FROM_JOB.create_request({"jobId": JOB_ID, "highlight_duration": 30})
    assert (method, path, sent) == (
        "POST",
        f"/pictoryapis/v2/transcription/{JOB_ID}/highlights",
        {"highlight_duration": 30},
    )


# -- the hook ---------------------------------------------------------------------------------------


def test_hook_transcribes_then_highlights_both_ways(pictory_conn, tmp_path):
    hook = PictoryHook(**FAST)
    source = tmp_path / "webinar.mp4"
    source.write_bytes(b"\0\0\0\x18ftypmp42" + b"\0" * 64)
    job_id = hook.transcribe(hook.upload_media(source), language="en-GB")
    assert pictory_conn.job(job_id)["language"] == "en-GB"
    job = hook.wait_for_job(job_id, poll_interval=0.1, timeout=10)  # a transcription needs no URL
    assert job.job_kind == "transcription" and job.txt.startswith("Welcome to our quarterly product webinar.")
    pauses = [word for sentence in job.transcript for word in sentence["words"] if word.get("is_pause")]
    assert pauses and all(p["word"] == "" and p["pause_size"] == "small" for p in pauses)
    assert {w["speakerId"] for s in job.transcript for w in s["words"]} == {1, 2}
    assert job.srt.startswith("1\n00:00:00,000 --> 00:00:02,400\n") and job.vtt.startswith("WEBVTT\n\n1\n")
    assert job.media_info == {"duration": job.duration, "width": 1280, "height": 720, "aspectRatio": "16:9"}
    from_job = hook.wait_for_job(
        hook.generate_highlights(transcription_job_id=job_id, highlight_duration=10), poll_interval=0.1, timeout=10
    )
    from_transcript = hook.wait_for_job(
        hook.generate_highlights(job.transcript, highlight_duration=10), poll_interval=0.1, timeout=10
    )
    for found in (from_job, from_transcript):
        assert found.job_kind == "highlights" and 1 <= len(found.highlights) <= 3
        assert sum(s["end"] - s["start"] for s in found.highlights) <= 10
        assert all(s["text"] in job.txt for s in found.highlights) and found.summary
    summary = hook.wait_for_job(
        hook.generate_highlights(SEGMENTS, duration=7.2, language="en"), poll_interval=0.1, timeout=10
    )
    assert [s["text"] for s in summary.highlights] == [s["text"] for s in SEGMENTS]
    assert pictory_conn.stats()["posts"] == 4


def test_highlights_of_a_running_or_unknown_transcription_are_refused_by_pictory(pictory_conn):
    pictory_conn.set_job_seconds(30)
    hook = PictoryHook(**FAST)
    running = hook.transcribe(FILE_URL)
    with pytest.raises(PictoryValidationError, match="not completed"):
        hook.generate_highlights(transcription_job_id=running)
    with pytest.raises(PictoryAPIError, match="404"):
        hook.generate_highlights(transcription_job_id=JOB_ID)


# -- the operators -----------------------------------------------------------------------------------


def test_transcribe_waits_and_stores_four_files_whole(pictory_conn, tmp_path):
    ctx = make_context()
    result = transcribe(deferrable=False, output_path=f"{tmp_path}/").execute(ctx)
    job_id = result["job_id"]
    paths = {key: result[key] for key in TEXT_PATHS}
    assert paths == {
        "srt_path": f"{tmp_path}/{job_id}.srt",
        "vtt_path": f"{tmp_path}/{job_id}.vtt",
        "txt_path": f"{tmp_path}/{job_id}.txt",
        "transcript_path": f"{tmp_path}/{job_id}.json",
    }
    # ai_credits_used: the job reports none, so it is not pushed (xcom_pull gives None either way)
    assert set(ctx["ti"].xcom) == TRANSCRIPTION_XCOM - {"ai_credits_used"} | TEXT_PATHS | {"job_id"}
    assert ctx["ti"].xcom["media_url"] == result["media_url"] == FILE_URL
    assert ctx["ti"].xcom["transcript_text"] == result["text"] == Path(paths["txt_path"]).read_text()
    assert result["duration"] == result["media_info"]["duration"] > 0 and result["ai_credits_used"] is None
    assert "-->" in Path(paths["srt_path"]).read_text() and Path(paths["vtt_path"]).read_text().startswith("WEBVTT")
    stored = json.loads(Path(paths["transcript_path"]).read_text())
    assert stored[0]["words"][0]["word"] == "Welcome" and any(w.get("is_pause") for w in stored[0]["words"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p).name for p in paths.values())  # no temp left
    assert "transcript" not in result  # the word-level JSON stays out of XCom


def test_transcribe_defers_and_completes_from_the_triggers_event(pictory_conn, tmp_path):
    pictory_conn.set_job_seconds(0.3)
    ctx = make_context()
    operator = transcribe(output_path=f"{tmp_path}/talks/q3.txt", poll_interval=0.1)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(ctx)
    trigger = deferred.value.trigger
    assert type(trigger) is PictoryJobTrigger and trigger.serialize()[1]["require_url"] is False
    event = first_event(trigger)
    assert tuple(event) == EVENT_KEYS and (event["status"], event["job_kind"]) == ("success", "transcription")
    assert "Welcome" not in json.dumps(event)  # the event stays small: the texts are read from the job
    result = operator.execute_complete(ctx, event)
    assert result["txt_path"] == f"{tmp_path}/talks/q3.txt" and result["srt_path"] == f"{tmp_path}/talks/q3.srt"
    assert Path(result["transcript_path"]).name == "q3.json" and Path(result["vtt_path"]).exists()
    assert ctx["ti"].xcom["transcript_text"].startswith("Welcome") and result["media_url"] == FILE_URL


def test_a_long_transcript_is_published_by_its_path(pictory_conn, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(transcription, "MAX_XCOM_TEXT_CHARS", 100)
    with caplog.at_level(logging.WARNING, logger="pictory_provider.transcription"):
        result = transcribe(deferrable=False, output_path=f"{tmp_path}/").execute(make_context())
    assert result["text"] is None and len(Path(result["txt_path"]).read_text()) > 100
    assert "more than the 100 published as XCom transcript_text" in caplog.text


def test_missing_texts_store_nothing(pictory_conn, tmp_path, monkeypatch):
    """All four files or none: a completed job without its .vtt stores no file at all."""
    from pictory_provider.emulator.transcripts import TranscriptionJob

    completed = TranscriptionJob.completed_data
    monkeypatch.setattr(TranscriptionJob, "completed_data", lambda self: completed(self) | {"vtt": None})
    with pytest.raises(PictoryAPIError, match=r"carries no \.vtt text; nothing was stored"):
        transcribe(deferrable=False, output_path=f"{tmp_path}/").execute(make_context())
    assert list(tmp_path.iterdir()) == []


def test_unusable_subtitles_store_nothing(pictory_conn, tmp_path, monkeypatch):
    from pictory_provider.emulator.transcripts import TranscriptionJob

    completed = TranscriptionJob.completed_data
    monkeypatch.setattr(TranscriptionJob, "completed_data", lambda self: completed(self) | {"vtt": "<html>"})
    (tmp_path / "old.srt").write_text("kept")
    with pytest.raises(Exception, match="no WEBVTT header"):
        transcribe(deferrable=False, output_path=str(tmp_path / "old.txt")).execute(make_context())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.srt"] and (tmp_path / "old.srt").read_text() == "kept"


def test_highlights_of_the_transcription_job_and_of_a_templated_transcript(pictory_conn, tmp_path):
    transcribed = transcribe(deferrable=False).execute(make_context())
    ctx = make_context()
    result = highlights(
        transcription_job_id=transcribed["job_id"],
        highlight_duration="15",
        deferrable=False,
        output_path=f"{tmp_path}/",
    ).execute(ctx)
    assert set(ctx["ti"].xcom) == {"job_id", "highlights", "highlights_summary", "highlights_path"}  # no None pushed
    assert (
        ctx["ti"].xcom["highlights"] == result["highlights"]
        and result["summary"] == ctx["ti"].xcom["highlights_summary"]
    )
    assert pictory_conn.job(result["job_id"])["highlight_duration"] == 15  # "15" from a template, sent as a number
    stored = json.loads(Path(result["highlights_path"]).read_text())
    assert stored == {"highlights": result["highlights"], "summary": result["summary"]}
    words = PictoryHook(**FAST).get_job(transcribed["job_id"]).transcript
    as_text = json.dumps(words)  # what Jinja gives without render_template_as_native_obj: text
    again = highlights(transcript=as_text, highlight_duration=15, deferrable=False).execute(make_context())
    assert again["highlights"] == result["highlights"]


def test_highlights_defer_and_complete_from_the_event(pictory_conn):
    pictory_conn.set_job_seconds(0.2)
    ctx = make_context()
    operator = highlights(transcript=SEGMENTS, duration=7.2, poll_interval=0.1)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(ctx)
    event = first_event(deferred.value.trigger)
    assert event["job_kind"] == "highlights"
    result = operator.execute_complete(ctx, event)
    assert [s["text"] for s in result["highlights"]] == [s["text"] for s in SEGMENTS]


def test_a_failed_transcription_fails_with_pictorys_reason(pictory_conn):
    pictory_conn.add_fault("fail_job", prompt_contains="q3-webinar")
    with pytest.raises(PictoryJobFailedError, match="TRANSCRIPTION_FAILED"):
        transcribe(deferrable=False).execute(make_context())


def test_transient_create_faults_are_retried_only_when_nothing_was_created(pictory_conn):
    pictory_conn.add_fault("rate_limit", route="create", retry_after=0.01)
    assert transcribe(deferrable=False).execute(make_context())["text"]
    assert pictory_conn.stats()["posts"] == 2 and pictory_conn.stats()["jobs_created"] == 1
    pictory_conn.add_fault("status", route="create", status=503)
    with pytest.raises(PictoryTransientError):
        PictoryHook(**FAST).transcribe(FILE_URL)
    assert pictory_conn.stats()["posts"] == 3  # a 503 may have created the job: never sent again


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="the task state store exists on Airflow >= 3.3")
def test_a_retry_resumes_the_transcription_and_an_unclear_create_never_pays_twice(pictory_conn):
    store = TaskStateStore()
    first = transcribe(deferrable=False).execute(make_context(store))
    again = transcribe(deferrable=False, webhook="https://hooks.example.com/t?try=2").execute(make_context(store))
    assert again["job_id"] == first["job_id"] and pictory_conn.stats()["posts"] == 1  # the webhook is no change
    changed = transcribe(deferrable=False, language="de-DE").execute(make_context(store))
    assert changed["job_id"] != first["job_id"] and pictory_conn.stats()["posts"] == 2

    pictory_conn.add_fault("answer_late", route="create", delay=1.0)
    unclear = TaskStateStore()
    late = {**FAST, "read_timeout": 0.3, "max_attempts": 1}
    with pytest.raises(PictoryTransientError, match="may have reached Pictory"):
        highlights(transcript=SEGMENTS, hook_params=late, deferrable=False).execute(make_context(unclear))
    with pytest.raises(PictorySubmissionUnresolvedError, match="no list of highlights jobs"):
        highlights(transcript=SEGMENTS, deferrable=False).execute(make_context(unclear))
    assert pictory_conn.stats()["posts"] == 3


def test_check_quota_and_the_spend_report(pictory_conn, caplog):
    with caplog.at_level(logging.INFO, logger="pictory_provider.credits"):
        result = transcribe(deferrable=False, check_quota=True).execute(make_context())
    assert f"Pictory job {result['job_id']} reported no AI credits used" in caplog.text
    assert pictory_conn.stats()["requests"]["quota"] == 2


# -- the any-job sensor -------------------------------------------------------------------------------


def test_job_sensor_publishes_a_transcriptions_keys_and_stores_its_files(pictory_conn, tmp_path):
    pictory_conn.set_job_seconds(0.3)
    job_id = PictoryHook(**FAST).transcribe(FILE_URL)
    sensor = PictoryJobSensor(
        task_id="wait", job_id=job_id, hook_params=FAST, poke_interval=0.1, output_path=f"{tmp_path}/"
    )
    ctx = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(ctx)
    result = sensor.execute_complete(ctx, first_event(deferred.value.trigger))
    assert result["job_kind"] == "transcription" and result["text"].startswith("Welcome")
    # the sensor does not know the file (media_url) and the job reports no credits: neither is pushed
    assert set(ctx["ti"].xcom) == TRANSCRIPTION_XCOM - {"media_url", "ai_credits_used"} | TEXT_PATHS
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{job_id}.{e}" for e in ("srt", "vtt", "txt", "json"))
    highlights_id = PictoryHook(**FAST).generate_highlights(transcription_job_id=job_id)
    time.sleep(0.5)
    ctx = make_context()
    found = PictoryJobSensor(task_id="wait", job_id=highlights_id, hook_params=FAST, deferrable=False).execute(ctx)
    assert found["job_kind"] == "highlights" and ctx["ti"].xcom["highlights"] == found["highlights"]


# -- the emulator --------------------------------------------------------------------------------------


def post(emulator, path: str, body: object) -> requests.Response:
    return requests.post(emulator.base_url + path, json=body, headers={"Authorization": API_KEY}, timeout=10)


def test_emulator_validates_with_fields_and_strips_undocumented_ones(emulator):
    refused = post(emulator, transcription.TRANSCRIPTION_PATH, {"fileUrl": "file:///x.mp4", "mediaType": "gif"})
    assert refused.status_code == 400 and refused.json()["code"] == "INVALID_REQUEST_BODY"
    assert [field["name"] for field in refused.json()["fields"]] == ["fileUrl", "mediaType"]
    empty = post(emulator, transcription.HIGHLIGHTS_PATH, {"transcript": [], "highlight_duration": 30})
    assert empty.status_code == 400 and empty.json()["fields"][0]["name"] == "transcript"
    accepted = post(emulator, transcription.TRANSCRIPTION_PATH, {"fileUrl": FILE_URL, "speakers": 2})
    assert accepted.json() == {"success": True, "data": {"jobId": accepted.json()["data"]["jobId"]}}
    record = emulator.job(accepted.json()["data"]["jobId"])
    assert (record["kind"], record["media_type"], record["language"]) == ("transcription", "video", "en-US")
    assert emulator.stats()["requests"]["create"] == 3


def test_emulator_sends_the_finished_transcription_to_the_webhook(emulator):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    received: list[dict] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        emulator.set_job_seconds(0.1)
        hook_url = f"http://127.0.0.1:{server.server_address[1]}/transcripts"
        job_id = post(emulator, transcription.TRANSCRIPTION_PATH, {"fileUrl": FILE_URL, "webhook": hook_url}).json()
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.shutdown()
        server.server_close()
    (payload,) = received
    assert payload["job_id"] == job_id["data"]["jobId"] and payload["data"]["status"] == "completed"
    assert set(payload["data"]) >= {"transcript", "txt", "srt", "vtt", "mediaInfo"}
