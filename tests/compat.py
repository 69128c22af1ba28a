"""Which Airflow the tests run against, for the few tests whose expectations differ by version.

``make test-compat`` runs the suite on Airflow 2.11 and 3.0 as well as the main 3.3 venv.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent

_RELEASE = Version(AIRFLOW_VERSION).release
AIRFLOW_V_3_0_PLUS = _RELEASE >= (3, 0)
AIRFLOW_V_3_1_PLUS = _RELEASE >= (3, 1)
AIRFLOW_V_3_2_PLUS = _RELEASE >= (3, 2)
AIRFLOW_V_3_3_PLUS = _RELEASE >= (3, 3)

#: example_dags/ use ``airflow.sdk`` (Airflow 3); Airflow 2 runs the same DAGs through tests/dags_af2/.
HAS_AIRFLOW_SDK = importlib.util.find_spec("airflow.sdk") is not None
EXAMPLE_DAGS = ROOT / "example_dags" if HAS_AIRFLOW_SDK else ROOT / "tests" / "dags_af2"
