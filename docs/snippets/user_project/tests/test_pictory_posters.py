"""Offline tests of the pictory_posters DAG with the provider's pytest plugin (no conftest needed).

Run with a migrated Airflow metadata DB (``airflow db migrate`` once per AIRFLOW_HOME), then ``pytest``.
"""

from __future__ import annotations

# --8<-- [start:tests]
import importlib.util
from pathlib import Path

import pytest

DAG_FILE = Path(__file__).resolve().parent.parent / "dags" / "pictory_posters.py"


@pytest.fixture
def posters_dag():
    spec = importlib.util.spec_from_file_location("pictory_posters", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.posters_dag


def test_every_prompt_becomes_a_stored_poster(posters_dag, pictory_emulator, pictory_connection, tmp_path):
    # pictory_connection pointed "pictory_default" at the emulator; its jobs finish in 0.2 s.
    run = posters_dag.test(run_conf={"output_dir": f"{tmp_path}/"})

    assert run.state == "success"
    assert len(list(tmp_path.glob("*.png"))) == 3
    assert pictory_emulator.stats()["jobs_created"] == 3  # one paid job per prompt, no duplicates


def test_a_refused_prompt_fails_only_its_own_poster(posters_dag, pictory_emulator, pictory_connection, tmp_path):
    # Pictory refuses the one prompt that mentions a storm; the other two still get their posters.
    pictory_emulator.add_fault("fail_job", prompt_contains="storm", error_code="CONTENT_POLICY")

    run = posters_dag.test(run_conf={"output_dir": f"{tmp_path}/"})

    assert run.state == "failed"
    posters = {ti.map_index: ti.state for ti in run.get_task_instances() if ti.task_id == "poster"}
    assert posters == {0: "success", 1: "failed", 2: "success"}
    assert len(list(tmp_path.glob("*.png"))) == 2
    assert pictory_emulator.stats()["jobs_created"] == 3


# --8<-- [end:tests]
