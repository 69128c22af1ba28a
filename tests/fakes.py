"""Stand-ins for the two task-runtime objects a unit test cannot have without a running task.

Full runs through real Airflow (tests/test_dag_runs.py) cover the real ones.
"""

from __future__ import annotations

from typing import Any


class RecordingTI:
    """Records ``xcom_push`` calls like the runtime task instance; ``xcom_pull`` answers with the
    ``job_id`` values that other task instances (``others``: siblings, other tasks, earlier runs) published."""

    stats_tags: dict[str, str] = {}
    task_id = "generate"

    def __init__(self, others: list[str] | None = None) -> None:
        self.xcom: dict[str, Any] = {}
        self.others = list(others or [])
        self.pulls: list[dict[str, Any]] = []

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value

    def xcom_pull(self, task_ids: Any = None, key: str = "return_value", **kwargs: Any) -> Any:
        self.pulls.append({"task_ids": task_ids, "key": key, **kwargs})
        return list(self.others) if key == "job_id" else []


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


def make_context(store: TaskStateStore | None = None, claimed: list[str] | None = None) -> dict[str, Any]:
    """A task context; ``claimed`` are job ids other task instances published as XCom ``job_id``."""
    context: dict[str, Any] = {"ti": RecordingTI(claimed)}
    if store is not None:
        context["task_state_store"] = store
    return context
