"""E2E (issue #26 case 4): one prompt mapped over two output paths; one map index's create answers 502
after a while (nothing made) while its sibling buys its image. The retry must never adopt the
sibling's job: each map index stores its own image."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag

from pictory_provider.operators.pictory import PictoryGenerateImageOperator


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["e2e"])
def e2e_pictory_siblings():
    PictoryGenerateImageOperator.partial(
        task_id="generate",
        prompt="One prompt, two destinations",
        model="flux-schnell",
        poll_interval=1,
        timeout=120,
        hook_params={"read_timeout": 5, "retry_min_wait": 0.2, "retry_max_wait": 1},
        retries=1,
        retry_delay=timedelta(seconds=1),
    ).expand(output_path=["{{ var.value.e2e_pictory_out }}/a/", "{{ var.value.e2e_pictory_out }}/b/"])


e2e_pictory_siblings()
