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
    identical_request_by_another_run,
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
