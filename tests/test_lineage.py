"""Asset event extra, hook-level lineage and OpenLineage facets of a finished Pictory job (pictory_provider.lineage).

The tasks run for real against the emulator (synchronous wait, so no triggerer is needed here);
tests/test_dag_runs.py reads the asset event back from the metadata DB after ``airflow dags test``.
The hook-lineage test runs in a subprocess with the OpenLineage provider enabled (console transport),
so the process-wide collector is the real one.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from pictory_provider import lineage
from pictory_provider.operators.pictory import PictoryGenerateImageOperator
from pictory_provider.sensors.pictory import PictoryImageJobSensor

from .compat import HAS_AIRFLOW_SDK
from .fakes import make_context

FAST = {"retry_min_wait": 0.01, "retry_max_wait": 0.05}
HAS_OPENLINEAGE = importlib.util.find_spec("airflow.providers.openlineage") is not None

if HAS_AIRFLOW_SDK:
    from airflow.sdk import Asset, AssetAlias
    from airflow.sdk.execution_time.context import OutletEventAccessors
else:  # Airflow 2.x
    from airflow.datasets import Dataset as Asset
    from airflow.datasets import DatasetAlias as AssetAlias
    from airflow.utils.context import OutletEventAccessors

BANNER = Asset("pictory_banner")
OTHER = Asset("pictory_other")


def run_operator(tmp_path, **kwargs: Any) -> tuple[PictoryGenerateImageOperator, dict[str, Any], dict[str, Any]]:
    params = {"task_id": "generate", "prompt": "A lighthouse at dawn", "hook_params": FAST, "poll_interval": 0.1}
    task = PictoryGenerateImageOperator(**(params | {"deferrable": False} | kwargs))
    context = make_context() | {"task": task, "outlet_events": OutletEventAccessors()}
    return task, context, task.execute(context)


def test_every_outlet_event_carries_the_job_facts(tmp_path, pictory_conn):
    _, context, result = run_operator(
        tmp_path, aspect_ratio="16:9", model="flux-schnell", output_path=f"{tmp_path}/", outlets=[BANNER, OTHER]
    )
    expected = {
        "job_id": result["job_id"],
        "url": result["url"],
        "ai_credits_used": 0.6,
        "width": 1280,
        "height": 720,
        "image_path": f"{tmp_path}/{result['job_id']}.png",
    }
    assert context["outlet_events"][BANNER].extra == expected
    assert context["outlet_events"][OTHER].extra == expected
    json.dumps(expected)  # asset event extra must be JSON


def test_without_output_path_the_extra_has_no_path_and_without_outlets_nothing_is_added(tmp_path, pictory_conn):
    _, context, _ = run_operator(tmp_path, outlets=[BANNER])
    assert set(context["outlet_events"][BANNER].extra) == {"job_id", "url", "ai_credits_used", "width", "height"}
    _, context, _ = run_operator(tmp_path)
    assert context["outlet_events"][BANNER].extra == {}


def test_sensor_outlets_get_the_same_extra(tmp_path, pictory_conn):
    from pictory_provider.hooks.pictory import PictoryHook

    pictory_conn.set_job_seconds(0)
    job_id = PictoryHook(**FAST).generate_image("A red fox in fresh snow")
    sensor = PictoryImageJobSensor(
        task_id="wait", job_id=job_id, deferrable=False, poke_interval=0.1, hook_params=FAST, outlets=[BANNER]
    )
    context = make_context() | {"task": sensor, "outlet_events": OutletEventAccessors()}
    assert sensor.poke(context).xcom_value["job_id"] == job_id
    assert context["outlet_events"][BANNER].extra["job_id"] == job_id


def test_alias_outlets_are_left_alone():
    alias = AssetAlias("pictory_alias")
    task = type("Task", (), {"outlets": [alias]})()
    events = OutletEventAccessors()
    lineage.record_outputs({"task": task, "outlet_events": events}, {"job_id": "j", "url": "u"})
    assert events[alias].extra == {}


@pytest.mark.skipif(not HAS_OPENLINEAGE, reason="needs apache-airflow-providers-openlineage (requirements-dev.txt)")
def test_openlineage_facets_name_the_stored_file(tmp_path, pictory_conn):
    task, _, result = run_operator(tmp_path, output_path=f"{tmp_path}/")
    facets = task.get_openlineage_facets_on_complete(task_instance=None)
    assert [(d.namespace, d.name) for d in facets.outputs] == [("file", result["image_path"])]
    assert facets.inputs == []

    without_file, _, _ = run_operator(tmp_path)
    assert without_file.get_openlineage_facets_on_complete(task_instance=None).outputs == []


def test_openlineage_facets_are_none_without_the_provider(tmp_path, pictory_conn, monkeypatch):
    task, _, _ = run_operator(tmp_path, output_path=f"{tmp_path}/")
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", None)  # import fails
    assert task.get_openlineage_facets_on_complete(task_instance=None) is None


def test_dataset_naming_follows_openlineage_conventions():
    assert lineage.stored_uris({"image_path": "/data/a.png", "video_path": None}) == ["file:///data/a.png"]
    render = {"video_path": "s3://b/r.mp4", "srt_path": "s3://b/r.srt", "vtt_path": "s3://b/r.vtt", "url": "x"}
    assert lineage.stored_uris(render) == ["s3://b/r.mp4", "s3://b/r.srt", "s3://b/r.vtt"]  # subtitles too
    assert lineage._dataset_name("file:///data/a.png") == ("file", "/data/a.png")
    assert lineage._dataset_name("s3://bucket/images/a.png") == ("s3://bucket", "images/a.png")


HOOK_LINEAGE_SCRIPT = """
import json, sys
from pictory_provider import lineage
from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

lineage.record_outputs({}, {"job_id": "j", "url": "u", "image_path": sys.argv[1]})
outputs = get_hook_lineage_collector().collected_assets.outputs
print(json.dumps([info.asset.uri for info in outputs]))
"""


@pytest.mark.skipif(not HAS_OPENLINEAGE, reason="needs apache-airflow-providers-openlineage (requirements-dev.txt)")
def test_stored_files_reach_hook_level_lineage_with_openlineage_enabled(tmp_path):
    env = os.environ | {"AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "console"})}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(HOOK_LINEAGE_SCRIPT), f"{tmp_path}/banner.png"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [f"file://{tmp_path}/banner.png"]


def test_hook_lineage_is_a_no_op_without_a_lineage_reader(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__OPENLINEAGE", "OPENLINEAGE"))}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(HOOK_LINEAGE_SCRIPT), f"{tmp_path}/banner.png"],
        env=env | {"AIRFLOW__OPENLINEAGE__DISABLED": "True"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
