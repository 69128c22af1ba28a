"""Generate an image into an asset: its asset event carries the job's facts in ``extra``.

With ``outlets``, every asset event the operator (or the sensor) emits carries ``job_id``, ``url``,
``ai_credits_used``, ``width``, ``height`` and, with ``output_path``, ``image_path``. The DAG in
example_pictory_asset_consumer.py is scheduled on this asset and reads them.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, Param, dag

from pictory_provider.operators.pictory import PictoryGenerateImageOperator

DAILY_BANNER = Asset("pictory_daily_banner")


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "pictory", "assets"],
    params={"output_path": Param("/tmp/pictory-images/", type="string", description="Folder (ending in /)")},
)
def example_pictory_asset_producer():
    PictoryGenerateImageOperator(
        task_id="generate_banner",
        prompt="A wide banner of rolling hills at sunrise",
        model="flux-schnell",
        aspect_ratio="16:9",
        poll_interval=5,
        output_path="{{ params.output_path }}",
        outlets=[DAILY_BANNER],
    )


example_pictory_asset_producer()
