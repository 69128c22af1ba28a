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
