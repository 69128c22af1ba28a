"""The fault matrix: one DAG run per fault, through the real scheduler and triggerer.

Shared by tests/e2e/test_real_airflow.py (which asserts the outcomes) and scripts/fault_matrix.py
(which writes the table in docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pictory_provider.emulator import PictoryEmulator

from .harness import AirflowCluster

DAG_ID = "e2e_pictory_faults"
JOB_SECONDS = 600.0  # jobs end when run_scenario calls finish_jobs()


def restart_emulator(emulator: PictoryEmulator, down_seconds: float = 2.0) -> None:
    emulator.stop()
    time.sleep(down_seconds)
    emulator.start()


@dataclass(frozen=True)
class Scenario:
    """A fault applied while the sensor is deferred (or, for ``fail_job``, before submitting)."""

    name: str
    expect: str  # final state of the sensor task: "success" or "failed"
    faults: list[dict[str, Any]] = field(default_factory=list)
    action: Callable[[PictoryEmulator], None] | None = None
    reason: str | None = None  # text the failed task's log must contain


SCENARIOS = [
    Scenario("no fault (baseline)", "success"),
    Scenario("HTTP 500 burst (3 responses)", "success", [{"kind": "status", "status": 500, "count": 3}]),
    Scenario("HTTP 429 with Retry-After: 2", "success", [{"kind": "rate_limit", "retry_after": 2, "count": 1}]),
    Scenario("connection reset (2 requests)", "success", [{"kind": "reset", "count": 2}]),
    Scenario("read timeout (answer after 5 s, timeout 2 s)", "success", [{"kind": "slow", "delay": 5, "count": 1}]),
    Scenario("non-JSON HTML 200 body (2 responses)", "success", [{"kind": "non_json", "count": 2}]),
    Scenario("emulator restart mid-wait (2 s down)", "success", action=restart_emulator),
    Scenario(
        "HTML 403 body (Cloudflare block)",
        "failed",
        [{"kind": "non_json", "status": 403, "count": 1}],
        reason="HTTP 403",
    ),
    Scenario(
        "HTTP 500 beyond the retry budget",
        "failed",
        [{"kind": "status", "status": 500, "count": 1000}],
        reason="after 4 attempt(s); last cause: HTTP 500",
    ),
    Scenario(
        "answer about another job (job_id ../../escaped)",
        "failed",
        [{"kind": "wrong_job_id", "count": 1}],
        reason="not the job that was asked for",
    ),
    Scenario(
        "completed job without an image url",
        "failed",
        [{"kind": "status", "status": 200, "body": {"success": True, "data": {"status": "completed"}}}],
        reason="the job is completed but has no data.url",
    ),
    Scenario(
        "success: false without a job status",
        "failed",
        [{"kind": "status", "status": 200, "body": {"success": False, "data": {}}, "count": 1}],
        reason="UNKNOWN_ERROR: Pictory answered success: false with no job status",
    ),
    Scenario(
        "job body over the 8 MiB cap (9 MiB)",
        "failed",
        [{"kind": "huge", "size": 9 * 1024 * 1024, "count": 1}],
        reason="-byte limit for API responses",
    ),
    Scenario(
        "job failed by Pictory",
        "failed",
        [{"kind": "fail_job", "error_code": "IMAGE_GENERATION_FAILED", "error_message": "GPU on fire"}],
        reason="IMAGE_GENERATION_FAILED: GPU on fire",
    ),
]


@dataclass
class Outcome:
    scenario: Scenario
    run_id: str
    state: str
    polls: int
    posts: int
    seconds: float
    log: str

    @property
    def error(self) -> str:
        """``ExceptionType: message`` of the failed task, from its structured log."""
        for line in self.log.splitlines():
            if '"Task failed with exception"' in line:
                detail = json.loads(line).get("error_detail") or [{}]
                return f"{detail[0].get('exc_type')}: {detail[0].get('exc_value')}"
        return ""


def run_scenario(cluster: AirflowCluster, emulator: PictoryEmulator, scenario: Scenario) -> Outcome:
    emulator.reset()
    emulator.set_job_seconds(JOB_SECONDS)
    for fault in scenario.faults:
        if fault["kind"] == "fail_job":
            emulator.add_fault(**fault)
    run_id = cluster.trigger(DAG_ID)
    cluster.wait_deferred(DAG_ID, run_id, "wait")
    started = time.monotonic()  # from deferral to the end of the run
    for fault in scenario.faults:
        if fault["kind"] != "fail_job":
            emulator.add_fault(**(fault | {"route": "job"}))
    if scenario.action:
        scenario.action(emulator)
    emulator.finish_jobs()  # the job completes (or fails) once the task waits in the triggerer
    cluster.wait_for_run(DAG_ID, run_id)
    seconds = time.monotonic() - started
    state = str(cluster.task_state(DAG_ID, run_id, "wait"))
    if state == "failed":
        # The run's state lands before the failed task's last log lines are flushed: the reason is
        # read from the log, so wait for it (without failing here: the test's assertions say what is
        # missing). A successful run is judged by its state and XCom, never by its log.
        with contextlib.suppress(TimeoutError):
            cluster.wait_for(
                lambda: "Task failed with exception" in cluster.task_log(DAG_ID, run_id, "wait"),
                timeout=60,
                what="the failed task's exception in its log",
            )
    stats = emulator.stats()
    return Outcome(
        scenario=scenario,
        run_id=run_id,
        state=state,
        polls=int(stats["requests"]["job"]),
        posts=int(stats["posts"]),
        seconds=seconds,
        log=cluster.task_log(DAG_ID, run_id, "wait"),
    )
