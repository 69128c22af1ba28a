"""Submission scenarios (issue #10 items 1 and 3) through the real scheduler and triggerer.

Shared by tests/e2e/test_no_duplicate_jobs.py (which asserts the outcomes) and scripts/fault_matrix.py
(which writes their table in docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
from dataclasses import dataclass

from pictory_provider.emulator import PictoryEmulator
from tests.conftest import API_KEY

from .harness import AirflowCluster

UNCLEAR_DAG_ID = "e2e_pictory_unclear_create"
UNCLEAR_PROMPT = "An image whose creation was never confirmed"
CLEAR_DAG_ID = "e2e_pictory_clear"
PROMPT_VARIABLE = "e2e_pictory_prompt"
CHANGED_PROMPT = "A second prompt after clearing"


@dataclass
class Step:
    """One finished run (or re-run after clearing) of the ``generate`` task."""

    name: str
    state: str
    tries: int
    posts: int
    jobs_created: int
    job_id: str
    prompt: str
    log: str


def clear_task(cluster: AirflowCluster, dag_id: str, run_id: str, task_id: str) -> None:
    """Clear a finished task (as the UI's "Clear" does): its run goes back to queued and the task runs again."""
    body = {"dry_run": False, "dag_run_id": run_id, "task_ids": [task_id], "only_failed": False}
    cluster._request("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", body)
    cluster.wait_for(
        lambda: cluster.run_state(dag_id, run_id) not in ("success", "failed"), 30, what="the run to be re-queued"
    )


def _finish(cluster: AirflowCluster, emulator: PictoryEmulator, dag_id: str, run_id: str, name: str) -> Step:
    state = cluster.wait_for_run(dag_id, run_id)
    ((tries,),) = cluster.query(
        "SELECT try_number FROM task_instance WHERE dag_id=? AND run_id=? AND task_id='generate'", dag_id, run_id
    )
    job_id = str(cluster.xcom(dag_id, run_id, "generate")["job_id"]) if state == "success" else ""
    record = emulator.job(job_id) if job_id else None
    if job_id:  # the run's state lands before the task's last log lines: wait for the lines naming the job
        with contextlib.suppress(AssertionError):  # (without failing here: the tests' assertions say what is missing)
            cluster.wait_for_log(dag_id, run_id, "generate", job_id, attempt=int(tries))
    stats = emulator.stats()
    return Step(
        name=name,
        state=state,
        tries=int(tries),
        posts=int(stats["posts"]),
        jobs_created=int(stats["jobs_created"]),
        job_id=job_id,
        prompt=str(record["prompt"]) if record else "",
        log=cluster.task_log(dag_id, run_id, "generate"),
    )


def unclear_create_then_retry(cluster: AirflowCluster, emulator: PictoryEmulator) -> Step:
    """Pictory creates the job but answers after the task's 1 s read timeout; try 2 must adopt it."""
    emulator.reset()
    emulator.set_job_seconds(4)
    emulator.add_fault("answer_late", route="create", delay=3)
    run_id = cluster.trigger(UNCLEAR_DAG_ID)
    return _finish(cluster, emulator, UNCLEAR_DAG_ID, run_id, "create answered after the read timeout, then a retry")


def other_run_buys(emulator: PictoryEmulator, prompt: str) -> str:
    """Another DAG run (its own task, its own state store) buys the identical image, and it completes."""
    request = urllib.request.Request(
        f"{emulator.base_url}/pictoryapis/v1/aistudio/images",
        data=json.dumps({"prompt": prompt, "model": "flux-schnell"}).encode(),
        headers={"Authorization": API_KEY, "Content-Type": "application/json"},
        method="POST",
    )
    job_id = str(json.loads(urllib.request.urlopen(request, timeout=10).read())["data"]["jobId"])
    emulator.finish_jobs()
    return job_id


def identical_request_by_another_run(cluster: AirflowCluster, emulator: PictoryEmulator) -> tuple[Step, str]:
    """Another run bought the identical image before this run's request; this run's create is unclear and
    its own job still runs when try 2 looks: try 2 must wait for and adopt its own job, never the other."""
    emulator.reset()
    theirs = other_run_buys(emulator, UNCLEAR_PROMPT)
    emulator.set_job_seconds(8)
    emulator.add_fault("answer_late", route="create", delay=3)
    run_id = cluster.trigger(UNCLEAR_DAG_ID)
    step = _finish(
        cluster, emulator, UNCLEAR_DAG_ID, run_id, "identical request by another run, then an unclear create"
    )
    return step, theirs


def clear_unchanged_then_changed(cluster: AirflowCluster, emulator: PictoryEmulator) -> list[Step]:
    """Run, clear with the same prompt, then change the prompt Variable and clear again."""
    emulator.reset()
    # 12 s, not 3: a job that ends before the scheduler has seen the deferring worker exit makes Airflow
    # fail the resumed task (its deferral race; seen here with 3 s jobs while the fault matrix ran)
    emulator.set_job_seconds(12)
    cluster.cli("variables", "delete", PROMPT_VARIABLE, check=False)
    run_id = cluster.trigger(CLEAR_DAG_ID)
    steps = [_finish(cluster, emulator, CLEAR_DAG_ID, run_id, "first run")]
    clear_task(cluster, CLEAR_DAG_ID, run_id, "generate")
    steps.append(_finish(cluster, emulator, CLEAR_DAG_ID, run_id, "task cleared, prompt unchanged"))
    cluster.cli("variables", "set", PROMPT_VARIABLE, CHANGED_PROMPT)
    clear_task(cluster, CLEAR_DAG_ID, run_id, "generate")
    steps.append(_finish(cluster, emulator, CLEAR_DAG_ID, run_id, "prompt Variable changed, task cleared"))
    return steps


SIBLINGS_DAG_ID = "e2e_pictory_siblings"
ADOPT_VARIABLE = "e2e_pictory_adopt"


@dataclass
class MappedStep:
    """A finished run of the mapped ``generate`` task: each map index's job and what was bought."""

    state: str
    job_ids: list[str]
    stored: list[str]
    posts: int
    jobs_created: int
    log: str


def siblings_one_create_made_nothing(cluster: AirflowCluster, emulator: PictoryEmulator, out: str) -> MappedStep:
    """Issue #26 case 4: one prompt mapped over two output paths; the first create answers 502 after 2 s
    (nothing made) while the sibling buys its image; the retry must buy its own, never adopt the sibling's."""
    emulator.reset()
    emulator.set_job_seconds(1)
    emulator.add_fault("status", route="create", status=502, delay=2)
    cluster.cli("variables", "set", "e2e_pictory_out", out)
    run_id = cluster.trigger(SIBLINGS_DAG_ID)
    state = cluster.wait_for_run(SIBLINGS_DAG_ID, run_id)
    results = [cluster.xcom(SIBLINGS_DAG_ID, run_id, "generate", map_index=i) for i in (0, 1)]
    stats = emulator.stats()
    return MappedStep(
        state=state,
        job_ids=[str(result["job_id"]) for result in results],
        stored=[str(result.get("image_path")) for result in results],
        posts=int(stats["posts"]),
        jobs_created=int(stats["jobs_created"]),
        log=cluster.task_log(SIBLINGS_DAG_ID, run_id, "generate"),
    )


def clock_ahead_then_adopt(cluster: AirflowCluster, emulator: PictoryEmulator) -> tuple[Step, Step, str]:
    """Issue #26 case 1: Pictory's createdDate runs 60 s ahead of its Date header; the create answers late;
    an unrelated image completes while the request's own job still runs. The retry must wait, then fail
    clearly (the own job is dated outside the window) without buying; then the user names the job
    (Variable ``e2e_pictory_adopt`` -> ``adopt_job_id``) and clears the task: it keeps that job."""
    emulator.reset()
    cluster.cli("variables", "delete", ADOPT_VARIABLE, check=False)
    emulator.configure_list(created_skew=60)
    emulator.set_job_seconds(12)
    emulator.add_fault("answer_late", route="create", delay=3)
    run_id = cluster.trigger(UNCLEAR_DAG_ID)
    cluster.wait_for(lambda: emulator.stats()["jobs_created"] >= 1, 120, what="the unclear create")
    emulator.set_job_seconds(0)
    unrelated = urllib.request.Request(
        f"{emulator.base_url}/pictoryapis/v1/aistudio/images",
        data=json.dumps({"prompt": "An unrelated image of a sibling task", "model": "flux-schnell"}).encode(),
        headers={"Authorization": API_KEY, "Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(unrelated, timeout=10).read()
    failed = _finish(cluster, emulator, UNCLEAR_DAG_ID, run_id, "clock 60 s ahead, an unrelated job, then a retry")
    (own,) = jobs_with_prompt(emulator, UNCLEAR_PROMPT)
    cluster.cli("variables", "set", ADOPT_VARIABLE, own)
    clear_task(cluster, UNCLEAR_DAG_ID, run_id, "generate")
    adopted = _finish(cluster, emulator, UNCLEAR_DAG_ID, run_id, "the user names the job: adopt_job_id")
    cluster.cli("variables", "delete", ADOPT_VARIABLE, check=False)
    return failed, adopted, own


def jobs_with_prompt(emulator: PictoryEmulator, prompt: str) -> list[str]:
    """The ids of the emulator's jobs made for ``prompt`` (newest first)."""
    request = urllib.request.Request(
        f"{emulator.base_url}/pictoryapis/v1/jobs", headers={"Authorization": API_KEY}, method="GET"
    )
    items = json.loads(urllib.request.urlopen(request, timeout=10).read())["items"]
    ids = [str(item["data"]["jobId"]) for item in items]
    return [job_id for job_id in ids if (emulator.job(job_id) or {}).get("prompt") == prompt]
