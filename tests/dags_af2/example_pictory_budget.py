"""Airflow 2 stand-in for example_dags/example_pictory_budget.py (which imports the Airflow 3 ``airflow.sdk``).

It runs that file unchanged except for its import line, so the DAG cannot drift from the example.
tests/test_dag_runs_budget.py and tests/test_dag_integrity.py use this folder when ``airflow.sdk`` is missing.
"""

from pathlib import Path

_EXAMPLE = Path(__file__).resolve().parents[2] / "example_dags" / "example_pictory_budget.py"
_SOURCE = _EXAMPLE.read_text().replace(
    "from airflow.sdk import dag, task\n", "from airflow.decorators import dag, task\n"
)
exec(compile(_SOURCE, str(_EXAMPLE), "exec"))  # noqa: S102
