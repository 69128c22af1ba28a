"""One operator mapped over a list of prompts, then a task that sums the AI credits spent."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from pictory_provider.operators.pictory import PictoryGenerateImageOperator

PROMPTS = [
    "A red fox in fresh snow, morning light",
    "A minimalist poster of a mountain range",
    "A vintage travel postcard of a seaside town",
]


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "pictory"],
    params={"output_path": Param("/tmp/pictory-images/", type="string", description="Folder (ending in /)")},
)
def example_pictory_mapped():
    images = PictoryGenerateImageOperator.partial(
        task_id="generate",
        model="flux-schnell",
        aspect_ratio="1:1",
        poll_interval=5,
        output_path="{{ params.output_path }}",
    ).expand(prompt=PROMPTS)

    @task
    def total_credits(results) -> float:
        results = results[:]  # one request; iterating would end on an "XCom not found" ERROR line
        total = round(sum(result["ai_credits_used"] for result in results), 4)
        print(f"{len(results)} images cost {total} AI credits")
        return total

    total_credits(images.output)


example_pictory_mapped()
