"""The pytest plugin as a user meets it: a separate project with no conftest, run by pytest in a subprocess.

The project is docs/snippets/user_project (the DAG and tests shown on docs/testing.md) plus a file of
fixture-contract tests written here. It is run by the CI recipe docs/testing.md prints, taken from the
page and run as printed (a fresh ``mktemp -d`` AIRFLOW_HOME, ``airflow db migrate``, ``pytest``); the
outcome of every test is read from pytest's JUnit XML report.
"""

from __future__ import annotations

import json
import os
import re
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


def documented_ci_recipe() -> str:
    """The shell lines docs/testing.md prints for CI (the ```bash block that runs ``airflow db migrate``)."""
    page = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\n(.*?)^```", page, flags=re.MULTILINE | re.DOTALL)
    (recipe,) = [block for block in blocks if "airflow db migrate" in block]
    return recipe


@pytest.fixture(scope="module")
def user_project_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run docs/testing.md's CI recipe, as printed, in a copy of the example user project.

    The environment has no Airflow settings at all (no AIRFLOW_HOME, no DAGS_FOLDER): the recipe makes
    its own home with ``mktemp -d`` (under this test's TMPDIR), migrates it and runs ``pytest``. pytest's
    extra options (job seconds, the JUnit report) come through ``PYTEST_ADDOPTS``. Returns
    ``{test name: outcome}``.
    """
    base = tmp_path_factory.mktemp("user")
    project, scratch = base / "project", base / "tmp"
    scratch.mkdir()
    if HAS_AIRFLOW_SDK:  # the example DAG is written for Airflow 3 (airflow.sdk)
        shutil.copytree(USER_PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_fixture_contract.py").write_text(textwrap.dedent(CONTRACT_TESTS), encoding="utf-8")
    assert not list(project.rglob("conftest.py"))
    recipe = base / "recipe.sh"
    recipe.write_text(documented_ci_recipe(), encoding="utf-8")
    report = base / "report.xml"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW_CONN_", "AIRFLOW__", "PYTEST_", "AIRFLOW_HOME"))
    } | {
        "TMPDIR": str(scratch),  # where the recipe's `mktemp -d` AIRFLOW_HOME goes
        "PYTEST_ADDOPTS": f"-p no:cacheprovider -o pictory_emulator_job_seconds=0.3 --junitxml={report}",
        "AIRFLOW_CONN_PICTORY_DEFAULT": USERS_OWN_CONNECTION,
        "EXPECTED_PICTORY_CONN": USERS_OWN_CONNECTION,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("PYTHONPATH", None)
    result = subprocess.run(
        ["bash", "-e", str(recipe)], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )
    output = result.stdout[-6000:] + result.stderr[-3000:]
    assert report.is_file(), output
    homes = [path for path in scratch.iterdir() if (path / "airflow.db").is_file()]
    assert len(homes) == 1, output  # the recipe migrated one fresh AIRFLOW_HOME, from `mktemp -d`
    outcomes: dict[str, str] = {}
    root = ET.parse(report).getroot()  # noqa: S314 - the report our own pytest run just wrote
    for case in root.iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        outcomes[case.attrib["name"]] = "skipped" if case.find("skipped") is not None else "failed" * failed or "passed"
    outcomes["_output"] = output
    outcomes["_returncode"] = str(result.returncode)
    return outcomes


def test_documented_ci_recipe_sets_no_dags_folder() -> None:
    """The page's recipe is the short one a user copies: the plugin, not the recipe, finds the DAGs."""
    recipe = documented_ci_recipe()
    assert "airflow db migrate" in recipe
    assert "pytest" in recipe
    assert "DAGS_FOLDER" not in recipe


def test_documented_ci_recipe_passes_in_the_user_project(user_project_run: dict[str, str]) -> None:
    assert user_project_run["_returncode"] == "0", user_project_run["_output"]


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


@pytest.mark.parametrize(
    ("env", "cfg", "expected"),
    [
        ({}, None, True),  # no airflow.cfg yet
        ({}, "dags_folder = {home}/dags", True),  # what `airflow db migrate` writes
        ({}, "dags_folder = {{AIRFLOW_HOME}}/dags", True),
        ({}, "dags_folder = /srv/airflow/dags", False),  # the user's own choice
        ({"AIRFLOW__CORE__DAGS_FOLDER": "/srv/dags"}, None, False),
        ({"AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": "[]"}, None, False),
    ],
)
def test_plugin_changes_only_airflows_default_dags_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], cfg: str | None, expected: bool
) -> None:
    from pictory_provider.testing.pytest_plugin import _airflow_default_dags_folder

    for name in ("AIRFLOW__CORE__DAGS_FOLDER", "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if cfg is not None:
        (tmp_path / "airflow.cfg").write_text("[core]\n" + cfg.format(home=tmp_path) + "\n", encoding="utf-8")
    assert _airflow_default_dags_folder() is expected


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        ([], None, "dags"),
        (["tests"], None, "dags"),  # no ini file: pytest makes tests/ the rootdir
        (["tests"], "[pytest]\npictory_dags_folder = src/flows\n", "src/flows"),
        ([], "[pytest]\npictory_dags_folder =\n", None),  # turned off
    ],
)
def test_plugin_finds_the_projects_dags_folder(tmp_path: Path, args: list[str], ini: str | None, expected: str | None):
    """Which folder a session gets (a pytest subprocess that only reads the environment: no Airflow)."""
    for folder in ("dags", "src/flows", "tests"):
        (tmp_path / folder).mkdir(parents=True)
    if ini is not None:
        (tmp_path / "pytest.ini").write_text(ini, encoding="utf-8")
    (tmp_path / "tests" / "test_env.py").write_text(
        "import os\n\ndef test_env():\n    print('DAGS=' + os.environ.get('AIRFLOW__CORE__DAGS_FOLDER', ''))\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "PYTEST_", "AIRFLOW_HOME"))}
    env["AIRFLOW_HOME"] = str(tmp_path / "airflow-home")  # fresh: no airflow.cfg yet
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    (line,) = [line for line in result.stdout.splitlines() if "DAGS=" in line]
    assert line.split("DAGS=", 1)[1] == (str(tmp_path / expected) if expected else "")


def test_a_user_project_without_airflow_db_migrate_is_told_to_run_it(tmp_path: Path) -> None:
    """The recipe's middle line skipped: the failure says how to fix it, not only "no such table"."""
    shutil.copytree(USER_PROJECT, tmp_path / "project")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "PYTEST_"))}
    env |= {"AIRFLOW_HOME": str(tmp_path / "never-migrated"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-k", "every_prompt"],
        cwd=tmp_path / "project",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1, result.stdout[-3000:]
    assert "no such table" in result.stdout
    assert f"(AIRFLOW_HOME={tmp_path / 'never-migrated'}) has no tables: run `airflow db migrate`" in result.stdout
