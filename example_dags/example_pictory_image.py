"""Submit a Pictory image job, wait for it in the triggerer, then use and store the image.

The submit task returns at once (XCom ``job_id``); the deferrable sensor waits without holding a
worker slot and publishes ``image_url`` and ``ai_credits_used``; a TaskFlow task uses them.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from pictory_provider.operators.pictory import PictoryGenerateImageOperator
from pictory_provider.sensors.pictory import PictoryImageJobSensor


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "pictory"],
    params={
        "prompt": Param("A lighthouse on a cliff at dawn, soft light", type="string", minLength=5, maxLength=5000),
        "output_path": Param("/tmp/pictory-images/", type="string", description="Folder (ending in /) or file"),
    },
)
def example_pictory_image():
    # No retries on the submit step: each try would buy a new image. Retries belong on the sensor.
    submit = PictoryGenerateImageOperator(
        task_id="submit",
        prompt="{{ params.prompt }}",
        model="flux-schnell",
        aspect_ratio="16:9",
        wait_for_completion=False,
        retries=0,
    )

    wait = PictoryImageJobSensor(
        task_id="wait_for_image",
        job_id="{{ ti.xcom_pull(task_ids='submit', key='job_id') }}",
        poke_interval=5,
        timeout=30 * 60,
        retries=2,
    )

    @task
    def use_image(ti=None, params=None) -> dict:
        from pictory_provider.storage import store_image

        url = ti.xcom_pull(task_ids="wait_for_image", key="image_url")
        credits = ti.xcom_pull(task_ids="wait_for_image", key="ai_credits_used")
        job_id = ti.xcom_pull(task_ids="submit", key="job_id")
        path = store_image(url, params["output_path"], job_id=job_id)
        print(f"Pictory job {job_id}: {url} cost {credits} AI credits, stored at {path}")
        return {"job_id": job_id, "url": url, "ai_credits_used": credits, "image_path": path}

    submit >> wait >> use_image()


example_pictory_image()
