"""Preview a storyboard, let a person approve it, and only then pay for the render (Airflow >= 3.1).

The preview task creates Pictory's storyboard preview (no render yet); the approval task waits for a
human in the Airflow UI (human-in-the-loop operators, Airflow 3.1+); the render task renders exactly
the reviewed preview (``preview_job_id``). The approval's body links Pictory's preview player
(XCom ``preview_url``), so the reviewer watches before paying. Rejecting skips the render: nothing is
bought. A person approves in the UI under Browse -> Required Actions (or the task instance's Required
Actions tab). After ``response_timeout`` with no answer the approval task fails and the render never
runs: nothing is bought either. To change the preview before rendering, render its modified
``renderParams`` instead (``render_params=``, ``POST /v2/video/render``; see docs/renders.md). On older
Airflow this file defines no DAG.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag

from pictory_provider.operators.render import PictoryRenderVideoOperator

try:  # the human-in-the-loop operators arrived in Airflow 3.1
    from airflow.providers.standard.operators.hitl import ApprovalOperator
except Exception:  # pragma: no cover - ImportError before 3.0; Airflow 3.0 raises its "needs Airflow 3.1+"
    ApprovalOperator = None

STORYBOARD = {
    "videoName": "{{ params.video_name }}",
    "aspectRatio": "9:16",
    "voiceOver": {"enabled": True, "aiVoices": [{"speaker": "{{ params.voice }}"}]},
    "scenes": [{"story": "{{ params.script }}", "createSceneOnEndOfSentence": True}],
}

if ApprovalOperator is not None:

    @dag(
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        tags=["example", "pictory", "hitl"],
        params={
            "video_name": Param("launch-teaser", type="string"),
            "voice": Param("Joanna", type="string", description="A voice name from list_voices()"),
            "script": Param("Meet the new app. It turns your words into video.", type="string", minLength=1),
            "output_path": Param("/tmp/pictory-videos/", type="string", description="Folder (ending in /)"),
        },
    )
    def example_pictory_render_approval():
        # --8<-- [start:approval]
        preview = PictoryRenderVideoOperator(task_id="preview", storyboard=STORYBOARD, preview_only=True)
        approve = ApprovalOperator(
            task_id="approve",
            subject="Render the video {{ params.video_name }}?",
            body=(
                "Preview job {{ ti.xcom_pull(task_ids='preview', key='job_id') }} is ready for review: "
                "[watch the preview]({{ ti.xcom_pull(task_ids='preview', key='preview_url') }})."
            ),
            response_timeout=timedelta(hours=12),  # then it fails and the render never runs: nothing bought
        )
        render = PictoryRenderVideoOperator(
            task_id="render",
            preview_job_id="{{ ti.xcom_pull(task_ids='preview', key='job_id') }}",
            output_path="{{ params.output_path }}",
        )
        preview >> approve >> render
        # --8<-- [end:approval]

    example_pictory_render_approval()
