"""E2E: outputs for the UI plugin's views: one DAG the test user "outsider" may read, one they may not."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag

from pictory_provider.operators.pictory import PictoryGenerateImageOperator, PictoryGenerateVideoOperator

PARAMS = {"output_path": Param("/tmp/pictory-e2e-gallery/", type="string")}
WAIT = {"deferrable": False, "poll_interval": 1, "timeout": 300}


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["e2e"], params=PARAMS)
def e2e_pictory_gallery_shared():
    image = PictoryGenerateImageOperator(
        task_id="generate_image",
        prompt="A lighthouse at dawn, watercolor",
        model="flux-schnell",
        aspect_ratio="16:9",
        output_path="{{ params.output_path }}",
        **WAIT,
    )
    video = PictoryGenerateVideoOperator(
        task_id="animate_image",
        prompt="The lighthouse beam sweeps across the waves",
        duration="5s",
        first_frame_image_url="{{ ti.xcom_pull(task_ids='generate_image', key='image_url') }}",
        output_path="{{ params.output_path }}",
        **WAIT,
    )
    image >> video
    PictoryGenerateImageOperator.partial(
        task_id="variants", model="flux-schnell", output_path="{{ params.output_path }}", **WAIT
    ).expand(prompt=["A lighthouse at noon, ink", "A lighthouse at night, neon"])


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["e2e"], params=PARAMS)
def e2e_pictory_gallery_private():
    PictoryGenerateImageOperator(
        task_id="generate_image",
        prompt="A private sketch nobody else may see",
        output_path="{{ params.output_path }}",
        **WAIT,
    )


e2e_pictory_gallery_shared()
e2e_pictory_gallery_private()
