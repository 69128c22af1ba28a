"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

Kept free of heavy imports: every Airflow process imports this module.
"""

from __future__ import annotations

from typing import Any

from pictory_provider import __version__

#: The connection form (Airflow >= 3.2 reads it from here; older versions call
#: ``PictoryHook.get_ui_field_behaviour()``, which is derived from this same dict).
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["login", "schema", "port"],
    "relabeling": {"password": "API Key", "host": "Base URL"},
    "placeholders": {
        "password": "pictai_...",
        "host": "https://api.pictory.ai (default; a full URL such as http://127.0.0.1:8931 also works)",
    },
}

#: Connection extras shown as real form fields (labels, defaults, validation) on Airflow >= 3.2, which
#: reads ``conn-fields`` from provider info and stores each field under its own key in the extra JSON.
#: The hook validates the same values when it reads the connection (``credentials_from_connection``).
CONN_FIELDS: dict[str, Any] = {
    "max_requests_per_second": {
        "label": "Max requests per second",
        "description": "Cap on the requests per second that all Pictory triggers of one triggerer send for "
        "this API key (default 20; 0 turns the cap off).",
        "schema": {"type": ["number", "null"], "minimum": 0, "default": 20},
    },
}


def get_provider_info() -> dict[str, Any]:
    """Return the provider's metadata for Airflow."""
    return {
        "package-name": "airflow-provider-pictory",
        "name": "Pictory",
        "description": (
            "Generate images and videos with Pictory's AI Studio API from Airflow DAGs, with deferrable waits."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Pictory",
                "external-doc-url": "https://docs.pictory.ai/api-reference/ai-studio/generate-image",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "Pictory", "python-modules": ["pictory_provider.hooks.pictory"]}],
        "triggers": [{"integration-name": "Pictory", "python-modules": ["pictory_provider.triggers.pictory"]}],
        "sensors": [{"integration-name": "Pictory", "python-modules": ["pictory_provider.sensors.pictory"]}],
        "operators": [
            {
                "integration-name": "Pictory",
                "python-modules": [
                    "pictory_provider.operators.pictory",
                    "pictory_provider.operators.render",
                    "pictory_provider.operators.transcribe",
                ],
            }
        ],
        "extra-links": [
            "pictory_provider.operators.pictory.PictoryImageLink",
            "pictory_provider.operators.pictory.PictoryVideoLink",
        ],
        "connection-types": [
            {
                "connection-type": "pictory",
                "hook-class-name": "pictory_provider.hooks.pictory.PictoryHook",
                "hook-name": "Pictory",
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
                "conn-fields": CONN_FIELDS,
            }
        ],
    }
