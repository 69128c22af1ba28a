"""E2E: the operator's first try fails after submitting (one failed poll), the retry must resume."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag

from pictory_provider.operators.pictory import PictoryGenerateImageOperator


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def e2e_pictory_retry():
    PictoryGenerateImageOperator(
        task_id="generate",
        prompt="An image that survives a retry",
        deferrable=False,
        poll_interval=1,
        hook_params={"max_attempts": 1},
        retries=1,
        retry_delay=timedelta(seconds=1),
    )


e2e_pictory_retry()
