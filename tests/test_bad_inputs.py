"""Bad inputs, table-driven, through the public classes a DAG author uses.

Each case must fail with a specific error naming the field (and what is allowed), send no request
to Pictory when the problem is detectable locally, and leave no file behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pictory_provider.exceptions import (
    PictoryConfigError,
    PictoryDownloadError,
    PictoryEventError,
    PictoryNotFoundError,
    PictoryValidationError,
)
from pictory_provider.operators.pictory import PictoryGenerateImageOperator
from pictory_provider.sensors.pictory import PictoryImageJobSensor
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .fakes import make_context

UNKNOWN_JOB = "00000000-0000-4000-8000-000000000000"
ALLOWED_MODELS = "seedream3.0, flux-schnell, nanobanana, nanobanana-pro"


def generate(**kwargs: Any) -> Callable[[Any], Any]:
    def action(tmp_path: Any) -> Any:
        params = {"task_id": "t", "prompt": "A valid prompt", "deferrable": False} | kwargs
        return PictoryGenerateImageOperator(**params).execute(make_context())

    return action


def wait(**kwargs: Any) -> Callable[[Any], Any]:
    def action(tmp_path: Any) -> Any:
        params = {"task_id": "t", "job_id": UNKNOWN_JOB, "deferrable": False} | kwargs
        return PictoryImageJobSensor(**params).execute(make_context())

    return action


def complete(event: Any) -> Callable[[Any], Any]:
    return lambda tmp_path: PictoryImageJobSensor(task_id="t", job_id=UNKNOWN_JOB).execute_complete(
        make_context(), event
    )


def unwritable_output(tmp_path: Any) -> Any:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    return PictoryGenerateImageOperator(
        task_id="t", prompt="A valid prompt", deferrable=False, poll_interval=0.1, output_path=f"{blocker}/"
    ).execute(make_context())


@dataclass(frozen=True)
class Case:
    name: str
    action: Callable[[Any], Any]
    error: type[Exception]
    message: str
    requests: int = 0  # requests that may reach Pictory (only for what cannot be known locally)
    connection: dict[str, Any] | None = None  # overrides of the default connection


CASES = [
    Case(
        "empty prompt", generate(prompt=""), PictoryValidationError, "prompt must be 5 to 5000 characters long (got 0)"
    ),
    Case("4-character prompt", generate(prompt="four"), PictoryValidationError, "5 to 5000 characters long (got 4)"),
    Case("5001-character prompt", generate(prompt="x" * 5001), PictoryValidationError, "(got 5001)"),
    Case(
        "prompt not a string", generate(prompt=12345), PictoryValidationError, "prompt is required and must be a string"
    ),
    Case("unknown model", generate(model="dall-e-3"), PictoryValidationError, f"model must be one of {ALLOWED_MODELS}"),
    Case(
        "unknown aspect ratio",
        generate(aspect_ratio="4:3"),
        PictoryValidationError,
        "aspectRatio must be one of 1:1, 16:9, 9:16",
    ),
    Case(
        "unknown style",
        generate(style="noir"),
        PictoryValidationError,
        "style must be one of photorealistic, artistic, cartoon, minimalist, vintage, futuristic",
    ),
    Case(
        "reference image not a URL",
        generate(reference_image_url="my-photo.png"),
        PictoryValidationError,
        "referenceImageUrl must be an absolute http(s) URL",
    ),
    Case(
        "reference image ftp://",
        generate(reference_image_url="ftp://example.com/a.png"),
        PictoryValidationError,
        "referenceImageUrl must be an absolute http(s) URL",
    ),
    Case(
        "webhook not a URL",
        generate(webhook="hooks/pictory"),
        PictoryValidationError,
        "webhook must be an absolute http(s) URL",
    ),
    Case(
        "webhook ftp://",
        generate(webhook="ftp://example.com/hook"),
        PictoryValidationError,
        "webhook must be an absolute http(s) URL",
    ),
    Case(
        "job id not a UUID (sensor)", wait(job_id="job-42"), PictoryValidationError, "job_id must be a Pictory job UUID"
    ),
    Case(
        "job id not a UUID (trigger)",
        lambda tmp_path: PictoryJobTrigger("42"),
        PictoryValidationError,
        "job_id must be a Pictory job UUID",
    ),
    Case("unknown job id", wait(), PictoryNotFoundError, "HTTP 404", requests=1),
    Case(
        "missing connection",
        wait(pictory_conn_id="no_such_connection"),
        PictoryConfigError,
        "'no_such_connection' is not defined: create a connection of type 'pictory'",
    ),
    Case("connection without a key", generate(), PictoryConfigError, "has no API key", connection={"password": None}),
    Case(
        "base URL with an unsupported scheme",
        generate(),
        PictoryConfigError,
        "Unsupported Pictory base URL",
        connection={"host": "ftp://api.pictory.ai"},
    ),
    Case("timeout 0", generate(timeout=0), PictoryValidationError, "timeout must be greater than 0"),
    Case("negative timeout (sensor)", wait(timeout=-5), PictoryValidationError, "timeout must be greater than 0"),
    Case("poll_interval 0", generate(poll_interval=0), PictoryValidationError, "poll_interval must be greater than 0"),
    Case(
        "poke_interval larger than timeout",
        wait(poke_interval=120, timeout=60),
        PictoryValidationError,
        "at most the timeout (60 s)",
    ),
    Case("execute_complete with None", complete(None), PictoryEventError, "event is None"),
    Case("execute_complete with a non-dict", complete(["success"]), PictoryEventError, "must be a dict, got list"),
    Case(
        "execute_complete with an unknown status",
        complete({"status": "done", "job_id": UNKNOWN_JOB}),
        PictoryEventError,
        "unknown status 'done'; expected one of success, failed, error, timeout",
    ),
    Case(
        "output_path that cannot be written",
        unwritable_output,
        PictoryDownloadError,
        "Could not write the image",
        requests=4,
    ),
]


def test_there_are_at_least_twenty_cases():
    assert len(CASES) >= 20
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(case: Case, emulator, monkeypatch, tmp_path):
    emulator.set_job_seconds(0)
    connection = {"conn_type": "pictory", "host": emulator.base_url, "password": "pictai_bad_inputs"}
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", json.dumps(connection | (case.connection or {})))
    before = set(tmp_path.rglob("*"))
    with pytest.raises(case.error) as raised:
        case.action(tmp_path)
    assert case.message in str(raised.value)
    assert "pictai_bad_inputs" not in str(raised.value)
    assert sum(emulator.stats()["requests"].values()) <= case.requests
    assert {path for path in tmp_path.rglob("*") if path.suffix == ".png"} - before == set()
