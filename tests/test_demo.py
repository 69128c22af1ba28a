"""`make demo` (scripts/demo.py) as a new user runs it: a PNG, a labelled URL, nothing left in /tmp, and a
"Next:" hint that runs as printed."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(600)


def demo_env(tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    scratch, output = tmp_path / "tmp", tmp_path / "output"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST_", "PICTORY_", "MAKE"))} | {
        "TMPDIR": str(scratch),  # where the demo's temporary AIRFLOW_HOME goes
        "PICTORY_DEMO_OUTPUT": str(output),
    }
    return env, scratch, output


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    env, scratch, output = demo_env(tmp_path_factory.mktemp("demo"))
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")], env=env, capture_output=True, text=True, timeout=540
    )
    return result, scratch, output


def test_demo_writes_a_png_labels_the_emulator_url_and_leaves_no_airflow_home(default_demo):
    result, scratch, output = default_demo
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if line.startswith(("image url", "PNG")))
    assert lines["image url"].strip().endswith(".png (the emulator's; it stopped with the demo)")
    png = Path(lines["PNG written to"].strip())
    assert png.parent == output and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (output / "demo-dags-test.log").is_file()
    assert [p.name for p in scratch.iterdir() if p.name.startswith("pictory-demo-airflow-home-")] == []


def load_demo_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_script", ROOT / "scripts" / "demo.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_next_hint_is_a_make_command_that_runs_the_demo_of_an_example_dag(default_demo):
    """The printed `make demo DAG=...` runs scripts/demo.py on that DAG (a full run of it takes about a
    minute, so it is not repeated here: tests/test_video_dag_runs.py runs that DAG, and the summary of
    what it produces is checked below)."""
    result, _, _ = default_demo
    (hint,) = [line for line in result.stdout.splitlines() if line.startswith("Next:")]
    (command,) = re.findall(r"`([^`]+)`", hint)
    assert command == "make demo DAG=example_pictory_image_to_video"
    make, *args = shlex.split(command)
    # -n: print the recipe without running it; -o: do not reinstall .venv if its stamp looks stale.
    dry = subprocess.run(
        [make, "-n", "--no-print-directory", "-o", ".venv/.installed-stamp", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip().splitlines()[-1] == ".venv/bin/python scripts/demo.py example_pictory_image_to_video"
    assert "example_pictory_image_to_video" in load_demo_script().demo_dag_ids()


def test_the_summary_of_an_image_and_a_video_names_both_files_and_the_total():
    demo = load_demo_script()
    image, video = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
    xcom = {  # the shape `airflow dags test example_pictory_image_to_video` leaves in XCom
        ("generate_image", -1): {
            "job_id": image,
            "image_url": f"http://127.0.0.1:1/files/{image}.png",
            "width": 1280,
            "height": 720,
            "ai_credits_used": 0.6,
            "image_path": f"/out/{image}.png",
            "return_value": {"job_id": image, "image_path": f"/out/{image}.png"},
        },
        ("animate_image", -1): {
            "job_id": video,
            "video_url": f"http://127.0.0.1:1/files/{video}.mp4",
            "width": 1280,
            "height": 720,
            "ai_credits_used": 8,
            "video_path": f"/out/{video}.mp4",
        },
        ("report", -1): {"return_value": {"image_path": f"/out/{image}.png", "video_path": f"/out/{video}.mp4"}},
    }
    lines = demo.summary(xcom, emulator=True)
    assert f"job id:          {image}" in lines
    assert f"video url:       http://127.0.0.1:1/files/{video}.mp4 (the emulator's; it stopped with the demo)" in lines
    assert "AI credits used: 8.6 in total (2 jobs)" in lines
    assert lines[-2:] == [f"PNG written to:  /out/{image}.png", f"MP4 written to:  /out/{video}.mp4"]


def test_demo_refuses_an_unknown_dag_with_the_list():
    ran = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "example_nope"], capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 2
    assert "No example DAG 'example_nope' to demo; one of: example_pictory_asset_producer" in ran.stderr
