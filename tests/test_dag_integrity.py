"""Example DAGs import cleanly, with no network call and no connection lookup at parse time."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .compat import AIRFLOW_V_3_1_PLUS, EXAMPLE_DAGS, HAS_AIRFLOW_SDK

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "example_dags").glob("example_*.py"))


@pytest.fixture
def no_network_no_connections(monkeypatch):
    calls: list[str] = []

    def refuse_connect(self, address):
        calls.append(f"socket connect to {address}")
        raise OSError("network access during DAG parsing")

    def refuse_lookup(*args, **kwargs):
        calls.append("connection lookup")
        raise AssertionError("connection lookup during DAG parsing")

    from airflow.providers.common.compat.sdk import BaseHook

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(BaseHook, "get_connection", classmethod(refuse_lookup))
    return calls


def test_the_examples_are_these():
    assert [path.name for path in EXAMPLES] == [
        "example_pictory_asset_consumer.py",
        "example_pictory_asset_producer.py",
        "example_pictory_blog_to_video.py",
        "example_pictory_budget.py",
        "example_pictory_image.py",
        "example_pictory_image_to_video.py",
        "example_pictory_mapped.py",
        "example_pictory_operator_waits.py",
        "example_pictory_render_approval.py",
        "example_pictory_template_videos.py",
        "example_pictory_webinar_highlights.py",
    ]


def test_examples_parse_without_errors_network_or_connections(no_network_no_connections):
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow < 3.1
        from airflow.models.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE_DAGS))  # on Airflow 2: tests/dags_af2/
    assert bag.import_errors == {}
    expected = {
        "example_pictory_budget",
        "example_pictory_image",
        "example_pictory_image_to_video",
        "example_pictory_mapped",
        "example_pictory_operator_waits",
    }
    if (
        HAS_AIRFLOW_SDK
    ):  # the asset pair, blog, template and webinar DAGs are Airflow 3 only (no tests/dags_af2/ copies)
        expected |= {
            "example_pictory_asset_producer",
            "example_pictory_asset_consumer",
            "example_pictory_blog_to_video",
            "example_pictory_template_videos",
            "example_pictory_webinar_highlights",
        }
    if AIRFLOW_V_3_1_PLUS:  # human-in-the-loop operators (the file defines no DAG before 3.1)
        expected |= {"example_pictory_render_approval"}
    assert set(bag.dag_ids) == expected
    for dag_id, dag in bag.dags.items():
        if dag_id == "example_pictory_asset_consumer":
            assert type(dag.timetable).__name__ == "AssetTriggeredTimetable"  # schedule=[DAILY_BANNER]
        elif dag_id == "example_pictory_blog_to_video":
            assert type(dag.timetable).__name__ in ("CronTriggerTimetable", "CronDataIntervalTimetable")  # nightly
        else:
            assert type(dag.timetable).__name__ == "NullTimetable"  # schedule=None
    assert no_network_no_connections == []


@pytest.mark.parametrize(
    "module",
    [
        "pictory_provider.operators.pictory",
        "pictory_provider.operators.render",
        "pictory_provider.operators.transcribe",
        "pictory_provider.sensors.pictory",
    ],
)
def test_task_modules_do_not_import_http_clients(module):
    """DAG files import these at parse time: they must add no HTTP client to what airflow.sdk loads."""
    dag_api = "airflow.sdk" if HAS_AIRFLOW_SDK else "airflow.decorators"  # what a DAG file imports on Airflow 2
    code = (
        f"import sys, importlib, {dag_api}; before = set(sys.modules); importlib.import_module(sys.argv[1]); "
        "print(','.join(m for m in ('requests', 'aiohttp', 'tenacity', 'urllib3') if m in set(sys.modules) - before))"
    )
    result = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
