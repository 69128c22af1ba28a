"""The Airflow plugin that adds the Pictory views to Airflow's UI (Airflow >= 3.1).

Registered through the ``airflow.plugins`` entry point, so installing the provider is enough. Every
Airflow component loads plugins, so this module stays light: the FastAPI app
(:mod:`pictory_provider.ui.app`) is built only when the api-server asks for ``fastapi_apps``. On Airflow
< 3.1 (no external views) the plugin adds nothing.

- ``external_views``: a "Pictory" page in the navigation (gallery, AI-credit spend, quota) and a
  "Pictory" tab on every task instance (the task's output inline);
- ``fastapi_apps``: the app serving both under ``/pictory`` (every route needs an authenticated user
  with read access to the DAG).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import AirflowPlugin

__all__ = ["GALLERY_ROUTE", "TASK_ROUTE", "URL_PREFIX", "PictoryPlugin", "supported", "ui_base_path"]

#: Where the api-server mounts the app.
URL_PREFIX = "/pictory"
#: ``url_route`` of the navigation page (the UI shows it at ``/plugin/pictory``).
GALLERY_ROUTE = "pictory"
#: ``url_route`` of the task instance tab (``/dags/<dag>/runs/<run>/tasks/<task>/plugin/pictory-output``).
TASK_ROUTE = "pictory-output"
_ICON = (
    "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24' fill='none' "
    "stroke='%236366f1' stroke-width='2'><rect x='3' y='4' width='18' height='16' rx='2'/>"
    "<circle cx='9' cy='10' r='2'/><path d='M21 17l-5-5-9 8'/></svg>"
)


def supported(version: str | None = None) -> bool:
    """Whether this Airflow (default: the installed one) has plugin external views (3.1 or later)."""
    if version is None:
        from airflow import __version__

        version = str(__version__)
    found = re.match(r"(\d+)\.(\d+)", version)
    return found is not None and (int(found[1]), int(found[2])) >= (3, 1)


def ui_base_path() -> str:
    """The path of ``[api] base_url`` (``""`` when Airflow is served at ``/``)."""
    from airflow.configuration import conf

    base_url = conf.get("api", "base_url", fallback="") or ""
    return urlsplit(base_url).path.rstrip("/")


@cache
def _app() -> Any:
    from pictory_provider.ui.app import create_app

    return create_app(ui_base_path())


class PictoryPlugin(AirflowPlugin):
    """The Pictory views: a navigation page and a task instance tab (nothing on Airflow < 3.1)."""

    name = "pictory"

    # Properties, read by Airflow (never assigned): the app is built only where it is asked for.
    @property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        if not supported():
            return []
        return [{"name": "Pictory", "app": _app(), "url_prefix": URL_PREFIX}]

    @property
    def external_views(self) -> list[dict[str, Any]]:  # type: ignore[override]
        if not supported():
            return []
        base = f"{ui_base_path()}{URL_PREFIX}"
        task = "dag_id={DAG_ID}&run_id={RUN_ID}&task_id={TASK_ID}&map_index={MAP_INDEX}"
        return [
            {
                "name": "Pictory",
                "href": f"{base}/",
                "destination": "nav",
                "url_route": GALLERY_ROUTE,
                "icon": _ICON,
            },
            {
                "name": "Pictory",
                "href": f"{base}/task?{task}",
                "destination": "task_instance",
                "url_route": TASK_ROUTE,
                "icon": _ICON,
            },
        ]
