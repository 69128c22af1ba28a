"""The UI plugin as Airflow loads it: entry point, views and app on Airflow >= 3.1, nothing before, light import.

The routes themselves run in the real api-server (tests/e2e/test_ui_plugin.py).
"""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from pictory_provider.ui import plugin
from pictory_provider.ui.plugin import PictoryPlugin, supported

on_3_1_plus = pytest.mark.skipif(not supported(), reason="plugin views and apps need Airflow >= 3.1")


@pytest.mark.parametrize(
    ("version", "expected"),
    [("2.11.2", False), ("3.0.6", False), ("3.1.0", True), ("3.1.8", True), ("3.3.2", True), ("3.10.0.dev0", True)],
)
def test_supported_from_airflow_3_1(version, expected):
    assert supported(version) is expected


def loaded_plugins() -> list:
    """The plugins Airflow itself loaded (its plugins manager's API differs between versions)."""
    from airflow import plugins_manager

    if hasattr(plugins_manager, "_get_plugins"):
        return list(plugins_manager._get_plugins()[0])
    plugins_manager.ensure_plugins_loaded()
    return list(plugins_manager.plugins or [])


def test_airflow_loads_the_plugin_from_the_entry_point():
    (entry,) = [ep for ep in entry_points(group="airflow.plugins") if ep.name == "pictory"]
    assert entry.load() is PictoryPlugin
    (loaded,) = [p for p in loaded_plugins() if p.name == "pictory"]
    if supported():
        assert {view["destination"] for view in loaded.external_views} == {"nav", "task_instance"}
        assert [app["url_prefix"] for app in loaded.fastapi_apps] == ["/pictory"]
    else:  # Airflow 2.11 and 3.0: no external views, so the plugin adds nothing
        assert (loaded.external_views, loaded.fastapi_apps) == ([], [])


def test_the_plugin_adds_nothing_where_unsupported(monkeypatch):
    monkeypatch.setattr(plugin, "supported", lambda version=None: False)
    assert (PictoryPlugin().external_views, PictoryPlugin().fastapi_apps) == ([], [])


@on_3_1_plus
def test_views_point_at_the_app_under_the_ui_base_path(monkeypatch):
    views = {view["destination"]: view for view in PictoryPlugin().external_views}
    assert views["nav"]["href"] == "/pictory/"
    assert views["nav"]["url_route"] == "pictory"
    assert views["task_instance"]["href"] == (
        "/pictory/task?dag_id={DAG_ID}&run_id={RUN_ID}&task_id={TASK_ID}&map_index={MAP_INDEX}"
    )
    assert views["task_instance"]["url_route"] == "pictory-output"
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/airflow/")
    assert {view["href"].split("?")[0] for view in PictoryPlugin().external_views} == {
        "/airflow/pictory/",
        "/airflow/pictory/task",
    }


@on_3_1_plus
def test_the_app_serves_the_views_and_is_built_once():
    app = PictoryPlugin().fastapi_apps[0]["app"]
    assert app is PictoryPlugin().fastapi_apps[0]["app"]
    assert {"/", "/task", "/file", "/api/outputs"} <= {route.path for route in app.routes}
    assert app.openapi_url is None  # no unauthenticated schema or docs pages


def test_importing_the_plugin_is_light():
    """Every Airflow component loads plugins: the module must not add FastAPI or the app to what Airflow
    itself imports (Airflow 3.0 imports FastAPI on its own)."""
    code = (
        "import sys, airflow; before = set(sys.modules);"
        "import pictory_provider.ui.plugin as p; p.PictoryPlugin.name;"
        "heavy = [m for m in set(sys.modules) - before if m.split('.')[0] == 'fastapi' or m.startswith(("
        "'pictory_provider.ui.app', 'pictory_provider.hooks', 'airflow.api_fastapi'))];"
        "print(sorted(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


@on_3_1_plus
def test_only_local_files_of_the_kind_are_served(tmp_path: Path):
    from pictory_provider.ui.files import local_file

    png = tmp_path / "a.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    mp4 = tmp_path / "v.mp4"
    mp4.write_bytes(b"\0\0\0\x18ftypisom" + b"\0" * 32)
    secret = tmp_path / "airflow.png"
    secret.write_text("[core]\nfernet_key = not-an-image\n")
    assert local_file(str(png), "png") == png
    assert local_file(f"file://{png}", "png") == png
    assert local_file(str(mp4), "mp4") == mp4
    assert local_file(str(secret), "png") is None  # named .png, but not a PNG
    assert local_file(str(png), "mp4") is None  # not the kind's extension
    assert local_file(str(tmp_path / "missing.png"), "png") is None
    assert local_file("a.png", "png") is None  # relative
    assert local_file("s3://bucket/a.png", "png") is None  # not on this machine
    assert local_file(f"file://otherhost{png}", "png") is None
    assert local_file(None, "png") is None
    assert local_file(str(png), "gif") is None  # no signature known: never served
