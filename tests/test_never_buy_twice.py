"""The seven ways the never-buy-twice guard lost money (issue #26), each against the emulator over real HTTP.

Each test is one case of the issue: what Pictory did, what the retry did, and what was bought (the
emulator's counters). A "try" is a fresh operator with the same task state store, as Airflow hands a
retry; ``make_context(store, claimed=[...])`` gives the job ids other task instances published.
tests/test_reconcile_properties.py holds the same rules as invariants over generated accounts;
tests/e2e/test_no_duplicate_jobs.py runs case 4 through a real scheduler and triggerer.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from pictory_provider import job_proofs, reconcile
from pictory_provider.api import JOBS_PATH
from pictory_provider.exceptions import (
    PictoryAPIError,
    PictoryCreditsExhaustedError,
    PictorySubmissionAmbiguousError,
    PictorySubmissionUnresolvedError,
    PictoryTransientError,
    PictoryValidationError,
)
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.operators.render import PictoryRenderVideoOperator

from .fakes import TaskStateStore, make_context
from .test_render import FAST, board
from .test_submission import IN_FLIGHT_KEY, JOB_KEY, LATE, PROMPT, needs_store, operator

pytestmark = needs_store


def job_ids(emulator) -> list[str]:
    return [item["data"]["jobId"] for item in PictoryHook().list_page(JOBS_PATH)["items"]]


def unclear(emulator, store, fault=None, **kwargs) -> None:
    emulator.add_fault(**(fault or LATE))
    with pytest.raises(PictoryTransientError):
        operator(**kwargs).execute(make_context(store))


# -- case 1: a running job of the request's own is never "later" -----------------------------------


def test_case_1_a_clock_running_ahead_and_an_unrelated_job_never_buy_the_image_twice(pictory_conn):
    """Pictory's createdDate 60 s ahead of its Date header; an unrelated image completes while the
    request's own job runs. The retry bought the image again ("0 running job(s) above the fence")."""
    pictory_conn.configure_list(created_skew=60)
    store = TaskStateStore()
    pictory_conn.set_job_seconds(2.5)
    unclear(pictory_conn, store)
    pictory_conn.set_job_seconds(0)
    PictoryHook().generate_image("An unrelated sibling's image", model="flux-schnell")
    time.sleep(0.3)
    with pytest.raises(PictorySubmissionUnresolvedError) as failed:
        operator(reconcile_timeout=15).execute(make_context(store))
    (mine,) = [job for job in job_ids(pictory_conn) if pictory_conn.job(job)["prompt"] == PROMPT]
    assert pictory_conn.stats()["posts"] == 2  # its own and the unrelated one: never a second image
    assert "adopt_job_id='<job id>'" in str(failed.value) and mine in str(failed.value)
    # the way out buys nothing: the user names the listed job
    result = operator(adopt_job_id=mine).execute(make_context(store))
    assert result["job_id"] == mine and store.values[JOB_KEY] == mine
    assert pictory_conn.stats()["posts"] == 2


def test_case_1_a_create_pictory_made_after_the_grace_is_never_bought_again(pictory_conn, monkeypatch):
    """Pictory created the job after the client gave up, later than the grace, while an unrelated job
    completed in between (time scaled: a 0.5 s grace)."""
    monkeypatch.setattr(reconcile, "LATE_CREATE_GRACE", 0.5)
    store = TaskStateStore()
    pictory_conn.set_job_seconds(2)
    fault = {"kind": "slow", "route": "create", "delay": 3.5}  # the job is made 3.5 s after the request
    unclear(pictory_conn, store, fault)
    pictory_conn.set_job_seconds(0)
    PictoryHook().generate_image("An unrelated image, dated after the window", model="flux-schnell")
    deadline = time.time() + 10
    while pictory_conn.stats()["jobs_created"] < 2 and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    with pytest.raises(PictorySubmissionUnresolvedError, match="outside the window"):
        operator(reconcile_timeout=15).execute(make_context(store))
    assert (pictory_conn.stats()["posts"], pictory_conn.stats()["jobs_created"]) == (2, 2)


# -- case 2: what only correlates or delivers a render is not the request --------------------------


def test_case_2_a_per_try_project_metadata_never_renders_again(pictory_conn):
    store = TaskStateStore()
    pictory_conn.add_fault("answer_late", route="create", delay=1.0)
    first = PictoryRenderVideoOperator(
        task_id="render", storyboard=board(projectMetadata={"try": "1"}), hook_params=FAST | {"read_timeout": 0.3}
    )
    with pytest.raises(PictoryTransientError, match="may have reached Pictory"):
        first.execute(make_context(store))
    retry = PictoryRenderVideoOperator(
        task_id="render",
        storyboard=board(projectMetadata={"try": "2"}, webhook="https://hooks.example.com/done?try=2"),
        hook_params=FAST,
    )
    with pytest.raises(PictorySubmissionUnresolvedError, match="no list of render jobs"):
        retry.execute(make_context(store))
    assert pictory_conn.stats()["posts"] == 1


def test_case_2_a_changed_storyboard_never_drops_an_unclear_render(pictory_conn):
    store = TaskStateStore()
    pictory_conn.add_fault("answer_late", route="create", delay=1.0)
    with pytest.raises(PictoryTransientError):
        PictoryRenderVideoOperator(
            task_id="render", storyboard=board(), hook_params=FAST | {"read_timeout": 0.3}
        ).execute(make_context(store))
    changed = PictoryRenderVideoOperator(task_id="render", storyboard=board(videoName="renamed"), hook_params=FAST)
    with pytest.raises(PictorySubmissionUnresolvedError, match="changed: videoName"):
        changed.execute(make_context(store))
    assert pictory_conn.stats()["posts"] == 1 and store.values.get(IN_FLIGHT_KEY)


# -- case 3: one 404 is "not known yet" -------------------------------------------------------------


def test_case_3_one_spurious_404_never_buys_a_running_job_again(pictory_conn, caplog):
    store = TaskStateStore()
    pictory_conn.set_job_seconds(1.5)
    job_id = operator(wait_for_completion=False).execute(make_context(store))
    pictory_conn.add_fault("status", route="job", status=404, body="<html><body>404 Not Found</body></html>")
    with caplog.at_level(logging.WARNING, logger="pictory_provider.submission"):
        result = operator().execute(make_context(store))
    assert result["job_id"] == job_id
    assert pictory_conn.stats()["posts"] == 1
    assert f"Pictory answered HTTP 404 for job {job_id}, but the jobs list holds it" in caplog.text


def test_case_3_a_404_that_does_not_repeat_keeps_the_job(pictory_conn, monkeypatch):
    """The list no longer holds the job (another connection), but the next GET answers: kept."""
    monkeypatch.setattr(job_proofs, "GONE_CONFIRM_SECONDS", 5)
    store = TaskStateStore()
    pictory_conn.set_job_seconds(0)
    job_id = operator(wait_for_completion=False).execute(make_context(store))
    pictory_conn.configure_list(page_size=1, arrivals_per_page=0)
    pictory_conn.add_fault("status", route="job", status=404)
    pictory_conn.add_fault("status", route="list", status=200, body='{"items": []}')
    result = operator().execute(make_context(store))
    assert result["job_id"] == job_id and pictory_conn.stats()["posts"] == 1


# -- case 4: a sibling's job is never adopted --------------------------------------------------------


def test_case_4_a_create_that_made_nothing_never_adopts_a_siblings_job(pictory_conn, tmp_path):
    """Mapped over two output paths with one prompt: map 0's create answers 502 (after 1 s: nothing
    made) while map 1 buys its image; map 0's retry adopted map 1's job and both stored one image."""
    store = TaskStateStore()
    pictory_conn.set_job_seconds(0)
    pictory_conn.add_fault("status", route="create", status=502, delay=1.0)
    sibling: dict[str, str] = {}

    def map_index_1() -> None:
        time.sleep(0.5)  # after map 0 read its fence, before its 502
        sibling["job"] = PictoryHook().generate_image(PROMPT, model="flux-schnell")

    thread = threading.Thread(target=map_index_1)
    thread.start()
    with pytest.raises(PictoryTransientError, match="may have reached Pictory"):
        operator(output_path=f"{tmp_path}/a/").execute(make_context(store))
    thread.join()
    result = operator(output_path=f"{tmp_path}/a/").execute(make_context(store, claimed=[sibling["job"]]))
    assert result["job_id"] != sibling["job"]
    assert (pictory_conn.stats()["posts"], pictory_conn.stats()["jobs_created"]) == (3, 2)


def test_case_4_a_killed_workers_window_ends_at_its_time_limit(pictory_conn, monkeypatch):
    """The worker died mid-create (the record has no elapsed time); another run's identical image made
    after the request's time limit (connect + read timeout) is never adopted (time scaled)."""
    monkeypatch.setattr(reconcile, "LATE_CREATE_GRACE", 0.5)
    store = TaskStateStore()
    pictory_conn.add_fault("status", route="create", status=502)
    with pytest.raises(PictoryTransientError):
        operator(hook_params={"read_timeout": 0.3, "connect_timeout": 0.3}).execute(make_context(store))
    store.values[IN_FLIGHT_KEY].pop("elapsed", None)  # as if the worker had been killed mid-request
    assert store.values[IN_FLIGHT_KEY]["fence"]["limit"] == pytest.approx(0.6)
    time.sleep(2.5)
    pictory_conn.set_job_seconds(0)
    theirs = PictoryHook().generate_image(PROMPT, model="flux-schnell")
    time.sleep(0.2)
    with pytest.raises(PictorySubmissionUnresolvedError) as failed:
        operator().execute(make_context(store))
    assert theirs in str(failed.value) and "outside the window" in str(failed.value)
    assert pictory_conn.stats()["posts"] == 2


# -- case 5: an answer that proves nothing was made settles the record -------------------------------


@pytest.mark.parametrize("status", [402, 409, 413, 422])
def test_case_5_a_definite_refusal_of_a_render_clears_the_record(pictory_conn, status, caplog):
    store = TaskStateStore()
    pictory_conn.add_fault("status", route="create", status=status)
    with pytest.raises((PictoryAPIError, PictoryCreditsExhaustedError, PictoryValidationError)):
        PictoryRenderVideoOperator(task_id="render", storyboard=board(), hook_params=FAST).execute(make_context(store))
    assert IN_FLIGHT_KEY not in store.values
    pictory_conn.set_job_seconds(0.2)
    with caplog.at_level(logging.INFO, logger="pictory_provider.submission"):
        result = PictoryRenderVideoOperator(
            task_id="render", storyboard=board(), hook_params=FAST, poll_interval=0.1, deferrable=False
        ).execute(make_context(store))
    assert result["url"] and pictory_conn.stats()["jobs_created"] == 1


# -- case 6: the way out buys nothing -----------------------------------------------------------------


def test_case_6_ambiguous_names_both_jobs_and_adopt_job_id_keeps_one(pictory_conn):
    store = TaskStateStore()
    pictory_conn.set_job_seconds(0)
    unclear(pictory_conn, store)
    theirs = PictoryHook().generate_image(PROMPT, model="flux-schnell")  # another run, unclaimed, in the window
    time.sleep(0.2)
    with pytest.raises(PictorySubmissionAmbiguousError) as failed:
        operator().execute(make_context(store))
    (mine,) = [job for job in job_ids(pictory_conn) if job != theirs]
    assert mine in str(failed.value) and theirs in str(failed.value) and "adopt_job_id" in str(failed.value)
    posts = pictory_conn.stats()["posts"]
    other = PictoryHook().generate_image("A different prompt entirely", model="flux-schnell")
    time.sleep(0.2)
    with pytest.raises(PictoryValidationError, match="its output differs from the request"):
        operator(adopt_job_id=other).execute(make_context(store))
    with pytest.raises(PictoryValidationError, match="another task instance holds it"):
        operator(adopt_job_id=theirs).execute(make_context(store, claimed=[theirs]))
    result = operator(adopt_job_id=mine).execute(make_context(store))
    assert result["job_id"] == mine and pictory_conn.stats()["posts"] == posts + 1  # only the other prompt


# -- case 7: jobs of another kind never block ---------------------------------------------------------


def test_case_7_a_long_render_in_progress_never_blocks_an_image(pictory_conn):
    store = TaskStateStore()
    pictory_conn.set_job_seconds(0)
    unclear(pictory_conn, store)
    pictory_conn.set_job_seconds(3600)  # a one-hour narrated video, rendering
    PictoryHook(**FAST).render_video(board())
    deadline = time.time() + 10
    while "renderProgress" not in str(PictoryHook().list_page(JOBS_PATH)) and time.time() < deadline:
        time.sleep(0.2)
    started = time.time()
    result = operator(reconcile_timeout=30).execute(make_context(store))
    assert time.time() - started < 10  # adopted at once, not after reconcile_timeout
    assert pictory_conn.job(result["job_id"])["prompt"] == PROMPT
    assert pictory_conn.stats()["posts"] == 2
