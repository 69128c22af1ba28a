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
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="pictory-fault-matrix-"))

from pictory_provider.emulator import PictoryEmulator  # noqa: E402
from tests.e2e.harness import AirflowCluster, free_port  # noqa: E402
from tests.e2e.scenarios import JOB_SECONDS, SCENARIOS, Outcome, run_scenario  # noqa: E402
from tests.e2e.submission_scenarios import (  # noqa: E402
    MappedStep,
    Step,
    clear_unchanged_then_changed,
    clock_ahead_then_adopt,
    identical_request_by_another_run,
    siblings_one_create_made_nothing,
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
        identical, _theirs = identical_request_by_another_run(cluster, emulator)
        steps = [
            unclear_create_then_retry(cluster, emulator),
            identical,
            *clear_unchanged_then_changed(cluster, emulator),
        ]
        for step in steps:
            print(f"{step.name}: {step.state} after {step.tries} tries, {step.jobs_created} job(s) created", flush=True)
        with tempfile.TemporaryDirectory() as out:
            mapped = siblings_one_create_made_nothing(cluster, emulator, out)
        failed, adopted, own = clock_ahead_then_adopt(cluster, emulator)
        attacked = attack_rows(mapped, failed, adopted, own)
        print("\n".join(attacked), flush=True)
        direct = direct_rows(emulator)
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
            *submission_section(steps, attacked),
            "",
            *direct_section(direct),
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
    fine = fine and all(row.as_expected for row in direct)
    fine = (
        fine
        and mapped.state == "success"
        and len(set(mapped.job_ids)) == 2
        and (mapped.posts, mapped.jobs_created) == (3, 2)
    )
    fine = fine and failed.state == "failed" and adopted.state == "success" and adopted.job_id == own
    return 0 if fine and all(step.state == "success" for step in steps) else 1


def attack_rows(mapped: MappedStep, failed: Step, adopted: Step, own: str) -> list[str]:
    """Rows of the cases the attack on the rules found (issue #26), in the submission table's columns."""
    siblings = (
        "each map index its own job; the sibling's never adopted"
        if len(set(mapped.job_ids)) == 2
        else "UNEXPECTED: one job for both map indexes"
    )
    waited = "waited for its own job, then " if "Not known yet" in failed.log else ""
    named = own in failed.log and "adopt_job_id" in failed.log
    return [
        f"| one prompt mapped over two paths; one create answers 502 after 2 s while the sibling buys "
        f"| {mapped.state} | 2 | {mapped.posts} | {mapped.jobs_created} | {siblings} |",
        f"| createdDate 60 s ahead of Date; create answered late; an unrelated image completes meanwhile "
        f"| {failed.state} | {failed.tries} | {failed.posts} | {failed.jobs_created} "
        f"| {waited}failed clearly{', naming the job and adopt_job_id' if named else ''}: nothing bought |",
        f"| the user sets adopt_job_id to that job, task cleared | {adopted.state} | {adopted.tries} "
        f"| {adopted.posts} | {adopted.jobs_created} "
        f"| {'the named job, kept' if adopted.job_id == own else 'UNEXPECTED: another job'} (nothing bought) |",
    ]


def submission_section(steps: list[Step], attacked: list[str]) -> list[str]:
    """The table of the submission scenarios (Airflow >= 3.3, task state store)."""

    def job(index: int, step: Step) -> str:
        if f"Adopted Pictory job {step.job_id}" in step.log:
            waited = " after waiting for it to finish" if "Not known yet" in step.log else ""
            ignored = re.search(r"\b[1-9]\d* identical request\(s\) from before the request ignored", step.log)
            return f"the job try 1 created, adopted{waited}" + (
                "; the other run's identical image ignored" if ignored else ""
            )
        if index > 0 and step.job_id == steps[index - 1].job_id:
            return "the same job, reused (logged)"
        return "a new job" + (f" for the new prompt {step.prompt!r}" if "changed" in step.name else "")

    rows = [
        f"| {step.name} | {step.state} | {step.tries} | {step.posts} | {step.jobs_created} | {job(index, step)} |"
        for index, step in enumerate(steps)
    ]
    return [
        "## Submitting: one paid job per request",
        "",
        "A create request that ended without an answer may have bought a job. The next try decides from",
        "Pictory's lists only (`pictory_provider/reconcile.py`; the rules hold as invariants over generated",
        "accounts in `tests/test_reconcile_properties.py`):",
        "",
        "1. **Send again only on proof** that nothing the request could have made exists: every job listed",
        "   since the request is claimed by another task instance, shows another kind (a render in progress,",
        "   a finished video), or is a finished output with other output fields. A running job is never set",
        "   aside because of its position in the list or a date.",
        "2. **Adopt only** the one job that can be the request's own, when it is a finished output with the",
        "   request's fields, held by no other task instance (a sibling map index, another task of the run,",
        "   this task in earlier runs) and created inside the request's closed window (in Pictory's clock;",
        "   a killed worker's window ends at the request's time limit, connect + read timeout).",
        "3. **Everything else waits** while such a job runs (`reconcile_timeout`), **then fails clearly**,",
        "   listing the jobs that can be its own; `adopt_job_id=` keeps one of them and buys nothing.",
        "4. **A definite answer settles the record:** HTTP 400/401/402/403/404/409/413/422 to a create prove",
        "   nothing was made. **A 404 on a stored job** counts as gone only when it repeats for 60 s and the",
        "   jobs list no longer holds it.",
        "5. **A render's fingerprint is what shapes the video:** `webhook`, `webhookInput`, `projectMetadata`,",
        "   `destinations`, `saveProject`, `awsConnectionId` and `vimeoConnectionId` never make a retry a new",
        "   request; an unclear render is never dropped because its storyboard changed (the task fails).",
        "",
        "Through the same deployment, the operator alone (`PictoryGenerateImageOperator`, deferrable). The",
        "first row: Pictory creates the job but answers after the task's 1 s read timeout (the emulator's",
        "`answer_late` fault), so try 1 fails without a job id; try 2 finds the job in Pictory's lists and",
        "adopts it. Its webhook is templated per try (`...?try={{ ti.try_number }}`): try 2 is still the",
        "same request. The second row: another run bought the identical image (same prompt and model)",
        "just before; this run's create is unclear and its own job is still running when try 2 looks, so",
        "try 2 waits (deferred, in the triggerer) and adopts its own job, never the other run's. The other",
        "rows: one run, then the task cleared with its prompt (a Variable) unchanged, then cleared again",
        "after changing the Variable. *POSTs* and *Jobs created* count every create request Pictory",
        "received and every job it created in the scenario, the other run's included.",
        "",
        "| Scenario | Task outcome | Tries | POSTs | Jobs created | Job |",
        "|---|---|---:|---:|---:|---|",
        *rows,
        *attacked,
        "",
        "The last three rows are the cases an attack on the rules found (issue #26). What is not covered",
        "here, and is asserted against the emulator without a scheduler (`tests/test_never_buy_twice.py`,",
        "`tests/test_submission.py`, `tests/test_reconcile.py`): a create Pictory made after the grace, a",
        "per-try `projectMetadata` on a render, one spurious 404, a killed worker's window, 402/409/413/422",
        "refusals, two identical requests in the window (`PictorySubmissionAmbiguousError`, then",
        "`adopt_job_id`), a render in progress beside an image; an unknown failed job since then, or an",
        "unreadable `createdDate`, fail the retry with `PictorySubmissionUnresolvedError` instead of buying",
        "again; clocks an hour apart change nothing; the job id reaches the task state store before XCom.",
    ]


@dataclass
class DirectRow:
    name: str
    outcome: str
    posts: int
    expected_posts: int
    result: str
    as_expected: bool


def direct_rows(emulator: PictoryEmulator) -> list[DirectRow]:
    """Inputs that need no scheduler to be told apart, run in this process against the same emulator."""
    import json
    import tempfile

    from pictory_provider.exceptions import PictoryError
    from pictory_provider.operators.pictory import PictoryGenerateImageOperator, PictoryGenerateVideoOperator
    from tests.fakes import make_context

    def conn(url: str, **extra: str) -> str:
        return json.dumps({"conn_type": "pictory", "host": url, "password": API_KEY, "extra": extra})

    os.environ["AIRFLOW_CONN_PICTORY_DIRECT"] = conn(emulator.base_url)
    os.environ["AIRFLOW_CONN_PICTORY_LIST"] = conn(emulator.base_url, status_polling="list")
    os.environ["AIRFLOW_CONN_PICTORY_TLS"] = conn(emulator.base_url.replace("http://", "https://"))
    fast = {"max_attempts": 2, "retry_min_wait": 0.1, "retry_max_wait": 0.2}
    rows = []

    def run(name: str, task: Any, expected_posts: int, expect: str) -> None:
        """``expect``: text of the expected error, or ``"success: ..."`` and the text of the result."""
        emulator.reset()
        emulator.set_job_seconds(0.5)
        setup.get(name, lambda: None)()
        try:
            outcome, result = "success", str(task() if callable(task) else task.execute(make_context()))
        except PictoryError as exc:
            outcome, result = f"failed ({type(exc).__name__})", str(exc).replace("|", "/")
        posts = int(emulator.stats()["posts"])
        wanted = expect.removeprefix("success: ")
        ok = outcome.startswith("success" if expect.startswith("success: ") else "failed") and wanted in result
        ok = ok and posts == expected_posts
        rows.append(DirectRow(name, outcome, posts, expected_posts, result, ok))
        print(f"{name}: {outcome}, {posts} POST(s)", flush=True)

    setup = {
        "MP4 cut short, last box 'to the end of the file', no Content-Length": lambda: (
            emulator.configure_list(streamed_mp4=True),
            emulator.add_fault("truncate", route="file"),
        ),
    }
    run(
        "https Base URL to a plain-http server (TLS handshake fails)",
        PictoryGenerateImageOperator(
            task_id="tls", prompt="A TLS test image", pictory_conn_id="pictory_tls", hook_params=fast, deferrable=False
        ),
        0,
        "did you mean http://",
    )
    run(
        "MP4 cut short, last box 'to the end of the file', no Content-Length",
        PictoryGenerateVideoOperator(
            task_id="mp4",
            prompt="A streamed video cut short",
            pictory_conn_id="pictory_direct",
            output_path=tempfile.mkdtemp(prefix="pictory-mp4-") + "/",
            poll_interval=0.2,
            deferrable=False,
        ),
        1,
        "its samples need",
    )

    def summary_items_event() -> str:
        import asyncio

        from pictory_provider.hooks.pictory import PictoryHook
        from pictory_provider.triggers.pictory import PictoryJobTrigger

        os.environ["AIRFLOW_CONN_PICTORY_DEFAULT"] = os.environ["AIRFLOW_CONN_PICTORY_LIST"]
        job_id = PictoryHook().generate_image("A summary-list test image", model="flux-schnell")

        async def first_event() -> dict[str, Any]:
            trigger = PictoryJobTrigger(job_id=job_id, poll_interval=0.5)
            async for event in trigger.run():
                return dict(event.payload)
            raise AssertionError("no event")

        event = asyncio.run(first_event())
        return ", ".join(f"{key}={event[key]}" for key in ("status", "width", "height", "ai_credits_used"))

    setup["jobs list items with status and url only (status_polling list)"] = lambda: emulator.configure_list(
        list_outputs="url"
    )
    run(
        "jobs list items with status and url only (status_polling list)",
        summary_items_event,
        1,
        "success: status=success, width=1024, height=1024, ai_credits_used=0.6",
    )
    return rows


def direct_section(rows: list[DirectRow]) -> list[str]:
    return [
        "## Inputs told apart without a scheduler",
        "",
        "Run by the same script in its own process against the same emulator (`execute()` of the operator",
        "with Airflow's connection lookup; no task state store). *POSTs* counts the create requests",
        "Pictory received.",
        "",
        "| Input | Outcome | POSTs (expected) | Result |",
        "|---|---|---:|---|",
        *(
            f"| {row.name} | {row.outcome}{'' if row.as_expected else ' (UNEXPECTED)'} | {row.posts} "
            f"({row.expected_posts}) | {row.result} |"
            for row in rows
        ),
    ]


if __name__ == "__main__":
    sys.exit(main())
