"""Airflow's simple auth manager, with DAG-level read scopes for the e2e deployment's test users.

The simple auth manager gives every user of a role the same DAGs (per-DAG access needs multi-team mode
or another auth manager, such as FAB's). The UI plugin's promise is "a user sees the outputs of the
DAGs they may read, nothing else", so the e2e deployment needs a user who may read some DAGs and not
others: ``PICTORY_E2E_DAG_SCOPES`` maps such users to the DAG id prefixes they may read
(``outsider=e2e_pictory_gallery_shared;other=...``). Everyone else (the admin) is unchanged.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager


def _scopes() -> dict[str, tuple[str, ...]]:
    scopes = {}
    for entry in filter(None, os.environ.get("PICTORY_E2E_DAG_SCOPES", "").split(";")):
        user, _, prefixes = entry.partition("=")
        scopes[user] = tuple(filter(None, prefixes.split(",")))
    return scopes


class DagScopedAuthManager(SimpleAuthManager):
    """A scoped user may use only the DAGs whose id starts with one of their prefixes (lists stay allowed)."""

    def is_authorized_dag(self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        prefixes = _scopes().get(user.username)
        dag_id = getattr(details, "id", None)
        if prefixes is not None and dag_id and not dag_id.startswith(prefixes):
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
