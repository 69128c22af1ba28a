"""The API contract: local validation table and the one job parser."""

from __future__ import annotations

import pytest

from pictory_provider.ai_studio import build_image_request
from pictory_provider.api import (
    JobStatus,
    job_failure,
    parse_created_job,
    parse_job,
    validate_job_id,
)
from pictory_provider.exceptions import PictoryAPIError, PictoryValidationError
from pictory_provider.task_settings import check_wait_settings

JOB_ID = "4d82d040-4394-4371-867d-72ae1dd62b6d"


def test_build_image_request_uses_documented_camel_case_body():
    body = build_image_request(
        "A red fox in snow",
        model="flux-schnell",
        aspect_ratio="16:9",
        style="photorealistic",
        reference_image_url="https://example.com/ref.png",
        webhook="http://hooks.example.com/pictory",
    )
    assert body == {
        "prompt": "A red fox in snow",
        "model": "flux-schnell",
        "aspectRatio": "16:9",
        "style": "photorealistic",
        "referenceImageUrl": "https://example.com/ref.png",
        "webhook": "http://hooks.example.com/pictory",
    }
    assert build_image_request("Five!") == {"prompt": "Five!"}


@pytest.mark.parametrize(
    ("kwargs", "field", "needle"),
    [
        ({"prompt": ""}, "prompt", "5 to 5000 characters"),
        ({"prompt": "four"}, "prompt", "(got 4)"),
        ({"prompt": "x" * 5001}, "prompt", "(got 5001)"),
        ({"prompt": 12345}, "prompt", "must be a string"),
        ({"prompt": None}, "prompt", "required"),
        ({"model": "dall-e"}, "model", "seedream3.0, flux-schnell, nanobanana, nanobanana-pro"),
        ({"aspect_ratio": "4:3"}, "aspectRatio", "1:1, 16:9, 9:16"),
        ({"style": "gothic"}, "style", "photorealistic, artistic, cartoon, minimalist, vintage, futuristic"),
        ({"reference_image_url": "not a url"}, "referenceImageUrl", "absolute http(s) URL"),
        ({"reference_image_url": "ftp://example.com/a.png"}, "referenceImageUrl", "absolute http(s) URL"),
        ({"webhook": "/relative/path"}, "webhook", "absolute http(s) URL"),
        ({"webhook": "ftp://example.com/hook"}, "webhook", "absolute http(s) URL"),
    ],
)
def test_invalid_requests_name_the_field_and_allowed_values(kwargs, field, needle):
    args = {"prompt": "A valid prompt"} | kwargs
    prompt = args.pop("prompt")
    with pytest.raises(PictoryValidationError) as err:
        build_image_request(prompt, **args)
    assert needle in str(err.value)
    assert [f["name"] for f in err.value.fields] == [field]


def test_prompt_length_bounds_are_inclusive():
    assert build_image_request("x" * 5)["prompt"] == "x" * 5
    assert build_image_request("x" * 5000)["prompt"] == "x" * 5000


@pytest.mark.parametrize("bad", ["", "123", "not-a-uuid", None, 42, f"{JOB_ID}/../x"])
def test_validate_job_id_rejects_non_uuids(bad):
    with pytest.raises(PictoryValidationError, match="job_id must be a Pictory job UUID"):
        validate_job_id(bad)


def test_validate_job_id_accepts_uuid():
    assert validate_job_id(JOB_ID) == JOB_ID


@pytest.mark.parametrize(
    ("poll", "timeout", "needle"),
    [
        (10, 0, "timeout must be greater than 0"),
        (0, 10, "poll_interval"),
        (-1, 10, "poll_interval"),
        (20, 10, "at most the timeout"),
    ],
)
def test_check_wait_settings(poll, timeout, needle):
    with pytest.raises(PictoryValidationError, match=needle):
        check_wait_settings(poll, timeout)


def test_parse_job_states():
    done = parse_job(
        {
            "job_id": JOB_ID,
            "success": True,
            "data": {
                "status": "completed",
                "url": "https://x/y.png",
                "width": 1280,
                "height": 720,
                "aiCreditsUsed": 0.6,
            },
        },
        JOB_ID,
    )
    assert (done.status, done.url, done.width, done.height, done.ai_credits_used) == (
        JobStatus.COMPLETED,
        "https://x/y.png",
        1280,
        720,
        0.6,
    )
    failed = parse_job(
        {"job_id": JOB_ID, "success": False, "data": {"status": "failed", "error_code": "E1", "error_message": "boom"}},
        JOB_ID,
    )
    assert failed.status is JobStatus.FAILED
    assert job_failure(failed) == ("E1", "boom")
    cleaned = parse_job({"data": {"status": "cleaned"}}, JOB_ID)
    assert job_failure(cleaned)[0] == "JOB_CLEANED"
    odd = parse_job({"data": {"status": "queued"}}, JOB_ID)
    assert (odd.status, odd.raw_status, job_failure(odd)) == (JobStatus.UNKNOWN, "queued", None)
    assert odd.to_dict()["status"] == "unknown"


@pytest.mark.parametrize("body", [None, [], {"success": True}, {"data": "x"}])
def test_parse_job_rejects_bodies_without_data(body):
    with pytest.raises(PictoryAPIError):
        parse_job(body, JOB_ID)


def test_parse_created_job():
    assert parse_created_job({"success": True, "data": {"jobId": JOB_ID}}) == JOB_ID
    with pytest.raises(PictoryAPIError, match="no data.jobId"):
        parse_created_job({"success": True})
