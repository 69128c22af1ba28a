"""The provider under a real Airflow deployment: scheduler, dag-processor, triggerer, api-server.

The connection exists only in the metadata DB (created with the CLI), so every run also proves the
worker and the triggerer both resolve it. Tests run in file order; the secret scan comes last.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import time
from pathlib import Path

import pytest

from tests.conftest import API_KEY

from .scenarios import DAG_ID, SCENARIOS, run_scenario

pytestmark = pytest.mark.timeout(900)


def test_example_dag_defers_in_the_real_triggerer(cluster, e2e_emulator, tmp_path):
    e2e_emulator.reset()
    e2e_emulator.set_job_seconds(600)
    dag_id = "example_pictory_image"
    run_id = cluster.trigger(dag_id, {"output_path": f"{tmp_path}/"})
    row = cluster.wait_deferred(dag_id, run_id, "wait_for_image")
    assert e2e_emulator.finish_jobs() == 1  # the image is done once the sensor waits in the triggerer
    assert row[1] == "pictory_provider.triggers.pictory.PictoryJobTrigger"
    assert API_KEY not in row[3]
    assert cluster.wait_for_run(dag_id, run_id) == "success"
    job_id = cluster.xcom(dag_id, run_id, "submit", "job_id")
    assert cluster.xcom(dag_id, run_id, "wait_for_image", "image_url") == f"{e2e_emulator.base_url}/files/{job_id}.png"
    assert cluster.xcom(dag_id, run_id, "wait_for_image", "ai_credits_used") == 0.6
    stored = Path(cluster.xcom(dag_id, run_id, "use_image")["image_path"])
    assert struct.unpack(">II", stored.read_bytes()[16:24]) == (1280, 720)
    trigger_logs = list((cluster.home / "logs").rglob("*.log.trigger.*"))
    assert trigger_logs, "the trigger ran in the triggerer process, which writes its own log"
    assert e2e_emulator.stats()["posts"] == 1


def test_triggerer_killed_mid_wait_job_still_completes_once(cluster, e2e_emulator):
    e2e_emulator.reset()
    e2e_emulator.set_job_seconds(25)
    run_id = cluster.trigger(DAG_ID)
    first = cluster.wait_deferred(DAG_ID, run_id, "wait")
    cluster.kill_component("triggerer", signal.SIGKILL)
    time.sleep(2)
    cluster.start_component("triggerer")
    reassigned = cluster.wait_for(
        lambda: (
            (row := cluster.trigger_row(DAG_ID, run_id, "wait")) is not None and row[2] not in (None, first[2]) and row
        ),
        timeout=90,
        what="the trigger to be picked up by the restarted triggerer",
    )
    assert reassigned[0] == first[0]  # the same persisted trigger, re-created from its kwargs
    assert cluster.wait_for_run(DAG_ID, run_id, timeout=180) == "success"
    assert cluster.xcom(DAG_ID, run_id, "wait", "image_url").endswith(".png")
    assert e2e_emulator.stats()["posts"] == 1  # no duplicate paid image


def test_operator_retry_resumes_instead_of_resubmitting(cluster, e2e_emulator):
    e2e_emulator.reset()
    e2e_emulator.set_job_seconds(3)
    e2e_emulator.add_fault("status", route="job", status=503, count=1)  # the first poll fails the first try
    dag_id = "e2e_pictory_retry"
    run_id = cluster.trigger(dag_id)
    assert cluster.wait_for_run(dag_id, run_id) == "success"
    tries = cluster.query(
        "SELECT try_number FROM task_instance WHERE dag_id=? AND run_id=? AND task_id='generate'", dag_id, run_id
    )
    assert tries == [(2,)]
    assert e2e_emulator.stats()["posts"] == 1  # Airflow 3.3 task state store: the retry resumed the job
    # The retry's decision, whichever state the job had reached when the retry started: still running
    # ("Reconnecting"), or, on a loaded machine, already completed. Both resume the same job.
    job_id = cluster.xcom(dag_id, run_id, "generate")["job_id"]
    log = cluster.wait_for_log(
        dag_id,
        run_id,
        "generate",
        "Reconnecting to existing job",
        "Job already completed successfully, skipping resubmission",
        attempt=2,
    )
    assert job_id in log


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_fault_matrix(cluster, e2e_emulator, scenario):
    outcome = run_scenario(cluster, e2e_emulator, scenario)
    assert outcome.state == scenario.expect, (
        f"task log:\n{outcome.log[-3000:]}\nscheduler log:\n{cluster.log_tail('scheduler')}"
    )
    assert outcome.posts == 1  # nothing resubmitted, whatever happened
    if scenario.reason:
        assert scenario.reason in outcome.error, outcome.log[-3000:]  # the task's own failure names the cause
    if scenario.expect == "success":
        assert cluster.xcom(DAG_ID, outcome.run_id, "wait", "image_url").endswith(".png")


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "images" / "connection-form.png"


def log_in(page, cluster) -> None:
    password = json.loads((cluster.home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    page.goto(f"{cluster.base}/connections")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/connections", timeout=60_000)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_connection_form_in_the_real_ui(cluster, tmp_path):
    """Headless Chromium picks "Pictory" in the add-connection form: the fields are relabelled."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            log_in(page, cluster)
            page.get_by_role("button", name="Add Connection").click()
            page.fill("input[name=connection_id]", "pictory_default")
            combo = page.get_by_role("combobox")
            combo.fill("Pictory")
            page.get_by_role("option", name="Pictory", exact=True).click()
            page.get_by_text("API Key", exact=True).wait_for(timeout=30_000)
            labels = [label.inner_text().strip() for label in page.query_selector_all("label")]
            assert "API Key" in labels
            assert "Base URL" in labels
            assert not {"Login", "Port", "Schema", "Password", "Host"} & set(labels)
            assert page.get_attribute("input[name=password]", "placeholder") == "pictai_..."
            assert page.get_attribute("input[name=host]", "placeholder").startswith("https://api.pictory.ai")
            shot = tmp_path / "connection-form.png"
            page.screenshot(path=str(shot))
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
                SCREENSHOT.parent.mkdir(exist_ok=True)
                SCREENSHOT.write_bytes(shot.read_bytes())
        finally:
            browser.close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_connection_test_button_in_the_real_ui(cluster, e2e_emulator):
    """Click "Test Connection" in the connection list, as a user does; docs/connection.md says what happens.

    Airflow 3.3.2's UI sends ``port: 0`` for a connection stored without a port, and the API then
    answers 400 "Bad Request" (the endpoint "differs from the stored connection"). A connection stored
    with a port passes the test; ``airflow connections test`` always works.
    """
    from playwright.sync_api import sync_playwright

    port = e2e_emulator.base_url.rsplit(":", 1)[1]
    cluster.cli(
        "connections", "add", "pictory_port", "--conn-type", "pictory", "--conn-host", "127.0.0.1",
        "--conn-port", port, "--conn-password", API_KEY,
    )  # fmt: skip
    try:
        assert "Connection success!" in cluster.cli("connections", "test", "pictory_default").stdout
        answers = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 760})
                log_in(page, cluster)
                for conn_id in ("pictory_default", "pictory_port"):
                    row = page.get_by_role("row").filter(has_text=conn_id)
                    with page.expect_response("**/api/v2/connections/test", timeout=60_000) as response:
                        # Keyboard, not a click: the previous row's tooltip may still cover this
                        # button on a busy machine (Playwright then refuses to click through it).
                        row.get_by_role("button", name="Test Connection").press("Enter")
                    answers[conn_id] = (response.value.status, response.value.json())
                page.get_by_text("Bad Request").first.wait_for(timeout=30_000)  # what the user reads
            finally:
                browser.close()
        status, body = answers["pictory_default"]
        assert (status, body.get("detail", "")[:60]) == (
            400,
            "The host or port to test differs from the stored connection.",
        ), f"Airflow's Test button changed ({answers}): update docs/connection.md and the README"
        assert answers["pictory_port"] == (
            200,
            {"status": True, "message": f"Connected to Pictory at http://127.0.0.1:{port}"},
        )
    finally:
        cluster.cli("connections", "delete", "pictory_port")


def test_no_secret_anywhere(cluster):
    """After everything above: the API key is in no log, XCom, trigger kwargs or rendered field."""
    assert cluster.files_containing(API_KEY) == []
    assert cluster.tables_containing(API_KEY) == []
    kwargs = cluster.query("SELECT kwargs FROM trigger")  # triggers of finished tasks may be gone
    assert all(API_KEY not in str(row) for row in kwargs)
