"""A recorded webinar becomes a short, narrated highlight video with subtitles.

Upload the recording (``upload_media``), transcribe it (``.srt``, ``.vtt``, ``.txt`` and the word-level
transcript stored with ``output_path``), ask Pictory for its highlights, and render them as a narrated,
subtitled video (a storyboard of one scene per highlight; the narrator comes from ``list_voices()``).
Every paid step waits in the triggerer; a retry resumes its job instead of paying twice. Without a
``recording`` the example uses a 3-second sample clip, so it runs as it is.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from pictory_provider.operators.render import PictoryRenderVideoOperator
from pictory_provider.operators.transcribe import PictoryHighlightsOperator, PictoryTranscribeOperator


def highlight_storyboard(highlights: list[dict], voice: str, name: str) -> dict:
    """The highlights as a storyboard: one narrated scene per highlight (Pictory renders its subtitles)."""
    return {
        "videoName": name,
        "aspectRatio": "16:9",
        "voiceOver": {"enabled": True, "aiVoices": [{"speaker": voice, "speed": 100}]},
        "backgroundMusic": {"enabled": True, "autoMusic": True, "volume": 0.1},
        "scenes": [{"story": segment["text"], "createSceneOnEndOfSentence": True} for segment in highlights],
    }


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["example", "pictory"],
    params={
        "recording": Param("", type="string", description="The recording: a path or URL Airflow can read"),
        "highlight_seconds": Param(20, type="integer", minimum=5, description="Seconds of highlights"),
        "output_path": Param("/tmp/pictory-webinar/", type="string", description="Folder (ending in /)"),
    },
)
def example_pictory_webinar_highlights():
    @task
    def upload(params: dict) -> str:
        """Upload the recording to Pictory; its permanent URL is what Pictory transcribes."""
        import tempfile
        from pathlib import Path

        from pictory_provider.hooks.pictory import PictoryHook

        recording = params["recording"]
        if not recording:  # no recording given: a 3-second sample clip stands in
            from pictory_provider.emulator.media import encode_mp4

            recording = str(Path(tempfile.mkdtemp(prefix="pictory-webinar-")) / "webinar.mp4")
            Path(recording).write_bytes(encode_mp4(640, 360, 3, (30, 60, 120), (200, 220, 240)))
        return PictoryHook().upload_media(recording)

    # --8<-- [start:transcribe]
    transcribe = PictoryTranscribeOperator(
        task_id="transcribe",
        file_url=upload(),
        language="en-US",
        output_path="{{ params.output_path }}",  # <job_id>.srt, .vtt, .txt and .json
    )
    highlights = PictoryHighlightsOperator(
        task_id="highlights",
        transcription_job_id="{{ ti.xcom_pull(task_ids='transcribe', key='job_id') }}",
        highlight_duration="{{ params.highlight_seconds }}",
    )
    # --8<-- [end:transcribe]
    transcribe >> highlights

    @task
    def pick_voice() -> str:
        """An English narrator Pictory offers (never invent voice ids)."""
        from pictory_provider.hooks.pictory import PictoryHook

        voices = PictoryHook().list_voices()
        return str(next((v for v in voices if v.get("language") == "en-US"), voices[0])["name"])

    @task
    def storyboard(highlights: list[dict], voice: str) -> dict:
        print(f"{len(highlights)} highlights: " + " | ".join(segment["text"] for segment in highlights))
        return highlight_storyboard(highlights, voice, "webinar-highlights")

    render = PictoryRenderVideoOperator(
        task_id="render",
        storyboard=storyboard(highlights.output["highlights"], pick_voice()),
        output_path="{{ params.output_path }}",  # <job_id>.mp4 with its .srt and .vtt subtitles
        poll_interval=10,
    )

    @task
    def report(transcript: dict, video: dict) -> dict:
        print(f"Transcript: {transcript['txt_path']} ({transcript['duration']} s of recording)")
        print(f"Highlight video: {video['video_path']} ({video['duration']} s, subtitles {video['srt_path']})")
        return {"transcript": transcript["txt_path"], "video": video["video_path"], "subtitles": video["srt_path"]}

    report(transcribe.output, render.output)


example_pictory_webinar_highlights()
