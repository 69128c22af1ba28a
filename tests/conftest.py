"""Shared fixtures: a private AIRFLOW_HOME, the in-process Pictory emulator and a connection to it."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from typing import Any

# Airflow reads its home and settings at import time: set them before anything imports airflow.
_HOME = tempfile.mkdtemp(prefix="pictory-tests-home-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ.pop("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", None)

import pytest  # noqa: E402

from pictory_provider.emulator import PictoryEmulator  # noqa: E402


@pytest.hookimpl(optionalhook=True)  # pytest runs without pytest-xdist too (`-p no:xdist`)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, except that every e2e module goes to one worker: one real deployment.

    (pytest-xdist's own ``xdist_group`` marks are ignored under pytest 9: the worker renames the
    test's ``_nodeid``, which pytest 9 no longer reads.)
    """
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class OneDeploymentScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "tests/e2e" if nodeid.startswith("tests/e2e/") else super()._split_scope(nodeid)

    return OneDeploymentScheduling(config, log)


#: A fresh key per test session, so a leak scan can look for this exact string.
API_KEY = "pictai_" + secrets.token_hex(16)


def conn_json(base_url: str, api_key: str = API_KEY) -> str:
    return json.dumps({"conn_type": "pictory", "host": base_url, "password": api_key})


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[PictoryEmulator]:
    with PictoryEmulator(job_seconds=0.5) as server:
        yield server


@pytest.fixture
def emulator(emulator_server: PictoryEmulator) -> Iterator[PictoryEmulator]:
    """The session's emulator, reset for this test (jobs complete after 0.5 s)."""
    emulator_server.reset()
    emulator_server.set_job_seconds(0.5)
    yield emulator_server
    emulator_server.reset()


@pytest.fixture
def pictory_conn(emulator: PictoryEmulator, monkeypatch: pytest.MonkeyPatch) -> PictoryEmulator:
    """``pictory_default`` points at the emulator (an env-var connection, JSON form)."""
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", conn_json(emulator.base_url))
    return emulator
