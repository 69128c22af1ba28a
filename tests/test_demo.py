"""`make demo` (scripts/demo.py) as a new user runs it: a PNG, a labelled URL, nothing left in /tmp."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(600)


def test_demo_writes_a_png_labels_the_emulator_url_and_leaves_no_airflow_home(tmp_path):
    scratch, output = tmp_path / "tmp", tmp_path / "output"
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST_", "PICTORY_"))} | {
        "TMPDIR": str(scratch),  # where the demo's temporary AIRFLOW_HOME goes
        "PICTORY_DEMO_OUTPUT": str(output),
    }
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")], env=env, capture_output=True, text=True, timeout=540
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if line.startswith(("image url", "PNG")))
    assert lines["image url"].strip().endswith(".png (the emulator's; it stopped with the demo)")
    png = Path(lines["PNG written to"].strip())
    assert png.parent == output and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (output / "demo-dags-test.log").is_file()
    assert [p.name for p in scratch.iterdir() if p.name.startswith("pictory-demo-airflow-home-")] == []
