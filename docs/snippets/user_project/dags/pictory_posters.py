"""A user's DAG: one poster per prompt (a mapped Pictory task), stored in the run's output folder.

Part of the example user project on the "Testing your DAGs" docs page; tests/test_pytest_plugin.py
copies the project to a temporary directory and runs its tests the way a user would.
"""

from __future__ import annotations

# --8<-- [start:dag]
import pendulum
from airflow.sdk import Param, dag, task

from pictory_provider.operators.pictory import PictoryGenerateImageOperator

PROMPTS = [
    "A poster of a calm lake at dawn",
    "A poster of a storm over the sea",
    "A poster of a desert under the stars",
]


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"output_dir": Param("/data/posters/", type="string", description="Folder ending in /")},
)
def pictory_posters():
    posters = PictoryGenerateImageOperator.partial(
        task_id="poster",
        model="flux-schnell",
        poll_interval=1,
        output_path="{{ params.output_dir }}",  # a folder: each PNG is named <job_id>.png
        retries=0,
    ).expand(prompt=PROMPTS)

    @task
    def report(results) -> int:
        stored = [result["image_path"] for result in results[:]]  # one slice: no "XCom not found" ERROR
        print(f"{len(stored)} posters stored")
        return len(stored)

    report(posters.output)


posters_dag = pictory_posters()
# --8<-- [end:dag]
