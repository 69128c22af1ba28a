"""Checks of a task's wait and hook settings, when the DAG is parsed (pure Python, no Airflow).

The operators, sensors, trigger and hook share them, so a setting means the same everywhere.
"""

from __future__ import annotations

import difflib
from datetime import timedelta
from typing import Any

from pictory_provider.exceptions import PictoryValidationError

__all__ = ["HOOK_PARAMS", "check_hook_params", "check_wait_settings", "wait_seconds"]


def _field_error(name: str, errors: str) -> dict[str, str]:
    return {"name": name, "errors": errors}


#: The keyword arguments ``hook_params`` may pass to ``PictoryHook`` (numbers; tests check the signature).
HOOK_PARAMS = ("max_attempts", "retry_min_wait", "retry_max_wait", "connect_timeout", "read_timeout")


def check_hook_params(hook_params: dict[str, Any] | None) -> dict[str, Any]:
    """Check ``hook_params`` when the DAG is parsed: known ``PictoryHook`` settings, each a number."""
    params = dict(hook_params or {})
    for name, value in params.items():
        if name not in HOOK_PARAMS:
            close = difflib.get_close_matches(str(name), HOOK_PARAMS, n=1)
            meant = f"did you mean {close[0]!r}? " if close else ""
            raise PictoryValidationError(
                f"hook_params has an unknown setting {name!r}: {meant}PictoryHook takes {', '.join(HOOK_PARAMS)}",
                [_field_error("hook_params", f"unknown setting {name!r}")],
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PictoryValidationError(
                f"hook_params[{name!r}] must be a number, got {value!r}",
                [_field_error("hook_params", f"{name} must be a number")],
            )
    return params


def wait_seconds(value: float | timedelta) -> float:
    """A wait setting in seconds: a ``timedelta`` (as Airflow's own sensors accept) becomes its seconds."""
    return value.total_seconds() if isinstance(value, timedelta) else value


def check_wait_settings(poll_interval: float, timeout: float) -> None:
    """Validate a wait's ``poll_interval`` and ``timeout`` (seconds)."""
    if not timeout > 0:
        raise PictoryValidationError(f"timeout must be greater than 0 seconds (got {timeout!r})")
    if not 0 < poll_interval <= timeout:
        raise PictoryValidationError(
            f"poll_interval must be greater than 0 and at most the timeout ({timeout:g} s) (got {poll_interval!r})"
        )
