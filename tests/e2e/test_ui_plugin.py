"""The Pictory views in the real api-server and UI: task instance tab, gallery page, spend, security.

Two DAGs run once for the module (tests/e2e/dags/e2e_pictory_gallery.py): ``..._shared`` (an image, a
video made from it and two mapped images) and ``..._private`` (an image). The admin sees both; the viewer "outsider" may
read only the shared DAG (tests/e2e/auth_manager.py) and must see nothing of the private one.
Headless Chromium drives Airflow's own UI: the plugin's views are iframes inside it.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conftest import API_KEY

from .harness import OUTSIDER
from .test_real_airflow import CHROMIUM, CHROMIUM_ARGS, log_in

pytestmark = pytest.mark.timeout(600)
SHARED, PRIVATE = "e2e_pictory_gallery_shared", "e2e_pictory_gallery_private"
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def runs(cluster, e2e_emulator, tmp_path_factory) -> dict[str, Any]:
    """Both DAGs run to success; their job ids by (dag, task)."""
    e2e_emulator.reset()
    e2e_emulator.set_job_seconds(1)
    folder = tmp_path_factory.mktemp("gallery")
    run_ids = {dag_id: cluster.trigger(dag_id, {"output_path": f"{folder}/"}) for dag_id in (SHARED, PRIVATE)}
    for dag_id, run_id in run_ids.items():
        assert cluster.wait_for_run(dag_id, run_id) == "success", cluster.log_tail("scheduler")
    jobs = {
        (dag_id, task_id): cluster.xcom(dag_id, run_ids[dag_id], task_id, "job_id")
        for dag_id, task_id in ((SHARED, "generate_image"), (SHARED, "animate_image"), (PRIVATE, "generate_image"))
    }
    for index in (0, 1):
        jobs[(SHARED, "variants", index)] = cluster.xcom(SHARED, run_ids[SHARED], "variants", "job_id", index)
    return {"run_ids": run_ids, "jobs": jobs}


def task_query(dag_id: str, run_id: str, task_id: str) -> str:
    return urlencode({"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": -1})


def test_unauthenticated_requests_are_refused(cluster):
    query = task_query(SHARED, "any", "generate_image")
    for path in ("/pictory/", "/pictory/api/outputs", f"/pictory/task?{query}", f"/pictory/file?{query}"):
        status, body = cluster.fetch(path, auth=False)
        assert status == 401, (path, status, body[:200])
        assert b"Not authenticated" in body
    forged = urllib.request.Request(f"{cluster.base}/pictory/", headers={"Authorization": "Bearer not-a-jwt"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=30)
    assert refused.value.code == 403


def test_each_user_sees_only_the_dags_they_may_read(cluster, runs):
    jobs, run_ids = runs["jobs"], runs["run_ids"]
    private_job = jobs[(PRIVATE, "generate_image")]

    admin = json.loads(cluster.fetch("/pictory/api/outputs")[1])
    assert {o["job_id"] for o in admin["outputs"]} >= set(jobs.values())

    status, body = cluster.fetch("/pictory/api/outputs", user=OUTSIDER)
    assert status == 200
    seen = json.loads(body)
    shared = {job for key, job in jobs.items() if key[0] == SHARED}
    assert {o["job_id"] for o in seen["outputs"]} == shared
    assert {row["dag_id"] for row in seen["spend"]["by_dag"]} == {SHARED}
    assert seen["spend"]["total"] == 9.8  # 3 x 0.6 (flux-schnell) + 8 (5 s of pixverse5.5)
    mapped = {(o["task_id"], o["map_index"]): o["job_id"] for o in seen["outputs"] if o["task_id"] == "variants"}
    assert mapped == {("variants", 0): jobs[(SHARED, "variants", 0)], ("variants", 1): jobs[(SHARED, "variants", 1)]}
    # a mapped task's tab: the output of that map index
    query = urlencode({"dag_id": SHARED, "run_id": run_ids[SHARED], "task_id": "variants", "map_index": 1})
    status, page = cluster.fetch(f"/pictory/task?{query}", user=OUTSIDER)
    assert status == 200 and jobs[(SHARED, "variants", 1)].encode() in page and b"at night, neon" in page
    assert jobs[(SHARED, "variants", 0)].encode() not in page

    videos = json.loads(cluster.fetch("/pictory/api/outputs?kind=video", user=OUTSIDER)[1])["outputs"]
    assert [o["job_id"] for o in videos] == [jobs[(SHARED, "animate_image")]]
    later = json.loads(cluster.fetch("/pictory/api/outputs?since=2999-01-01", user=OUTSIDER)[1])
    assert (later["outputs"], later["spend"]["total"]) == ([], 0)
    assert cluster.fetch("/pictory/api/outputs?since=yesterday", user=OUTSIDER)[0] == 400

    status, page = cluster.fetch("/pictory/", user=OUTSIDER)
    assert status == 200
    request = urllib.request.Request(f"{cluster.base}/pictory/", headers={"Authorization": f"Bearer {cluster.token()}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert jobs[(SHARED, "generate_image")].encode() in page
    assert private_job.encode() not in page and PRIVATE.encode() not in page and b"private sketch" not in page

    private = task_query(PRIVATE, run_ids[PRIVATE], "generate_image")
    for path in (f"/pictory/task?{private}", f"/pictory/file?{private}", f"/pictory/api/outputs?dag_id={PRIVATE}"):
        status, body = cluster.fetch(path, user=OUTSIDER)
        assert private_job.encode() not in body
        if "api/outputs" in path:
            assert json.loads(body)["outputs"] == []
        else:
            assert status == 403, (path, status)
    # the admin may: the stored PNG is served through the plugin
    status, png = cluster.fetch(f"/pictory/file?{private}")
    assert status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"


def test_quota_is_read_server_side_for_users_who_may_read_the_connection(cluster, e2e_emulator):
    def quota_requests() -> int:
        return int(e2e_emulator.stats()["requests"].get("quota", 0))

    before = quota_requests()  # no reset: the outputs' thumbnails stay served for the browser test
    status, page = cluster.fetch("/pictory/?conn_id=pictory_default")
    assert status == 200
    assert b'<p id="quota"><span class="credits">' in page and b"AI credits left" in page
    assert API_KEY.encode() not in page
    assert quota_requests() == before + 1  # the api-server asked Pictory
    # a viewer may not read connections: no quota, no connection list, no request to Pictory
    status, page = cluster.fetch("/pictory/?conn_id=pictory_default", user=OUTSIDER)
    assert status == 200
    assert b"You may not read the connection &#x27;pictory_default&#x27;." in page
    assert b'<option value="pictory_default"' not in page
    assert quota_requests() == before + 1


def screenshot(page, name: str, tmp_path: Path) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        DOCS_IMAGES.mkdir(exist_ok=True)
        (DOCS_IMAGES / name).write_bytes(shot.read_bytes())


@needs_chromium
def test_task_tab_and_gallery_in_the_real_ui(cluster, runs, tmp_path):
    from playwright.sync_api import sync_playwright

    run_id = runs["run_ids"][SHARED]
    image_job = runs["jobs"][(SHARED, "generate_image")]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            log_in(page, cluster)

            # The task instance's "Pictory" tab: the image, inline, at its real size
            page.goto(f"{cluster.base}/dags/{SHARED}/runs/{run_id}/tasks/generate_image/plugin/pictory-output")
            frame = page.frame_locator("iframe[title=Pictory]")
            image = frame.locator(".output img")
            image.wait_for(timeout=60_000)
            page.wait_for_function(
                "() => { const f = document.querySelector('iframe[title=Pictory]');"
                " const i = f && f.contentDocument && f.contentDocument.querySelector('.output img');"
                " return i && i.complete && i.naturalWidth > 0; }",
                timeout=30_000,
            )
            assert image.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [1280, 720]
            assert frame.locator("#credits").inner_text() == "0.6"
            assert "A lighthouse at dawn" in frame.locator("#title").inner_text()
            facts = frame.locator("dl").inner_text()
            assert image_job in facts
            assert not re.search(r"\b\w+ url\b", facts, re.I), facts  # named links, not "Thumbnail url"
            screenshot(page, "ui-task-instance.png", tmp_path)

            # The video task's tab: a player
            page.goto(f"{cluster.base}/dags/{SHARED}/runs/{run_id}/tasks/animate_image/plugin/pictory-output")
            video = page.frame_locator("iframe[title=Pictory]").locator(".output video")
            video.wait_for(timeout=60_000)
            video.evaluate(  # the player reads the stored MP4 through the plugin: 5 s of video
                "v => new Promise((ok, fail) => v.readyState >= 1 ? ok() :"
                " (v.onloadedmetadata = ok, v.onerror = () => fail(String(v.error && v.error.message))))"
            )
            assert round(video.evaluate("v => v.duration")) == 5

            # The "Pictory" page in the navigation: the gallery lists the image with its credits
            page.goto(f"{cluster.base}/plugin/pictory")
            gallery = page.frame_locator("iframe[title=Pictory]")
            card = gallery.locator(f'.card[data-job-id="{image_job}"]')
            card.wait_for(timeout=60_000)
            assert "0.6 AI credits" in card.inner_text()
            assert gallery.locator("#spend-by-dag").inner_text().count(SHARED) == 1
            # choosing a connection shows its quota (read by the api-server; the key stays there)
            gallery.locator("select[name=conn_id]").select_option("pictory_default")
            assert "AI credits left" in gallery.locator("#quota").inner_text(timeout=60_000)
            page.wait_for_function(  # the cards in view have loaded (the others load lazily)
                "() => { const f = document.querySelector('iframe[title=Pictory]');"
                " const imgs = f && f.contentDocument ? [...f.contentDocument.querySelectorAll('.card img')] : [];"
                " const seen = imgs.filter(i => i.getBoundingClientRect().top < f.clientHeight);"
                " return seen.length > 0 && seen.every(i => i.complete); }",
                timeout=30_000,
            )
            screenshot(page, "ui-gallery.png", tmp_path)
            # Airflow's look: its font and controls, not the browser's defaults
            select = gallery.locator("select[name=dag_id]")
            assert "Inter" in select.evaluate("s => getComputedStyle(s).fontFamily")
            assert select.evaluate("s => getComputedStyle(s).borderRadius") == "6px"
            assert gallery.locator("button").evaluate("b => getComputedStyle(b).color") == "rgb(255, 255, 255)"

            # Airflow's dark mode (its theme toggle stores "theme" and sets html.dark): the page follows it
            page.evaluate("localStorage.setItem('theme', 'dark')")
            page.reload()
            dark = page.frame_locator("iframe[title=Pictory]")
            dark.locator(f'.card[data-job-id="{image_job}"]').wait_for(timeout=60_000)
            assert page.evaluate("document.documentElement.classList.contains('dark')")  # Airflow's own
            root = dark.locator("html")
            assert root.evaluate("h => h.classList.contains('dark')")
            assert dark.locator("body").evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(0, 0, 0)"
            page.evaluate("document.documentElement.classList.replace('dark', 'light')")  # toggled back
            page.wait_for_function(
                "() => !document.querySelector('iframe[title=Pictory]').contentDocument"
                ".documentElement.classList.contains('dark')",
                timeout=10_000,
            )
            page.evaluate("localStorage.setItem('theme', 'light')")
        finally:
            browser.close()
