"""No duplicate paid job through a real Airflow 3.3 deployment (scheduler, dag-processor, triggerer).

Issue #10 item 1 (an unclear create, then a retry) and item 3 (clearing a task with a changed or an
unchanged request); the emulator's counters prove how many jobs Pictory created.
"""

from __future__ import annotations

import pytest

from tests.compat import AIRFLOW_V_3_3_PLUS

from .submission_scenarios import (
    CHANGED_PROMPT,
    UNCLEAR_PROMPT,
    clear_unchanged_then_changed,
    clock_ahead_then_adopt,
    identical_request_by_another_run,
    siblings_one_create_made_nothing,
    unclear_create_then_retry,
)

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="the task state store arrives in Airflow 3.3"),
]


def test_unclear_create_then_retry_adopts_the_job_instead_of_buying_another(cluster, e2e_emulator):
    step = unclear_create_then_retry(cluster, e2e_emulator)
    assert step.state == "success", step.log[-3000:]
    assert step.tries == 2
    assert (step.posts, step.jobs_created) == (1, 1)  # exactly one paid image
    assert step.prompt == UNCLEAR_PROMPT
    assert "may have reached Pictory" in step.log  # try 1
    assert f"Adopted Pictory job {step.job_id}" in step.log  # try 2


def test_the_retry_adopts_its_own_job_never_another_runs_identical_one(cluster, e2e_emulator):
    """Issue #19 items 1-3 through the real scheduler and triggerer: the retry's webhook differs
    (``?try=2``) yet it is the same request; another run's identical image, bought before, is ignored;
    the retry waits (deferred, in the triggerer) while its own job runs, then adopts it."""
    step, theirs = identical_request_by_another_run(cluster, e2e_emulator)
    assert step.state == "success", "\n".join(
        line[:800] for line in step.log.splitlines() if "Pictory" in line or "rror" in line
    )
    assert step.tries == 2
    assert step.job_id != theirs
    assert (step.posts, step.jobs_created) == (2, 2)  # theirs and this run's own: nothing bought twice
    assert "the request has changed" not in step.log  # the per-try webhook is not part of the request
    assert "1 identical request(s) from before the request ignored" in step.log
    assert "Not known yet: 1 running job(s)" in step.log  # waited for its own job instead of adopting theirs
    assert f"Adopted Pictory job {step.job_id}" in step.log


def test_cleared_task_reuses_its_job_unless_the_request_changed(cluster, e2e_emulator):
    first, unchanged, changed = clear_unchanged_then_changed(cluster, e2e_emulator)
    assert [s.state for s in (first, unchanged, changed)] == ["success"] * 3, changed.log[-3000:]
    assert first.posts == 1
    # cleared with the same request: the same job, no second purchase, and the log says so
    assert (unchanged.tries, unchanged.job_id, unchanged.posts) == (2, first.job_id, 1)
    assert f"Reusing Pictory job {first.job_id}" in unchanged.log
    # cleared after the prompt Variable changed: a new job with the new prompt
    assert changed.job_id != first.job_id
    assert (changed.prompt, changed.posts) == (CHANGED_PROMPT, 2)
    assert "The request changed since Pictory job" in changed.log


def test_a_map_index_whose_create_made_nothing_never_adopts_its_siblings_job(cluster, e2e_emulator, tmp_path):
    """Issue #26 case 4: map indexes of one prompt; one create answers 502 after 2 s (nothing made) while
    the sibling buys its image. Before: the retry adopted the sibling's job (2 POSTs, 1 job, one image
    stored twice). Now each map index holds its own job."""
    step = siblings_one_create_made_nothing(cluster, e2e_emulator, str(tmp_path))
    assert step.state == "success", step.log[-3000:]
    assert len(set(step.job_ids)) == 2  # never the sibling's job
    assert (step.posts, step.jobs_created) == (3, 2)  # the 502, then one image per map index
    assert all(path.endswith(".png") for path in step.stored) and step.stored[0] != step.stored[1]


def test_a_clock_ahead_never_buys_twice_and_adopt_job_id_keeps_the_job(cluster, e2e_emulator):
    """Issue #26 case 1 (and 6): createdDate 60 s ahead of Date, the create answered late, an unrelated image
    completes while the request's own job runs. Before: the retry bought the image again. Now it waits,
    fails clearly naming the job, and the user's adopt_job_id keeps it: 2 POSTs in all (its own and the
    unrelated one)."""
    failed, adopted, own = clock_ahead_then_adopt(cluster, e2e_emulator)
    assert failed.state == "failed", failed.log[-3000:]
    assert "Not known yet: 1 running job(s)" in failed.log  # waited, in the triggerer
    assert "PictorySubmissionUnresolvedError" in failed.log and own in failed.log
    assert "adopt_job_id" in failed.log
    assert adopted.state == "success", adopted.log[-3000:]
    assert adopted.job_id == own and adopted.prompt == UNCLEAR_PROMPT
    assert (adopted.posts, adopted.jobs_created) == (2, 2)  # nothing bought by the retry or the way out
