"""E2E: the prompt comes from a Variable; clearing the task reuses the job only if the prompt is unchanged."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from pictory_provider.operators.pictory import PictoryGenerateImageOperator

PROMPT_VARIABLE = "e2e_pictory_prompt"


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def e2e_pictory_clear():
    PictoryGenerateImageOperator(
        task_id="generate",
        prompt="{{ var.value.get('" + PROMPT_VARIABLE + "', 'A first prompt for the clear test') }}",
        model="flux-schnell",
        poll_interval=1,
        timeout=120,
        retries=0,
    )


e2e_pictory_clear()
