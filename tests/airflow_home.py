"""A throwaway, migrated AIRFLOW_HOME whose dags folder is example_dags/, driven through the CLI.

On Airflow 2 (no ``airflow.sdk``) the dags folder is tests/dags_af2/, the same DAGs with Airflow 2 imports.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .compat import EXAMPLE_DAGS

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: A log line at ERROR or CRITICAL level, as Airflow 3 (structlog: ``[error    ]``) and Airflow 2
#: (logging: ``{file.py:12} ERROR - ...``) print them.
ERROR_LINE = re.compile(r"\[\s*(?:error|critical)\s*\]|\b(?:ERROR|CRITICAL)\b")


def error_lines(output: str) -> list[str]:
    """The ERROR/CRITICAL lines of a command's output (a green run of an example DAG should have none)."""
    return [line for line in output.splitlines() if ERROR_LINE.search(line)]


class AirflowHome:
    """Runs ``airflow`` CLI commands in subprocesses against one SQLite metadata DB."""

    def __init__(self, dags_folder: Path = EXAMPLE_DAGS) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="pictory-airflow-home-"))
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AIRFLOW_CONN_", "AIRFLOW__", "PYTEST_"))
        } | {
            "AIRFLOW_HOME": str(self.path),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def airflow(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "airflow"), *args],
            env=self.env | (env or {}),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def migrate(self) -> None:
        result = self.airflow("db", "migrate")
        assert result.returncode == 0, result.stderr[-3000:]

    def dags_test(self, dag_id: str, conf: dict[str, Any] | None = None, env: dict[str, str] | None = None):
        args = ["dags", "test", dag_id] + (["-c", json.dumps(conf)] if conf else [])
        return self.airflow(*args, env=env)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        for attempt in range(5):
            try:
                with contextlib.closing(sqlite3.connect(f"file:{self.path / 'airflow.db'}?mode=ro", uri=True)) as db:
                    return db.execute(sql, params).fetchall()
            except sqlite3.DatabaseError:  # a write still settling on disk; read again
                if attempt == 4:
                    raise
                time.sleep(1)
        raise AssertionError("unreachable")

    def last_run(self, dag_id: str) -> tuple[str, str]:
        ((run_id, state),) = self.query(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", dag_id
        )
        return run_id, state

    def xcom(self, dag_id: str) -> dict[tuple[str, int, str], Any]:
        """XCom of the DAG's latest run, keyed by (task_id, map_index, key)."""
        run_id, _ = self.last_run(dag_id)
        rows = self.query(
            "SELECT task_id, map_index, key, value FROM xcom WHERE dag_id = ? AND run_id = ?", dag_id, run_id
        )
        # SQLite hands JSON numbers back as numbers and everything else as JSON text
        return {(t, m, k): json.loads(v) if isinstance(v, (str, bytes)) else v for t, m, k, v in rows}

    def task_states(self, dag_id: str) -> dict[tuple[str, int], str]:
        run_id, _ = self.last_run(dag_id)
        rows = self.query(
            "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = ? AND run_id = ?", dag_id, run_id
        )
        return {(t, m): s for t, m, s in rows}

    def files_containing(self, secret: str) -> list[Path]:
        """Every file under AIRFLOW_HOME (logs, DB) whose bytes contain ``secret``."""
        needle = secret.encode()
        return [p for p in self.path.rglob("*") if p.is_file() and needle in p.read_bytes()]
