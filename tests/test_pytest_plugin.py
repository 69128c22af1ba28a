"""The pytest plugin as a user meets it: a separate project with no conftest, run by pytest in a subprocess.

The project is docs/snippets/user_project (the DAG and tests shown on docs/testing.md) plus a file of
fixture-contract tests written here. It gets its own AIRFLOW_HOME, migrated once with ``airflow db
migrate``, as a user's CI would; the outcome of every test is read from pytest's JUnit XML report.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from .compat import HAS_AIRFLOW_SDK

#: The module fixture migrates a DB and runs a whole pytest session (two real DAG runs) in a subprocess.
pytestmark = pytest.mark.timeout(900)

ROOT = Path(__file__).resolve().parent.parent
USER_PROJECT = ROOT / "docs" / "snippets" / "user_project"
BIN = Path(sys.executable).parent
#: The user's environment already has a (real) Pictory connection: the fixtures must put it back.
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
USERS_OWN_CONNECTION = json.dumps({"conn_type": "pictory", "password": "pictai_users_own_key"})

CONTRACT_TESTS = """
import os

import requests

from pictory_provider.emulator import PictoryEmulator

AUTH = {"Authorization": "pictai_contract"}
IMAGES = "/pictoryapis/v1/aistudio/images"


def test_1_emulator_runs_with_the_configured_job_seconds(pictory_emulator):
    assert isinstance(pictory_emulator, PictoryEmulator)
    body = {"prompt": "A contract test image"}
    created = requests.post(pictory_emulator.base_url + IMAGES, json=body, headers=AUTH, timeout=5)
    job = pictory_emulator.job(created.json()["data"]["jobId"])
    assert round(job["completes_at"] - job["created_at"], 3) == 0.3  # -o pictory_emulator_job_seconds=0.3
    pictory_emulator.add_fault("status", count=5)
    pictory_emulator.set_job_seconds(60)


def test_2_the_next_test_gets_a_reset_emulator(pictory_emulator):
    assert pictory_emulator.stats()["jobs_created"] == 0
    assert pictory_emulator.faults() == []
    body = {"prompt": "Another contract test image"}
    created = requests.post(pictory_emulator.base_url + IMAGES, json=body, headers=AUTH, timeout=5)
    job = pictory_emulator.job(created.json()["data"]["jobId"])
    assert round(job["completes_at"] - job["created_at"], 3) == 0.3


def test_3_connection_points_at_the_emulator(pictory_emulator, pictory_connection):
    from pictory_provider.hooks.pictory import PictoryHook

    assert pictory_connection == "pictory_default"
    credentials = PictoryHook(pictory_connection).get_credentials()
    assert credentials.base_url == pictory_emulator.base_url
    assert PictoryHook(pictory_connection).test_connection()[0] is True


def test_4_the_users_own_connection_is_back():
    assert os.environ["AIRFLOW_CONN_PICTORY_DEFAULT"] == os.environ["EXPECTED_PICTORY_CONN"]
"""


@pytest.fixture(scope="module")
def user_project_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run the example user project's tests once; return ``{test name: outcome}``."""
    base = tmp_path_factory.mktemp("user")
    project = base / "project"
    if HAS_AIRFLOW_SDK:  # the example DAG is written for Airflow 3 (airflow.sdk)
        shutil.copytree(USER_PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_fixture_contract.py").write_text(textwrap.dedent(CONTRACT_TESTS), encoding="utf-8")
    assert not list(project.rglob("conftest.py"))
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW_CONN_", "AIRFLOW__", "PYTEST_", "AIRFLOW_HOME"))
    } | {
        "AIRFLOW_HOME": str(base / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
        "AIRFLOW_CONN_PICTORY_DEFAULT": USERS_OWN_CONNECTION,
        "EXPECTED_PICTORY_CONN": USERS_OWN_CONNECTION,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("PYTHONPATH", None)
    migrated = subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    report = base / "report.xml"
    result = subprocess.run(
        [*PYTEST, "-o", "pictory_emulator_job_seconds=0.3", f"--junitxml={report}", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    outcomes: dict[str, str] = {}
    root = ET.parse(report).getroot()  # noqa: S314 - the report our own pytest run just wrote
    for case in root.iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes[case.attrib["name"]] = "skipped" if case.find("skipped") is not None else "failed" * failed or "passed"
    outcomes["_output"] = result.stdout[-6000:] + result.stderr[-3000:]
    return outcomes


def test_plugin_is_registered_through_the_pytest11_entry_point() -> None:
    (entry,) = [ep for ep in entry_points(group="pytest11") if ep.value.startswith("pictory_provider")]
    assert entry.value == "pictory_provider.testing.pytest_plugin"


def test_plugin_module_imports_nothing_heavy() -> None:
    """pytest loads the plugin in every run of a user's suite: no aiohttp, no Airflow until a test asks."""
    code = (
        "import sys, pictory_provider.testing.pytest_plugin; "
        "print(sorted(m for m in ('aiohttp', 'airflow', 'requests') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "name",
    [
        "test_1_emulator_runs_with_the_configured_job_seconds",
        "test_2_the_next_test_gets_a_reset_emulator",
        "test_3_connection_points_at_the_emulator",
        "test_4_the_users_own_connection_is_back",
    ],
)
def test_fixture_contract_in_a_user_project(user_project_run: dict[str, str], name: str) -> None:
    assert user_project_run.get(name) == "passed", user_project_run["_output"]


@pytest.mark.skipif(not HAS_AIRFLOW_SDK, reason="the example user DAG is written for Airflow 3 (airflow.sdk)")
@pytest.mark.parametrize(
    "name", ["test_every_prompt_becomes_a_stored_poster", "test_a_refused_prompt_fails_only_its_own_poster"]
)
def test_documented_user_dag_tests_pass(user_project_run: dict[str, str], name: str) -> None:
    assert user_project_run.get(name) == "passed", user_project_run["_output"]
