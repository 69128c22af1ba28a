"""Personalised template videos: one render per row of a small CSV, each row's values as the template's variables.

A template designed in Pictory's web app carries ``{{Name}}``-style variables; this DAG renders it once
per row of ``example_pictory_template_videos.csv`` (beside this file; a real DAG reads its CRM export)
with dynamic task mapping. Each render first reads the template (``GET /v1/templates/{id}``, free) and
refuses a row whose columns are not exactly the template's variables ("did you mean Name?") before
anything is bought; then it waits in the triggerer and stores ``<job_id>.mp4``, ``.srt`` and ``.vtt``.
The last task adds up the AI credits the renders used.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pendulum
from airflow.sdk import Param, dag, task

from pictory_provider.operators.render import PictoryRenderVideoOperator

#: The rows to personalise, one video each (the header names the template's variables).
ROWS_CSV = Path(__file__).with_suffix(".csv")


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "pictory"],
    params={
        # the id of a template of your account: PictoryHook().list_templates() lists them
        "template_id": Param("202507141030549677ylq8k8gu44vy1y", type="string", description="Pictory template id"),
        "output_path": Param("/tmp/pictory-template-videos/", type="string", description="Folder (ending in /)"),
    },
)
def example_pictory_template_videos():
    @task
    def read_rows() -> list[dict[str, str]]:
        """The CSV's rows as the templates' variables (a file read in a task, never at parse time)."""
        with ROWS_CSV.open(newline="", encoding="utf-8") as rows:
            return [dict(row) for row in csv.DictReader(rows)]

    # --8<-- [start:render]
    videos = PictoryRenderVideoOperator.partial(
        task_id="render_template_video",
        template_id="{{ params.template_id }}",
        video_name="welcome-{{ ti.map_index }}",
        output_path="{{ params.output_path }}",
        poll_interval=10,
        timeout=60 * 60,
    ).expand(variables=read_rows())
    # --8<-- [end:render]

    @task
    def spend_report(results: list[dict]) -> dict:
        results = results[:]  # one request; iterating would end on an "XCom not found" ERROR line
        credits = round(sum(result["ai_credits_used"] or 0 for result in results), 4)
        for result in results:
            print(f"{result['video_path']} ({result['duration']} s)")
        print(f"{len(results)} personalised videos, {credits:g} AI credits")
        return {"videos": [result["video_path"] for result in results], "ai_credits_used": credits}

    spend_report(videos.output)


example_pictory_template_videos()
