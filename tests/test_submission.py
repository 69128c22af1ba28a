"""No duplicate paid job (issue #10 items 1-3), against the emulator over real HTTP.

A "try" is a fresh operator instance with a fresh task instance stand-in and the same task state
store, exactly what Airflow hands a retry or a cleared task (tests/e2e covers the real scheduler
and triggerer). Emulator counters prove how many jobs Pictory created.
"""

from __future__ import annotations

import json
import logging
import urllib.request

import pytest

from pictory_provider import submission
from pictory_provider.api import IMAGES_PATH, JOBS_PATH
from pictory_provider.exceptions import (
    PictorySubmissionUnresolvedError,
    PictoryTransientError,
    PictoryValidationError,
)
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.kinds import IMAGE as IMAGE_JOB
from pictory_provider.kinds import VIDEO
from pictory_provider.operators.pictory import PictoryGenerateImageOperator
from pictory_provider.submission import SubmissionGuard, fingerprint

from .compat import AIRFLOW_V_3_3_PLUS
from .fakes import RecordingTI, TaskStateStore, make_context

needs_store = pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="the task state store arrives in Airflow 3.3")

PROMPT = "A lighthouse at dawn"
#: The answer to the create request comes after 1 s; the client gives up after 0.3 s.
LATE = {"kind": "answer_late", "route": "create", "delay": 1.0}
IMPATIENT = {"retry_min_wait": 0.01, "retry_max_wait": 0.05, "read_timeout": 0.3}
JOB_KEY, REQUEST_KEY, IN_FLIGHT_KEY = "pictory_job_id", "pictory_job_id_request", "pictory_job_id_in_flight"


def operator(**kwargs) -> PictoryGenerateImageOperator:
    params = {
        "task_id": "generate",
        "prompt": PROMPT,
        "model": "flux-schnell",
        "hook_params": IMPATIENT,
        "poll_interval": 0.1,
        "timeout": 30,
        "deferrable": False,
    }
    return PictoryGenerateImageOperator(**(params | kwargs))


def unclear_first_try(emulator, store: TaskStateStore, **kwargs) -> None:
    """Try 1: Pictory creates the job but answers after the read timeout."""
    emulator.add_fault(**LATE)
    with pytest.raises(PictoryTransientError, match="may have reached Pictory"):
        operator(**kwargs).execute(make_context(store))
    assert emulator.stats()["jobs_created"] == 1


def only_job(emulator) -> str:
    items = PictoryHook().list_page(JOBS_PATH)["items"]
    return items[0]["data"]["jobId"] if len(items) == 1 else pytest.fail(f"expected one job, got {items}")


# -- the emulator can create a job and answer late -------------------------------------------------


def test_answer_late_fault_creates_the_job_then_answers_late(pictory_conn):
    pictory_conn.add_fault("answer_late", route="create", delay=1.0)
    hook = PictoryHook(**IMPATIENT)
    with pytest.raises(PictoryTransientError, match="not retried to avoid a duplicate paid job"):
        hook.generate_image(PROMPT)
    stats = pictory_conn.stats()
    assert (stats["posts"], stats["jobs_created"], stats["faults_applied"]) == (1, 1, 1)
    assert pictory_conn.job(only_job(pictory_conn))["prompt"] == PROMPT


def test_answer_late_fault_over_the_admin_api(emulator):
    request = urllib.request.Request(
        f"{emulator.base_url}/_emulator/faults",
        data=json.dumps({"kind": "answer_late", "route": "create", "delay": 0.2}).encode(),
        method="POST",
    )
    reply = json.loads(urllib.request.urlopen(request).read())
    assert reply["fault"]["kind"] == "answer_late"
    assert emulator.faults()[0]["delay"] == 0.2


# -- item 1: an unclear create, then a retry -------------------------------------------------------


@needs_store
@pytest.mark.parametrize("job_seconds", [0.5, 2.5], ids=["job-finished-before-the-retry", "job-still-running"])
def test_retry_after_an_unclear_create_adopts_the_job_it_created(pictory_conn, caplog, job_seconds):
    pictory_conn.set_job_seconds(job_seconds)
    store = TaskStateStore()
    unclear_first_try(pictory_conn, store)
    assert store.values[IN_FLIGHT_KEY]["fingerprint"] == fingerprint(
        IMAGE_JOB, {"prompt": PROMPT, "model": "flux-schnell"}
    )
    created = only_job(pictory_conn)
    ctx = make_context(store)
    with caplog.at_level(logging.INFO, logger="pictory_provider.submission"):
        result = operator().execute(ctx)
    assert result["job_id"] == created
    assert ctx["ti"].xcom["job_id"] == created
    assert f"Adopted Pictory job {created}" in caplog.text
    stats = pictory_conn.stats()
    assert (stats["posts"], stats["jobs_created"]) == (1, 1)  # one paid image
    assert store.values[JOB_KEY] == created
    assert IN_FLIGHT_KEY not in store.values


@needs_store
def test_reconciliation_skips_older_identical_images_and_other_prompts(pictory_conn, monkeypatch):
    """An identical image from before the try (an earlier run) is not adopted; neither is another prompt."""
    pictory_conn.set_job_seconds(0)
    hook = PictoryHook()
    older = hook.generate_image(PROMPT, model="flux-schnell")
    store = TaskStateStore()
    unclear_first_try_jobs = pictory_conn.stats()["jobs_created"]
    pictory_conn.add_fault(**LATE)
    with pytest.raises(PictoryTransientError):
        operator().execute(make_context(store))
    other = hook.generate_image("Another prompt entirely", model="flux-schnell")
    assert pictory_conn.stats()["jobs_created"] == unclear_first_try_jobs + 2
    result = operator().execute(make_context(store))
    assert result["job_id"] not in (older, other)
    assert pictory_conn.job(result["job_id"])["prompt"] == PROMPT
    assert pictory_conn.stats()["posts"] == 3  # older, the unclear one, other: nothing bought by the retry


@needs_store
def test_two_matching_jobs_fail_clearly_instead_of_buying_a_third(pictory_conn):
    pictory_conn.set_job_seconds(0)
    store = TaskStateStore()
    unclear_first_try(pictory_conn, store)
    PictoryHook().generate_image(PROMPT, model="flux-schnell")  # the same request from elsewhere, meanwhile
    with pytest.raises(PictorySubmissionUnresolvedError) as failed:
        operator().execute(make_context(store))
    message = str(failed.value)
    assert f"POST {IMAGES_PATH}" in message and "A lighthouse at dawn" in message  # what was sent
    assert "2 images of that request were created in its window" in message
    assert "GET /pictoryapis/v1/jobs" in message and "resubmit_unclear=True" in message  # where to look
    assert pictory_conn.stats()["posts"] == 2
    assert IN_FLIGHT_KEY in store.values  # the next try still knows


@needs_store
def test_resubmit_unclear_opts_in_to_submitting_again(pictory_conn):
    pictory_conn.set_job_seconds(0)
    store = TaskStateStore()
    unclear_first_try(pictory_conn, store)
    PictoryHook().generate_image(PROMPT, model="flux-schnell")
    result = operator(resubmit_unclear=True).execute(make_context(store))
    assert pictory_conn.stats()["posts"] == 3
    assert store.values[JOB_KEY] == result["job_id"]


@needs_store
def test_a_failed_unknown_job_since_then_is_not_guessed(pictory_conn):
    """The job the unclear try created failed: the jobs list cannot tie it to the request."""
    pictory_conn.set_job_seconds(0)
    pictory_conn.add_fault("fail_job")
    store = TaskStateStore()
    unclear_first_try(pictory_conn, store)
    with pytest.raises(PictorySubmissionUnresolvedError, match=f"{only_job(pictory_conn)} \\(failed\\)"):
        operator().execute(make_context(store))
    assert pictory_conn.stats()["posts"] == 1


@needs_store
def test_a_create_that_created_nothing_is_sent_again(pictory_conn, caplog):
    """A 500 after the request was received: the lists prove no job exists, so the retry submits."""
    pictory_conn.set_job_seconds(0)
    pictory_conn.add_fault("status", route="create", status=500)
    store = TaskStateStore()
    with pytest.raises(PictoryTransientError, match="may have reached Pictory"):
        operator().execute(make_context(store))
    with caplog.at_level(logging.INFO, logger="pictory_provider.submission"):
        result = operator().execute(make_context(store))
    assert "it created nothing; submitting it now" in caplog.text
    stats = pictory_conn.stats()
    assert (stats["posts"], stats["jobs_created"]) == (2, 1)
    assert store.values[JOB_KEY] == result["job_id"]


def test_a_create_that_certainly_created_nothing_leaves_no_in_flight_record():
    """HTTP 400/401 or a request never sent: the next try submits without looking for a job."""
    store = TaskStateStore()
    guard = SubmissionGuard(store, IMAGE_JOB, {"prompt": PROMPT}, JOB_KEY)

    def rejected() -> str:
        assert store.values[IN_FLIGHT_KEY]["path"] == IMAGES_PATH  # recorded before the request
        raise PictoryValidationError("HTTP 400")

    with pytest.raises(PictoryValidationError):
        guard.submit(rejected)
    assert store.values == {}


# -- item 2: the job id is stored before XCom ------------------------------------------------------


class XComDown(RecordingTI):
    def xcom_push(self, key, value):
        raise RuntimeError("XCom backend unavailable")


@needs_store
def test_job_id_is_stored_before_xcom_so_a_failed_push_does_not_buy_again(pictory_conn):
    store = TaskStateStore()
    ctx = make_context(store)
    ctx["ti"] = XComDown()
    with pytest.raises(RuntimeError, match="XCom backend unavailable"):
        operator(wait_for_completion=False).execute(ctx)
    stored = store.values[JOB_KEY]
    assert operator(wait_for_completion=False).execute(make_context(store)) == stored
    assert pictory_conn.stats()["posts"] == 1


# -- item 3: a cleared task reuses its job only for the same request -------------------------------


@needs_store
def test_cleared_task_reuses_the_job_for_the_same_request_and_submits_a_changed_one(pictory_conn, caplog):
    pictory_conn.set_job_seconds(0)
    store = TaskStateStore()
    first = operator().execute(make_context(store))
    with caplog.at_level(logging.INFO, logger="pictory_provider.submission"):
        again = operator().execute(make_context(store))  # cleared, the prompt renders the same
    assert again["job_id"] == first["job_id"]
    assert f"Reusing Pictory job {first['job_id']}: it was submitted for this same request" in caplog.text
    assert pictory_conn.stats()["posts"] == 1
    changed = operator(prompt="A lighthouse at dusk").execute(make_context(store))  # a changed Variable/param
    assert changed["job_id"] != first["job_id"]
    assert pictory_conn.job(changed["job_id"])["prompt"] == "A lighthouse at dusk"
    assert pictory_conn.stats()["posts"] == 2
    assert store.values[REQUEST_KEY]["fingerprint"] == fingerprint(
        IMAGE_JOB, {"prompt": "A lighthouse at dusk", "model": "flux-schnell"}
    )


@needs_store
def test_any_rendered_field_is_part_of_the_request(pictory_conn):
    pictory_conn.set_job_seconds(0)
    store = TaskStateStore()
    first = operator(wait_for_completion=False).execute(make_context(store))
    second = operator(wait_for_completion=False, aspect_ratio="16:9").execute(make_context(store))
    assert first != second
    assert pictory_conn.stats()["posts"] == 2


# -- the guard on its own --------------------------------------------------------------------------


def test_fingerprint_is_canonical_and_covers_the_path():
    body = {"prompt": PROMPT, "model": "veo3.1"}
    assert fingerprint(IMAGE_JOB, body) == fingerprint(IMAGE_JOB, dict(reversed(body.items())))
    assert fingerprint(VIDEO, body) != fingerprint(IMAGE_JOB, body)


def test_without_a_store_nothing_is_recorded_and_every_call_submits():
    calls = []
    guard = SubmissionGuard(None, IMAGE_JOB, {"prompt": PROMPT}, JOB_KEY)
    guard.prepare(lambda path, key: pytest.fail("no list read without a store"))
    assert guard.submit(lambda: calls.append(1) or "job") == "job"
    assert calls == [1]


def test_reconciliation_is_generic_over_the_job_kind():
    """A video-like kind: its own list, model-dependent defaults, list ids that are not UUIDs."""
    videos = "/pictoryapis/v1/aistudio/videos"
    kind = VIDEO
    body = {"prompt": "A drone shot over the sea", "model": "veo3.1"}
    store = TaskStateStore()
    fence = {"job_id": "job-old", "pictory_time": 1767268800.0}  # 2026-01-01T12:00:00Z
    record = {"fingerprint": fingerprint(kind, body), "sent_at": "2026-01-01T12:00:00Z", "fence": fence, "elapsed": 31}
    store.set("video_job_id_in_flight", record)
    url = "https://cdn.example/videos/mine.mp4"
    pages = {
        videos: {
            "items": [
                {
                    "id": "20260101120040001",
                    "url": url,
                    "createdDate": "2026-01-01T12:00:40Z",
                    **body,
                    "aspectRatio": "16:9",
                    "duration": "4s",
                },
                {
                    "id": "20260101115000001",
                    "url": "https://cdn.example/old.mp4",
                    "createdDate": "2026-01-01T11:50:00Z",
                },
            ]
        },
        submission.JOBS_PATH: {
            "items": [
                {"data": {"jobId": "job-mine", "status": "completed", "url": url}},
                {"data": {"jobId": "job-old", "status": "completed", "url": "https://cdn.example/old.mp4"}},
                {"data": {"jobId": "job-older-failed", "status": "failed"}},  # beyond the anchor: not looked at
            ]
        },
    }
    guard = SubmissionGuard(store, kind, body, "video_job_id")
    guard.prepare(lambda path, key: pages[path])
    assert store.values["video_job_id"] == "job-mine"
    assert store.values["video_job_id_request"]["fingerprint"] == fingerprint(kind, body)
    assert "video_job_id_in_flight" not in store.values
