"""pytest plugin: the bundled Pictory emulator and a connection to it, for testing DAGs offline.

Registered through the ``pytest11`` entry point, so with the provider installed any test can ask for:

- ``pictory_emulator``: a running :class:`~pictory_provider.emulator.PictoryEmulator` (one server per
  test session, on a free loopback port) whose jobs finish after ``pictory_emulator_job_seconds``
  (ini option, default 0.2 s); jobs, faults, counters and the job duration are reset before and after
  every test.
- ``pictory_connection``: sets ``AIRFLOW_CONN_PICTORY_DEFAULT`` to that emulator for the test (the
  previous value comes back afterwards) and returns the connection id, ``"pictory_default"``.

``dag.test()`` on Airflow 3 runs only DAGs found in the configured DAGs folder. When the project has a
``dags/`` folder (ini option ``pictory_dags_folder``, looked up in the rootdir, then in the directory
pytest was started in; empty turns this off) and Airflow's DAGs folder is still its default
(``$AIRFLOW_HOME/dags``, no ``AIRFLOW__CORE__DAGS_FOLDER``), the plugin points
``AIRFLOW__CORE__DAGS_FOLDER`` at the project's folder for the session, so ``airflow db migrate`` then
``pytest`` works on a fresh ``AIRFLOW_HOME``.

Loaded by every pytest run in an environment that has the provider, so this module imports only
pytest; the emulator (aiohttp) is imported when a test first asks for it.
"""

from __future__ import annotations

import configparser
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pictory_provider.emulator import PictoryEmulator

__all__ = [
    "CONNECTION_ID",
    "TEST_API_KEY",
    "pictory_connection",
    "pictory_emulator",
    "pictory_emulator_server",
    "pytest_addoption",
    "pytest_load_initial_conftests",
    "pytest_report_header",
    "pytest_runtest_makereport",
    "pytest_unconfigure",
]

#: The connection id ``pictory_connection`` sets up (every Pictory operator's default).
CONNECTION_ID = "pictory_default"
#: The API key the connection carries; the emulator accepts any key starting with ``pictai_``.
TEST_API_KEY = "pictai_pytest"
JOB_SECONDS_INI = "pictory_emulator_job_seconds"
DEFAULT_JOB_SECONDS = 0.2
DAGS_FOLDER_INI = "pictory_dags_folder"
DAGS_FOLDER_ENV = "AIRFLOW__CORE__DAGS_FOLDER"
_SET_DAGS_FOLDER = pytest.StashKey[str]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        JOB_SECONDS_INI,
        help="Seconds a job of the pictory_emulator fixture stays in-progress (default 0.2).",
        default=str(DEFAULT_JOB_SECONDS),
    )
    parser.addini(
        DAGS_FOLDER_INI,
        help="The project's DAGs folder, in the rootdir or where pytest started (default: dags); Airflow's "
        "DAGs folder is pointed at it when it is still Airflow's default. Empty: leave Airflow's setting alone.",
        default="dags",
    )


def _airflow_default_dags_folder() -> bool:
    """Is Airflow's DAGs folder unset or ``$AIRFLOW_HOME/dags``, the value ``airflow db migrate`` writes?"""
    if os.environ.get(DAGS_FOLDER_ENV) or os.environ.get("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"):
        return False
    home = Path(os.path.expanduser(os.environ.get("AIRFLOW_HOME") or "~/airflow"))
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(home / "airflow.cfg", encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return False  # a config we cannot read: leave it alone
    configured = parser.get("core", "dags_folder", fallback="").strip()
    if not configured:
        return True
    configured = os.path.expandvars(configured.replace("{AIRFLOW_HOME}", str(home)))
    return os.path.normpath(os.path.expanduser(configured)) == os.path.normpath(home / "dags")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Point Airflow's DAGs folder at the project's ``dags/`` before any conftest imports Airflow."""
    name = str(early_config.getini(DAGS_FOLDER_INI) or "").strip()
    if not name or not _airflow_default_dags_folder():
        return
    # `pytest tests/` without an ini file makes tests/ the rootdir: look where pytest was started too
    places = (early_config.rootpath, early_config.invocation_params.dir)
    folder = next((path.resolve() for place in places if (path := place / name).is_dir()), None)
    if folder is None:
        return
    os.environ[DAGS_FOLDER_ENV] = str(folder)
    early_config.stash[_SET_DAGS_FOLDER] = str(folder)
    settings = sys.modules.get("airflow.settings")  # imported already (another plugin): update it too
    if settings is not None and "DAGS_FOLDER" in vars(settings):
        vars(settings)["DAGS_FOLDER"] = str(folder)


def pytest_report_header(config: pytest.Config) -> str | None:
    folder = config.stash.get(_SET_DAGS_FOLDER, None)
    if folder is None:
        return None
    return f"pictory: {DAGS_FOLDER_ENV}={folder} (the project's DAGs; ini option {DAGS_FOLDER_INI})"


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_SET_DAGS_FOLDER, None) is not None and os.environ.get(DAGS_FOLDER_ENV):
        os.environ.pop(DAGS_FOLDER_ENV, None)


#: What Airflow's metadata DB answers to dag.test() before ``airflow db migrate`` (SQLite, PostgreSQL).
_UNMIGRATED = ("no such table: ", 'relation "')


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """After an unmigrated metadata DB failed a test of a Pictory fixture, say how to migrate it."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    fixtures = getattr(item, "fixturenames", ())
    if not report.failed or call.excinfo is None or not {"pictory_emulator", "pictory_connection"} & set(fixtures):
        return
    error = str(call.excinfo.value)
    if any(marker in error for marker in _UNMIGRATED) and ("no such table" in error or "does not exist" in error):
        home = os.environ.get("AIRFLOW_HOME", "~/airflow")
        report.sections.append(
            (
                "pictory",
                f"Airflow's metadata database (AIRFLOW_HOME={home}) has no tables: run `airflow db migrate` "
                "once for this AIRFLOW_HOME before pytest (the provider's docs/testing.md)",
            )
        )


def _job_seconds(config: pytest.Config) -> float:
    raw = config.getini(JOB_SECONDS_INI)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"{JOB_SECONDS_INI} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise pytest.UsageError(f"{JOB_SECONDS_INI} must be >= 0, got {raw!r}")
    return value


@pytest.fixture(scope="session")
def pictory_emulator_server(pytestconfig: pytest.Config) -> Iterator[PictoryEmulator]:
    """The session's emulator process-local server (use ``pictory_emulator``, which resets it)."""
    from pictory_provider.emulator import PictoryEmulator

    with PictoryEmulator(job_seconds=_job_seconds(pytestconfig)) as server:
        yield server


@pytest.fixture
def pictory_emulator(
    pictory_emulator_server: PictoryEmulator, pytestconfig: pytest.Config
) -> Iterator[PictoryEmulator]:
    """A running Pictory emulator with fast jobs, reset before and after the test."""
    job_seconds = _job_seconds(pytestconfig)
    pictory_emulator_server.reset()
    pictory_emulator_server.set_job_seconds(job_seconds)
    yield pictory_emulator_server
    pictory_emulator_server.reset()
    pictory_emulator_server.set_job_seconds(job_seconds)


@pytest.fixture
def pictory_connection(pictory_emulator: PictoryEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """``pictory_default`` points at ``pictory_emulator`` for this test; returns the connection id."""
    conn = {"conn_type": "pictory", "host": pictory_emulator.base_url, "password": TEST_API_KEY}
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", json.dumps(conn))
    return CONNECTION_ID
