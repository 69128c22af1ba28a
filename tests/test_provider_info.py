"""Airflow discovers the provider, its hook, connection form and extra link."""

from __future__ import annotations

import importlib.util
from importlib.metadata import distribution, entry_points

import pytest

import pictory_provider
from pictory_provider.exceptions import PictoryConfigError
from pictory_provider.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR, get_provider_info
from pictory_provider.hooks.connection import DEFAULT_MAX_REQUESTS_PER_SECOND, credentials_from_connection
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


def test_connection_extras_are_declared_as_form_fields():
    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["conn-fields"] is CONN_FIELDS
    field = CONN_FIELDS["max_requests_per_second"]
    assert field["label"] == "Max requests per second"
    assert field["schema"]["default"] == DEFAULT_MAX_REQUESTS_PER_SECOND


@pytest.mark.parametrize("value", [0, 20, 2.5, None, -1, "20", True, [5]])
def test_form_field_schema_and_hook_agree_on_valid_values(value):
    """What the form lets through (JSON schema) is exactly what the hook accepts, and vice versa."""
    import jsonschema

    schema = CONN_FIELDS["max_requests_per_second"]["schema"]
    form_ok = jsonschema.Draft7Validator(schema).is_valid(value)
    conn = type("Conn", (), {"password": "pictai_x", "host": None, "port": None})()
    try:
        creds = credentials_from_connection(conn, "pictory_default", {"max_requests_per_second": value})
    except PictoryConfigError:
        hook_ok = False
    else:
        hook_ok = True
        expected = DEFAULT_MAX_REQUESTS_PER_SECOND if value is None else float(value)
        assert creds.max_requests_per_second == expected
    # jsonschema treats True as a number only in draft 3; in the form's draft it is a boolean.
    assert form_ok == hook_ok, (value, form_ok, hook_ok)


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


@pytest.mark.skipif(not AIRFLOW_V_3_2_PLUS, reason="Airflow < 3.2 does not read conn-fields from provider info")
def test_providers_manager_shows_connection_extras_as_form_fields():
    from airflow.providers_manager import ProvidersManager

    widget = ProvidersManager().connection_form_widgets["extra__pictory__max_requests_per_second"]
    assert widget.field_name == "max_requests_per_second"  # stored under this key in the extra JSON
    assert widget.hook_class_name == "pictory_provider.hooks.pictory.PictoryHook"
    assert widget.field["schema"]["title"] == "Max requests per second"
    assert widget.field["schema"]["minimum"] == 0
    assert widget.field["value"] == DEFAULT_MAX_REQUESTS_PER_SECOND
    assert not widget.is_sensitive


def test_provider_info_documentation_url_comes_from_the_project_urls():
    """Airflow >= 3.2 shows ``documentation-url`` from the distribution's ``Documentation`` Project-URL."""
    urls = dict(
        entry.split(", ", 1) for entry in distribution("airflow-provider-pictory").metadata.get_all("Project-URL") or []
    )
    assert urls["Documentation"].startswith("https://")
    if AIRFLOW_V_3_2_PLUS:
        from airflow.providers_manager import ProvidersManager

        info = ProvidersManager().providers["airflow-provider-pictory"].data
        # Airflow 3.2 keeps the space after "Documentation," in the URL (" https://..."); 3.3 strips it
        assert info["documentation-url"].strip() == urls["Documentation"]


def test_airflow_providers_cli_lists_the_package():
    home = AirflowHome()
    listed = home.airflow("providers", "list")
    assert listed.returncode == 0, listed.stderr
    assert "airflow-provider-pictory" in listed.stdout
    assert pictory_provider.__version__ in listed.stdout
    hooks = home.airflow("providers", "hooks")
    assert "pictory_provider.hooks.pictory.PictoryHook" in hooks.stdout
