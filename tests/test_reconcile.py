"""A retry adopts only its own job (issue #19), against the emulator over real HTTP.

The inputs that fool a reconciliation: an identical request by another run before this try's request
(completed or still running), one created inside the window while this try's own job still runs, a
create that created nothing, clocks that disagree with the worker's, list items with unreadable
dates, and a webhook templated per try. Each test states what was bought (the emulator's counters)
and which job the task delivered. tests/e2e/test_no_duplicate_jobs.py runs the first two through a
real scheduler and triggerer.
"""

from __future__ import annotations

import logging
import time

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from pictory_provider import job_proofs, reconcile
from pictory_provider.api import JOBS_PATH
from pictory_provider.exceptions import (
    PictoryAuthError,
    PictoryConfigError,
    PictoryNotFoundError,
    PictorySubmissionAmbiguousError,
    PictorySubmissionUnresolvedError,
    PictoryTransientError,
    PictoryValidationError,
    PictoryWaitError,
)
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.kinds import IMAGE
from pictory_provider.reconcile import Verdict, Window, parse_created, read_evidence
from pictory_provider.submission import SubmissionGuard, changed_fields, fingerprint

from .fakes import TaskStateStore, make_context

# the same operator, request and state-store keys as the guard's own tests
from .test_submission import IN_FLIGHT_KEY, JOB_KEY, LATE, PROMPT, REQUEST_KEY, needs_store, operator


def other_run_buys(emulator, prompt: str = PROMPT, seconds: float = 0.0) -> str:
    """Another DAG run buys an identical image (its own task, its own store)."""
    emulator.set_job_seconds(seconds)
    return PictoryHook().generate_image(prompt, model="flux-schnell")


def unclear_try(emulator, store: TaskStateStore, *, fault: dict | None = None, **kwargs) -> None:
    emulator.add_fault(**(fault or LATE))
    with pytest.raises(PictoryTransientError):
        operator(**kwargs).execute(make_context(store))


def created_ids(emulator) -> list[str]:
    return [item["data"]["jobId"] for item in PictoryHook().list_page(JOBS_PATH)["items"]]


# -- item 1: identical requests of other runs -----------------------------------------------------


@needs_store
@pytest.mark.parametrize(
    "offset", [0.0, -3600.0, 5400.0], ids=["same-clock", "pictory-1h-behind", "pictory-90min-ahead"]
)
def test_an_identical_image_bought_before_the_request_is_never_adopted(pictory_conn, caplog, offset):
    """Another run's identical image, completed before this try's request, while this try's own job
    still runs: the retry waits for its own job and delivers it, whatever the clocks say."""
    pictory_conn.configure_list(clock_offset=offset)
    theirs = other_run_buys(pictory_conn)
    store = TaskStateStore()
    pictory_conn.set_job_seconds(1.5)  # this try's own job is still running when the retry looks
    unclear_try(pictory_conn, store)
    (mine,) = [job for job in created_ids(pictory_conn) if job != theirs]
    with caplog.at_level(logging.INFO, logger="pictory_provider.submission"):
        result = operator().execute(make_context(store))
    assert result["job_id"] == mine != theirs
    assert store.values[JOB_KEY] == mine
    assert "Not known yet: 1 running job(s)" in caplog.text  # it waited instead of adopting theirs
    assert f"Adopted Pictory job {mine}" in caplog.text
    assert "1 identical request(s) from before the request ignored" in caplog.text  # the evidence, logged
    stats = pictory_conn.stats()
    assert (stats["posts"], stats["jobs_created"]) == (2, 2)  # theirs and mine: nothing bought twice


@needs_store
def test_a_create_that_created_nothing_never_adopts_another_runs_job(pictory_conn, caplog):
    """HTTP 502 on the create (nothing created) after another run bought the same image: send again."""
    theirs = other_run_buys(pictory_conn)
    store = TaskStateStore()
    unclear_try(pictory_conn, store, fault={"kind": "status", "route": "create", "status": 502})
    assert pictory_conn.stats()["jobs_created"] == 1
    with caplog.at_level(logging.INFO, logger="pictory_provider.submission"):
        result = operator().execute(make_context(store))
    assert result["job_id"] != theirs
    assert "it created nothing; submitting it now" in caplog.text
    stats = pictory_conn.stats()
    assert (stats["posts"], stats["jobs_created"]) == (3, 2)


@needs_store
def test_one_completed_match_and_a_running_job_in_the_window_is_not_known_yet(pictory_conn):
    """Another run's identical image completes inside the window while this try's own job still runs:
    never adopted; after ``reconcile_timeout`` the try fails (retryable) and names the running job."""
    store = TaskStateStore()
    pictory_conn.set_job_seconds(30)
    unclear_try(pictory_conn, store)
    (mine,) = created_ids(pictory_conn)
    theirs = other_run_buys(pictory_conn)  # created after this try's request, completed at once
    with pytest.raises(PictorySubmissionUnresolvedError) as failed:
        operator(reconcile_timeout=0).execute(make_context(store))
    assert not isinstance(failed.value, AirflowFailException)  # a later retry looks again
    assert mine in str(failed.value) and "still running after reconcile_timeout" in str(failed.value)
    assert store.values.get(JOB_KEY) is None and IN_FLIGHT_KEY in store.values
    pictory_conn.finish_jobs()  # now both are completed inside the window: two candidates, fail for good
    with pytest.raises(PictorySubmissionAmbiguousError, match="2 images of that request were created in its window"):
        operator().execute(make_context(store))
    assert {mine, theirs} == set(created_ids(pictory_conn))
    assert pictory_conn.stats()["posts"] == 2


@needs_store
def test_a_running_job_created_before_the_request_is_not_waited_for(pictory_conn, caplog):
    """An unrelated job created before the request and still running does not hold the retry."""
    other_run_buys(pictory_conn, prompt="A slow unrelated image", seconds=60)
    store = TaskStateStore()
    unclear_try(pictory_conn, store, fault={"kind": "status", "route": "create", "status": 500})
    pictory_conn.set_job_seconds(0)
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="pictory_provider.submission"):
        operator(reconcile_timeout=300).execute(make_context(store))
    assert time.monotonic() - started < 10
    assert "Not known yet" not in caplog.text and "it created nothing" in caplog.text


# -- item 3: the wait is bounded, and deferred when the task is deferrable ------------------------


@needs_store
def test_a_deferrable_task_defers_the_reconciliation_wait(pictory_conn):
    from airflow.providers.common.compat.sdk import TaskDeferred

    store = TaskStateStore()
    pictory_conn.set_job_seconds(30)
    unclear_try(pictory_conn, store)
    (mine,) = created_ids(pictory_conn)
    task = operator(deferrable=True, poll_interval=5, reconcile_timeout=120)
    with pytest.raises(TaskDeferred) as deferred:
        task.execute(make_context(store))
    assert deferred.value.method_name == "execute_after_reconcile_wait"
    assert type(deferred.value.trigger).__name__ in ("TimeDeltaTrigger", "DateTimeTrigger")
    deadline = deferred.value.kwargs["reconcile_deadline"]
    assert 100 < deadline - time.time() <= 120
    pictory_conn.finish_jobs()
    resumed = operator(deferrable=True, poll_interval=5, reconcile_timeout=120)
    result = resumed.execute_after_reconcile_wait(make_context(store), event=None, reconcile_deadline=deadline)
    assert result["job_id"] == mine  # adopted, then collected (the job had completed)
    assert store.values[JOB_KEY] == mine and pictory_conn.stats()["posts"] == 1


def test_reconcile_timeout_is_checked():
    with pytest.raises(ValueError, match="reconcile_timeout"):
        operator(reconcile_timeout=-1)


# -- item 2: only what defines the output is the request ------------------------------------------


@needs_store
def test_a_per_try_webhook_is_the_same_request(pictory_conn, caplog):
    store = TaskStateStore()
    pictory_conn.set_job_seconds(0)
    unclear_try(pictory_conn, store, webhook="http://127.0.0.1:9/hook?try=1")
    (mine,) = created_ids(pictory_conn)
    with caplog.at_level(logging.INFO, logger="pictory_provider.submission"):
        result = operator(webhook="http://127.0.0.1:9/hook?try=2").execute(make_context(store))
    assert result["job_id"] == mine and pictory_conn.stats()["posts"] == 1
    assert "the request has changed" not in caplog.text
    again = operator(webhook="http://127.0.0.1:9/hook?try=3").execute(make_context(store))  # cleared
    assert again["job_id"] == mine and pictory_conn.stats()["posts"] == 1


@needs_store
def test_a_changed_request_names_the_field_that_changed(pictory_conn, caplog):
    store = TaskStateStore()
    pictory_conn.set_job_seconds(0)
    operator().execute(make_context(store))
    with caplog.at_level(logging.INFO, logger="pictory_provider.submission"):
        operator(aspect_ratio="16:9").execute(make_context(store))
    assert "The request changed since Pictory job" in caplog.text and "(changed: aspectRatio)" in caplog.text
    assert pictory_conn.stats()["posts"] == 2


def test_fingerprint_covers_the_output_fields_with_defaults_and_nothing_else():
    body = {"prompt": PROMPT}
    assert fingerprint(IMAGE, body) == fingerprint(IMAGE, body | {"webhook": "https://hooks.example/x?try=2"})
    assert fingerprint(IMAGE, body) == fingerprint(IMAGE, body | {"model": "seedream3.0", "aspectRatio": "1:1"})
    assert fingerprint(IMAGE, body) != fingerprint(IMAGE, body | {"style": "cartoon"})
    before = {"fields": {"prompt": "x", "model": "y"}}
    assert changed_fields(before, IMAGE, body)  # digests differ: every differing field is named
    assert changed_fields("an old string fingerprint", IMAGE, body) == []


def test_a_job_stored_by_an_older_version_with_the_whole_body_fingerprint_is_reused():
    import hashlib
    import json

    body = {"prompt": PROMPT, "webhook": "https://hooks.example/x"}
    legacy = hashlib.sha256(
        json.dumps({"path": IMAGE.path, "body": body}, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    store = TaskStateStore()
    store.set(JOB_KEY, "job-1")
    store.set(REQUEST_KEY, legacy)
    SubmissionGuard(store, IMAGE, body, JOB_KEY).prepare(lambda path, key: pytest.fail("no list read"))
    assert store.values[JOB_KEY] == "job-1"


# -- item 5: dates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-05T10:00:00Z",
        "2026-11-05T10:00:00",
        "2026-11-05T10:00:00.000+00:00",
        1793872800,
        1793872800000,
        "1793872800000",
        1793872800.0,
    ],
)
def test_created_dates_in_every_form_pictory_may_use(value):
    assert parse_created(value).timestamp() == 1793872800.0


@pytest.mark.parametrize("value", [None, "", "yesterday-ish", True, 42, "NaN", {}, "2026-13-45"])
def test_an_unreadable_created_date_is_unreadable_never_new(value):
    assert parse_created(value) is None


@needs_store
@pytest.mark.parametrize("form", ["iso-naive", "epoch-s", "epoch-ms"])
def test_the_retry_adopts_its_own_job_whatever_the_date_form(pictory_conn, form):
    pictory_conn.configure_list(created_dates=form)
    pictory_conn.set_job_seconds(0)
    store = TaskStateStore()
    unclear_try(pictory_conn, store)
    (mine,) = created_ids(pictory_conn)
    assert operator().execute(make_context(store))["job_id"] == mine
    assert pictory_conn.stats()["posts"] == 1


@needs_store
@pytest.mark.parametrize("form", ["garbled", "absent"])
def test_an_unreadable_date_leaves_the_retry_undecided(pictory_conn, form):
    pictory_conn.configure_list(created_dates=form)
    pictory_conn.set_job_seconds(0)
    store = TaskStateStore()
    unclear_try(pictory_conn, store)
    (mine,) = created_ids(pictory_conn)
    with pytest.raises(PictorySubmissionUnresolvedError, match=f"cannot place: {mine} \\(createdDate"):
        operator().execute(make_context(store))
    assert pictory_conn.stats()["posts"] == 1  # neither adopted blindly nor bought again


def _lists(jobs: list[dict], images: list[dict]):
    pages = {JOBS_PATH: {"items": [{"data": job} for job in jobs]}, IMAGE.path: {"items": images}}
    return lambda path, key: pages[path]


def _image(url: str, created: object, prompt: str = PROMPT) -> dict:
    return {"url": url, "prompt": prompt, "model": "seedream3.0", "aspectRatio": "1:1", "createdDate": created}


WINDOW = Window("job-fence", 1764900000.0, 5.0 + 1764900000.0)  # 2025-12-05T02:00:00Z, 5 s out


def test_a_month_old_identical_image_in_epoch_milliseconds_is_never_a_candidate():
    """Listed above the fence but dated a month earlier in ms: the clocks disagree, so undecided."""
    month_ago_ms = int((WINDOW.start - 30 * 86400) * 1000)
    evidence = read_evidence(
        IMAGE,
        {"prompt": PROMPT},
        WINDOW,
        _lists(
            [{"jobId": "job-a", "status": "completed", "url": "u-a"}, {"jobId": "job-fence", "status": "completed"}],
            [_image("u-a", month_ago_ms)],
        ),
    )
    assert evidence.verdict is Verdict.UNRESOLVED and not evidence.candidates
    assert evidence.outside[0].startswith("job-a (created ")  # could be its own: clocks disagree


def test_jobs_below_the_fence_are_never_candidates_or_waited_for():
    evidence = read_evidence(
        IMAGE,
        {"prompt": PROMPT},
        WINDOW,
        _lists(
            [
                {"jobId": "job-fence", "status": "completed", "url": "u-f"},
                {"jobId": "job-old-running", "status": "in-progress"},
                {"jobId": "job-old", "status": "completed", "url": "u-old"},
            ],
            [_image("u-f", WINDOW.start), _image("u-old", WINDOW.start - 10)],
        ),
    )
    assert evidence.verdict is Verdict.CREATED_NOTHING
    assert not evidence.running and not evidence.candidates


def test_a_running_job_listed_above_one_created_after_the_window_is_still_waited_for():
    """Issue #26 case 1: its position above a job dated past the window does not make a running job
    another's (Pictory's createdDate clock may run ahead, or it created the request's job late)."""
    late = WINDOW.start + 5 + reconcile.LATE_CREATE_GRACE + 60
    evidence = read_evidence(
        IMAGE,
        {"prompt": PROMPT},
        WINDOW,
        _lists(
            [
                {"jobId": "job-later-running", "status": "in-progress"},
                {"jobId": "job-later", "status": "completed", "url": "u-later"},
                {"jobId": "job-mine", "status": "completed", "url": "u-mine"},
                {"jobId": "job-fence", "status": "completed"},
            ],
            [_image("u-later", late, prompt="another prompt"), _image("u-mine", WINDOW.start + 1)],
        ),
    )
    assert evidence.verdict is Verdict.WAIT and evidence.running == ["job-later-running"]
    assert evidence.candidates[0][0] == "job-mine" and evidence.other_request == 1


def test_a_summary_jobs_list_item_is_read_on_its_own():
    """A completed item without its url (a summary list) is read with its own GET, then adopted."""
    evidence = read_evidence(
        IMAGE,
        {"prompt": PROMPT},
        WINDOW,
        _lists(
            [{"jobId": "job-mine", "status": "completed"}, {"jobId": "job-fence", "status": "completed"}],
            [_image("u-mine", "2025-12-05T02:00:03Z")],
        ),
        job_data=lambda job_id: {"status": "completed", "url": "u-mine"},
    )
    assert evidence.verdict is Verdict.ADOPT


# -- item 7: a stored job Pictory no longer knows -------------------------------------------------


@needs_store
def test_a_cleared_task_whose_job_pictory_no_longer_knows_buys_it_anew_and_says_why(
    pictory_conn, capsys, caplog, monkeypatch
):
    """Gone for good: the 404 repeats over GONE_CONFIRM_SECONDS and the jobs list no longer holds it."""
    monkeypatch.setattr(job_proofs, "GONE_CONFIRM_SECONDS", 0.3)
    monkeypatch.setattr("pictory_provider.operators.base.GONE_CONFIRM_SECONDS", 0.3)
    pictory_conn.set_job_seconds(0)
    store = TaskStateStore()
    first = operator().execute(make_context(store))
    pictory_conn.reset()  # Pictory forgot the job (retention, or the connection now reaches another account)
    pictory_conn.set_job_seconds(0)
    capsys.readouterr()
    with caplog.at_level(logging.WARNING, logger="pictory_provider.submission"):
        again = operator().execute(make_context(store))
    logged = capsys.readouterr().out + caplog.text  # the operator's own (structlog) task log and the guard's
    assert again["job_id"] != first["job_id"] and store.values[JOB_KEY] == again["job_id"]
    assert f"Pictory answered HTTP 404 for job {first['job_id']} and the jobs list does not hold it" in logged
    assert f"Pictory answered HTTP 404 for job {first['job_id']} (task state store key 'pictory_job_id'" in logged
    assert pictory_conn.stats()["posts"] == 1  # since the reset: one new job


# -- item 9: a request that provably never left ---------------------------------------------------


def test_a_failed_tls_handshake_is_a_never_sent_request_with_the_connection_tests_hint(pictory_conn, monkeypatch):
    from tests.conftest import conn_json

    https = pictory_conn.base_url.replace("http://", "https://")
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(https))
    hook = PictoryHook(max_attempts=2, retry_min_wait=0.01, retry_max_wait=0.02)
    with pytest.raises(PictoryTransientError) as failed:
        hook.generate_image(PROMPT)
    assert "may have reached Pictory" not in str(failed.value)  # not "unclear": nothing was sent
    assert "Gave up on the Generate Image request after 1 attempt(s)" in str(failed.value)  # at once: never heals
    assert f"did you mean {pictory_conn.base_url}" in str(failed.value)
    assert pictory_conn.stats()["posts"] == 0


def test_connection_refused_names_the_cause(pictory_conn, monkeypatch):
    from tests.conftest import conn_json

    from .e2e.harness import free_port

    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(PictoryTransientError, match="is the server running"):
        PictoryHook(max_attempts=1).generate_image(PROMPT)


# -- item 10: what another try would meet again fails without retrying ----------------------------


@pytest.mark.parametrize(
    "error",
    [
        PictoryValidationError("bad prompt"),
        PictoryAuthError("HTTP 401", 401),
        PictoryNotFoundError("HTTP 404", 404),
        PictoryConfigError("no connection"),
        PictorySubmissionAmbiguousError("two"),
        PictoryWaitError("401 in the triggerer"),
    ],
)
def test_deterministic_errors_fail_without_retrying(error):
    assert isinstance(error, AirflowFailException)


@pytest.mark.parametrize("error", [PictoryTransientError("503"), PictorySubmissionUnresolvedError("running")])
def test_transient_errors_keep_airflows_retries(error):
    assert not isinstance(error, AirflowFailException)


def test_a_404_in_the_triggerer_fails_the_task_without_retrying(pictory_conn):
    import asyncio

    from pictory_provider.events import complete_from_event
    from pictory_provider.triggers.pictory import PictoryJobTrigger

    async def first_event():
        trigger = PictoryJobTrigger(job_id="7c2a4f0e-0000-4000-8000-000000000000", poll_interval=0.1)
        async for event in trigger.run():
            return event.payload

    event = asyncio.run(first_event())
    assert event["status"] == "error" and event["error_code"] == "PictoryNotFoundError"
    with pytest.raises(PictoryWaitError, match="HTTP 404"):
        complete_from_event(make_context(), event, TimeoutError)


# -- item 8: a signed URL's token stays out of logs and errors ------------------------------------

SIGNED = "?X-Amz-Signature=s3cr3t-token&X-Amz-Expires=300"


def test_download_errors_show_urls_without_their_query(pictory_conn, tmp_path, caplog):
    from pictory_provider.exceptions import PictoryDownloadError
    from pictory_provider.storage import store_image

    missing = f"{pictory_conn.base_url}/files/7c2a4f0e-0000-4000-8000-000000000000.png{SIGNED}"
    with caplog.at_level(logging.INFO), pytest.raises(PictoryDownloadError) as failed:  # task logs: INFO
        store_image(missing, f"{tmp_path}/", job_id="7c2a4f0e-0000-4000-8000-000000000000")
    assert "s3cr3t-token" not in str(failed.value) and "s3cr3t-token" not in caplog.text
    assert ".png?... failed: HTTP 404" in str(failed.value)
    from .e2e.harness import free_port

    refused = f"http://127.0.0.1:{free_port()}/files/x.png{SIGNED}"
    with pytest.raises(PictoryDownloadError) as failed:  # the library's own text quotes the URL too
        store_image(refused, f"{tmp_path}/", job_id="7c2a4f0e-0000-4000-8000-000000000000")
    assert "s3cr3t-token" not in str(failed.value)


def test_request_descriptions_show_urls_without_their_query():
    from pictory_provider.submission import describe_request

    text = describe_request(IMAGE, {"prompt": PROMPT, "referenceImageUrl": f"https://cdn.example/ref.png{SIGNED}"})
    assert "s3cr3t-token" not in text and "https://cdn.example/ref.png?..." in text


def test_request_descriptions_name_the_method_and_path_the_request_uses():
    from pictory_provider.kinds import PREVIEW_RENDER
    from pictory_provider.storyboard import build_preview_render_request
    from pictory_provider.submission import describe_request

    preview = "7c2a4f0e-0000-4000-8000-000000000000"
    text = describe_request(PREVIEW_RENDER, build_preview_render_request(preview))
    assert text == f"PUT /pictoryapis/v2/video/render/{preview} ()"
    assert describe_request(IMAGE, {"prompt": "p"}).startswith("POST /pictoryapis/v1/aistudio/images (prompt='p')")


@needs_store
def test_an_unreadable_jobs_list_does_not_block_the_purchase_and_an_unclear_create_is_not_guessed(pictory_conn):
    """The fence read fails (a jobs list page over the 8 MiB cap): the image is still bought; had that
    create ended unclear, the retry fails clearly instead of guessing."""
    pictory_conn.set_job_seconds(0)
    pictory_conn.add_fault("huge", route="list", size=9 * 1024 * 1024)
    store = TaskStateStore()
    assert operator().execute(make_context(store))["job_id"] == store.values[JOB_KEY]
    assert pictory_conn.stats()["posts"] == 1
    store = TaskStateStore()
    pictory_conn.add_fault("huge", route="list", size=9 * 1024 * 1024)
    unclear_try(pictory_conn, store)
    assert store.values[IN_FLIGHT_KEY]["fence"] is None
    with pytest.raises(PictorySubmissionUnresolvedError, match="could not be read just before the request"):
        operator().execute(make_context(store))
    assert pictory_conn.stats()["posts"] == 2
