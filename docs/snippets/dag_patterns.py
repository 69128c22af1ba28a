"""Task patterns shown on the operator, sensor, hook and storage pages, as one parseable DAG.

tests/test_docs.py imports this file, checks the DAG's tasks and their settings, and runs the
TaskFlow hook task against the emulator.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from pictory_provider.operators.pictory import PictoryGenerateImageOperator, PictoryGenerateVideoOperator
from pictory_provider.operators.render import PictoryRenderVideoOperator
from pictory_provider.sensors.pictory import PictoryImageJobSensor, PictoryVideoJobSensor

JOB_ID = "{{ ti.xcom_pull(task_ids='submit', key='job_id') }}"


# --8<-- [start:hook_task]
@task
def generate_with_hook(prompt: str, poll_interval: float = 15, timeout: float = 600) -> dict:
    """Submit and wait in the worker with the hook; returns the job as a dict (XCom-friendly)."""
    from pictory_provider.hooks.pictory import PictoryHook

    hook = PictoryHook("pictory_default", max_attempts=8)
    job_id = hook.generate_image(prompt, model="flux-schnell", aspect_ratio="1:1")
    job = hook.wait_for_job(job_id, poll_interval=poll_interval, timeout=timeout)
    return job.to_dict()  # job_id, status, url, width, height, ai_credits_used, ...


# --8<-- [end:hook_task]


# --8<-- [start:escape_hatch]
def list_project_names(conn_id: str = "pictory_default") -> list[str]:
    """The account's projects (List Projects, GET /v2/projects), page by page: the pattern for any paged endpoint
    (the hook's own list_projects() does this one)."""
    from pictory_provider.hooks.pictory import PictoryHook

    hook = PictoryHook(conn_id)
    names, page_key = [], None
    while True:
        params = {"pagekey": page_key} if page_key else None
        page = hook.request("GET", "/pictoryapis/v2/projects", params=params)
        names += [project["name"] for project in page["items"]]
        page_key = page.get("pageKey")
        if not page_key:
            return names


# --8<-- [end:escape_hatch]


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["docs", "pictory"],
)
def docs_pictory_patterns():
    # --8<-- [start:project_render]
    # Render a saved project as people left it in Pictory's web app (ids from PictoryHook().list_projects()).
    PictoryRenderVideoOperator(
        task_id="render_weekly_update",
        project_id="{{ var.value.weekly_update_project }}",
        output_path="s3://my_aws@my-bucket/pictory/weekly/",
    )
    # --8<-- [end:project_render]

    # --8<-- [start:submit_only]
    # Submit only: returns the job id at once (also XCom "job_id"). No retries: each try buys an image.
    submit = PictoryGenerateImageOperator(
        task_id="submit",
        prompt="A lighthouse on a cliff at dawn, soft light",
        wait_for_completion=False,
        retries=0,
    )
    # --8<-- [end:submit_only]

    # --8<-- [start:sensor_deferrable]
    # Deferrable (the default): one check in the worker, then the wait moves to the triggerer.
    wait = PictoryImageJobSensor(
        task_id="wait_for_image",
        job_id="{{ ti.xcom_pull(task_ids='submit', key='job_id') }}",
        poke_interval=15,  # also the trigger's poll interval; Pictory asks for 10-30 s
        timeout=30 * 60,  # seconds; AirflowSensorTimeout after that
        retries=2,  # safe here: retrying a wait never buys a new image
        hook_params={"max_attempts": 8, "retry_max_wait": 60},
    )
    # --8<-- [end:sensor_deferrable]

    # --8<-- [start:sensor_reschedule]
    # No triggerer? Wait in the worker instead, freeing the slot between pokes.
    wait_in_worker = PictoryImageJobSensor(
        task_id="wait_in_worker",
        job_id=JOB_ID,
        deferrable=False,
        mode="reschedule",
        poke_interval=30,
        timeout=30 * 60,
    )
    # --8<-- [end:sensor_reschedule]

    # --8<-- [start:sensor_soft_fail_store]
    # An optional image: a failed job or a timeout skips the task instead of failing it,
    # and the PNG is stored in S3 (needs the amazon provider and the "my_aws" connection).
    optional_image = PictoryImageJobSensor(
        task_id="optional_image",
        job_id=JOB_ID,
        soft_fail=True,
        timeout=20 * 60,
        output_path="s3://my_aws@my-bucket/pictory/",  # folder: stored as <job_id>.png
    )
    # --8<-- [end:sensor_soft_fail_store]

    # --8<-- [start:operator_waits]
    # Submit and wait in one task; on Airflow >= 3.3 a retry resumes the same job.
    PictoryGenerateImageOperator(
        task_id="generate",
        prompt="A cozy reading nook, warm light",
        model="seedream3.0",
        aspect_ratio="9:16",
        style="photorealistic",
        poll_interval=15,
        timeout=30 * 60,
        retries=2,
        retry_delay=timedelta(minutes=1),
        output_path="/data/pictory/{{ run_id }}.png",  # a file path; parents are created
    )
    # --8<-- [end:operator_waits]

    # --8<-- [start:operator_sync]
    # Wait in the worker (no triggerer needed); the task holds its slot while it polls.
    PictoryGenerateImageOperator(
        task_id="generate_sync",
        prompt="A vintage travel postcard of a seaside town",
        deferrable=False,
        poll_interval=15,
        timeout=10 * 60,
        pictory_conn_id="pictory_staging",
    )
    # --8<-- [end:operator_sync]

    # --8<-- [start:video_sensor]
    # Submit a video (no retries: each try buys a video), then wait for it with retries on the sensor.
    submit_video = PictoryGenerateVideoOperator(
        task_id="submit_video",
        prompt="Waves roll onto a moonlit beach",
        model="veo3.1_fast",
        aspect_ratio="16:9",
        duration="8s",
        wait_for_completion=False,
        retries=0,
    )
    wait_for_video = PictoryVideoJobSensor(
        task_id="wait_for_video",
        job_id="{{ ti.xcom_pull(task_ids='submit_video', key='job_id') }}",
        poke_interval=30,  # videos take minutes; poll gently
        timeout=60 * 60,
        retries=2,
        output_path="/data/pictory/videos/",  # folder: stored as <job_id>.mp4
    )
    submit_video >> wait_for_video
    # --8<-- [end:video_sensor]

    submit >> [wait, wait_in_worker, optional_image]
    generate_with_hook("A watercolor map of an island")


docs_pictory_patterns()
