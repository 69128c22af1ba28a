"""The video API contract: the Generate Video body, its validation table, the one parser on video jobs,
and the job-kind table that keeps image and video one design."""

from __future__ import annotations

import pytest

from pictory_provider import api
from pictory_provider.ai_studio import build_video_request, video_request_errors
from pictory_provider.api import (
    VIDEO_MODEL_CREDITS_PER_SECOND,
    VIDEOS_PATH,
    JobStatus,
    parse_duration,
    parse_job,
    video_credits,
)
from pictory_provider.events import EVENT_KEYS, make_event
from pictory_provider.exceptions import PictoryValidationError
from pictory_provider.kinds import IMAGE, JOB_KINDS, VIDEO

JOB_ID = "4d82d040-4394-4371-867d-72ae1dd62b6d"
COMPLETED_VIDEO = {
    "job_id": JOB_ID,
    "success": True,
    "data": {
        "status": "completed",
        "url": "https://cdn.example.com/videos/v.mp4",
        "duration": "8s",
        "width": 1280,
        "height": 720,
        "thumbnailImageUrl": "https://cdn.example.com/videos/v-thumb.jpg",
        "previewImageUrl": "https://cdn.example.com/videos/v-preview.jpg",
        "lastFrameImageUrl": "https://cdn.example.com/videos/v-last.png",
        "aiCreditsUsed": 160,
    },
}


def test_shared_names():
    assert VIDEOS_PATH == "/pictoryapis/v1/aistudio/videos"
    assert VIDEO_MODEL_CREDITS_PER_SECOND == {"veo3.1": 20, "veo3.1_fast": 10, "pixverse5.5": 1.6}


def test_build_video_request_uses_documented_camel_case_body():
    body = build_video_request(
        "A paper boat drifting down a rainy street",
        model="veo3.1_fast",
        aspect_ratio="9:16",
        duration="6s",
        reference_image_urls=["https://example.com/a.png", "http://example.com/b.png"],
        webhook="https://hooks.example.com/pictory",
    )
    assert body == {
        "prompt": "A paper boat drifting down a rainy street",
        "model": "veo3.1_fast",
        "aspectRatio": "9:16",
        "duration": "6s",
        "referenceImageUrls": ["https://example.com/a.png", "http://example.com/b.png"],
        "webhook": "https://hooks.example.com/pictory",
    }
    assert build_video_request("Five!") == {"prompt": "Five!"}
    first = build_video_request("Animate it", first_frame_image_url="https://x.example/f.png", duration=10)
    assert first == {"prompt": "Animate it", "firstFrameImageUrl": "https://x.example/f.png", "duration": "10s"}
    extend = build_video_request("Go on", model="veo3.1", extend_video_url="https://x.example/v.mp4")
    assert extend["extendVideoUrl"] == "https://x.example/v.mp4"
    assert build_video_request("Tuple refs", reference_image_urls=("https://x.example/r.png",))[
        "referenceImageUrls"
    ] == ["https://x.example/r.png"]


URL = "https://example.com/image.png"


@pytest.mark.parametrize(
    ("kwargs", "field", "needle"),
    [
        ({"prompt": "four"}, "prompt", "5 to 5000 characters long (got 4)"),
        ({"prompt": "x" * 5001}, "prompt", "(got 5001)"),
        ({"prompt": None}, "prompt", "required"),
        ({"model": "sora"}, "model", "veo3.1, veo3.1_fast, pixverse5.5"),
        ({"model": "seedream3.0"}, "model", "veo3.1, veo3.1_fast, pixverse5.5"),
        ({"model": "veo3.1", "aspect_ratio": "1:1"}, "aspectRatio", "16:9, 9:16 for model veo3.1"),
        ({"model": "veo3.1_fast", "aspect_ratio": "4:3"}, "aspectRatio", "16:9, 9:16 for model veo3.1_fast"),
        ({"aspect_ratio": "21:9"}, "aspectRatio", "16:9, 9:16, 1:1, 3:4, 4:3 for model pixverse5.5"),
        ({"model": "veo3.1", "duration": "5s"}, "duration", "4s, 6s, 8s for model veo3.1"),
        ({"model": "veo3.1_fast", "duration": "10s"}, "duration", "4s, 6s, 8s for model veo3.1_fast"),
        ({"duration": "4s"}, "duration", "5s, 8s, 10s for model pixverse5.5"),
        ({"duration": 7}, "duration", "5s, 8s, 10s for model pixverse5.5 (got '7s')"),
        ({"duration": "8"}, "duration", "(got '8')"),
        ({"first_frame_image_url": "not a url"}, "firstFrameImageUrl", "absolute http(s) URL"),
        ({"first_frame_image_url": "file:///etc/passwd"}, "firstFrameImageUrl", "absolute http(s) URL"),
        ({"extend_video_url": "/relative.mp4"}, "extendVideoUrl", "absolute http(s) URL"),
        ({"webhook": "ftp://example.com/hook"}, "webhook", "absolute http(s) URL"),
        ({"reference_image_urls": []}, "referenceImageUrls", "1 to 3 absolute http(s) URLs"),
        ({"reference_image_urls": [URL] * 4}, "referenceImageUrls", "1 to 3 absolute http(s) URLs"),
        ({"reference_image_urls": URL}, "referenceImageUrls", "must be a list"),
        ({"reference_image_urls": [URL, "ftp://x/y.png"]}, "referenceImageUrls", "['ftp://x/y.png']"),
        (
            {"first_frame_image_url": URL, "extend_video_url": "https://x.example/v.mp4"},
            "extendVideoUrl",
            "at most one of firstFrameImageUrl, extendVideoUrl, referenceImageUrls",
        ),
        (
            {"first_frame_image_url": URL, "reference_image_urls": [URL]},
            "referenceImageUrls",
            "(got firstFrameImageUrl, referenceImageUrls)",
        ),
    ],
)
def test_invalid_video_requests_name_the_field_and_allowed_values(kwargs, field, needle):
    args = {"prompt": "A valid prompt"} | kwargs
    prompt = args.pop("prompt")
    with pytest.raises(PictoryValidationError) as raised:
        build_video_request(prompt, **args)
    assert needle in str(raised.value)
    assert field in [error["name"] for error in raised.value.fields]


def test_every_model_accepts_its_documented_ratios_and_durations():
    for model in api.VIDEO_MODELS:
        for ratio in api.VIDEO_ASPECT_RATIOS[model]:
            for duration in api.VIDEO_DURATIONS[model]:
                body = {"prompt": "A valid prompt", "model": model, "aspectRatio": ratio, "duration": duration}
                assert video_request_errors(body) == []
                assert ratio in api.VIDEO_ASPECT_RATIO_SIZES


def test_credits_per_second():
    assert video_credits("veo3.1", "8s") == 160
    assert video_credits("veo3.1_fast", "4s") == 40
    assert video_credits("pixverse5.5", "5s") == 8
    assert video_credits("pixverse5.5", "8s") == 12.8


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("8s", 8), ("10s", 10), (" 5 s", 5), ("4.5s", 4.5), (6, 6), (2.0, 2), ("", None), ("soon", None), (None, None)],
)
def test_parse_duration(raw, seconds):
    parsed = parse_duration(raw)
    assert parsed == seconds
    if seconds is not None:
        assert type(parsed) is type(seconds)


def test_one_parser_reads_every_documented_video_field():
    job = parse_job(COMPLETED_VIDEO, JOB_ID)
    assert job.status is JobStatus.COMPLETED
    assert (job.url, job.width, job.height, job.ai_credits_used) == (
        "https://cdn.example.com/videos/v.mp4",
        1280,
        720,
        160,
    )
    assert job.duration == 8 and isinstance(job.duration, int)
    assert job.thumbnail_url == "https://cdn.example.com/videos/v-thumb.jpg"
    assert job.preview_image_url == "https://cdn.example.com/videos/v-preview.jpg"
    assert job.last_frame_image_url == "https://cdn.example.com/videos/v-last.png"


def test_image_jobs_parse_as_before_with_empty_video_fields():
    body = {
        "job_id": JOB_ID,
        "success": True,
        "data": {"status": "completed", "url": "https://cdn.example.com/u.png", "width": 1, "height": 2},
    }
    job = parse_job(body, JOB_ID)
    assert (job.duration, job.thumbnail_url, job.preview_image_url, job.last_frame_image_url) == (None,) * 4


def test_event_schema_carries_video_fields_and_keeps_image_keys():
    image_keys = ("status", "job_id", "url", "width", "height", "ai_credits_used", "error_code", "error_message")
    assert EVENT_KEYS[: len(image_keys) + 1] == (*image_keys, "message")
    event = make_event("success", JOB_ID, "done", parse_job(COMPLETED_VIDEO, JOB_ID))
    assert tuple(event) == EVENT_KEYS
    assert (event["duration"], event["thumbnail_url"]) == (8, "https://cdn.example.com/videos/v-thumb.jpg")
    assert event["last_frame_image_url"] == "https://cdn.example.com/videos/v-last.png"


def test_job_kinds_table():
    assert {name: JOB_KINDS[name] for name in ("image", "video")} == {"image": IMAGE, "video": VIDEO}
    assert (VIDEO.path, VIDEO.extension, VIDEO.path_key, VIDEO.link_name) == (
        VIDEOS_PATH,
        "mp4",
        "video_path",
        "Pictory Video",
    )
    assert (IMAGE.path, IMAGE.extension, IMAGE.path_key, IMAGE.url_key) == (
        api.IMAGES_PATH,
        "png",
        "image_path",
        "image_url",
    )
    assert VIDEO.url_key == "video_url"
    assert set(VIDEO.xcom_keys.values()) == {
        "video_url",
        "duration",
        "width",
        "height",
        "ai_credits_used",
        "thumbnail_url",
        "last_frame_image_url",
    }
    for kind in JOB_KINDS.values():  # every result field is a parsed job attribute and an event key
        assert set(kind.result_fields) <= set(EVENT_KEYS)
        assert set(kind.xcom_keys) == set(kind.result_fields)
    result = VIDEO.result(JOB_ID, make_event("success", JOB_ID, "done", parse_job(COMPLETED_VIDEO, JOB_ID)))
    assert list(result) == [
        "job_id",
        "url",
        "width",
        "height",
        "duration",
        "ai_credits_used",
        "thumbnail_url",
        "last_frame_image_url",
    ]
