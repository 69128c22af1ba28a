"""The "Pictory Image" extra link stays quiet: no ERROR line in a healthy run of a deferring DAG.

Airflow 3 asks each extra link for its URL at the end of every try, also when the operator deferred
or failed and published no ``image_url`` yet; a plain ``XCom.get_value`` logged "XCom not found" at
ERROR level there (issue 15). The submit-only and mapped examples are checked the same way where they
already run, in tests/test_dag_runs.py (its ``run()`` fails a green run that logs an ERROR line).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator

import pytest

from .airflow_home import AirflowHome
from .compat import AIRFLOW_V_3_0_PLUS
from .conftest import conn_json

pytestmark = pytest.mark.timeout(900)

ERROR_LINE = re.compile(r"\[error\s*\]|\bERROR\b")


@pytest.fixture(scope="module")
def home() -> Iterator[AirflowHome]:
    airflow_home = AirflowHome()
    airflow_home.migrate()
    yield airflow_home
    shutil.rmtree(airflow_home.path, ignore_errors=True)


def dags_test(home: AirflowHome, emulator, dag_id: str, tmp_path) -> tuple[int, str]:
    env = {"AIRFLOW_CONN_PICTORY_DEFAULT": conn_json(emulator.base_url)}
    conf = json.dumps({"output_path": f"{tmp_path}/"})
    result = home.airflow("dags", "test", dag_id, "-c", conf, env=env, timeout=480)  # a busy machine is slow
    return result.returncode, result.stdout + result.stderr


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if ERROR_LINE.search(line)]


def test_deferring_operator_run_logs_no_error_and_stores_the_link(home, emulator, tmp_path):
    code, output = dags_test(home, emulator, "example_pictory_operator_waits", tmp_path)
    assert code == 0, output[-4000:]
    assert "running trigger in line" in output  # the operator deferred: the link ran at the deferral too
    assert error_lines(output) == []
    xcom = home.xcom("example_pictory_operator_waits")
    if AIRFLOW_V_3_0_PLUS:  # Airflow 3 stores the link at the end of the try; Airflow 2 computes it in the UI
        assert xcom[("generate_image", -1, "_link_PictoryImageLink")] == xcom[("generate_image", -1, "image_url")]


def test_failed_operator_logs_its_failure_but_no_xcom_lookup_error(home, emulator, tmp_path):
    emulator.add_fault("fail_job", error_code="CONTENT_POLICY_VIOLATION", error_message="The prompt was refused")
    code, output = dags_test(home, emulator, "example_pictory_operator_waits", tmp_path)
    assert code != 0
    assert "CONTENT_POLICY_VIOLATION" in output
    assert "XCom not found" not in output
    if AIRFLOW_V_3_0_PLUS:
        assert home.xcom("example_pictory_operator_waits")[("generate_image", -1, "_link_PictoryImageLink")] == ""
