"""E2E: Pictory creates the job but answers after the read timeout; the retry must adopt that job (and
only that job: not another run's identical image). The webhook is templated per try, as users correlate
callbacks: the retry is still the same request."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag

from pictory_provider.operators.pictory import PictoryGenerateImageOperator


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def e2e_pictory_unclear_create():
    PictoryGenerateImageOperator(
        task_id="generate",
        prompt="An image whose creation was never confirmed",
        model="flux-schnell",
        webhook="http://127.0.0.1:9/pictory-hook?try={{ ti.try_number }}",
        poll_interval=1,
        timeout=120,
        hook_params={"read_timeout": 1, "retry_min_wait": 0.2, "retry_max_wait": 1},
        retries=1,
        retry_delay=timedelta(seconds=1),
        # the way out of an unresolved submission, set by a test: "this listed job is mine"
        adopt_job_id="{{ var.value.get('e2e_pictory_adopt', '') }}",
    )


e2e_pictory_unclear_create()
