"""Bad inputs, table-driven, through the public classes a DAG author uses.

Each case must fail with a specific error naming the field (and what is allowed), send no request
to Pictory when the problem is detectable locally, and leave no file behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from pictory_provider.exceptions import (
    PictoryConfigError,
    PictoryEventError,
    PictoryNotFoundError,
    PictoryValidationError,
)
from pictory_provider.operators.pictory import PictoryGenerateImageOperator, PictoryGenerateVideoOperator
from pictory_provider.sensors.pictory import PictoryImageJobSensor
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .airflow_home import ROOT
from .fakes import make_context

UNKNOWN_JOB = "00000000-0000-4000-8000-000000000000"
ALLOWED_MODELS = "seedream3.0, flux-schnell, nanobanana, nanobanana-pro"


def generate(**kwargs: Any) -> Callable[[Any], Any]:
    def action(tmp_path: Any) -> Any:
        params = {"task_id": "t", "prompt": "A valid prompt", "deferrable": False} | kwargs
        return PictoryGenerateImageOperator(**params).execute(make_context())

    return action


def wait(**kwargs: Any) -> Callable[[Any], Any]:
    def action(tmp_path: Any) -> Any:
        params = {"task_id": "t", "job_id": UNKNOWN_JOB, "deferrable": False} | kwargs
        return PictoryImageJobSensor(**params).execute(make_context())

    return action


def complete(event: Any) -> Callable[[Any], Any]:
    return lambda tmp_path: PictoryImageJobSensor(task_id="t", job_id=UNKNOWN_JOB).execute_complete(
        make_context(), event
    )


def unwritable_output(tmp_path: Any) -> Any:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    return PictoryGenerateImageOperator(
        task_id="t", prompt="A valid prompt", deferrable=False, poll_interval=0.1, output_path=f"{blocker}/"
    ).execute(make_context())


@dataclass(frozen=True)
class Case:
    name: str
    action: Callable[[Any], Any]
    error: type[Exception]
    message: str
    requests: int = 0  # requests that may reach Pictory (only for what cannot be known locally)
    connection: dict[str, Any] | None = None  # overrides of the default connection


CASES = [
    Case(
        "empty prompt", generate(prompt=""), PictoryValidationError, "prompt must be 5 to 5000 characters long (got 0)"
    ),
    Case("4-character prompt", generate(prompt="four"), PictoryValidationError, "5 to 5000 characters long (got 4)"),
    Case("5001-character prompt", generate(prompt="x" * 5001), PictoryValidationError, "(got 5001)"),
    Case(
        "prompt not a string", generate(prompt=12345), PictoryValidationError, "prompt is required and must be a string"
    ),
    Case("unknown model", generate(model="dall-e-3"), PictoryValidationError, f"model must be one of {ALLOWED_MODELS}"),
    Case(
        "unknown aspect ratio",
        generate(aspect_ratio="4:3"),
        PictoryValidationError,
        "aspectRatio must be one of 1:1, 16:9, 9:16",
    ),
    Case(
        "unknown style",
        generate(style="noir"),
        PictoryValidationError,
        "style must be one of photorealistic, artistic, cartoon, minimalist, vintage, futuristic",
    ),
    Case(
        "reference image not a URL",
        generate(reference_image_url="my-photo.png"),
        PictoryValidationError,
        "referenceImageUrl must be an absolute http(s) URL",
    ),
    Case(
        "reference image ftp://",
        generate(reference_image_url="ftp://example.com/a.png"),
        PictoryValidationError,
        "referenceImageUrl must be an absolute http(s) URL",
    ),
    Case(
        "webhook not a URL",
        generate(webhook="hooks/pictory"),
        PictoryValidationError,
        "webhook must be an absolute http(s) URL",
    ),
    Case(
        "webhook ftp://",
        generate(webhook="ftp://example.com/hook"),
        PictoryValidationError,
        "webhook must be an absolute http(s) URL",
    ),
    Case(
        "job id not a UUID (sensor)", wait(job_id="job-42"), PictoryValidationError, "job_id must be a Pictory job UUID"
    ),
    Case(
        "job id 'None' from an xcom_pull that found nothing (sensor)",
        wait(job_id="None"),
        PictoryValidationError,
        "usually means the template's xcom_pull found nothing; check its task_ids and key='job_id'",
    ),
    Case(
        "job id: a whole return value pulled instead of key='job_id' (sensor)",
        wait(job_id=f"{{'job_id': '{UNKNOWN_JOB}', 'url': 'https://cdn/x.png'}}"),
        PictoryValidationError,
        f"it contains the job id {UNKNOWN_JOB}; pull only that, e.g. xcom_pull(..., key='job_id')",
    ),
    Case(
        "job id not a UUID (trigger)",
        lambda tmp_path: PictoryJobTrigger("42"),
        PictoryValidationError,
        "job_id must be a Pictory job UUID",
    ),
    Case("unknown job id", wait(), PictoryNotFoundError, "HTTP 404", requests=1),
    Case(
        "missing connection",
        wait(pictory_conn_id="no_such_connection"),
        PictoryConfigError,
        "'no_such_connection' is not defined: create a connection of type 'pictory'",
    ),
    Case("connection without a key", generate(), PictoryConfigError, "has no API key", connection={"password": None}),
    Case(
        "base URL with an unsupported scheme",
        generate(),
        PictoryConfigError,
        "Unsupported Pictory base URL",
        connection={"host": "ftp://api.pictory.ai"},
    ),
    Case("timeout 0", generate(timeout=0), PictoryValidationError, "timeout must be greater than 0"),
    Case("negative timeout (sensor)", wait(timeout=-5), PictoryValidationError, "timeout must be greater than 0"),
    Case("poll_interval 0", generate(poll_interval=0), PictoryValidationError, "poll_interval must be greater than 0"),
    Case(
        "poke_interval larger than timeout",
        wait(poke_interval=120, timeout=60),
        PictoryValidationError,
        "at most the timeout (60 s)",
    ),
    Case("execute_complete with None", complete(None), PictoryEventError, "event is None"),
    Case("execute_complete with a non-dict", complete(["success"]), PictoryEventError, "must be a dict, got list"),
    Case(
        "execute_complete with an unknown status",
        complete({"status": "done", "job_id": UNKNOWN_JOB}),
        PictoryEventError,
        "unknown status 'done'; expected one of success, failed, error, timeout",
    ),
    Case(
        "output_path under a file",
        unwritable_output,
        PictoryValidationError,
        "not-a-folder is a file, not a folder; nothing was sent to Pictory",
    ),
    Case(
        "output_path starting with '~'",  # not expanded: stored under ./~/ in the worker's working directory
        generate(output_path="~/pictory/"),
        PictoryValidationError,
        "starts with '~', which is not expanded",
    ),
    Case(
        "output_path file:// with two slashes",  # fsspec reads file://data/x as ./data/x
        generate(output_path="file://data/pictory/"),
        PictoryValidationError,
        "write file:///data/pictory/ (three slashes)",
    ),
    Case(
        "output_path with an unknown scheme",
        generate(output_path="s4://bucket/images/"),
        PictoryValidationError,
        "has an unknown storage scheme 's4'",
    ),
    Case(
        "output_path on s3:// without its filesystem",
        generate(output_path="s3://bucket/images/"),
        PictoryValidationError,
        "install apache-airflow-providers-amazon[s3fs] on workers",
    ),
    Case(
        "output_path naming an existing folder without '/'",
        lambda tmp_path: generate(output_path=str(tmp_path))(tmp_path),
        PictoryValidationError,
        "is an existing folder: end it with '/' to store <job_id>.png in it",
    ),
    Case(
        "sensor output_path with an unknown scheme",  # known before the wait, not after it
        wait(output_path="s4://bucket/images/", soft_fail=True),
        PictoryValidationError,
        "has an unknown storage scheme 's4'",
    ),
    Case(
        "video output_path with an unknown scheme",
        lambda tmp_path: PictoryGenerateVideoOperator(
            task_id="t", prompt="A valid prompt", deferrable=False, output_path="ftp2://host/videos/"
        ).execute(make_context()),
        PictoryValidationError,
        "has an unknown storage scheme 'ftp2'",
    ),
]


def test_there_are_at_least_twenty_cases():
    assert len(CASES) >= 20
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(case: Case, emulator, monkeypatch, tmp_path):
    emulator.set_job_seconds(0)
    connection = {"conn_type": "pictory", "host": emulator.base_url, "password": "pictai_bad_inputs"}
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", json.dumps(connection | (case.connection or {})))
    before = set(tmp_path.rglob("*"))
    with pytest.raises(case.error) as raised:
        case.action(tmp_path)
    assert case.message in str(raised.value)
    assert "pictai_bad_inputs" not in str(raised.value)
    assert sum(emulator.stats()["requests"].values()) <= case.requests
    assert {path for path in tmp_path.rglob("*") if path.suffix == ".png"} - before == set()


#: Run as root, the operator still meets a read-only folder: the child loses the capabilities that let
#: root write anywhere (setpriv, util-linux), so the folder's permission bits apply to it.
DROP_ROOTS_OVERRIDE = ["--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]
READ_ONLY_CHILD = """
import sys
from pictory_provider.operators.pictory import PictoryGenerateImageOperator
from tests.fakes import make_context
operator = PictoryGenerateImageOperator(task_id="t", prompt="A valid prompt", deferrable=False, output_path=sys.argv[1])
try:
    operator.execute(make_context())
except Exception as exc:
    print("RAISED", type(exc).__name__, exc)
"""


def test_read_only_output_folder_fails_before_any_request(emulator, tmp_path):
    command = [sys.executable, "-c", READ_ONLY_CHILD]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: root writes into a read-only folder")
        command = [setpriv, *DROP_ROOTS_OVERRIDE, *command]
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    connection = {"conn_type": "pictory", "host": emulator.base_url, "password": "pictai_bad_inputs"}
    env = os.environ | {"AIRFLOW_CONN_PICTORY_DEFAULT": json.dumps(connection)}
    try:
        result = subprocess.run(
            [*command, f"{folder}/images/"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        folder.chmod(0o755)
    (raised,) = [line for line in result.stdout.splitlines() if line.startswith("RAISED ")]
    assert raised == (
        f"RAISED PictoryValidationError output_path '{folder}/images/' is not writable: this worker cannot "
        f"create files in the folder {folder} (where {folder}/images would be created); nothing was sent to Pictory"
    ), result.stderr[-3000:]
    assert sum(emulator.stats()["requests"].values()) == 0


@pytest.mark.parametrize("output_path", ["~/pictory/", "file://data/pictory/"])
def test_a_sensor_never_stores_where_a_local_output_path_does_not_point(emulator, monkeypatch, tmp_path, output_path):
    # The forms the operator refuses before paying must never land in ./~/ or ./data/ under the worker's
    # working directory: the sensor refuses them before its first request, store_image when it stores.
    from pictory_provider.exceptions import PictoryDownloadError
    from pictory_provider.hooks.pictory import PictoryHook
    from pictory_provider.storage import destination_for

    connection = {"conn_type": "pictory", "host": emulator.base_url, "password": "pictai_bad_inputs"}
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", json.dumps(connection))
    monkeypatch.chdir(tmp_path)
    job_id = PictoryHook().generate_image("A valid prompt")
    emulator.finish_jobs()
    before = sum(emulator.stats()["requests"].values())
    sensor = PictoryImageJobSensor(task_id="t", job_id=job_id, deferrable=False, output_path=output_path)
    with pytest.raises(PictoryValidationError, match="three slashes|is not expanded"):
        sensor.execute(make_context())
    assert sum(emulator.stats()["requests"].values()) == before
    with pytest.raises(PictoryDownloadError, match="three slashes|is not expanded"):
        destination_for(output_path, job_id)  # what store_image names the file with
    assert list(tmp_path.rglob("*.png")) == []


def test_wait_settings_accept_a_timedelta_as_airflow_sensors_do():
    # BaseSensorOperator takes timeout=timedelta(...); the provider's own check used to crash on it with
    # "TypeError: '>' not supported between instances of 'datetime.timedelta' and 'int'" at parse time.
    from datetime import timedelta

    from pictory_provider.operators.render import PictoryRenderVideoOperator

    sensor = PictoryImageJobSensor(
        task_id="s", job_id=UNKNOWN_JOB, poke_interval=timedelta(seconds=30), timeout=timedelta(minutes=5)
    )
    assert (sensor.poke_interval, sensor.timeout) == (30, 300)
    for cls, extra in (
        (PictoryGenerateImageOperator, {"prompt": "A valid prompt"}),
        (PictoryRenderVideoOperator, {"preview_job_id": UNKNOWN_JOB}),
    ):
        operator = cls(
            task_id="o",
            poll_interval=timedelta(seconds=5),
            timeout=timedelta(minutes=5),
            reconcile_timeout=timedelta(minutes=1),
            **extra,
        )
        assert (operator.poll_interval, operator.timeout, operator.reconcile_timeout) == (5, 300, 60)
    with pytest.raises(PictoryValidationError, match=r"at most the timeout \(60 s\)"):
        PictoryImageJobSensor(task_id="s2", job_id=UNKNOWN_JOB, poke_interval=timedelta(minutes=2), timeout=60)


def test_hook_params_are_checked_when_the_dag_is_parsed():
    # A typo used to surface at run time as "BaseHook.__init__() got an unexpected keyword argument".
    import inspect

    from pictory_provider.hooks.pictory import PictoryHook
    from pictory_provider.task_settings import HOOK_PARAMS

    signature = inspect.signature(PictoryHook.__init__).parameters.values()
    assert tuple(p.name for p in signature if p.kind is inspect.Parameter.KEYWORD_ONLY) == HOOK_PARAMS
    with pytest.raises(PictoryValidationError, match="unknown setting 'max_retries': did you mean 'max_attempts'?"):
        PictoryGenerateImageOperator(task_id="o", prompt="A valid prompt", hook_params={"max_retries": 8})
    with pytest.raises(PictoryValidationError, match=r"hook_params\['read_timeout'\] must be a number, got '60'"):
        PictoryImageJobSensor(task_id="s", job_id=UNKNOWN_JOB, hook_params={"read_timeout": "60"})
    sensor = PictoryImageJobSensor(task_id="s2", job_id=UNKNOWN_JOB, hook_params={"max_attempts": 8})
    assert sensor.hook_params == {"max_attempts": 8}


@pytest.mark.parametrize("output_path", ["/proc/pictory/", "/proc/pictory.png", "file:///proc/pictory/"])
def test_a_folder_where_no_file_can_be_created_fails_before_any_request(emulator, monkeypatch, output_path):
    # /proc passes every permission check for root; only creating a real file there shows it cannot hold one.
    connection = {"conn_type": "pictory", "host": emulator.base_url, "password": "pictai_bad_inputs"}
    monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DEFAULT", json.dumps(connection))
    operator = PictoryGenerateImageOperator(task_id="t", prompt="A valid prompt", output_path=output_path)
    with pytest.raises(PictoryValidationError, match=r"is not writable.*nothing was sent to Pictory"):
        operator.execute(make_context())
    assert sum(emulator.stats()["requests"].values()) == 0


def test_the_write_probe_leaves_nothing_behind(tmp_path):
    from pictory_provider.destination import check_output_path

    check_output_path(f"{tmp_path}/images/")  # the probe goes into tmp_path, the nearest existing folder
    check_output_path(f"{tmp_path}/video.mp4", "mp4")
    assert list(tmp_path.iterdir()) == []
