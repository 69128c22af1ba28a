"""Real Airflow runs: every example DAG through `airflow dags test` against the emulator.

The sensor and the operator really defer, the trigger runs (inline, as `dags test` does) and polls
the emulator over HTTP, the tasks resume and downstream tasks read the XCom. After each run the
output, the task logs and the metadata DB are scanned for the API key, and a green run's output for
ERROR lines.
"""

from __future__ import annotations

import importlib.util
import json
import struct
from pathlib import Path

import pytest

from .airflow_home import AirflowHome, error_lines
from .compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS, EXAMPLE_DAGS, HAS_AIRFLOW_SDK
from .conftest import API_KEY, conn_json

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def home() -> AirflowHome:
    airflow_home = AirflowHome()
    airflow_home.migrate()
    return airflow_home


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def without_airflow_30_comms_debug(output: str) -> str:
    """Drop the lines where Airflow 3.0's `dags test` itself prints the connection password.

    Its in-process supervisor logs every comms request at DEBUG with structlog unconfigured, including
    Airflow's own ``MaskSecret(value=...)`` for the connection it just fetched. Those lines never reach
    task logs or the DB (scanned below on every version); Airflow 3.3 does not print them.
    """
    if AIRFLOW_V_3_1_PLUS or not AIRFLOW_V_3_0_PLUS:
        return output
    return "\n".join(line for line in output.splitlines() if "MaskSecret(value=" not in line)


def outlast_task_startup(emulator) -> None:
    """Keep the job in progress until the sensor's first check, so the sensor really defers.

    Airflow 3.0's `dags test` takes about 2 s to start each task, longer than the 0.5 s job, and any
    version takes seconds on a loaded machine: give the job more time than a task start needs.
    """
    emulator.set_job_seconds(6)


def run(
    home: AirflowHome,
    emulator,
    dag_id: str,
    conf: dict | None = None,
    env: dict | None = None,
    connection: str | None = "env",
):
    extra = {"AIRFLOW_CONN_PICTORY_DEFAULT": conn_json(emulator.base_url)} if connection == "env" else {}
    result = home.dags_test(dag_id, conf, env=extra | (env or {}))
    output = result.stdout + result.stderr
    assert API_KEY not in without_airflow_30_comms_debug(output)
    assert home.files_containing(API_KEY) == []
    if result.returncode == 0:  # a green run logs no ERROR line (a new user reads one as a failure)
        assert error_lines(output) == [], output[-4000:]
    return result, output


def test_example_image_defers_resumes_and_stores(home, emulator, tmp_path):
    outlast_task_startup(emulator)
    result, output = run(home, emulator, "example_pictory_image", {"output_path": f"{tmp_path}/"})
    assert result.returncode == 0, output[-4000:]
    assert "[DAG TEST] running trigger in line" in output  # the sensor deferred
    assert "firing success event" in output
    xcom = home.xcom("example_pictory_image")
    job_id = xcom[("submit", -1, "job_id")]
    url = xcom[("wait_for_image", -1, "image_url")]
    assert url == f"{emulator.base_url}/files/{job_id}.png"
    assert xcom[("wait_for_image", -1, "ai_credits_used")] == 0.6
    assert xcom[("wait_for_image", -1, "return_value")] == {
        "job_id": job_id,
        "url": url,
        "width": 1280,
        "height": 720,
        "ai_credits_used": 0.6,
    }
    used = xcom[("use_image", -1, "return_value")]
    assert (used["url"], used["ai_credits_used"]) == (url, 0.6)
    assert png_size(Path(used["image_path"])) == (1280, 720)
    assert emulator.stats()["posts"] == 1
    if AIRFLOW_V_3_0_PLUS:  # the submit-only task has no image_url: its extra link is empty, and quiet (run())
        assert xcom[("submit", -1, "_link_PictoryImageLink")] == ""


def test_example_image_failed_job_fails_the_sensor_with_pictorys_reason(home, emulator, tmp_path):
    emulator.add_fault("fail_job", error_code="CONTENT_POLICY_VIOLATION", error_message="The prompt was refused")
    result, output = run(home, emulator, "example_pictory_image", {"output_path": f"{tmp_path}/"})
    assert result.returncode != 0
    assert "CONTENT_POLICY_VIOLATION: The prompt was refused" in output
    states = home.task_states("example_pictory_image")
    assert states[("submit", -1)] == "success"
    assert states[("wait_for_image", -1)] in ("failed", "up_for_retry")
    assert emulator.stats()["posts"] == 1  # the failure never resubmits
    assert list(tmp_path.iterdir()) == []


def test_example_image_in_poke_mode_gives_the_same_xcom(home, emulator, tmp_path):
    env = {"AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "false"}
    result, output = run(home, emulator, "example_pictory_image", {"output_path": f"{tmp_path}/"}, env)
    assert result.returncode == 0, output[-4000:]
    assert "running trigger in line" not in output  # no deferral
    xcom = home.xcom("example_pictory_image")
    assert set(xcom[("wait_for_image", -1, "return_value")]) == {"job_id", "url", "width", "height", "ai_credits_used"}
    assert xcom[("wait_for_image", -1, "image_url")].endswith(".png")


def test_connection_stored_in_the_metadata_db(home, emulator, tmp_path):
    """A CLI-created connection works in the worker and in the inline trigger (3.3.2 async-lookup caveat)."""
    added = home.airflow("connections", "add", "pictory_default", "--conn-json", conn_json(emulator.base_url))
    assert added.returncode == 0, added.stderr
    outlast_task_startup(emulator)
    try:
        result, output = run(home, emulator, "example_pictory_image", {"output_path": f"{tmp_path}/"}, connection="db")
        assert result.returncode == 0, output[-4000:]
        assert "firing success event" in output
    finally:
        home.airflow("connections", "delete", "pictory_default")


def test_example_operator_waits_with_output_path_and_extra_link(home, emulator, tmp_path):
    result, output = run(home, emulator, "example_pictory_operator_waits", {"output_path": f"{tmp_path}/"})
    assert result.returncode == 0, output[-4000:]
    assert "running trigger in line" in output
    xcom = home.xcom("example_pictory_operator_waits")
    value = xcom[("generate_image", -1, "return_value")]
    assert (value["width"], value["height"], value["ai_credits_used"]) == (720, 1280, 2)
    assert png_size(Path(value["image_path"])) == (720, 1280)
    assert xcom[("generate_image", -1, "image_path")] == value["image_path"]
    if AIRFLOW_V_3_0_PLUS:  # Airflow 3 stores extra links as XCom; Airflow 2 computes them in the UI
        assert xcom[("generate_image", -1, "_link_PictoryImageLink")] == value["url"]


def test_example_mapped_one_image_per_prompt_and_credit_sum(home, emulator, tmp_path):
    result, output = run(home, emulator, "example_pictory_mapped", {"output_path": f"{tmp_path}/"})
    assert result.returncode == 0, output[-4000:]
    xcom = home.xcom("example_pictory_mapped")
    images = [value for (task, _, key), value in xcom.items() if task == "generate" and key == "return_value"]
    assert len(images) == 3
    assert len({image["job_id"] for image in images}) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{image['job_id']}.png" for image in images)
    assert xcom[("total_credits", -1, "return_value")] == pytest.approx(1.8)
    assert emulator.stats()["posts"] == 3
    if AIRFLOW_V_3_0_PLUS:  # every mapped try's extra link points at its own image
        links = {m: v for (t, m, k), v in xcom.items() if t == "generate" and k == "_link_PictoryImageLink"}
        urls = {m: v for (t, m, k), v in xcom.items() if t == "generate" and k == "image_url"}
        assert links == urls and len(links) == 3


@pytest.mark.skipif(not HAS_AIRFLOW_SDK, reason="the asset example DAGs are written for Airflow 3 (airflow.sdk)")
@pytest.mark.skipif(
    not AIRFLOW_V_3_1_PLUS,
    reason="Airflow 3.0's `dags test` fails a task whose outlet asset no scheduler has activated yet "
    "(AirflowInactiveAssetInInletOrOutletException); docs/troubleshooting.md",
)
def test_asset_event_extra_reaches_the_metadata_db_and_the_consumer(home, emulator, tmp_path):
    """The producer's outlet asset event carries the job's facts; the consumer DAG reads them back."""
    result, output = run(home, emulator, "example_pictory_asset_producer", {"output_path": f"{tmp_path}/"})
    assert result.returncode == 0, output[-4000:]
    xcom = home.xcom("example_pictory_asset_producer")
    job_id = xcom[("generate_banner", -1, "job_id")]
    rows = home.query(
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.name = ?", "pictory_daily_banner"
    )
    (extra,) = [json.loads(raw) for (raw,) in rows]
    assert extra == {
        "job_id": job_id,
        "url": xcom[("generate_banner", -1, "image_url")],
        "ai_credits_used": 0.6,
        "width": 1280,
        "height": 720,
        "image_path": f"{tmp_path}/{job_id}.png",
    }
    assert png_size(Path(extra["image_path"])) == (1280, 720)

    spec = importlib.util.spec_from_file_location("asset_consumer", EXAMPLE_DAGS / "example_pictory_asset_consumer.py")
    assert spec is not None
    assert spec.loader is not None
    consumer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(consumer)
    assert consumer.describe_banner(extra) == (
        f"Pictory job {job_id}: 1280x720 image, 0.6 AI credits, at {tmp_path}/{job_id}.png"
    )
    # docs/example-dags.md: `dags test` started no consumer run, and one by hand sees no triggering event
    assert home.query("SELECT COUNT(*) FROM dag_run WHERE dag_id = ?", "example_pictory_asset_consumer") == [(0,)]
    result, output = run(home, emulator, "example_pictory_asset_consumer")
    assert result.returncode == 0, output[-4000:]
    assert home.xcom("example_pictory_asset_consumer")[("announce", -1, "return_value")] == []
    assert "Pictory job" not in output


def test_the_error_scan_sees_airflows_error_lines() -> None:
    """What the ERROR scan of green runs catches: the line iterating a mapped output used to log."""
    structlog_line = (
        "2026-12-05T01:00:23.997660Z [error    ] XCom not found                 [airflow.sdk.api.client] "
        "dag_id=example_pictory_budget key=return_value offset=3 status_code=404 task_id=generate"
    )
    logging_line = "[2026-12-05T01:00:23.997+0000] {taskinstance.py:3312} ERROR - Task failed with exception"
    quiet = "2026-12-05T01:00:23.997660Z [info     ] Task instance in success state [airflow.sdk] error_count=0"
    assert error_lines("\n".join([structlog_line, quiet, logging_line])) == [structlog_line, logging_line]
