"""E2E: one storyboard render waits in the real triggerer and stores its MP4 and subtitles."""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag

from pictory_provider.operators.render import PictoryRenderVideoOperator


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["e2e"],
    params={"output_path": Param("/tmp/pictory-e2e/", type="string")},
)
def e2e_pictory_render():
    PictoryRenderVideoOperator(
        task_id="render",
        storyboard={
            "videoName": "e2e-render",
            "aspectRatio": "9:16",
            "voiceOver": {"enabled": True, "aiVoices": [{"speaker": "Joanna"}]},
            "scenes": [{"story": "Rendered in the real triggerer."}, {"story": "With subtitles stored."}],
        },
        poll_interval=1,
        output_path="{{ params.output_path }}",
    )


e2e_pictory_render()
