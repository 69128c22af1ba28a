"""`make demo` (scripts/demo.py) as a new user runs it: a PNG, a labelled URL, nothing left in /tmp, and a
"Next:" hint that runs as printed."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

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


def labelled(stdout: str) -> list[tuple[str, str]]:
    return [(label, value.strip()) for label, _, value in (line.partition(":") for line in stdout.splitlines())]


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


def test_the_next_hint_runs_as_printed(default_demo, tmp_path):
    """The printed `make demo DAG=...` works: a fresh home, the emulator, an image and a video stored."""
    result, _, _ = default_demo
    (hint,) = [line for line in result.stdout.splitlines() if line.startswith("Next:")]
    (command,) = re.findall(r"`([^`]+)`", hint)
    assert command == "make demo DAG=example_pictory_image_to_video"
    env, scratch, output = demo_env(tmp_path)
    # As printed, except that make does not reinstall .venv if its stamp looks stale (tests share it).
    make, *args = shlex.split(command)
    ran = subprocess.run(
        [make, "-o", ".venv/.installed-stamp", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=540
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    lines = labelled(ran.stdout)
    stored = [Path(value) for label, value in lines if label in ("PNG written to", "MP4 written to")]
    assert sorted(path.suffix for path in stored) == [".mp4", ".png"]
    assert all(path.parent == output and path.stat().st_size > 0 for path in stored)
    assert ("AI credits used", "8.6 in total (2 jobs)") in lines
    assert [p.name for p in scratch.iterdir() if p.name.startswith("pictory-demo-airflow-home-")] == []


def test_demo_refuses_an_unknown_dag_with_the_list():
    ran = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "example_nope"], capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 2
    assert "No example DAG 'example_nope' to demo; one of: example_pictory_asset_producer" in ran.stderr
