"""The shared status scan under a real triggerer: a sensor mapped over 50 jobs of one key polls through
GET /pictoryapis/v1/jobs (the emulator's counters show it), and every mapped task gets its own job."""

from __future__ import annotations

import pytest
import requests

from pictory_provider.emulator import PictoryEmulator
from tests.conftest import API_KEY

pytestmark = pytest.mark.timeout(900)

DAG_ID = "e2e_pictory_scan"
JOBS = 50


def create_jobs(emulator: PictoryEmulator, n: int) -> list[str]:
    url = f"{emulator.base_url}/pictoryapis/v1/aistudio/images"
    headers = {"Authorization": API_KEY}
    return [
        requests.post(url, json={"prompt": f"Mapped scan image {i}"}, headers=headers, timeout=10).json()["data"][
            "jobId"
        ]
        for i in range(n)
    ]


def test_mapped_sensor_over_50_jobs_polls_through_the_job_list(cluster, e2e_emulator):
    emulator = e2e_emulator
    emulator.reset()
    cluster.wait_for_dag(DAG_ID)
    emulator.set_job_seconds(600)  # no job completes before finish_jobs() below
    emulator.add_other_jobs(30, data_bytes=5000)  # the account holds other job types too
    job_ids = create_jobs(emulator, JOBS)
    run_id = cluster.trigger(DAG_ID, {"job_ids": job_ids})

    def all_deferred() -> bool:
        rows = cluster.query(
            "SELECT COUNT(*) FROM task_instance WHERE dag_id=? AND run_id=? AND task_id='wait' AND state='deferred'",
            DAG_ID,
            run_id,
        )
        return rows[0][0] == JOBS

    cluster.wait_for(all_deferred, timeout=135, interval=1, what="all 50 mapped sensors to defer")
    # "deferred" in the database comes before the triggerer runs the trigger: until 20 triggers run
    # (SCAN_MIN_JOBS) each first poll is its own GET. Count from the first walk of the list on: from
    # then on every trigger, running or still to start, learns its state from the list.
    cluster.wait_for(
        lambda: emulator.stats()["requests"]["list"] >= 1, timeout=60, interval=0.2, what="the first list walk"
    )
    deferred = emulator.stats()["requests"]
    # two more ticks with all 50 registered (5 s apart; waited for, not timed: a loaded machine ticks late)
    cluster.wait_for(
        lambda: emulator.stats()["requests"]["list"] - deferred["list"] >= 2, timeout=90, interval=0.5, what="2 ticks"
    )
    waiting = emulator.stats()["requests"]
    assert waiting["job"] - deferred["job"] <= 2, (deferred, waiting)  # instead of 50 GETs a tick
    assert emulator.finish_jobs() == JOBS  # no job completed before every sensor waited on it
    assert cluster.wait_for_run(DAG_ID, run_id, timeout=600) == "success"
    done = emulator.stats()["requests"]
    assert done["list"] - waiting["list"] >= 1, (waiting, done)  # the completions came from the list
    # with 50 jobs of one key on one page, no job needed its own GET once all were registered
    assert done["job"] - waiting["job"] <= 2, (waiting, done)
    for index, job_id in enumerate(job_ids):
        assert cluster.xcom(DAG_ID, run_id, "wait", "image_url", map_index=index) == (
            f"{emulator.base_url}/files/{job_id}.png"
        )
    assert API_KEY not in "".join(p.read_text(errors="replace") for p in (cluster.home / "logs").rglob("*.log*"))
