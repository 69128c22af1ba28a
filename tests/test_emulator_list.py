"""The emulator's job list is realistic enough for the status scan: page size, opaque keys, shifting
pages, other job types with bulky data, arrivals during a walk, items without outputs."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import requests

from pictory_provider import api
from pictory_provider.emulator import PictoryEmulator

KEY = "pictai_list_tests"
AUTH = {"Authorization": KEY}


@pytest.fixture(scope="module")
def server() -> Iterator[PictoryEmulator]:
    with PictoryEmulator(job_seconds=0) as emulator:
        yield emulator


@pytest.fixture
def emu(server: PictoryEmulator) -> Iterator[PictoryEmulator]:
    server.reset()
    yield server
    server.reset()


def create(emu: PictoryEmulator, prompt: str) -> str:
    body = requests.post(emu.base_url + api.IMAGES_PATH, json={"prompt": prompt}, headers=AUTH, timeout=5).json()
    return str(body["data"]["jobId"])


def page(emu: PictoryEmulator, key: str | None = None) -> dict:
    params = {"nextPageKey": key} if key else None
    response = requests.get(emu.base_url + api.JOBS_PATH, headers=AUTH, params=params, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def walk(emu: PictoryEmulator) -> list[str]:
    ids, key = [], None
    while True:
        body = page(emu, key)
        ids += [item["data"]["jobId"] for item in body["items"]]
        key = body.get("nextPageKey")
        if not key:
            return ids


def test_page_size_opaque_keys_and_other_job_types(emu):
    older = emu.add_other_jobs(3, data_bytes=10_000)
    mine = [create(emu, f"List image {i}") for i in range(4)]
    newer = emu.add_other_jobs(2, kind="render", status="rendering", data_bytes=100)
    emu.configure_list(page_size=4)
    first = page(emu)
    assert len(first["items"]) == 4
    base64.urlsafe_b64decode(first["nextPageKey"])  # an opaque base64 token
    assert walk(emu) == [*reversed(newer), *reversed(mine), *reversed(older)]  # newest first
    items = {item["data"]["jobId"]: item for item in page(emu)["items"]}
    assert items[newer[-1]]["data"]["status"] == "rendering"  # not a documented status
    last = page(emu, page(emu, first["nextPageKey"])["nextPageKey"])
    assert last["nextPageKey"] is None
    bulky = next(item for item in last["items"] if item["data"]["jobId"] == older[0])
    assert len(bulky["data"]["transcript"][0]["words"]) == 10_000
    job = requests.get(f"{emu.base_url}{api.JOBS_PATH}/{older[0]}", headers=AUTH, timeout=5).json()
    assert job["data"]["jobType"] == "transcription"


def test_offset_paging_shifts_when_jobs_arrive(emu):
    mine = [create(emu, f"Shift image {i}") for i in range(6)]
    emu.configure_list(page_size=3, paging="offset")
    first = page(emu)
    create(emu, "A job arriving between two pages")
    second = page(emu, first["nextPageKey"])
    repeated = {i["data"]["jobId"] for i in first["items"]} & {i["data"]["jobId"] for i in second["items"]}
    assert repeated == {mine[3]}  # the newcomer pushed the first page's last job onto the second


def test_arrivals_per_page_add_jobs_during_a_walk(emu):
    [create(emu, f"Arrival image {i}") for i in range(5)]
    emu.configure_list(page_size=2, arrivals_per_page=1)
    before = len(walk(emu))
    assert len(walk(emu)) > before  # every page read created another job


def test_items_without_outputs(emu):
    job_id = create(emu, "An image whose list item has no url")
    emu.configure_list(list_outputs=False)
    (item,) = page(emu)["items"]
    assert item["data"] == {"status": "completed", "jobId": job_id}


def test_summary_items_carry_status_and_url_only(emu):
    job_id = create(emu, "An image whose list item is a summary")
    emu.configure_list(list_outputs="url")
    (item,) = page(emu)["items"]
    assert item["data"] == {"status": "completed", "url": f"{emu.base_url}/files/{job_id}.png", "jobId": job_id}
    full = requests.get(f"{emu.base_url}{api.JOBS_PATH}/{job_id}", headers=AUTH, timeout=5).json()["data"]
    assert {"width", "height", "aiCreditsUsed"} <= set(full)  # the job itself still has every field


def test_random_job_durations(emu):
    emu.set_job_seconds(5)
    emu.configure_list(job_seconds_max=25)
    durations = []
    for i in range(10):
        record = emu.job(create(emu, f"Random duration {i}"))
        durations.append(record["completes_at"] - record["created_at"])
    assert all(5 <= d <= 25 for d in durations) and len({round(d, 3) for d in durations}) > 1


def test_list_settings_are_validated_and_reset(emu):
    for bad in ({"page_size": 0}, {"paging": "cursor"}, {"arrivals_per_page": -1}, {"list_outputs": "no"}, {"x": 1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            emu.configure_list(**bad)
        response = requests.post(f"{emu.base_url}/_emulator/config", json=bad, timeout=5)
        assert response.status_code == 400
    assert requests.post(f"{emu.base_url}/_emulator/config", json={"page_size": 7}, timeout=5).json()["page_size"] == 7
    response = requests.post(f"{emu.base_url}/_emulator/other_jobs", json={"count": 2, "data_bytes": 5}, timeout=5)
    assert len(response.json()["job_ids"]) == 2
    assert requests.post(f"{emu.base_url}/_emulator/other_jobs", json={"count": -1}, timeout=5).status_code == 400
    emu.reset()
    assert len(page(emu)["items"]) == 0
    assert emu.configure_list()["page_size"] == 100
