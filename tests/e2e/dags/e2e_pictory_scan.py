"""E2E: a deferrable sensor mapped over many Pictory jobs (their ids come in the run's conf)."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from pictory_provider.sensors.pictory import PictoryImageJobSensor


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["e2e"],
    params={"job_ids": Param([], type="array")},
    max_active_tasks=64,
)
def e2e_pictory_scan():
    @task
    def job_ids(params=None) -> list[str]:
        return list(params["job_ids"])

    PictoryImageJobSensor.partial(task_id="wait", poke_interval=5, timeout=900, retries=0).expand(job_id=job_ids())


e2e_pictory_scan()
