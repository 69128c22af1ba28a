"""PictoryGenerateImageOperator against the emulator: submit-only, deferral, sync wait, failures,
validation before any request, resume on retry, and storing the PNG."""

from __future__ import annotations

import struct
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from pictory_provider.events import make_event
from pictory_provider.exceptions import (
    PictoryDownloadError,
    PictoryJobFailedError,
    PictoryJobTimeoutError,
    PictoryValidationError,
)
from pictory_provider.operators.pictory import PictoryGenerateImageOperator, PictoryImageLink
from pictory_provider.storage import store_image
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .compat import AIRFLOW_V_3_3_PLUS
from .fakes import TaskStateStore, make_context

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
needs_task_state_store = pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS,
    reason="ResumableJobMixin and the task state store arrive in Airflow 3.3; before that every try submits anew",
)


def operator(**kwargs) -> PictoryGenerateImageOperator:
    params = {"task_id": "generate", "prompt": "A lighthouse at dawn", "hook_params": FAST, "poll_interval": 0.1}
    return PictoryGenerateImageOperator(**(params | kwargs))


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_templated_fields_and_link():
    op = operator()
    assert {
        "prompt",
        "model",
        "aspect_ratio",
        "style",
        "reference_image_url",
        "webhook",
        "output_path",
        "pictory_conn_id",
    } <= set(op.template_fields)
    assert [link.name for link in op.operator_extra_links] == ["Pictory Image"]
    assert isinstance(op.operator_extra_links[0], PictoryImageLink)
    assert op.deferrable is True


def test_submit_only_returns_job_id_and_pushes_it(pictory_conn):
    ctx = make_context()
    job_id = operator(wait_for_completion=False).execute(ctx)
    assert ctx["ti"].xcom == {"job_id": job_id}
    assert pictory_conn.job(job_id)["prompt"] == "A lighthouse at dawn"
    assert pictory_conn.stats()["posts"] == 1


def test_deferrable_wait_pushes_job_id_before_deferring(pictory_conn):
    ctx = make_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator(timeout=600, poll_interval=9).execute(ctx)
    job_id = ctx["ti"].xcom["job_id"]
    trigger = deferred.value.trigger
    assert isinstance(trigger, PictoryJobTrigger)
    assert (trigger.job_id, trigger.poll_interval) == (job_id, 9.0)
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=660)  # the trigger's own timeout event comes first


def test_execute_complete_matches_the_sensor_contract(tmp_path, pictory_conn):
    pictory_conn.set_job_seconds(0)
    job_id = operator(wait_for_completion=False).execute(make_context())
    url = f"{pictory_conn.base_url}/files/{job_id}.png"
    event = make_event("success", job_id, "done") | {"url": url, "width": 1024, "height": 1024, "ai_credits_used": 2}
    ctx = make_context()
    result = operator(output_path=f"file://{tmp_path}/").execute_complete(ctx, event)
    assert result == {
        "job_id": job_id,
        "url": url,
        "width": 1024,
        "height": 1024,
        "ai_credits_used": 2,
        "image_path": f"file://{tmp_path}/{job_id}.png",
    }
    assert ctx["ti"].xcom == {
        "image_url": url,
        "ai_credits_used": 2,
        "width": 1024,
        "height": 1024,
        "image_path": result["image_path"],
    }
    assert png_size((tmp_path / f"{job_id}.png").read_bytes()) == (1024, 1024)
    with pytest.raises(PictoryJobTimeoutError):
        operator().execute_complete(make_context(), make_event("timeout", job_id, "deadline"))


def test_synchronous_wait_stores_the_png(tmp_path, pictory_conn):
    ctx = make_context()
    result = operator(
        deferrable=False, aspect_ratio="16:9", model="nanobanana", output_path=str(tmp_path / "out" / "image.png")
    ).execute(ctx)
    assert (result["width"], result["height"], result["ai_credits_used"]) == (1280, 720, 4)
    assert result["image_path"] == str(tmp_path / "out" / "image.png")
    assert png_size((tmp_path / "out" / "image.png").read_bytes()) == (1280, 720)
    assert ctx["ti"].xcom["job_id"] == result["job_id"]
    assert ctx["ti"].xcom["image_url"] == result["url"]


def test_failed_job_fails_with_reason_and_no_resubmission(pictory_conn):
    pictory_conn.add_fault("fail_job", error_code="MODEL_UNAVAILABLE", error_message="try later")
    with pytest.raises(PictoryJobFailedError, match="MODEL_UNAVAILABLE: try later"):
        operator(deferrable=False).execute(make_context())
    assert pictory_conn.stats()["posts"] == 1


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"prompt": "tiny"}, "prompt"),
        ({"model": "dall-e-3"}, "model must be one of"),
        ({"aspect_ratio": "4:3"}, "aspectRatio must be one of"),
        ({"style": "noir"}, "style must be one of"),
        ({"reference_image_url": "ftp://x/y.png"}, "referenceImageUrl"),
        ({"webhook": "not-a-url"}, "webhook"),
    ],
)
def test_invalid_input_fails_before_any_request(pictory_conn, kwargs, needle):
    with pytest.raises(PictoryValidationError, match=needle):
        operator(**kwargs).execute(make_context())
    assert sum(pictory_conn.stats()["requests"].values()) == 0


@pytest.mark.parametrize(("kwargs", "needle"), [({"timeout": 0}, "timeout"), ({"poll_interval": -1}, "poll_interval")])
def test_invalid_wait_settings_fail_at_construction(kwargs, needle):
    with pytest.raises(PictoryValidationError, match=needle):
        operator(**kwargs)


@needs_task_state_store
def test_retry_resumes_the_submitted_job_instead_of_buying_another(pictory_conn):
    store = TaskStateStore()
    with pytest.raises(TaskDeferred) as first:
        operator().execute(make_context(store))
    job_id = first.value.trigger.job_id
    assert store.values["pictory_job_id"] == job_id
    assert "pictory_job_id_in_flight" not in store.values  # the submission completed
    retry_ctx = make_context(store)  # a retry: fresh operator instance, XCom cleared, same state store
    with pytest.raises(TaskDeferred) as second:
        operator().execute(retry_ctx)
    assert second.value.trigger.job_id == job_id
    assert retry_ctx["ti"].xcom["job_id"] == job_id
    assert pictory_conn.stats()["posts"] == 1


@needs_task_state_store
def test_retry_after_completion_collects_the_result(pictory_conn, tmp_path):
    pictory_conn.set_job_seconds(0)
    store = TaskStateStore()
    with pytest.raises(TaskDeferred):
        operator().execute(make_context(store))
    ctx = make_context(store)
    result = operator(output_path=f"{tmp_path}/").execute(ctx)
    assert result["job_id"] == store.values["pictory_job_id"]
    assert (tmp_path / f"{result['job_id']}.png").exists()
    assert ctx["ti"].xcom["image_url"] == result["url"]
    assert pictory_conn.stats()["posts"] == 1


@needs_task_state_store
def test_retry_after_a_failed_job_submits_afresh(pictory_conn):
    pictory_conn.set_job_seconds(0)
    pictory_conn.add_fault("fail_job")
    store = TaskStateStore()
    with pytest.raises(PictoryJobFailedError):
        operator(deferrable=False).execute(make_context(store))
    result = operator(deferrable=False).execute(make_context(store))
    assert result["job_id"] == store.values["pictory_job_id"]
    assert pictory_conn.stats()["posts"] == 2


@pytest.mark.skipif(AIRFLOW_V_3_3_PLUS, reason="Airflow >= 3.3 resumes the job (tests above)")
def test_before_airflow_3_3_every_try_submits_a_new_job(pictory_conn):
    """common.compat's ResumableJobMixin stand-in: no task state store, so a retry buys a new image."""
    pictory_conn.set_job_seconds(0)
    store = TaskStateStore()
    first = operator(deferrable=False).execute(make_context(store))
    second = operator(deferrable=False).execute(make_context(store))
    assert first["job_id"] != second["job_id"]
    assert store.values == {}
    assert pictory_conn.stats()["posts"] == 2


def test_download_refuses_non_png_and_leaves_nothing(pictory_conn, tmp_path):
    pictory_conn.set_job_seconds(0)
    job_id = operator(wait_for_completion=False).execute(make_context())
    pictory_conn.add_fault("non_json", route="file", body="<html>not an image</html>")
    with pytest.raises(PictoryDownloadError, match="not a PNG"):
        store_image(f"{pictory_conn.base_url}/files/{job_id}.png", f"{tmp_path}/", job_id=job_id)
    assert list(tmp_path.iterdir()) == []


def test_download_refuses_oversize_bad_scheme_and_http_errors(pictory_conn, tmp_path):
    pictory_conn.set_job_seconds(0)
    job_id = operator(wait_for_completion=False).execute(make_context())
    url = f"{pictory_conn.base_url}/files/{job_id}.png"
    with pytest.raises(PictoryDownloadError, match="limit"):
        store_image(url, f"{tmp_path}/", job_id=job_id, max_bytes=1000)
    with pytest.raises(PictoryDownloadError, match="non-http"):
        store_image("file:///etc/passwd", f"{tmp_path}/", job_id=job_id)
    with pytest.raises(PictoryDownloadError, match="HTTP 404"):
        store_image(
            f"{pictory_conn.base_url}/files/00000000-0000-4000-8000-000000000000.png", f"{tmp_path}/", job_id=job_id
        )
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_path_fails_clearly(pictory_conn, tmp_path):
    pictory_conn.set_job_seconds(0)
    job_id = operator(wait_for_completion=False).execute(make_context())
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(PictoryDownloadError, match="Could not write the image"):
        store_image(f"{pictory_conn.base_url}/files/{job_id}.png", f"{blocker}/", job_id=job_id)
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]
    with pytest.raises(PictoryDownloadError, match="output_path must be"):
        store_image(f"{pictory_conn.base_url}/files/{job_id}.png", "", job_id=job_id)


def test_output_path_folder_and_file_forms(pictory_conn, tmp_path):
    pictory_conn.set_job_seconds(0)
    job_id = operator(wait_for_completion=False).execute(make_context())
    url = f"{pictory_conn.base_url}/files/{job_id}.png"
    assert store_image(url, f"file://{tmp_path}/a/", job_id=job_id) == f"file://{tmp_path}/a/{job_id}.png"
    assert store_image(url, str(tmp_path / "b.png"), job_id=job_id) == str(tmp_path / "b.png")
    assert Path(tmp_path / "a" / f"{job_id}.png").read_bytes() == (tmp_path / "b.png").read_bytes()
