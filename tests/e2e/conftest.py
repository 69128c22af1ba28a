"""One real Airflow deployment and one emulator for every end-to-end test (started once per session).

Every e2e test resets the emulator first. Under pytest-xdist (``make test``) the e2e tests share one
worker (``pytest_xdist_make_scheduler`` in tests/conftest.py), so a run starts one deployment.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pictory_provider.emulator import PictoryEmulator
from tests.conftest import API_KEY

from .harness import AirflowCluster, free_port


@pytest.fixture(scope="session")
def e2e_emulator() -> Iterator[PictoryEmulator]:
    with PictoryEmulator(port=free_port(), job_seconds=3) as emulator:  # fixed port: survives a restart
        yield emulator


@pytest.fixture(scope="session")
def cluster(e2e_emulator: PictoryEmulator) -> Iterator[AirflowCluster]:
    with AirflowCluster(e2e_emulator.base_url, API_KEY) as running:
        yield running
