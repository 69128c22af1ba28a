"""Airflow discovers the provider, its hook, connection form and extra link."""

from __future__ import annotations

import importlib.util
from importlib.metadata import distribution, entry_points

import pytest

import pictory_provider
from pictory_provider.get_provider_info import UI_FIELD_BEHAVIOUR, get_provider_info
from pictory_provider.hooks.pictory import PictoryHook

from .airflow_home import AirflowHome
from .compat import AIRFLOW_V_3_2_PLUS


def test_entry_point_and_package_name_match_the_distribution():
    (entry,) = [ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("pictory_provider")]
    info = entry.load()()
    assert info["package-name"] == distribution("airflow-provider-pictory").metadata["Name"]
    assert info["versions"] == [pictory_provider.__version__]
    assert info["connection-types"][0]["hook-class-name"] == "pictory_provider.hooks.pictory.PictoryHook"


def test_connection_form_agrees_between_provider_info_and_hook():
    """Airflow >= 3.2 reads provider info; older versions call the hook. Both must say the same."""
    declared = get_provider_info()["connection-types"][0]["ui-field-behaviour"]
    from_hook = PictoryHook.get_ui_field_behaviour()
    assert {key.replace("-", "_"): value for key, value in declared.items()} == from_hook
    assert from_hook["relabeling"] == {"password": "API Key", "host": "Base URL"}
    assert set(from_hook["hidden_fields"]) == {"login", "schema", "port"}
    assert declared is UI_FIELD_BEHAVIOUR


def test_hook_class_attributes():
    assert (
        PictoryHook.conn_type,
        PictoryHook.default_conn_name,
        PictoryHook.conn_name_attr,
        PictoryHook.hook_name,
    ) == ("pictory", "pictory_default", "pictory_conn_id", "Pictory")


def test_providers_manager_discovers_hook_and_link():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-pictory" in manager.providers
    hook = manager.hooks["pictory"]
    assert hook.hook_class_name == "pictory_provider.hooks.pictory.PictoryHook"
    assert hook.connection_id_attribute_name == "pictory_conn_id"
    assert "pictory_provider.operators.pictory.PictoryImageLink" in manager.extra_links_class_names


@pytest.mark.skipif(
    not AIRFLOW_V_3_2_PLUS and importlib.util.find_spec("wtforms") is None,
    reason="Airflow < 3.2 reads connection forms only through hook methods that need wtforms (FAB), "
    "which Airflow 3.0/3.1 do not install",
)
def test_providers_manager_discovers_the_connection_form():
    from airflow.providers_manager import ProvidersManager

    assert ProvidersManager().field_behaviours["pictory"]["relabeling"]["password"] == "API Key"


def test_airflow_providers_cli_lists_the_package():
    home = AirflowHome()
    listed = home.airflow("providers", "list")
    assert listed.returncode == 0, listed.stderr
    assert "airflow-provider-pictory" in listed.stdout
    assert pictory_provider.__version__ in listed.stdout
    hooks = home.airflow("providers", "hooks")
    assert "pictory_provider.hooks.pictory.PictoryHook" in hooks.stdout
