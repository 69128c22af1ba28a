"""pytest plugin: the bundled Pictory emulator and a connection to it, for testing DAGs offline.

Registered through the ``pytest11`` entry point, so with the provider installed any test can ask for:

- ``pictory_emulator``: a running :class:`~pictory_provider.emulator.PictoryEmulator` (one server per
  test session, on a free loopback port) whose jobs finish after ``pictory_emulator_job_seconds``
  (ini option, default 0.2 s); jobs, faults, counters and the job duration are reset before and after
  every test.
- ``pictory_connection``: sets ``AIRFLOW_CONN_PICTORY_DEFAULT`` to that emulator for the test (the
  previous value comes back afterwards) and returns the connection id, ``"pictory_default"``.

Loaded by every pytest run in an environment that has the provider, so this module imports only
pytest; the emulator (aiohttp) is imported when a test first asks for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
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
]

#: The connection id ``pictory_connection`` sets up (every Pictory operator's default).
CONNECTION_ID = "pictory_default"
#: The API key the connection carries; the emulator accepts any key starting with ``pictai_``.
TEST_API_KEY = "pictai_pytest"
JOB_SECONDS_INI = "pictory_emulator_job_seconds"
DEFAULT_JOB_SECONDS = 0.2


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        JOB_SECONDS_INI,
        help="Seconds a job of the pictory_emulator fixture stays in-progress (default 0.2).",
        default=str(DEFAULT_JOB_SECONDS),
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
