"""`make demo`: run an example DAG with `airflow dags test` and store what it generates under output/.

``make demo`` runs ``example_pictory_image``; ``make demo DAG=<example DAG id>`` (``scripts/demo.py
<dag id>``) runs another one of example_dags/ the same way. Offline by default: a temporary
AIRFLOW_HOME is migrated, the bundled Pictory emulator is started and ``pictory_default`` points at
it, so the tasks really defer and the trigger really polls over HTTP.
With ``PICTORY_API_KEY`` set (and optionally ``PICTORY_BASE_URL``) the same run uses the real API.

The temporary AIRFLOW_HOME is deleted at the end; only a failed run keeps it (its path is printed) so
the task logs can be read. The ``airflow dags test`` output goes to ``output/demo-dags-test.log``.
``PICTORY_DEMO_OUTPUT`` moves the output folder (the tests use it).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = Path(os.environ.get("PICTORY_DEMO_OUTPUT") or ROOT / "output")
EXAMPLE_DAGS = ROOT / "example_dags"
DEFAULT_DAG_ID = "example_pictory_image"
#: What the default demo suggests next, printed as a command that runs as shown.
NEXT_DAG_ID = "example_pictory_image_to_video"
#: Scheduled on an asset, not run by hand: `airflow dags test` shows nothing of it (docs/example-dags.md).
NOT_DEMOS = {"example_pictory_asset_consumer"}
BIN = Path(sys.executable).parent


def start_emulator(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "pictory_provider.emulator", "--port", "0", "--job-seconds", "3"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    line = process.stdout.readline() if process.stdout else ""
    if "listening on " not in line:
        process.kill()
        raise SystemExit(f"The Pictory emulator did not start: {line!r}")
    return process, line.rsplit(" ", 1)[-1].strip()


def demo_dag_ids() -> list[str]:
    return sorted(path.stem for path in EXAMPLE_DAGS.glob("example_*.py") if path.stem not in NOT_DEMOS)


def read_xcom(home: Path, dag_id: str) -> dict[tuple[str, int], dict[str, object]]:
    """The last run's XCom, grouped by task instance: ``{(task_id, map_index): {key: value}}``."""
    with sqlite3.connect(home / "airflow.db") as db:
        (run_id,) = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)
        ).fetchone()
        rows = db.execute(
            "SELECT task_id, map_index, key, value FROM xcom WHERE dag_id = ? AND run_id = ? ORDER BY timestamp",
            (dag_id, run_id),
        ).fetchall()
    xcom: dict[tuple[str, int], dict[str, object]] = {}
    for task_id, map_index, key, value in rows:
        # SQLite hands JSON numbers back as numbers and everything else as JSON text
        xcom.setdefault((task_id, map_index), {})[key] = json.loads(value) if isinstance(value, (str, bytes)) else value
    return xcom


def summary(xcom: dict[tuple[str, int], dict[str, object]], *, emulator: bool) -> list[str]:
    """One block per finished job (its id, URL, size, credits), the total, then every stored file."""
    lines: list[str] = []
    files: list[str] = []
    total = 0.0
    jobs = 0
    for values in xcom.values():
        returned = values.get("return_value")
        returned = returned if isinstance(returned, dict) else {}
        files += [str(f) for key in ("image_path", "video_path") if (f := values.get(key) or returned.get(key))]
        for kind in ("image", "video"):
            url = values.get(f"{kind}_url")
            if not url:
                continue
            owner = (
                "the emulator's; it stopped with the demo"
                if emulator
                else "Pictory's; it expires after Pictory's retention period"
            )
            lines += [
                f"job id:          {returned.get('job_id') or values.get('job_id')}",
                f"{kind} url:       {url} ({owner})",
                f"size:            {values.get('width')}x{values.get('height')}",
                f"AI credits used: {values.get('ai_credits_used')}",
            ]
            total += float(values.get("ai_credits_used") or 0)  # type: ignore[arg-type]
            jobs += 1
    if jobs > 1:
        lines.append(f"AI credits used: {round(total, 4)} in total ({jobs} jobs)")
    for stored in dict.fromkeys(files):
        lines.append(f"{'MP4' if stored.endswith('.mp4') else 'PNG'} written to:  {stored}")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    dag_id = args[0] if args and args[0] else DEFAULT_DAG_ID
    if dag_id not in demo_dag_ids():
        print(f"No example DAG {dag_id!r} to demo; one of: {', '.join(demo_dag_ids())}", file=sys.stderr)
        return 2
    home = Path(tempfile.mkdtemp(prefix="pictory-demo-airflow-home-"))
    try:
        result = run_demo(home, dag_id)
    except BaseException:
        print(f"The demo stopped; its AIRFLOW_HOME is kept for inspection: {home}", file=sys.stderr)
        raise
    if result == 0:
        shutil.rmtree(home, ignore_errors=True)
    else:
        print(f"Kept the demo's AIRFLOW_HOME for its task logs: {home} (delete it when done)", file=sys.stderr)
    return result


def run_demo(home: Path, dag_id: str) -> int:
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAGS),
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    print(f"AIRFLOW_HOME: {home} (temporary; migrating the metadata DB ...)", flush=True)
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)

    emulator = None
    api_key = os.environ.get("PICTORY_API_KEY")
    if api_key:
        base_url = os.environ.get("PICTORY_BASE_URL", "https://api.pictory.ai")
        print(f"Using the real Pictory API at {base_url} (this spends AI credits)")
    else:
        emulator, base_url = start_emulator(env)
        api_key = "pictai_demo_emulator_key"
        print(f"Started the Pictory emulator at {base_url}")
    env["AIRFLOW_CONN_PICTORY_DEFAULT"] = json.dumps({"conn_type": "pictory", "host": base_url, "password": api_key})
    OUTPUT.mkdir(parents=True, exist_ok=True)
    log_path = OUTPUT / "demo-dags-test.log"
    try:
        takes_output_path = '"output_path": Param(' in (EXAMPLE_DAGS / f"{dag_id}.py").read_text()
        conf = ["-c", json.dumps({"output_path": f"{OUTPUT}/"})] if takes_output_path else []
        shown = f" -c '{conf[1]}'" if conf else ""
        print(f"Running: airflow dags test {dag_id}{shown}  (log: {log_path})", flush=True)
        with log_path.open("w") as log:
            result = subprocess.run(
                [str(BIN / "airflow"), "dags", "test", dag_id, *conf], env=env, stdout=log, stderr=log
            )
    finally:
        if emulator is not None:
            emulator.terminate()
            try:
                emulator.wait(timeout=15)
            except subprocess.TimeoutExpired:  # a busy machine: do not let a slow exit fail the demo
                emulator.kill()
                emulator.wait()
    if result.returncode != 0:
        print(log_path.read_text()[-4000:], file=sys.stderr)
        print(f"airflow dags test failed (exit {result.returncode}); full log: {log_path}", file=sys.stderr)
        return 1
    print()
    print("\n".join(summary(read_xcom(home, dag_id), emulator=emulator is not None)))
    if dag_id == DEFAULT_DAG_ID:
        print(f"Next: animate an image into a video with `make demo DAG={NEXT_DAG_ID}`")
    else:
        print(f"Other examples: `make demo DAG=<id>`, id one of: {', '.join(demo_dag_ids())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
