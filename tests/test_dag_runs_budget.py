"""example_pictory_budget through `airflow dags test` against the emulator: the guard in real Airflow."""

from __future__ import annotations

import pytest

from .airflow_home import AirflowHome, error_lines
from .conftest import API_KEY, conn_json
from .test_dag_runs import without_airflow_30_comms_debug

pytestmark = pytest.mark.timeout(1200)  # a migration plus a 4-task `dags test` on a loaded shared machine

DAG_ID = "example_pictory_budget"
#: Four tasks run one after another; on a loaded shared machine that can outlast the CLI's usual 240 s.
DAGS_TEST_TIMEOUT = 540


def run(home: AirflowHome, emulator) -> tuple[object, str]:
    env = {"AIRFLOW_CONN_PICTORY_DEFAULT": conn_json(emulator.base_url)}
    result = home.airflow("dags", "test", DAG_ID, env=env, timeout=DAGS_TEST_TIMEOUT)
    output = result.stdout + result.stderr
    assert API_KEY not in without_airflow_30_comms_debug(output)  # Airflow 3.0's own DEBUG lines
    assert home.files_containing(API_KEY) == []
    if result.returncode == 0:  # a green run logs no ERROR line
        assert error_lines(output) == [], output[-4000:]
    return result, output


@pytest.fixture(scope="module")
def home() -> AirflowHome:
    airflow_home = AirflowHome()
    airflow_home.migrate()
    return airflow_home


def mapped(xcom: dict, task_id: str, key: str = "return_value") -> list:
    return [value for (task, _, k), value in sorted(xcom.items()) if task == task_id and k == key]


def test_budget_dag_buys_within_quota_and_the_ledger_matches_xcom(home, emulator):
    emulator.set_credits(limit=50, used=10)
    result, output = run(home, emulator)
    assert result.returncode == 0, output[-4000:]
    xcom = home.xcom(DAG_ID)
    images = mapped(xcom, "generate")
    assert len(images) == 3
    assert [image["ai_credits_used"] for image in images] == [0.6, 0.6, 0.6]
    assert xcom[("compare_with_ledger", -1, "return_value")] == {
        "xcom_total": 1.8,
        "ledger_total": 1.8,
        "remaining": 38.2,
    }
    requests = [entry["route"] for entry in emulator.request_log]
    assert requests.count("quota") == 3 + 3 + 1  # a check before each POST, a log after each job, the bill
    assert emulator.stats()["posts"] == 3
    assert emulator.credits()["used"] == pytest.approx(11.8)


def test_budget_dag_refuses_what_the_quota_cannot_pay_without_posting(home, emulator):
    emulator.set_credits(limit=50, used=49)  # 1 credit left: one 0.6 image, then 0.4 remain
    result, output = run(home, emulator)
    assert result.returncode != 0
    assert "PictoryBudgetError" in output
    assert "only 0.4 of 50 remain" in output
    states = home.task_states(DAG_ID)
    generate = sorted(state for (task, _), state in states.items() if task == "generate")
    assert generate == ["failed", "failed", "success"]  # no retries: PictoryBudgetError is not retried
    assert states[("compare_with_ledger", -1)] == "upstream_failed"
    assert emulator.stats()["posts"] == 1
    assert emulator.credits()["used"] == pytest.approx(49.6)
