"""Tests of the local Pictory emulator: real HTTP over loopback, no mocks."""

from __future__ import annotations

import json
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from pictory_provider import ai_studio, api
from pictory_provider.emulator import PictoryEmulator

KEY = "pictai_test_key_123"
AUTH = {"Authorization": KEY}
IMAGES = api.IMAGES_PATH
JOBS = api.JOBS_PATH


@pytest.fixture(scope="module")
def server() -> Iterator[PictoryEmulator]:
    with PictoryEmulator(port=0, job_seconds=0.3) as emu:
        yield emu


@pytest.fixture
def emu(server: PictoryEmulator) -> PictoryEmulator:
    server.reset()
    server.set_job_seconds(0.3)
    return server


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


def create(emu: PictoryEmulator, session: Any = requests, **body: Any) -> str:
    body.setdefault("prompt", "A lighthouse at dawn")
    response = session.post(emu.base_url + IMAGES, json=body, headers=AUTH, timeout=5)
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["jobId"])


def get_job(emu: PictoryEmulator, job_id: str) -> requests.Response:
    return requests.get(f"{emu.base_url}{JOBS}/{job_id}", headers=AUTH, timeout=5)


def wait_terminal(emu: PictoryEmulator, job_id: str) -> dict[str, Any]:
    body: dict[str, Any] = wait_for(lambda: (b := get_job(emu, job_id).json())["data"]["status"] != "in-progress" and b)
    assert body, "job never finished"
    return body


def parse_png(data: bytes) -> tuple[int, int, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    idat = b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        payload = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + payload)
        chunks[kind] = payload
        if kind == b"IDAT":
            idat += payload
        offset += 12 + length
    assert next(iter(chunks)) == b"IHDR"
    assert list(chunks)[-1] == b"IEND"
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour_type) == (8, 2)
    return width, height, zlib.decompress(idat)


# -- lifecycle -------------------------------------------------------------------------------------


def test_lifecycle() -> None:
    emu = PictoryEmulator(job_seconds=0.1)
    with pytest.raises(RuntimeError):
        _ = emu.base_url
    assert emu.start() is emu
    assert emu.base_url == f"http://127.0.0.1:{emu.port}"
    assert emu.port > 0
    with pytest.raises(RuntimeError):
        emu.start()
    assert requests.get(emu.base_url + JOBS, headers=AUTH, timeout=5).status_code == 200
    emu.stop()
    emu.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(emu.base_url + JOBS, headers=AUTH, timeout=5)


def test_start_reports_bind_errors() -> None:
    with PictoryEmulator() as first:
        busy = PictoryEmulator(port=first.port)
        with pytest.raises(OSError, match=r"(?i)address already in use"):
            busy.start()
        busy.stop()  # never started: a no-op


# -- auth -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": f"Bearer {KEY}"}, {"Authorization": "sk_live_123"}, {"Authorization": "pictai_"}],
    ids=["missing", "bearer", "wrong-prefix", "empty-key"],
)
def test_unauthorized(emu: PictoryEmulator, headers: dict[str, str]) -> None:
    for method, path in (("POST", IMAGES), ("GET", IMAGES), ("GET", JOBS), ("GET", f"{JOBS}/{uuid.uuid4()}")):
        response = requests.request(method, emu.base_url + path, json={"prompt": "hello"}, headers=headers, timeout=5)
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthorized"}
    assert emu.stats()["jobs_created"] == 0


def test_api_key_allow_list() -> None:
    with PictoryEmulator(job_seconds=0, api_keys=["pictai_good"]) as emu:
        url = emu.base_url + JOBS
        assert requests.get(url, headers={"Authorization": "pictai_good"}, timeout=5).status_code == 200
        assert requests.get(url, headers={"Authorization": "pictai_other"}, timeout=5).status_code == 401
        text = json.dumps(emu.stats()) + json.dumps(emu.request_log)
        assert "pictai_good" not in text
        assert "pictai_other" not in text


# -- create and validate ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "prompt"),
        ({"prompt": 42}, "prompt"),
        ({"prompt": "tiny"}, "prompt"),
        ({"prompt": "x" * 5001}, "prompt"),
        ({"prompt": "A fine prompt", "model": "dall-e"}, "model"),
        ({"prompt": "A fine prompt", "aspectRatio": "4:3"}, "aspectRatio"),
        ({"prompt": "A fine prompt", "style": "noir"}, "style"),
        ({"prompt": "A fine prompt", "referenceImageUrl": "not a url"}, "referenceImageUrl"),
        ({"prompt": "A fine prompt", "webhook": "ftp://example.com/hook"}, "webhook"),
    ],
)
def test_validation_errors(emu: PictoryEmulator, body: dict[str, Any], field: str) -> None:
    response = requests.post(emu.base_url + IMAGES, json=body, headers=AUTH, timeout=5)
    assert response.status_code == 400
    payload = response.json()
    assert payload["code"] == "INVALID_REQUEST_BODY"
    assert payload["message"] == "Request body validation failed"
    assert [f["name"] for f in payload["fields"]] == [field]
    assert payload["fields"] == ai_studio.image_request_errors(body)
    assert emu.stats()["jobs_created"] == 0


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b""])
def test_body_must_be_a_json_object(emu: PictoryEmulator, data: bytes) -> None:
    headers = {**AUTH, "Content-Type": "application/json"}
    response = requests.post(emu.base_url + IMAGES, data=data, headers=headers, timeout=5)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_REQUEST_BODY"


def test_create_then_complete(emu: PictoryEmulator) -> None:
    job_id = create(emu, prompt="A red fox in snow", unknownField="stripped")
    assert uuid.UUID(job_id).version == 4
    assert get_job(emu, job_id).json() == {"job_id": job_id, "success": True, "data": {"status": "in-progress"}}
    record = emu.job(job_id)
    assert record is not None
    assert record["model"] == api.DEFAULT_MODEL
    assert record["aspect_ratio"] == api.DEFAULT_ASPECT_RATIO
    assert record["completes_at"] == pytest.approx(record["created_at"] + 0.3)
    assert "unknownField" not in json.dumps(record)
    body = wait_terminal(emu, job_id)
    width, height = api.ASPECT_RATIO_SIZES[api.DEFAULT_ASPECT_RATIO]
    assert body == {
        "job_id": job_id,
        "success": True,
        "data": {
            "status": "completed",
            "url": f"{emu.base_url}/files/{job_id}.png",
            "width": width,
            "height": height,
            "aiCreditsUsed": api.MODEL_CREDITS[api.DEFAULT_MODEL],
        },
    }
    assert time.time() >= record["completes_at"]
    parsed = api.parse_job(body, job_id)
    assert parsed.status is api.JobStatus.COMPLETED
    assert parsed.width == width


@pytest.mark.parametrize("model", api.MODELS)
def test_credits_per_model(emu: PictoryEmulator, model: str) -> None:
    emu.set_job_seconds(0)
    job_id = create(emu, model=model)
    assert get_job(emu, job_id).json()["data"]["aiCreditsUsed"] == api.MODEL_CREDITS[model]


@pytest.mark.parametrize("ratio", api.ASPECT_RATIOS)
def test_png_matches_aspect_ratio(emu: PictoryEmulator, ratio: str) -> None:
    emu.set_job_seconds(0)
    job_id = create(emu, aspectRatio=ratio)
    data = get_job(emu, job_id).json()["data"]
    assert (data["width"], data["height"]) == api.ASPECT_RATIO_SIZES[ratio]
    response = requests.get(data["url"], timeout=5)  # no auth, like a CDN URL
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/png"
    width, height, raw = parse_png(response.content)
    assert (width, height) == api.ASPECT_RATIO_SIZES[ratio]
    assert len(raw) == height * (1 + 3 * width)
    assert raw[0] == 0
    assert raw[1:4] == uuid.UUID(job_id).bytes[:3]


def test_unknown_job_is_404(emu: PictoryEmulator) -> None:
    expected = {"message": "Job not found", "error_code": "5000", "error_message": "JOB_NOT_FOUND"}
    for job_id in (str(uuid.uuid4()), "not-a-uuid"):
        response = get_job(emu, job_id)
        assert response.status_code == 404
        assert response.json() == expected
    assert requests.get(f"{emu.base_url}/files/{uuid.uuid4()}.png", timeout=5).status_code == 404


def test_file_404_while_in_progress(emu: PictoryEmulator) -> None:
    job_id = create(emu)
    assert requests.get(f"{emu.base_url}/files/{job_id}.png", timeout=5).status_code == 404


# -- clean ------------------------------------------------------------------------------------------


def test_clean(emu: PictoryEmulator) -> None:
    job_id = create(emu)
    clean_url = f"{emu.base_url}{JOBS}/{job_id}/clean"
    response = requests.delete(clean_url, headers=AUTH, timeout=5)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_REQUEST"
    assert response.json()["message"]
    url = wait_terminal(emu, job_id)["data"]["url"]
    assert requests.get(url, timeout=5).status_code == 200
    for _ in range(2):  # idempotent
        response = requests.delete(clean_url, headers=AUTH, timeout=5)
        assert response.status_code == 200
        assert response.json() == {"success": True}
    assert get_job(emu, job_id).json() == {"job_id": job_id, "success": True, "data": {"status": "cleaned"}}
    assert requests.get(url, timeout=5).status_code == 404
    missing = requests.delete(f"{emu.base_url}{JOBS}/{uuid.uuid4()}/clean", headers=AUTH, timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error_message"] == "JOB_NOT_FOUND"


def test_clean_failed_job(emu: PictoryEmulator) -> None:
    emu.set_job_seconds(0)
    emu.add_fault("fail_job")
    job_id = create(emu)
    assert get_job(emu, job_id).json()["data"]["status"] == "failed"
    assert requests.delete(f"{emu.base_url}{JOBS}/{job_id}/clean", headers=AUTH, timeout=5).status_code == 200
    assert get_job(emu, job_id).json()["data"]["status"] == "cleaned"


# -- lists ------------------------------------------------------------------------------------------


def test_lists(emu: PictoryEmulator) -> None:
    emu.set_job_seconds(0)
    first = create(emu, prompt="First image", style="cartoon", referenceImageUrl="https://example.com/ref.png")
    emu.add_fault("fail_job")
    failed = create(emu, prompt="Failing image")
    emu.set_job_seconds(60)
    running = create(emu, prompt="Running image", model="flux-schnell", aspectRatio="9:16")

    jobs = requests.get(emu.base_url + JOBS, headers=AUTH, timeout=5).json()
    assert jobs["nextPageKey"] is None
    assert [item["data"]["jobId"] for item in jobs["items"]] == [running, failed, first]
    assert [item["data"]["status"] for item in jobs["items"]] == ["in-progress", "failed", "completed"]
    assert [item["success"] for item in jobs["items"]] == [True, False, True]
    assert jobs["items"][2]["data"]["url"].endswith(f"/files/{first}.png")

    images = requests.get(emu.base_url + IMAGES, headers=AUTH, timeout=5).json()
    assert "nextPageKey" not in images
    (item,) = images["items"]
    assert item["id"] == first
    assert item["url"] == f"{emu.base_url}/files/{first}.png"
    assert (item["prompt"], item["aspectRatio"], item["model"]) == ("First image", "1:1", api.DEFAULT_MODEL)
    assert (item["width"], item["height"]) == (1024, 1024)
    assert (item["style"], item["referenceImageUrl"]) == ("cartoon", "https://example.com/ref.png")
    assert item["createdDate"].endswith("Z")
    assert datetime.fromisoformat(item["createdDate"].replace("Z", "+00:00")).timestamp() == pytest.approx(
        time.time(), abs=30
    )

    emu.set_job_seconds(0)
    plain = create(emu, prompt="Plain image")
    newest = requests.get(emu.base_url + IMAGES, headers=AUTH, timeout=5).json()["items"][0]
    assert newest["id"] == plain
    assert "style" not in newest
    assert "referenceImageUrl" not in newest


def test_list_pagination(emu: PictoryEmulator) -> None:
    emu.set_job_seconds(0)
    with requests.Session() as session:
        ids = [create(emu, session) for _ in range(101)]
    for path in (JOBS, IMAGES):
        page1 = requests.get(emu.base_url + path, headers=AUTH, timeout=5).json()
        assert len(page1["items"]) == 100
        assert page1["nextPageKey"]
        params = {"nextPageKey": page1["nextPageKey"]}
        page2 = requests.get(emu.base_url + path, headers=AUTH, params=params, timeout=5).json()
        assert len(page2["items"]) == 1
        first_ids = [i["data"]["jobId"] if path == JOBS else i["id"] for i in page1["items"]]
        last_id = page2["items"][0]["data"]["jobId"] if path == JOBS else page2["items"][0]["id"]
        assert first_ids == ids[:0:-1]
        assert last_id == ids[0]
        assert page2.get("nextPageKey") is None
    bad = requests.get(emu.base_url + JOBS, headers=AUTH, params={"nextPageKey": "garbage!"}, timeout=5)
    assert bad.status_code == 400


# -- faults -----------------------------------------------------------------------------------------


def test_status_fault_default_and_count(emu: PictoryEmulator) -> None:
    emu.add_fault("status", route="job", count=2)
    job_id = str(uuid.uuid4())
    assert requests.get(emu.base_url + JOBS, headers=AUTH, timeout=5).status_code == 200  # other route
    for _ in range(2):
        response = get_job(emu, job_id)
        assert response.status_code == 500
        assert response.json() == {"message": "Internal Server Error"}
        assert "Retry-After" not in response.headers
    assert emu.faults() == []
    assert get_job(emu, job_id).status_code == 404
    assert emu.stats()["faults_applied"] == 2


def test_status_fault_with_retry_after_and_body(emu: PictoryEmulator) -> None:
    emu.add_fault("status", route="create", status=503, retry_after=2.5, body={"error": "maintenance"})
    emu.add_fault("status", route="create", status=502, body="<not json>")
    response = requests.post(emu.base_url + IMAGES, json={"prompt": "hello world"}, headers=AUTH, timeout=5)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "3"
    assert response.json() == {"error": "maintenance"}
    response = requests.post(emu.base_url + IMAGES, json={"prompt": "hello world"}, headers=AUTH, timeout=5)
    assert response.status_code == 502
    assert response.text == "<not json>"
    assert emu.stats()["jobs_created"] == 0


def test_rate_limit_fault(emu: PictoryEmulator) -> None:
    emu.add_fault("rate_limit", route="list")
    emu.add_fault("rate_limit", route="list", retry_after=0.2)
    first = requests.get(emu.base_url + JOBS, headers=AUTH, timeout=5)
    second = requests.get(emu.base_url + IMAGES, headers=AUTH, timeout=5)
    for response, retry_after in ((first, "1"), (second, "1")):
        assert response.status_code == 429
        assert response.json() == {"message": "Too Many Requests"}
        assert response.headers["Retry-After"] == retry_after
    assert requests.get(emu.base_url + JOBS, headers=AUTH, timeout=5).status_code == 200


def test_faults_apply_before_auth(emu: PictoryEmulator) -> None:
    emu.add_fault("rate_limit")
    assert requests.get(emu.base_url + JOBS, timeout=5).status_code == 429
    assert requests.get(emu.base_url + JOBS, timeout=5).status_code == 401


def test_slow_fault(emu: PictoryEmulator) -> None:
    emu.add_fault("slow", route="list", delay=0.3)
    started = time.monotonic()
    response = requests.get(emu.base_url + JOBS, headers=AUTH, timeout=5)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200
    assert response.json() == {"items": [], "nextPageKey": None}
    emu.add_fault("slow", delay=0.5)
    with pytest.raises(requests.Timeout):
        requests.get(emu.base_url + JOBS, headers=AUTH, timeout=0.1)
    assert wait_for(lambda: len(emu.request_log) == 2)  # the handler still finishes after the client gave up


def test_non_json_fault(emu: PictoryEmulator) -> None:
    emu.add_fault("non_json")
    emu.add_fault("non_json", status=403, body="<html>blocked</html>")
    response = requests.get(emu.base_url + JOBS, headers=AUTH, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Attention Required! | Cloudflare" in response.text
    assert "Error 1010" in response.text
    with pytest.raises(requests.JSONDecodeError):
        response.json()
    response = requests.get(emu.base_url + JOBS, headers=AUTH, timeout=5)
    assert (response.status_code, response.text) == (403, "<html>blocked</html>")


def test_reset_fault(emu: PictoryEmulator) -> None:
    emu.add_fault("reset", route="create")
    with pytest.raises(requests.ConnectionError):
        requests.post(emu.base_url + IMAGES, json={"prompt": "hello world"}, headers=AUTH, timeout=5)
    assert emu.stats()["jobs_created"] == 0
    assert emu.request_log[-1]["status"] is None
    create(emu)  # served normally afterwards


def test_file_route_fault(emu: PictoryEmulator) -> None:
    emu.set_job_seconds(0)
    job_id = create(emu)
    emu.add_fault("status", route="file", status=503)
    url = get_job(emu, job_id).json()["data"]["url"]
    assert requests.get(url, timeout=5).status_code == 503
    assert requests.get(url, timeout=5).status_code == 200


def test_fail_job_fault(emu: PictoryEmulator) -> None:
    emu.add_fault("fail_job", route="job", count=2, error_code="CONTENT_POLICY", error_message="Prompt rejected")
    emu.add_fault("fail_job")
    custom = [create(emu)]
    assert get_job(emu, custom[0]).json()["data"]["status"] == "in-progress"  # fails only after job_seconds
    custom.append(create(emu))
    default = create(emu)
    succeeding = create(emu)
    for job_id in custom:
        assert wait_terminal(emu, job_id) == {
            "job_id": job_id,
            "success": False,
            "data": {"status": "failed", "error_code": "CONTENT_POLICY", "error_message": "Prompt rejected"},
        }
    assert wait_terminal(emu, default)["data"] == {
        "status": "failed",
        "error_code": "IMAGE_GENERATION_FAILED",
        "error_message": "The image could not be generated",
    }
    assert wait_terminal(emu, succeeding)["data"]["status"] == "completed"
    assert requests.get(f"{emu.base_url}/files/{default}.png", timeout=5).status_code == 404
    assert emu.stats()["faults_applied"] == 3


def test_fail_job_fault_targets_prompts_containing_a_marker(emu: PictoryEmulator) -> None:
    """Only the chosen prompt fails, wherever it comes in the order; other jobs pass the fault by."""
    emu.set_job_seconds(0)
    emu.add_fault("fail_job", prompt_contains="#2", error_code="CONTENT_POLICY", count=1)
    before = create(emu, prompt="Mapped item #1")
    chosen = create(emu, prompt="Mapped item #2")
    after = create(emu, prompt="Mapped item #2 again")  # the fault was used up (count=1)
    assert [wait_terminal(emu, job_id)["data"]["status"] for job_id in (before, chosen, after)] == [
        "completed",
        "failed",
        "completed",
    ]
    assert wait_terminal(emu, chosen)["data"]["error_code"] == "CONTENT_POLICY"
    assert emu.stats()["faults_applied"] == 1
    assert emu.faults() == []

    # An untargeted fail_job queued behind a targeted one still fails the next other job.
    emu.add_fault("fail_job", prompt_contains="poison", count=5)
    emu.add_fault("fail_job")
    plain = create(emu, prompt="A plain image")
    poisoned = create(emu, prompt="A poison apple")
    assert wait_terminal(emu, plain)["data"]["status"] == "failed"
    assert wait_terminal(emu, poisoned)["data"]["status"] == "failed"
    assert [(f["prompt_contains"], f["count"]) for f in emu.faults()] == [("poison", 4)]

    with pytest.raises(ValueError, match="only to fail_job"):
        emu.add_fault("status", prompt_contains="x")
    with pytest.raises(ValueError, match="non-empty string"):
        emu.add_fault("fail_job", prompt_contains="")


def test_fail_job_by_prompt_over_the_admin_api(emu: PictoryEmulator) -> None:
    admin = emu.base_url + "/_emulator"
    emu.set_job_seconds(0)
    response = requests.post(f"{admin}/faults", json={"kind": "fail_job", "prompt_contains": "cat"}, timeout=5)
    assert response.status_code == 200, response.text
    assert response.json()["fault"]["prompt_contains"] == "cat"
    dog, cat = create(emu, prompt="A sleeping dog"), create(emu, prompt="A sleeping cat")
    assert wait_terminal(emu, dog)["data"]["status"] == "completed"
    assert wait_terminal(emu, cat)["data"]["status"] == "failed"
    bad = requests.post(f"{admin}/faults", json={"kind": "slow", "prompt_contains": "cat"}, timeout=5)
    assert bad.status_code == 400
    assert "fail_job" in bad.json()["message"]


def test_invalid_faults(emu: PictoryEmulator) -> None:
    with pytest.raises(ValueError, match="kind"):
        emu.add_fault("explode")
    with pytest.raises(ValueError, match="route"):
        emu.add_fault("status", route="everything")
    with pytest.raises(ValueError, match="count"):
        emu.add_fault("status", count=0)
    assert emu.faults() == []


def test_reset_forgets_requests_in_flight(emu: PictoryEmulator) -> None:
    emu.add_fault("slow", delay=0.3)
    with pytest.raises(requests.Timeout):
        requests.get(emu.base_url + JOBS, headers=AUTH, timeout=0.1)
    emu.reset()
    time.sleep(0.4)
    assert emu.request_log == []
    assert emu.stats()["responses"] == {}


def test_clear_faults_and_reset(emu: PictoryEmulator) -> None:
    emu.add_fault("status", count=5)
    emu.clear_faults()
    create(emu)
    emu.add_fault("status", count=5)
    emu.reset()
    assert emu.faults() == []
    assert emu.stats()["jobs_created"] == 0
    assert emu.request_log == []
    assert requests.get(emu.base_url + JOBS, headers=AUTH, timeout=5).json()["items"] == []


def test_admin_http_api(emu: PictoryEmulator) -> None:
    admin = emu.base_url + "/_emulator"
    response = requests.post(f"{admin}/faults", json={"kind": "status", "route": "create", "status": 502}, timeout=5)
    assert response.status_code == 200
    assert response.json()["fault"]["count"] == 1
    assert requests.get(f"{admin}/faults", timeout=5).json()["faults"][0]["kind"] == "status"
    response = requests.post(emu.base_url + IMAGES, json={"prompt": "hello world"}, headers=AUTH, timeout=5)
    assert response.status_code == 502

    for bad in ({"kind": "explode"}, {"kind": "status", "route": "nowhere"}, {"kind": "status", "bogus": 1}, {}):
        assert requests.post(f"{admin}/faults", json=bad, timeout=5).status_code == 400
    assert requests.post(f"{admin}/faults", data=b"nope", timeout=5).status_code == 400

    requests.post(f"{admin}/faults", json={"kind": "rate_limit", "count": 3, "retry_after": 4}, timeout=5)
    assert requests.get(emu.base_url + JOBS, headers=AUTH, timeout=5).headers["Retry-After"] == "4"
    assert requests.delete(f"{admin}/faults", timeout=5).status_code == 200
    assert requests.get(emu.base_url + JOBS, headers=AUTH, timeout=5).status_code == 200

    assert requests.post(f"{admin}/config", json={"job_seconds": 0}, timeout=5).json() == {"job_seconds": 0.0}
    assert requests.post(f"{admin}/config", json={"job_seconds": -1}, timeout=5).status_code == 400
    job_id = create(emu, prompt="Admin record prompt", model="nanobanana")
    record = requests.get(f"{admin}/jobs/{job_id}", timeout=5).json()
    assert record["status"] == "completed"
    assert record["model"] == "nanobanana"
    assert record["prompt"] == "Admin record prompt"
    assert isinstance(record["created_at"], float)
    assert record["completes_at"] == pytest.approx(record["created_at"])
    assert requests.get(f"{admin}/jobs/{uuid.uuid4()}", timeout=5).status_code == 404

    stats = requests.get(f"{admin}/stats", timeout=5).json()
    assert stats["jobs_created"] == 1
    assert stats["faults_applied"] == 2
    assert requests.post(f"{admin}/reset", timeout=5).json() == {"success": True}
    assert requests.get(f"{admin}/stats", timeout=5).json()["requests"] == dict.fromkeys(
        ("create", "job", "list", "clean", "file", "quota", "usage", "lookup", "upload", "signed_upload"), 0
    )


# -- stats ------------------------------------------------------------------------------------------


def test_stats_and_connections(emu: PictoryEmulator) -> None:
    emu.set_job_seconds(0)
    with requests.Session() as session:
        job_id = create(emu, session)
        session.get(f"{emu.base_url}{JOBS}/{job_id}", headers=AUTH, timeout=5)
        session.get(emu.base_url + JOBS, headers=AUTH, timeout=5)
        session.get(emu.base_url + IMAGES, headers=AUTH, timeout=5)
        assert emu.stats()["connections"] == 1
    requests.get(emu.base_url + JOBS, timeout=5)  # 401, new connection
    requests.post(emu.base_url + IMAGES, json={"prompt": "no"}, headers=AUTH, timeout=5)  # 400
    requests.delete(f"{emu.base_url}{JOBS}/{job_id}/clean", headers=AUTH, timeout=5)
    requests.get(f"{emu.base_url}/files/{job_id}.png", timeout=5)  # 404 after clean
    requests.get(emu.base_url + "/_emulator/stats", timeout=5)  # admin: not counted
    stats = emu.stats()
    assert stats == {
        "requests": {"create": 2, "job": 1, "list": 3, "clean": 1, "file": 1, "quota": 0, "usage": 0}
        | {"lookup": 0, "upload": 0, "signed_upload": 0},
        "responses": {"200": 5, "401": 1, "400": 1, "404": 1},
        "posts": 2,
        "jobs_created": 1,
        "connections": 5,
        "faults_applied": 0,
        "webhooks": [],
    }
    log = emu.request_log
    assert [(e["method"], e["route"], e["status"]) for e in log][-4:] == [
        ("GET", "list", 401),
        ("POST", "create", 400),
        ("DELETE", "clean", 200),
        ("GET", "file", 404),
    ]
    assert set(log[0]) == {"method", "path", "query", "route", "status", "time", "auth"}
    assert log[0]["path"] == IMAGES
    assert KEY not in json.dumps(stats) + json.dumps(log)


# -- webhooks ---------------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]]

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append((self.path, self.headers["Content-Type"], self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    received: list[tuple[str, str, bytes]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_webhook_delivery(emu: PictoryEmulator, receiver: tuple[str, list[tuple[str, str, bytes]]]) -> None:
    url, received = receiver
    emu.set_job_seconds(0.1)
    job_id = create(emu, webhook=f"{url}/hook?x=1")
    emu.add_fault("fail_job", error_code="E1", error_message="boom")
    failed_id = create(emu, webhook=f"{url}/failed")
    assert wait_for(lambda: len(emu.stats()["webhooks"]) == 2), emu.stats()
    by_path = {path: (ctype, json.loads(body)) for path, ctype, body in received}
    ctype, payload = by_path["/hook?x=1"]
    assert ctype.startswith("application/json")
    assert payload == get_job(emu, job_id).json()
    assert payload["data"]["status"] == "completed"
    assert by_path["/failed"][1]["data"] == {"status": "failed", "error_code": "E1", "error_message": "boom"}
    assert sorted(emu.stats()["webhooks"], key=lambda w: w["url"]) == [
        {"job_id": failed_id, "url": f"{url}/failed", "status": 204},
        {"job_id": job_id, "url": f"{url}/hook?x=1", "status": 204},
    ]


def test_finish_jobs_sends_webhooks_now(emu: PictoryEmulator, receiver: Any) -> None:
    url, received = receiver
    emu.set_job_seconds(600)
    job_id = create(emu, webhook=f"{url}/hook")
    assert emu.finish_jobs() == 1
    assert wait_for(lambda: len(received) == 1), emu.stats()  # not 600 s later
    assert json.loads(received[0][2]) == get_job(emu, job_id).json()
    create(emu, webhook=f"{url}/second")
    assert requests.post(f"{emu.base_url}/_emulator/finish_jobs", timeout=10).json() == {"finished": 1}
    assert wait_for(lambda: len(received) == 2) and received[1][0] == "/second"


def test_webhook_failure_is_recorded(emu: PictoryEmulator) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    emu.set_job_seconds(0)
    job_id = create(emu, webhook=dead)
    webhooks = wait_for(lambda: emu.stats()["webhooks"])
    assert webhooks[0]["job_id"] == job_id
    assert webhooks[0]["url"] == dead
    assert isinstance(webhooks[0]["status"], str)
    assert webhooks[0]["status"]
    assert get_job(emu, job_id).json()["data"]["status"] == "completed"


# -- CLI --------------------------------------------------------------------------------------------


def test_cli() -> None:
    command = [sys.executable, "-m", "pictory_provider.emulator", "--port", "0", "--job-seconds", "0"]
    command += ["--api-key", "pictai_cli"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"Pictory emulator listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert match, line
        base_url = match.group(1)
        headers = {"Authorization": "pictai_cli"}
        response = requests.post(base_url + IMAGES, json={"prompt": "From the CLI"}, headers=headers, timeout=5)
        job_id = response.json()["data"]["jobId"]
        job = requests.get(f"{base_url}{JOBS}/{job_id}", headers=headers, timeout=5).json()
        assert job["data"]["status"] == "completed"
        assert requests.get(base_url + JOBS, headers={"Authorization": "pictai_x"}, timeout=5).status_code == 401
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()


def test_cli_on_a_busy_port_says_what_to_do(capsys: pytest.CaptureFixture[str]) -> None:
    from pictory_provider.emulator.__main__ import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert main(["--port", str(busy.getsockname()[1])]) == 1
    error = capsys.readouterr().err
    assert "address already in use" in error
    assert "--port 0 picks a free one" in error


def test_finish_jobs_completes_every_running_job_now_and_keeps_failures(emu):
    emu.set_job_seconds(600)
    first, second = create(emu), create(emu, prompt="FAILME please")
    emu.add_fault("fail_job", prompt_contains="FAILME", error_code="IMAGE_GENERATION_FAILED", error_message="no")
    failing = create(emu, prompt="FAILME please")
    assert get_job(emu, first).json()["data"]["status"] == "in-progress"
    assert emu.finish_jobs() == 3
    assert get_job(emu, first).json()["data"]["status"] == "completed"
    assert get_job(emu, second).json()["data"]["status"] == "completed"  # created before the fault
    assert get_job(emu, failing).json()["data"]["status"] == "failed"
    assert emu.finish_jobs() == 0  # nothing left running


def test_finish_jobs_over_http(emu):
    emu.set_job_seconds(600)
    job_id = create(emu)
    answer = requests.post(f"{emu.base_url}/_emulator/finish_jobs", timeout=10)
    assert answer.status_code == 200 and answer.json() == {"finished": 1}
    assert get_job(emu, job_id).json()["data"]["status"] == "completed"
