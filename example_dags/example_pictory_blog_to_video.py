"""Every night, turn the blog's posts into narrated, subtitled videos, store them and report the spend.

One storyboard render per post (dynamic task mapping over the posts shipped with this example; a real
DAG reads yesterday's posts from its CMS). The narrator comes from ``list_voices()`` (Pictory: never
invent voice ids). Each render waits in the triggerer and stores ``<job_id>.mp4``, ``.srt`` and
``.vtt`` with ``output_path``; the last task adds up the AI credits the renders used.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from pictory_provider.operators.render import PictoryRenderVideoOperator

#: The posts of the night (title and paragraphs). A real DAG fetches them; this keeps the example runnable.
POSTS = [
    {
        "slug": "release-2-0",
        "title": "Version 2.0 is out",
        "paragraphs": [
            "Version 2.0 turns blog posts into narrated videos.",
            "Every scene gets subtitles, and the video is stored next to them.",
        ],
    },
    {
        "slug": "airflow-tips",
        "title": "Three Airflow tips",
        "paragraphs": ["Defer long waits to the triggerer.", "Store what you paid for as soon as it is ready."],
    },
    {
        "slug": "customer-story",
        "title": "How Acme ships videos nightly",
        "paragraphs": ["Acme's writers publish in the evening; the videos are ready by breakfast."],
    },
]


def storyboard(post: dict, voice: str) -> dict:
    """A post as a storyboard request (checked before the render is bought)."""
    title = {
        "story": post["title"],
        "background": {"aiVisual": {"prompt": f"Editorial illustration: {post['title']}"}, "type": "image"},
    }
    # --8<-- [start:storyboard]
    return {
        "videoName": post["slug"],
        "aspectRatio": "16:9",
        "voiceOver": {"enabled": True, "aiVoices": [{"speaker": voice, "speed": 100}]},
        "backgroundMusic": {"enabled": True, "autoMusic": True, "volume": 0.1},
        "scenes": [title, *({"story": text, "createSceneOnEndOfSentence": True} for text in post["paragraphs"])],
    }
    # --8<-- [end:storyboard]


@dag(
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["example", "pictory"],
    params={
        "language": Param("en-US", type="string", description="Narration language (a voice's language)"),
        "output_path": Param("/tmp/pictory-videos/", type="string", description="Folder (ending in /)"),
    },
)
def example_pictory_blog_to_video():
    @task
    def pick_voice(params: dict) -> str:
        """The first voice Pictory offers in the language (lookups happen in tasks, never at parse time)."""
        from pictory_provider.hooks.pictory import PictoryHook

        voices = PictoryHook().list_voices()
        matching = [voice for voice in voices if voice.get("language") == params["language"]] or voices
        return str(matching[0]["name"])

    @task
    def storyboards(voice: str) -> list[dict]:
        """One storyboard per post: a title scene with an AI visual, then one narrated scene per paragraph."""
        return [storyboard(post, voice) for post in POSTS]

    # --8<-- [start:render]
    renders = PictoryRenderVideoOperator.partial(
        task_id="render_video",
        output_path="{{ params.output_path }}",
        poll_interval=10,
        timeout=60 * 60,
    ).expand(storyboard=storyboards(pick_voice()))
    # --8<-- [end:render]

    @task
    def spend_report(results: list[dict]) -> dict:
        results = results[:]  # one request; iterating would end on an "XCom not found" ERROR line
        credits = round(sum(result["ai_credits_used"] or 0 for result in results), 4)
        for result in results:
            print(f"{result['video_path']} ({result['duration']} s, subtitles {result['srt_path']})")
        print(f"{len(results)} videos, {credits:g} AI credits")
        return {"videos": [result["video_path"] for result in results], "ai_credits_used": credits}

    spend_report(renders.output)


example_pictory_blog_to_video()
