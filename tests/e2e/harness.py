"""A real Airflow deployment on this machine: api-server, scheduler, dag-processor and triggerer(s).

SQLite (or PostgreSQL, with several triggerers: Airflow's HA setup) + LocalExecutor with small
parallelism, a short DAG refresh, the example DAGs plus the e2e DAGs, and the Pictory connection
stored only in the metadata DB (created with the CLI). Every process is started in its own session,
its PID recorded, and exactly those processes are stopped.
Used by tests/e2e and by the scripts that regenerate docs tables (fault matrix, resume latency).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
E2E_DAGS = Path(__file__).resolve().parent / "dags"
#: Examples on a time schedule: in this deployment (DAGs start unpaused) they would run at once and buy
#: jobs under every test; `airflow dags test` runs them (tests/test_video_dag_runs.py).
SCHEDULED_EXAMPLES = ("example_pictory_blog_to_video.py",)
#: A viewer who may read only some DAGs (see tests/e2e/auth_manager.py).
OUTSIDER = "outsider"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AirflowCluster:
    """Start, drive and stop a real Airflow deployment (see the module docstring)."""

    def __init__(
        self,
        pictory_base_url: str,
        api_key: str,
        *,
        database_url: str | None = None,
        triggerers: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="pictory-e2e-home-"))
        self.dags = self.home / "dags"
        self.dags.mkdir()
        for source in [*sorted((ROOT / "example_dags").glob("*.py")), *sorted(E2E_DAGS.glob("*.py"))]:
            if source.name in SCHEDULED_EXAMPLES:
                continue
            shutil.copy(source, self.dags / source.name)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "PYTEST_"))} | {
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": "8",  # 50 mapped sensors (test_status_scan_e2e) defer in reasonable time
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",  # the UI's Test button and `connections test`
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "5",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__BASE_URL": self.base,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            # The simple auth manager plus DAG-level scopes for test users (tests/e2e/auth_manager.py):
            # "outsider" may read only the DAGs whose id starts with e2e_pictory_gallery_shared.
            "AIRFLOW__CORE__AUTH_MANAGER": "tests.e2e.auth_manager.DagScopedAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,outsider:viewer",
            "PICTORY_E2E_DAG_SCOPES": f"{OUTSIDER}=e2e_pictory_gallery_shared",
            "PYTHONPATH": str(ROOT),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self.env.update(env or {})
        self.database_url = database_url  # None: SQLite in AIRFLOW_HOME; else PostgreSQL (psycopg 3)
        if database_url:
            self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = database_url
            self.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = database_url  # psycopg 3 serves both
        #: triggerer, triggerer-2, ...: Airflow's HA setup, several triggerers sharing the database
        self.components = [c for c in COMPONENTS if c != "triggerer"]
        self.components += ["triggerer" if i == 0 else f"triggerer-{i + 1}" for i in range(triggerers)]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        #: component name -> its TriggererJob ids (known with several triggerers)
        self.triggerer_ids: dict[str, set[int]] = {}
        self.pictory_base_url = pictory_base_url
        self._api_key = api_key
        self._tokens: dict[str, str] = {}

    # -- lifecycle --------------------------------------------------------------------------------

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True, timeout=600
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"airflow {args[0]} failed: {result.stderr[-2000:]}")
        return result

    def start(self) -> AirflowCluster:
        self.cli("db", "migrate")
        connection = {"conn_type": "pictory", "host": self.pictory_base_url, "password": self._api_key}
        self.cli("connections", "add", "pictory_default", "--conn-json", json.dumps(connection))
        for component in self.components:
            if not component.startswith("triggerer-"):
                self.start_component(component)
                continue
            # several triggerers: one at a time, to know which TriggererJob row is which process
            if not self.triggerer_ids:
                self.triggerer_ids["triggerer"] = self.wait_for(self._triggerer_jobs, 120, 0.5, "the triggerer")
            known = self._triggerer_jobs()
            self.start_component(component)
            self.triggerer_ids[component] = self.wait_for(
                lambda known=known: self._triggerer_jobs() - known, 120, 0.5, f"{component} to start"
            )
        self.wait_healthy()
        return self

    def _triggerer_jobs(self) -> set[int]:
        return {int(row[0]) for row in self.query("SELECT id FROM job WHERE job_type='TriggererJob'")}

    def start_component(self, component: str) -> None:
        log = (self.home / f"{component}.log").open("ab")
        env = self.env
        if component.startswith("triggerer-"):  # a second triggerer serves its logs on its own port
            env = env | {"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port())}
        self.processes[component] = subprocess.Popen(
            [str(BIN / "airflow"), component.split("-")[0] if component.startswith("triggerer") else component],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() ends it and its children only
        )

    def kill_component(self, component: str, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(component)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        process.wait(timeout=60)

    def stop(self) -> None:
        """SIGTERM each component's process group, then SIGKILL whatever is left after 10 s."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        self.processes.clear()

    def __enter__(self) -> AirflowCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_healthy(self, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        health: dict[str, Any] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                health = self.get("/api/v2/monitor/health", auth=False)
                states = [health.get(part, {}).get("status") for part in ("scheduler", "triggerer", "dag_processor")]
                if states == ["healthy"] * 3:
                    return health
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited: {self.log_tail(name)}")
            time.sleep(1)
        raise TimeoutError(f"Airflow did not become healthy: {health}")

    def log_tail(self, component: str, chars: int = 3000) -> str:
        return (self.home / f"{component}.log").read_text(errors="replace")[-chars:]

    # -- REST API ---------------------------------------------------------------------------------

    def _open(self, method: str, path: str, body: Any, auth: bool, user: str) -> Any:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        return urllib.request.urlopen(request, timeout=30)

    def _request(self, method: str, path: str, body: Any = None, auth: bool = True, user: str = "admin") -> Any:
        with self._open(method, path, body, auth, user) as response:
            return json.loads(response.read() or b"null")

    def fetch(self, path: str, auth: bool = True, user: str = "admin") -> tuple[int, bytes]:
        """``(status, body)`` of a GET as ``user`` (no credentials with ``auth=False``), errors included."""
        try:
            with self._open("GET", path, None, auth, user) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def get(self, path: str, auth: bool = True) -> Any:
        return self._request("GET", path, auth=auth)

    def password(self, user: str = "admin") -> str:
        return str(json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())[user])

    def token(self, user: str = "admin") -> str:
        if user not in self._tokens:
            reply = self._request(
                "POST", "/auth/token", {"username": user, "password": self.password(user)}, auth=False
            )
            self._tokens[user] = reply["access_token"]
        return self._tokens[user]

    def wait_for_dag(self, dag_id: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(urllib.error.HTTPError):
                self.get(f"/api/v2/dags/{dag_id}")
                return
            time.sleep(1)
        raise TimeoutError(f"DAG {dag_id} was not parsed: {self.log_tail('dag-processor')}")

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        self.wait_for_dag(dag_id)
        run = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return str(run["dag_run_id"])

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.get(f"{path}?map_index={map_index}&deserialize=true")["value"]

    # -- metadata DB (read-only) ------------------------------------------------------------------

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.database_url:  # PostgreSQL: psycopg 3, %s placeholders
            import psycopg

            dsn = self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
            with psycopg.connect(dsn, autocommit=True) as db:
                return list(db.execute(sql.replace("?", "%s"), params).fetchall())  # type: ignore[arg-type]
        for attempt in range(10):
            try:
                uri = f"file:{self.home / 'airflow.db'}?mode=ro"
                with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
                    return db.execute(sql, params).fetchall()
            except sqlite3.DatabaseError:
                if attempt == 9:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")

    def task_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        rows = self.query(
            "SELECT state FROM task_instance WHERE dag_id=? AND run_id=? AND task_id=?", dag_id, run_id, task_id
        )
        return rows[0][0] if rows else None

    def trigger_row(self, dag_id: str, run_id: str, task_id: str) -> tuple[Any, ...] | None:
        rows = self.query(
            "SELECT t.id, t.classpath, t.triggerer_id, t.kwargs FROM task_instance ti JOIN trigger t "
            "ON ti.trigger_id = t.id WHERE ti.dag_id=? AND ti.run_id=? AND ti.task_id=?",
            dag_id,
            run_id,
            task_id,
        )
        return rows[0] if rows else None

    def wait_deferred(self, dag_id: str, run_id: str, task_id: str, timeout: float = 120) -> tuple[Any, ...]:
        """Wait until the task is deferred and its trigger row is assigned to a triggerer; return the row."""

        def assigned() -> tuple[Any, ...] | None:
            if self.task_state(dag_id, run_id, task_id) != "deferred":
                return None
            row = self.trigger_row(dag_id, run_id, task_id)
            return row if row is not None and row[2] is not None else None

        row = tuple(self.wait_for(assigned, timeout, what=f"{task_id} to be deferred with an assigned trigger"))
        # Airflow race, not the provider's: the worker that deferred the task may take seconds to
        # exit on a busy machine, and if the trigger fires first, the scheduler re-queues the task,
        # then reads that worker's late "success" and fails the resumed task ("the task instance's
        # state attribute is running"). Tests let jobs finish only after the scheduler saw it exit.
        finished = f"TaskInstance Finished: dag_id={dag_id}, task_id={task_id}, run_id={run_id},"
        self.wait_for(
            lambda: any(
                finished in line and "state=deferred" in line
                for line in (self.home / "scheduler.log").read_text(errors="replace").splitlines()
            ),
            timeout,
            0.5,
            f"the scheduler to see {task_id}'s deferring worker exit",
        )
        return row

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        rows = self.query("SELECT state FROM dag_run WHERE dag_id=? AND run_id=?", dag_id, run_id)
        return rows[0][0] if rows else None

    def wait_for(self, predicate: Any, timeout: float = 120, interval: float = 0.2, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"timed out waiting for {what}")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 180) -> str:
        return str(
            self.wait_for(
                lambda: (state := self.run_state(dag_id, run_id)) in ("success", "failed") and state,
                timeout,
                0.5,
                f"run {run_id} of {dag_id} to finish",
            )
        )

    def task_log(self, dag_id: str, run_id: str, task_id: str, attempt: int | None = None) -> str:
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        files = sorted(folder.rglob(f"attempt={attempt}.log*" if attempt else "*"))
        return "\n".join(p.read_text(errors="replace") for p in files if p.is_file())

    def wait_for_log(
        self, dag_id: str, run_id: str, task_id: str, *needles: str, attempt: int | None = None, timeout: float = 60
    ) -> str:
        """The task's log once it holds one of ``needles`` (a log is written as it is read: poll, do not race)."""
        try:
            return str(
                self.wait_for(
                    lambda: (
                        (log := self.task_log(dag_id, run_id, task_id, attempt))
                        and any(n in log for n in needles)
                        and log
                    ),
                    timeout,
                    0.5,
                    f"{' or '.join(map(repr, needles))} in the log of {task_id}",
                )
            )
        except TimeoutError as error:
            raise AssertionError(f"{error}:\n{self.task_log(dag_id, run_id, task_id, attempt)[-3000:]}") from None

    def files_containing(self, secret: str) -> list[Path]:
        """Files under AIRFLOW_HOME (logs of every component, task and trigger logs) holding ``secret``.

        The metadata DB is checked table by table with :meth:`tables_containing` instead: the
        ``connection`` table holds the key by design.
        """
        needle = secret.encode()
        return [
            path
            for path in self.home.rglob("*")
            if path.is_file() and not path.name.startswith("airflow.db") and needle in path.read_bytes()
        ]

    def tables_containing(self, secret: str, skip: tuple[str, ...] = ("connection",)) -> list[str]:
        tables = [name for (name,) in self.query("SELECT name FROM sqlite_master WHERE type='table'")]
        hits = []
        for table in tables:
            if table in skip:
                continue
            for row in self.query(f'SELECT * FROM "{table}"'):  # noqa: S608 (table names from sqlite_master)
                if any(
                    secret in (cell.decode(errors="replace") if isinstance(cell, bytes) else str(cell)) for cell in row
                ):
                    hits.append(table)
                    break
        return hits
