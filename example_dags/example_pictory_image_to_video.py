"""Generate a still, animate it into a video, store both files and report the AI credits spent.

The video starts from the image: ``first_frame_image_url`` is templated from the image task's
``image_url`` XCom. Both operators wait in the triggerer (deferrable) and store their output with
``output_path``; the last task adds up the credits.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from pictory_provider.operators.pictory import PictoryGenerateImageOperator, PictoryGenerateVideoOperator


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "pictory"],
    params={
        "prompt": Param("A paper boat on a rain-soaked street, neon reflections", type="string", minLength=5),
        "motion": Param("The boat drifts forward as raindrops ripple the puddles", type="string", minLength=5),
        "output_path": Param("/tmp/pictory-media/", type="string", description="Folder (ending in /)"),
    },
)
def example_pictory_image_to_video():
    # --8<-- [start:operators]
    image = PictoryGenerateImageOperator(
        task_id="generate_image",
        prompt="{{ params.prompt }}",
        model="flux-schnell",
        aspect_ratio="16:9",
        poll_interval=5,
        output_path="{{ params.output_path }}",
    )

    video = PictoryGenerateVideoOperator(
        task_id="animate_image",
        prompt="{{ params.motion }}",
        model="pixverse5.5",
        aspect_ratio="16:9",
        duration="5s",
        first_frame_image_url="{{ ti.xcom_pull(task_ids='generate_image', key='image_url') }}",
        poll_interval=10,
        timeout=60 * 60,
        output_path="{{ params.output_path }}",
    )
    # --8<-- [end:operators]

    @task
    def report(image: dict, video: dict) -> dict:
        credits = round(image["ai_credits_used"] + video["ai_credits_used"], 4)
        print(f"Image {image['image_path']} ({image['ai_credits_used']} AI credits)")
        print(
            f"Video {video['video_path']}: {video['duration']} s, {video['width']}x{video['height']} "
            f"({video['ai_credits_used']} AI credits); last frame {video['last_frame_image_url']}"
        )
        print(f"Total: {credits} AI credits")
        return {"image_path": image["image_path"], "video_path": video["video_path"], "ai_credits_used": credits}

    image >> video
    report(image.output, video.output)


example_pictory_image_to_video()
