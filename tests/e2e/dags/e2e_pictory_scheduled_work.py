"""E2E (issue #30): each capability of Pictory's scheduled work through the real triggerer: a transcription
(its texts stored), highlights of that transcription, a saved project's render and a template video. Every
task defers to the one PictoryJobTrigger and completes from its event."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from pictory_provider.operators.render import PictoryRenderVideoOperator
from pictory_provider.operators.transcribe import PictoryHighlightsOperator, PictoryTranscribeOperator

WAIT = {"poll_interval": 1, "timeout": 300, "hook_params": {"retry_min_wait": 0.2, "retry_max_wait": 1}}


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["e2e"],
    params={"output_path": "/tmp/e2e-pictory-scheduled-work/"},
)
def e2e_pictory_scheduled_work():
    transcribe = PictoryTranscribeOperator(
        task_id="transcribe",
        file_url="https://media.example.com/webinar.mp4",
        output_path="{{ params.output_path }}",
        **WAIT,
    )
    highlights = PictoryHighlightsOperator(
        task_id="highlights",
        transcription_job_id="{{ ti.xcom_pull(task_ids='transcribe', key='job_id') }}",
        highlight_duration=30,
        **WAIT,
    )
    project = PictoryRenderVideoOperator(
        task_id="project", project_id="20251222191648030d7df02f5b4054d4ca8831f1369459e25", **WAIT
    )
    template = PictoryRenderVideoOperator(
        task_id="template",
        template_id="202507141030549677ylq8k8gu44vy1y",
        variables={"Name": "Ada", "Company": "Analytical Engines"},
        video_name="welcome-ada",
        **WAIT,
    )
    transcribe >> highlights >> project >> template  # one after another: each wait is the triggerer's


e2e_pictory_scheduled_work()
