"""The README's snippets run as written: the operator that stores its PNG, on a manually triggered run.

A run triggered by hand in Airflow 3 has no logical date, so a template such as ``{{ ds }}`` fails the task
(``'ds' is undefined``). The README's ``output_path`` must render on every run: its snippet is taken
from README.md, put in a DAG and run with ``dag.test(logical_date=None)`` (a manual run) against the
emulator, in a subprocess with a migrated ``AIRFLOW_HOME``, as tests/test_dag_runs.py runs DAGs.
"""

from __future__ import annotations

import re
import subprocess
import textwrap
from pathlib import Path

import pytest

from .airflow_home import BIN, AirflowHome
from .compat import AIRFLOW_V_3_3_PLUS, ROOT
from .conftest import API_KEY, conn_json

pytestmark = [
    pytest.mark.timeout(600),
    # runs with a null logical date exist since Airflow 3.0; verified on 3.3
    pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason="a manual run without logical date: Airflow 3"),
]

DAG_FILE = """
import pendulum
from airflow.sdk import dag

from pictory_provider.operators.pictory import PictoryGenerateImageOperator


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def readme_snippet():
{snippet}


the_dag = readme_snippet()

if __name__ == "__main__":
    run = the_dag.test(logical_date=None)  # a manual run: no logical date, as a click on "Trigger" in Airflow 3
    print("RUN", run.run_id, run.state, run.logical_date)
"""


def readme_block(after: str) -> str:
    """The first ```python block of README.md after the line containing ``after``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rest = text[text.index(after) :]
    match = re.search(r"```python\n(.*?)```", rest, re.S)
    assert match, after
    return match.group(1)


def test_readme_output_path_renders_on_a_manual_run(emulator, tmp_path: Path) -> None:
    snippet = readme_block("Or let the operator wait and store the PNG itself")
    assert "output_path=" in snippet and "s3://my-bucket/" in snippet
    # As written, but stored under tmp_path instead of the reader's bucket: the template part is untouched.
    snippet = snippet.replace("s3://my-bucket/", f"file://{tmp_path}/")
    dags = tmp_path / "dags"
    dags.mkdir()
    dag_file = dags / "readme_snippet.py"
    dag_file.write_text(DAG_FILE.format(snippet=textwrap.indent(snippet, "    ")), encoding="utf-8")
    home = AirflowHome(dags_folder=dags)
    home.migrate()
    env = home.env | {
        "AIRFLOW_CONN_PICTORY_DEFAULT": conn_json(emulator.base_url),
        "PYTHONWARNINGS": "always::DeprecationWarning",  # the provider's own code raises none (docs/troubleshooting.md)
    }
    result = subprocess.run(
        [str(BIN / "python"), str(dag_file)], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    output = result.stdout + result.stderr
    assert API_KEY not in output
    assert "is undefined" not in output, output[-3000:]
    run_line = [line for line in result.stdout.splitlines() if line.startswith("RUN ")]
    assert run_line and run_line[-1].endswith(" success None"), output[-3000:]
    run_id = run_line[-1].split()[1]
    stored = list((tmp_path / "images" / run_id).glob("*.png"))
    assert len(stored) == 1, output[-3000:]
    assert emulator.stats()["posts"] == 1
    deprecations = [line for line in output.splitlines() if "Deprecat" in line and "pictory_provider" in line]
    assert deprecations == []
