"""`make demo`: run the example DAG with `airflow dags test` and store the generated PNG under output/.

Offline by default: a temporary AIRFLOW_HOME is migrated, the bundled Pictory emulator is started and
``pictory_default`` points at it, so the sensor really defers and the trigger really polls over HTTP.
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
DAG_ID = "example_pictory_image"
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


def read_xcom(home: Path) -> dict[str, object]:
    with sqlite3.connect(home / "airflow.db") as db:
        (run_id,) = db.execute(
            "SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (DAG_ID,)
        ).fetchone()
        rows = db.execute(
            "SELECT task_id, key, value FROM xcom WHERE dag_id = ? AND run_id = ?", (DAG_ID, run_id)
        ).fetchall()
    # SQLite hands JSON numbers back as numbers and everything else as JSON text
    return {f"{t}.{k}": json.loads(v) if isinstance(v, (str, bytes)) else v for t, k, v in rows}


def main() -> int:
    home = Path(tempfile.mkdtemp(prefix="pictory-demo-airflow-home-"))
    try:
        result = run_demo(home)
    except BaseException:
        print(f"The demo stopped; its AIRFLOW_HOME is kept for inspection: {home}", file=sys.stderr)
        raise
    if result == 0:
        shutil.rmtree(home, ignore_errors=True)
    else:
        print(f"Kept the demo's AIRFLOW_HOME for its task logs: {home} (delete it when done)", file=sys.stderr)
    return result


def run_demo(home: Path) -> int:
    env = dict(
        os.environ,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "example_dags"),
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
        conf = json.dumps({"output_path": f"{OUTPUT}/"})
        print(f"Running: airflow dags test {DAG_ID} -c '{conf}'  (log: {log_path})", flush=True)
        with log_path.open("w") as log:
            result = subprocess.run(
                [str(BIN / "airflow"), "dags", "test", DAG_ID, "-c", conf], env=env, stdout=log, stderr=log
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
    xcom = read_xcom(home)
    image = xcom["use_image.return_value"]
    assert isinstance(image, dict)
    url = xcom["wait_for_image.image_url"]
    print()
    print(f"job id:          {xcom['submit.job_id']}")
    if emulator is not None:
        print(f"image url:       {url} (the emulator's; it stopped with the demo)")
    else:
        print(f"image url:       {url} (Pictory's; it expires after Pictory's retention period)")
    print(f"size:            {xcom['wait_for_image.width']}x{xcom['wait_for_image.height']}")
    print(f"AI credits used: {xcom['wait_for_image.ai_credits_used']}")
    print(f"PNG written to:  {image['image_path']}")
    print("Next: animate an image into a video with `airflow dags test example_pictory_image_to_video`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
