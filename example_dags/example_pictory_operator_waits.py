"""The operator submits and waits itself (deferrable), then stores the PNG via ``output_path``."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from pictory_provider.operators.pictory import PictoryGenerateImageOperator


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "pictory"],
    params={"output_path": Param("/tmp/pictory-images/", type="string", description="Folder (ending in /) or file")},
)
def example_pictory_operator_waits():
    image = PictoryGenerateImageOperator(
        task_id="generate_image",
        prompt="A cozy reading nook, warm light",
        model="seedream3.0",
        aspect_ratio="9:16",
        style="photorealistic",
        deferrable=True,
        poll_interval=5,
        timeout=30 * 60,
        output_path="{{ params.output_path }}",
    )

    @task
    def report(result: dict) -> None:
        print(
            f"{result['width']}x{result['height']} image, {result['ai_credits_used']} credits: {result['image_path']}"
        )

    report(image.output)


example_pictory_operator_waits()
