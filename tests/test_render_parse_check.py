"""The storyboard check runs when the DAG is parsed, without network: all of it for a literal storyboard,
the field names for one with templates (their values are checked when the task runs)."""

from __future__ import annotations

import textwrap

import pytest

from pictory_provider.exceptions import PictoryValidationError
from pictory_provider.operators.render import PictoryRenderVideoOperator

from .compat import HAS_AIRFLOW_SDK

GOOD = {"videoName": "launch", "voiceOver": {"enabled": False}, "scenes": [{"story": "Hello."}]}


def test_a_literal_storyboard_is_checked_at_construction(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_PICTORY_DEFAULT", raising=False)  # no connection, no network: pure
    with pytest.raises(PictoryValidationError, match=r"checked when the DAG is parsed.*did you mean videoName"):
        PictoryRenderVideoOperator(task_id="render", storyboard={**GOOD, "videoname": "x"})
    with pytest.raises(PictoryValidationError, match="exactly one content source"):
        PictoryRenderVideoOperator(task_id="render", storyboard={**GOOD, "scenes": [{"story": "a", "blogUrl": "b"}]})
    assert PictoryRenderVideoOperator(task_id="render", storyboard=GOOD).storyboard == GOOD


def test_a_templated_storyboard_is_checked_for_field_names_only():
    templated = {**GOOD, "aspectRatio": "{{ params.ratio }}"}  # valid only once rendered
    PictoryRenderVideoOperator(task_id="render", storyboard=templated)
    with pytest.raises(PictoryValidationError, match=r"scenes\[0\].storry.*did you mean story"):
        PictoryRenderVideoOperator(task_id="render", storyboard={**templated, "scenes": [{"storry": "{{ x }}"}]})


@pytest.mark.skipif(not HAS_AIRFLOW_SDK, reason="the DAG file uses airflow.sdk")
def test_the_dag_file_fails_to_import_with_the_check(tmp_path):
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow < 3.1
        from airflow.models.dagbag import DagBag

    (tmp_path / "typo.py").write_text(
        textwrap.dedent(
            """
            import pendulum
            from airflow.sdk import dag
            from pictory_provider.operators.render import PictoryRenderVideoOperator

            @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
            def typo():
                PictoryRenderVideoOperator(task_id="render", storyboard={"videoName": "x", "scene": []})

            typo()
            """
        )
    )
    bag = DagBag(dag_folder=str(tmp_path))
    (error,) = bag.import_errors.values()
    assert "unknown field 'scene'" in error and "did you mean scenes?" in error
