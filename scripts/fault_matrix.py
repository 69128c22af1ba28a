"""Regenerate docs/reliability.md: the fault matrix through a real Airflow scheduler + triggerer.

Starts the emulator and a real Airflow deployment (tests/e2e/harness.py), runs one DAG run per
scenario in tests/e2e/scenarios.py and the submission scenarios of tests/e2e/submission_scenarios.py,
and writes the tables. Takes about six minutes:

    .venv/bin/python scripts/fault_matrix.py
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="pictory-fault-matrix-"))

from pictory_provider.emulator import PictoryEmulator  # noqa: E402
from tests.e2e.harness import AirflowCluster, free_port  # noqa: E402
from tests.e2e.scenarios import JOB_SECONDS, SCENARIOS, Outcome, run_scenario  # noqa: E402
from tests.e2e.submission_scenarios import (  # noqa: E402
    Step,
    clear_unchanged_then_changed,
    unclear_create_then_retry,
)

API_KEY = "pictai_fault_matrix_" + os.urandom(8).hex()


#: The section of docs/reliability.md that records `make test-ha`; this script keeps it as it is.
HA_SECTION = "<!-- ha-check: the latest `make test-ha` run, recorded by hand -->"


def reason(outcome: Outcome) -> str:
    if outcome.state == "success":
        return "image URL and credits in XCom"
    return outcome.error.replace("|", "/")


def main() -> int:
    outcomes: list[Outcome] = []
    with (
        PictoryEmulator(port=free_port(), job_seconds=JOB_SECONDS) as emulator,
        AirflowCluster(emulator.base_url, API_KEY) as cluster,
    ):
        run_scenario(cluster, emulator, SCENARIOS[0])  # warm-up: first parse and first task start
        for scenario in SCENARIOS:
            outcome = run_scenario(cluster, emulator, scenario)
            outcomes.append(outcome)
            print(f"{scenario.name}: {outcome.state} in {outcome.seconds:.1f} s, {outcome.polls} polls", flush=True)
        steps = [unclear_create_then_retry(cluster, emulator), *clear_unchanged_then_changed(cluster, emulator)]
        for step in steps:
            print(f"{step.name}: {step.state} after {step.tries} tries, {step.jobs_created} job(s) created", flush=True)
    baseline = outcomes[0].seconds
    rows = [
        f"| {o.scenario.name} | {o.state}{' (expected)' if o.state == o.scenario.expect else ' (UNEXPECTED)'} "
        f"| {o.polls} | {o.posts} | {o.seconds - baseline:+.1f} | {reason(o)} |"
        for o in outcomes
    ]
    page = "\n".join(
        [
            "# Reliability",
            "",
            "Each row is one run of the `e2e_pictory_faults` DAG (submit, then a deferrable sensor) through a",
            "real Airflow scheduler, dag-processor and triggerer (SQLite, LocalExecutor), against the bundled",
            "emulator with the fault switched on while the sensor was deferred. The sensor polls every 1 s with",
            "`hook_params={'read_timeout': 2, 'max_attempts': 4, 'retry_min_wait': 0.5, 'retry_max_wait': 2}`;",
            "each job completes as soon as the sensor waits in the triggerer, right after the fault is switched",
            "on. *Polls* counts GET job requests the emulator received (retries",
            "included); *extra time* is the time from deferral to the end of the run, minus the fault-free",
            "baseline's (polls land on a 1 s grid, so it moves in whole seconds). In every row Pictory received",
            "exactly one POST: no fault ever created a second (paid) job.",
            "",
            "| Fault | Sensor outcome | Polls | POSTs | Extra time (s) | Reason / result |",
            "|---|---|---:|---:|---:|---|",
            *rows,
            "",
            *submission_section(steps),
            "",
            f"Generated {datetime.date.today().isoformat()} on {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, by `.venv/bin/python scripts/fault_matrix.py`. The same scenarios",
            "are asserted by `tests/e2e/test_real_airflow.py::test_fault_matrix` and",
            "`tests/e2e/test_no_duplicate_jobs.py` in `make test`.",
            "",
        ]
    )
    target = ROOT / "docs" / "reliability.md"
    kept = target.read_text().split(HA_SECTION, 1) if target.exists() else [""]
    if len(kept) == 2:  # the HA release check's section (`make test-ha`, written by hand): kept
        page = page.rstrip("\n") + "\n\n" + HA_SECTION + kept[1]
    target.write_text(page)
    print(page)
    fine = all(o.state == o.scenario.expect and o.posts == 1 for o in outcomes)
    return 0 if fine and all(step.state == "success" for step in steps) else 1


def submission_section(steps: list[Step]) -> list[str]:
    """The table of the submission scenarios (Airflow >= 3.3, task state store)."""

    def job(index: int, step: Step) -> str:
        if f"Adopted Pictory job {step.job_id}" in step.log:
            return "the job try 1 created, adopted"
        if index > 1 and step.job_id == steps[index - 1].job_id:
            return "the same job, reused (logged)"
        return "a new job" + (f" for the new prompt {step.prompt!r}" if index > 1 else "")

    rows = [
        f"| {step.name} | {step.state} | {step.tries} | {step.posts} | {step.jobs_created} | {job(index, step)} |"
        for index, step in enumerate(steps)
    ]
    return [
        "## Submitting: one paid job per request",
        "",
        "Through the same deployment, the operator alone (`PictoryGenerateImageOperator`, deferrable). The",
        "first row: Pictory creates the job but answers after the task's 1 s read timeout (the emulator's",
        "`answer_late` fault), so try 1 fails without a job id; try 2 finds the job in Pictory's lists and",
        "adopts it. The other rows: one run, then the task cleared with its prompt (a Variable) unchanged,",
        "then cleared again after changing the Variable. *Jobs created* counts every job Pictory created",
        "in the scenario so far.",
        "",
        "| Scenario | Task outcome | Tries | POSTs | Jobs created | Job |",
        "|---|---|---:|---:|---:|---|",
        *rows,
        "",
        "What is not covered here, and is only asserted against the emulator without a scheduler",
        "(`tests/test_submission.py`): several identical requests since the unclear one, or an unknown",
        "failed job since then, fail the retry with `PictorySubmissionUnresolvedError` instead of buying",
        "again; a create request that created nothing is sent again; the job id reaches the task state",
        "store before XCom.",
    ]


if __name__ == "__main__":
    sys.exit(main())
