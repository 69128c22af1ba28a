"""Stand-ins for the two task-runtime objects a unit test cannot have without a running task.

Full runs through real Airflow (tests/test_dag_runs.py) cover the real ones.
"""

from __future__ import annotations

from typing import Any


class RecordingTI:
    """Records ``xcom_push`` calls like the runtime task instance."""

    stats_tags: dict[str, str] = {}

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


class TaskStateStore:
    """The Airflow 3.3 task state store: survives retries of the same task instance."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def make_context(store: TaskStateStore | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"ti": RecordingTI()}
    if store is not None:
        context["task_state_store"] = store
    return context
