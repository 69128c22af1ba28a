"""No duplicate paid job through a real Airflow 3.3 deployment (scheduler, dag-processor, triggerer).

Issue #10 item 1 (an unclear create, then a retry) and item 3 (clearing a task with a changed or an
unchanged request); the emulator's counters prove how many jobs Pictory created.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pictory_provider.emulator import PictoryEmulator
from tests.compat import AIRFLOW_V_3_3_PLUS
from tests.conftest import API_KEY

from .harness import AirflowCluster, free_port

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="the task state store arrives in Airflow 3.3"),
]


@pytest.fixture(scope="module")
def e2e_emulator() -> Iterator[PictoryEmulator]:
    with PictoryEmulator(port=free_port(), job_seconds=3) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def cluster(e2e_emulator: PictoryEmulator) -> Iterator[AirflowCluster]:
    with AirflowCluster(e2e_emulator.base_url, API_KEY) as running:
        yield running


def clear_task(cluster: AirflowCluster, dag_id: str, run_id: str, task_id: str) -> None:
    """Clear a finished task (as the UI's "Clear" does): its run goes back to queued and the task runs again."""
    body = {"dry_run": False, "dag_run_id": run_id, "task_ids": [task_id], "only_failed": False}
    cluster._request("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", body)
    cluster.wait_for(
        lambda: cluster.run_state(dag_id, run_id) not in ("success", "failed"), 30, what="the run to be re-queued"
    )


def tries(cluster: AirflowCluster, dag_id: str, run_id: str) -> int:
    ((number,),) = cluster.query(
        "SELECT try_number FROM task_instance WHERE dag_id=? AND run_id=? AND task_id='generate'", dag_id, run_id
    )
    return int(number)


def test_unclear_create_then_retry_adopts_the_job_instead_of_buying_another(cluster, e2e_emulator):
    e2e_emulator.reset()
    e2e_emulator.set_job_seconds(4)
    e2e_emulator.add_fault("answer_late", route="create", delay=3)  # created, answered after the 1 s timeout
    dag_id = "e2e_pictory_unclear_create"
    run_id = cluster.trigger(dag_id)
    assert cluster.wait_for_run(dag_id, run_id) == "success"
    assert tries(cluster, dag_id, run_id) == 2
    stats = e2e_emulator.stats()
    assert (stats["posts"], stats["jobs_created"]) == (1, 1)  # exactly one paid image
    result = cluster.xcom(dag_id, run_id, "generate")
    assert e2e_emulator.job(result["job_id"])["prompt"] == "An image whose creation was never confirmed"
    log = cluster.task_log(dag_id, run_id, "generate")
    assert "may have reached Pictory" in log  # try 1
    assert f"Adopted Pictory job {result['job_id']}" in log  # try 2


def test_cleared_task_reuses_its_job_unless_the_request_changed(cluster, e2e_emulator):
    e2e_emulator.reset()
    e2e_emulator.set_job_seconds(3)
    dag_id = "e2e_pictory_clear"
    cluster.cli("variables", "delete", "e2e_pictory_prompt", check=False)
    run_id = cluster.trigger(dag_id)
    assert cluster.wait_for_run(dag_id, run_id) == "success"
    first = cluster.xcom(dag_id, run_id, "generate")
    assert e2e_emulator.stats()["posts"] == 1

    clear_task(cluster, dag_id, run_id, "generate")  # same request: no second purchase
    assert cluster.wait_for_run(dag_id, run_id) == "success"
    assert tries(cluster, dag_id, run_id) == 2
    assert cluster.xcom(dag_id, run_id, "generate")["job_id"] == first["job_id"]
    assert e2e_emulator.stats()["posts"] == 1
    assert f"Reusing Pictory job {first['job_id']}" in cluster.task_log(dag_id, run_id, "generate")

    cluster.cli("variables", "set", "e2e_pictory_prompt", "A second prompt after clearing")
    clear_task(cluster, dag_id, run_id, "generate")  # changed request: a new job
    assert cluster.wait_for_run(dag_id, run_id) == "success"
    second = cluster.xcom(dag_id, run_id, "generate")
    assert second["job_id"] != first["job_id"]
    assert e2e_emulator.job(second["job_id"])["prompt"] == "A second prompt after clearing"
    assert e2e_emulator.stats()["posts"] == 2
    assert "The request changed since Pictory job" in cluster.task_log(dag_id, run_id, "generate")
