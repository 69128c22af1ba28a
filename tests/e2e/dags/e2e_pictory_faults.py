"""E2E: submit, then a deferrable sensor with short HTTP timeouts and a small retry budget."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from pictory_provider.operators.pictory import PictoryGenerateImageOperator
from pictory_provider.sensors.pictory import PictoryImageJobSensor

FAST_RETRIES = {"read_timeout": 2, "max_attempts": 4, "retry_min_wait": 0.5, "retry_max_wait": 2}


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def e2e_pictory_faults():
    submit = PictoryGenerateImageOperator(
        task_id="submit", prompt="An e2e test image", model="flux-schnell", wait_for_completion=False, retries=0
    )
    wait = PictoryImageJobSensor(
        task_id="wait",
        job_id="{{ ti.xcom_pull(task_ids='submit', key='job_id') }}",
        poke_interval=1,
        timeout=300,
        hook_params=FAST_RETRIES,
        retries=0,
    )
    submit >> wait


e2e_pictory_faults()
