"""The shared status scan (issue #11) against the emulator over real HTTP: many triggers of one key learn
their jobs' states from GET /pictoryapis/v1/jobs, and every promise of the trigger still holds."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from pictory_provider.api import JOB_DATA_KEYS, parse_job
from pictory_provider.hooks import scan as scan_module
from pictory_provider.hooks.connection import PictoryCredentials
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .conftest import API_KEY, conn_json
from .test_trigger import FAST, only_event, run_to_end, submit

FOREVER = 10**6


def use_connection(monkeypatch, base_url: str, conn_id: str = "pictory_default", key: str = API_KEY, **extra) -> None:
    conn = json.loads(conn_json(base_url, key)) | {"extra": {"max_requests_per_second": 0, **extra}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


async def submit_many(n: int, prefix: str = "Scan test image") -> list[str]:
    return [await asyncio.to_thread(submit, f"{prefix} {i}") for i in range(n)]


def trigger(job_id: str, conn_id: str = "pictory_default", **kwargs) -> PictoryJobTrigger:
    params = FAST | kwargs.pop("hook_params", {})
    return PictoryJobTrigger(
        job_id, conn_id, poll_interval=kwargs.pop("poll_interval", 0.5), hook_params=params, **kwargs
    )


async def wait_all(triggers: list[PictoryJobTrigger], limit: float = 30) -> list[dict]:
    results = await asyncio.gather(*(run_to_end(t, limit) for t in triggers))
    return [only_event(events) for events in results]


def assert_success(events: list[dict], job_ids: list[str], base_url: str) -> None:
    assert [e["status"] for e in events] == ["success"] * len(job_ids), [e for e in events if e["status"] != "success"]
    for event, job_id in zip(events, job_ids, strict=True):
        assert event["job_id"] == job_id
        assert event["url"] == f"{base_url}/files/{job_id}.png"
        assert (event["width"], event["height"]) == (1024, 1024)


@pytest.fixture
def no_early_stop(monkeypatch):
    """Walk every page (the scan otherwise reads the last few jobs with their own GETs)."""
    monkeypatch.setattr(scan_module, "SCAN_MIN_JOBS", 1)


@pytest.mark.asyncio
async def test_many_jobs_share_paginated_list_walks(emulator, monkeypatch, no_early_stop):
    use_connection(monkeypatch, emulator.base_url, status_polling="list")
    emulator.set_job_seconds(1.0)
    emulator.add_other_jobs(10, data_bytes=50_000)  # older bulky transcriptions
    job_ids = await submit_many(30)
    emulator.add_other_jobs(10, kind="render", status="rendering", data_bytes=20_000)  # unknown status, newer
    emulator.configure_list(page_size=7)
    events = await wait_all([trigger(j) for j in job_ids])
    assert_success(events, job_ids, emulator.base_url)
    requests = emulator.stats()["requests"]
    assert requests["job"] == 0, requests  # every state came from the list
    pages = [r for r in emulator.request_log if r["route"] == "list"]
    assert len(pages) >= 6  # 50 jobs at 7 per page: the walk followed nextPageKey
    # one walk per tick for all 30 triggers, not 30: at most ~ (pages per walk) x (ticks)
    assert len(pages) <= 8 * 8, len(pages)


@pytest.mark.asyncio
async def test_auto_mode_polls_few_jobs_one_by_one_and_many_through_the_list(emulator, monkeypatch):
    emulator.set_job_seconds(0.6)
    use_connection(monkeypatch, emulator.base_url)  # status_polling unset: auto
    few = await submit_many(3)
    assert_success(await wait_all([trigger(j) for j in few]), few, emulator.base_url)
    assert emulator.stats()["requests"]["list"] == 0
    many = await submit_many(scan_module.SCAN_MIN_JOBS + 5)
    before = emulator.stats()["requests"]
    assert_success(await wait_all([trigger(j) for j in many]), many, emulator.base_url)
    after = emulator.stats()["requests"]
    assert after["list"] > before["list"]
    assert after["job"] - before["job"] < len(many)  # fewer GETs than one per job


@pytest.mark.asyncio
async def test_per_job_mode_never_reads_the_list(emulator, monkeypatch):
    emulator.set_job_seconds(0.6)
    use_connection(monkeypatch, emulator.base_url, status_polling="per_job")
    job_ids = await submit_many(25)
    assert_success(await wait_all([trigger(j) for j in job_ids]), job_ids, emulator.base_url)
    assert emulator.stats()["requests"]["list"] == 0


@pytest.mark.asyncio
async def test_shifting_pages_with_jobs_arriving_during_the_walk(emulator, monkeypatch, no_early_stop):
    use_connection(monkeypatch, emulator.base_url, status_polling="list")
    emulator.set_job_seconds(1.0)
    job_ids = await submit_many(25)
    # offset paging: 3 new jobs before every page read push items down, so the walk sees some twice
    emulator.configure_list(page_size=5, paging="offset", arrivals_per_page=3)
    events = await wait_all([trigger(j) for j in job_ids])
    assert_success(events, job_ids, emulator.base_url)


@pytest.mark.asyncio
async def test_a_job_beyond_the_page_budget_is_read_with_its_own_get(emulator, monkeypatch, no_early_stop):
    use_connection(monkeypatch, emulator.base_url, status_polling="list")
    monkeypatch.setattr(scan_module, "SCAN_PAGE_BUDGET", 2)
    emulator.set_job_seconds(1.0)
    job_ids = await submit_many(20)
    emulator.configure_list(page_size=5)
    events = await wait_all([trigger(j) for j in job_ids])
    assert_success(events, job_ids, emulator.base_url)
    requests = emulator.stats()["requests"]
    assert requests["job"] >= 10, requests  # the 10 oldest jobs lie beyond 2 pages of 5
    assert requests["list"] >= 2


@pytest.mark.asyncio
async def test_completed_item_without_outputs_is_read_with_its_own_get(emulator, monkeypatch, no_early_stop):
    use_connection(monkeypatch, emulator.base_url, status_polling="list")
    emulator.set_job_seconds(1.0)
    job_ids = await submit_many(20)
    emulator.configure_list(list_outputs=False)
    events = await wait_all([trigger(j) for j in job_ids])
    assert_success(events, job_ids, emulator.base_url)  # url, width, height from GET /jobs/{id}
    assert emulator.stats()["requests"]["job"] == 20  # one GET each, once the list said "completed"


def submit_video(prompt: str) -> str:
    return PictoryHook(**FAST).generate_video(prompt)


def without_message(event: dict) -> dict:
    return {key: value for key, value in event.items() if key != "message"}  # "after N poll(s)" differs


IMAGE_DATA = {"status": "completed", "url": "https://cdn/x.png", "width": 1, "height": 1, "aiCreditsUsed": 2}
VIDEO_DATA = IMAGE_DATA | {
    "url": "https://cdn/x.mp4?sig=1",
    "duration": "5s",
    "thumbnailImageUrl": "https://cdn/t.jpg",
    "lastFrameImageUrl": "https://cdn/l.png",
}


@pytest.mark.parametrize(
    ("data", "lacks"),
    [
        (IMAGE_DATA, False),
        (VIDEO_DATA, False),
        (IMAGE_DATA | {"status": "in-progress", "url": None}, False),  # only completed items are read
        ({"status": "failed", "error_code": "X"}, False),
        ({k: v for k, v in IMAGE_DATA.items() if k != "aiCreditsUsed"}, True),
        ({"status": "completed", "url": "https://cdn/x.png"}, True),
        ({k: v for k, v in VIDEO_DATA.items() if k != "duration"}, True),  # a video by its .mp4 url
        ({k: v for k, v in VIDEO_DATA.items() if k not in ("duration", "url")} | {"url": "https://cdn/v"}, True),
        (IMAGE_DATA | {"width": None}, True),
    ],
)
def test_which_completed_items_are_read_with_their_own_get(data, lacks):
    assert scan_module._lacks_outputs(data) is lacks


def test_job_data_keys_are_the_keys_parse_job_reads():
    data = {"status": "completed", "url": "https://cdn/x.mp4", "width": 3, "height": 4, "aiCreditsUsed": 5.0}
    data |= {"duration": "6s", "thumbnailImageUrl": "https://t", "previewImageUrl": "https://p"}
    data |= {"lastFrameImageUrl": "https://l"}
    job = parse_job({"data": data}, "00000000-0000-4000-8000-000000000000")
    for attribute, key in JOB_DATA_KEYS.items():
        assert getattr(job, attribute) == (6 if key == "duration" else data[key]), attribute


@pytest.mark.asyncio
async def test_summary_list_items_give_the_same_events_as_per_job_polls(emulator, monkeypatch, no_early_stop):
    """Issue 19 item 4: a completed item with status and url but no width/height/credits (or, for a
    video, no duration/thumbnail) is read with its own GET, so both paths fire the same events; full
    items cost no GET."""
    emulator.set_job_seconds(0.5)
    use_connection(monkeypatch, emulator.base_url, status_polling="list")
    images = await submit_many(3, "Summary item image")
    videos = [await asyncio.to_thread(submit_video, f"Summary item video {i}") for i in range(2)]
    job_ids = images + videos
    full = await wait_all([trigger(j) for j in job_ids])  # full items: every state from the list
    assert emulator.stats()["requests"]["job"] == 0
    emulator.configure_list(list_outputs="url")  # summary items: status and url only
    summary = await wait_all([trigger(j) for j in job_ids])
    assert emulator.stats()["requests"]["job"] == len(job_ids)  # one GET per completed summary item
    use_connection(monkeypatch, emulator.base_url, status_polling="per_job")
    per_job = await wait_all([trigger(j) for j in job_ids])
    assert emulator.stats()["requests"]["job"] == 2 * len(job_ids)
    for listed, from_summary, polled in zip(full, summary, per_job, strict=True):
        assert without_message(from_summary) == without_message(polled) == without_message(listed)
        assert polled["status"] == "success"
        assert None not in (polled["width"], polled["height"], polled["ai_credits_used"]), polled
    for event in per_job[len(images) :]:
        assert event["url"].endswith(".mp4") and event["duration"] and event["thumbnail_url"], event


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 503, "count": 3},
        {"kind": "rate_limit", "retry_after": 1, "count": 1},
        {"kind": "non_json", "count": 2},
        {"kind": "status", "status": 200, "body": {"unexpected": "shape"}, "count": 2},
        {"kind": "status", "status": 200, "body": '{"items": [1, "x", {"data": 7}, {"data": {"jobId": 5}}]}'},
        {"kind": "reset", "count": 2},
    ],
    ids=["503", "429", "html", "no-items", "junk-items", "reset"],
)
async def test_a_failing_list_never_fails_a_trigger(emulator, monkeypatch, fault):
    use_connection(monkeypatch, emulator.base_url, status_polling="list")
    emulator.set_job_seconds(1.0)
    job_ids = await submit_many(20)
    kind = fault.pop("kind")
    emulator.add_fault(kind, route="list", **fault)
    events = await wait_all([trigger(j) for j in job_ids])
    assert_success(events, job_ids, emulator.base_url)
    assert emulator.stats()["requests"]["list"] >= 2


@pytest.mark.asyncio
async def test_a_list_failing_for_good_hands_jobs_to_their_own_gets(emulator, monkeypatch):
    use_connection(monkeypatch, emulator.base_url, status_polling="list")
    emulator.set_job_seconds(0.5)
    job_ids = await submit_many(20)
    emulator.add_fault("status", route="list", status=503, count=FOREVER)
    events = await wait_all([trigger(j, hook_params={"max_attempts": 3}) for j in job_ids])
    assert_success(events, job_ids, emulator.base_url)
    assert emulator.stats()["requests"]["job"] >= 20


@pytest.mark.asyncio
async def test_a_refused_list_gives_each_trigger_its_own_error(emulator, monkeypatch):
    use_connection(monkeypatch, emulator.base_url, key="not-a-pictory-key", status_polling="list")
    job_ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(20)]
    events = await wait_all([trigger(j) for j in job_ids])
    assert all(e["status"] == "error" and "HTTP 401" in e["message"] for e in events), events
    assert all("not-a-pictory-key" not in e["message"] for e in events)


@pytest.mark.asyncio
async def test_unknown_job_in_list_mode_is_a_404_error(emulator, monkeypatch):
    use_connection(monkeypatch, emulator.base_url, status_polling="list")
    job_ids = await submit_many(20)
    missing = "00000000-0000-4000-8000-000000000000"
    events = await wait_all([trigger(j) for j in [*job_ids, missing]])
    assert events[-1]["status"] == "error" and "HTTP 404" in events[-1]["message"]
    assert [e["status"] for e in events[:-1]] == ["success"] * 20


@pytest.mark.asyncio
async def test_end_time_holds_while_the_list_is_slow(emulator, monkeypatch):
    use_connection(monkeypatch, emulator.base_url, status_polling="list")
    emulator.set_job_seconds(60)
    job_ids = await submit_many(20)
    emulator.add_fault("slow", route="list", delay=10, count=FOREVER)
    started = time.monotonic()
    events = await wait_all([trigger(j, end_time=time.time() + 1.5) for j in job_ids])
    assert [e["status"] for e in events] == ["timeout"] * 20
    assert time.monotonic() - started < 3


def creds_of(base_url: str, key: str = API_KEY) -> PictoryCredentials:
    return PictoryCredentials(base_url=base_url, api_key=key)


@pytest.mark.asyncio
async def test_cancelling_mid_scan_unregisters_and_the_last_one_stops_the_scan(emulator, monkeypatch):
    use_connection(monkeypatch, emulator.base_url, status_polling="list")
    emulator.set_job_seconds(60)
    job_ids = await submit_many(20)
    emulator.add_fault("slow", route="list", delay=1.0, count=FOREVER)
    tasks = [asyncio.create_task(run_to_end(trigger(j))) for j in job_ids]
    await asyncio.sleep(0.5)  # the first walk is waiting for its page
    scan = scan_module.scan_for(creds_of(emulator.base_url))
    assert scan is not None and len(scan.registered) == 20
    for task in tasks[:15]:
        task.cancel()
    await asyncio.gather(*tasks[:15], return_exceptions=True)
    assert set(scan.registered) == set(job_ids[15:])  # unregistered at once, mid-walk
    for task in tasks[15:]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert scan_module.scan_for(creds_of(emulator.base_url)) is None
    assert scan._runner is None
    await asyncio.sleep(0.1)
    lists = emulator.stats()["requests"]["list"]
    await asyncio.sleep(1.5)
    assert emulator.stats()["requests"]["list"] == lists  # nobody scans for nobody


@pytest.mark.asyncio
async def test_two_keys_never_share_a_scan(emulator, monkeypatch, no_early_stop):
    emulator.set_job_seconds(3.0)
    other_key = API_KEY + "b"
    use_connection(monkeypatch, emulator.base_url, status_polling="list")
    use_connection(monkeypatch, emulator.base_url, "second", key=other_key, status_polling="list")
    first, second = await submit_many(10, "First key"), await submit_many(10, "Second key")
    tasks = [asyncio.create_task(run_to_end(trigger(j))) for j in first]
    tasks += [asyncio.create_task(run_to_end(trigger(j, "second"))) for j in second]
    for _ in range(100):  # until all 20 triggers have looked up their connection and registered
        scan_a = scan_module.scan_for(creds_of(emulator.base_url))
        scan_b = scan_module.scan_for(creds_of(emulator.base_url, other_key))
        if scan_a and scan_b and len(scan_a.registered) + len(scan_b.registered) == 20:
            break
        await asyncio.sleep(0.05)
    assert scan_a is not None and scan_b is not None and scan_a is not scan_b
    assert set(scan_a.registered) == set(first) and set(scan_b.registered) == set(second)
    events = [only_event(e) for e in await asyncio.gather(*tasks)]
    assert_success(events, first + second, emulator.base_url)


@pytest.mark.asyncio
async def test_a_misconfigured_connection_does_not_stall_another_key(emulator, monkeypatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    use_connection(monkeypatch, dead, "broken", key=API_KEY + "x", status_polling="list")
    use_connection(monkeypatch, emulator.base_url, status_polling="list")
    emulator.set_job_seconds(0.5)
    job_ids = await submit_many(20)
    slow_params = {"max_attempts": 4, "retry_min_wait": 1.0, "retry_max_wait": 2.0}
    broken = [
        asyncio.create_task(run_to_end(trigger(f"00000000-0000-4000-8000-{i:012d}", "broken", hook_params=slow_params)))
        for i in range(20)
    ]
    started = time.monotonic()
    events = await wait_all([trigger(j) for j in job_ids])
    assert_success(events, job_ids, emulator.base_url)
    assert time.monotonic() - started < 3.0
    broken_events = [only_event(e) for e in await asyncio.gather(*broken)]
    assert all(e["status"] == "error" for e in broken_events)
