"""What a new user reads first agrees with itself and with what is tested (issue 21).

The tested Airflow versions are the same on every page and in the Makefile; the one-line descriptions
speak of images and videos; the install lines put the constraints first; the README's emulator example
runs and does what its sentence says; docs/example-dags.md says what the asset consumer does under
`airflow dags test` (tests/test_dag_runs.py runs it).
"""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pictory_provider import __version__
from pictory_provider.get_provider_info import get_provider_info

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
CONSTRAINTS = "constraints/constraints-3.3.2-py3.11.txt"
FULL_VERSION = re.compile(r"\b([23]\.\d+\.\d+)\b")


def read(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def airflow_versions_tested() -> set[str]:
    """Airflow 3.3.2 (`make test`, the constraints of .venv) plus `make test-compat`'s versions."""
    makefile = read("Makefile")
    (compat,) = re.findall(r"^COMPAT_AIRFLOW := (.+)$", makefile, flags=re.MULTILINE)
    (main,) = re.findall(r"^CONSTRAINTS := constraints/constraints-([\d.]+)-py3\.11\.txt$", makefile, re.MULTILINE)
    return {main, *compat.split()}


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else None]


def first_sentence(markdown: str) -> str:
    paragraph = next(block for block in markdown.split("\n\n") if block.strip() and not block.startswith("#"))
    return " ".join(paragraph.split()).split(": ", 1)[-1].split(". ")[0]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


# -- 5. the pages agree ------------------------------------------------------------------------------


def test_every_page_lists_the_tested_airflow_versions() -> None:
    versions = airflow_versions_tested()
    assert versions == {"2.11.2", "3.0.6", "3.1.8", "3.2.2", "3.3.2"}
    for version in versions:
        assert (ROOT / f"constraints/constraints-{version}-py3.11.txt").is_file()
    minors = sorted({version.rsplit(".", 1)[0] for version in versions}, key=lambda v: tuple(map(int, v.split("."))))

    readme = read("README.md")
    (supported,) = [line for line in readme.splitlines() if line.startswith("Supported: Apache Airflow")]
    assert f"**{', '.join(minors[:-1])} and {minors[-1]}**" in supported
    table = [line for line in section(readme, "Supported: Apache Airflow").splitlines() if line.startswith("| ")]
    assert {match for line in table for match in FULL_VERSION.findall(line.split("|")[1])} == versions

    (tested_on,) = [line for line in read("docs/index.md").splitlines() if line.startswith("| Tested on |")]
    assert set(FULL_VERSION.findall(tested_on)) == versions

    rows = [line for line in section(read("docs/installation.md"), "## Supported versions").splitlines()]
    tested_rows = [line for line in rows if line.startswith(("| Fully tested |", "| Tested |"))]
    assert {v for line in tested_rows for v in FULL_VERSION.findall(line.split("|")[2].split("(")[0])} == versions


def test_descriptions_speak_of_images_and_videos() -> None:
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg", encoding="utf-8")
    from pictory_provider.emulator.__main__ import _parser

    emulator_help = _parser().format_help()  # what `pictory-emulator --help` prints
    descriptions = {
        "setup.cfg": setup["metadata"]["description"],
        "get_provider_info": get_provider_info()["description"],
        "pictory-emulator --help": " ".join(emulator_help.split()),
        "docs/index.md": first_sentence(read("docs/index.md")),
        "README.md": first_sentence(read("README.md")),
    }
    for where, text in descriptions.items():
        assert "images and videos" in text, f"{where}: {text!r}"


def test_the_first_lines_pitch_narrated_videos_first() -> None:
    # Pictory's main product is the narrated video made from a script or a blog post: say it first.
    for page in ("README.md", "docs/index.md"):
        sentence = first_sentence(read(page))
        assert "narrated" in sentence and sentence.index("narrated") < sentence.index("images"), (page, sentence)


# -- 6. the README's emulator example runs and does what the sentence beside it says -----------------


def test_readme_fault_injection_example_retries_the_status_polls(tmp_path: Path) -> None:
    readme = read("README.md")
    (example,) = [block for block in code_blocks(readme, "python") if "add_fault(" in block]
    assert 'add_fault("status", route="job"' in example
    sentence = readme[: readme.index(example)].rsplit("```python", 1)[0].rstrip().rsplit("\n\n", 1)[-1]
    assert "the next two status polls answer HTTP 500, and the hook retries them" in " ".join(sentence.split())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "PYTEST_"))}
    result = subprocess.run(
        [sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "completed 2"  # what the comment on its last line says
    assert "failed (attempt 2 of 5): HTTP 500" in result.stdout + result.stderr  # the hook retried, logged it

    # "Without `route=`, a fault hits the next request of any kind: here the create, which is never retried"
    without_route = example.replace('route="job", ', "")
    result = subprocess.run(
        [sys.executable, "-c", without_route], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "PictorySubmissionUnclearError" in result.stderr
    assert "so it was not retried to avoid a duplicate paid job" in result.stderr


# -- 7. install: the constraints-pinned line first; the [test] extra from the wheel -------------------


@pytest.mark.parametrize("page", ["README.md", "docs/installation.md"])
def test_the_first_install_line_is_pinned_by_the_constraints(page: str) -> None:
    text = read(page)
    install = section(text, "## Install") if page == "README.md" else text
    lines = [line for block in code_blocks(install, "bash") for line in block.splitlines()]
    first = next(line for line in lines if line.startswith("pip install"))
    assert f"-c {CONSTRAINTS}" in first, first
    assert (ROOT / CONSTRAINTS).is_file()
    wheel_lines = [line for line in lines if line.startswith("pip install dist/")]
    assert wheel_lines
    assert all(f"-c {CONSTRAINTS}" in line for line in wheel_lines)


@pytest.mark.parametrize("page", ["README.md", "docs/installation.md", "docs/testing.md"])
def test_building_in_the_clone_removes_its_leftovers(page: str) -> None:
    # build/ and *.egg-info left in the clone make a process started there find the package twice.
    lines = [line for block in code_blocks(read(page), "bash") for line in block.splitlines()]
    builds = [line for line in lines if line.startswith(("pip install . ", "python -m pip install build"))]
    assert builds, page
    assert all("&& rm -rf build *.egg-info" in line for line in builds), builds


def test_testing_page_installs_the_test_extra_from_the_wheel() -> None:
    text = read("docs/testing.md")
    wheel = f"dist/airflow_provider_pictory-{__version__}-py3-none-any.whl[test]"
    lines = [line for block in code_blocks(text, "bash") for line in block.splitlines()]
    (line,) = [line for line in lines if line.startswith("pip install") and "[test]" in line]
    assert line.startswith(f'pip install "{wheel}"'), line
    assert "python -m build" in text  # how the wheel gets there
    pypi = [line for line in text.splitlines() if "airflow-provider-pictory[test]" in line]
    assert all("once published" in line for line in pypi), pypi


# -- 8. the asset consumer under `airflow dags test` ---------------------------------------------------


def test_example_dags_page_says_what_the_asset_consumer_does_under_dags_test() -> None:
    text = " ".join(read("docs/example-dags.md").split())
    assert "Under `airflow dags test` the consumer does nothing." in text
    assert "announce` prints nothing and returns `[]`" in text  # tests/test_dag_runs.py checks this
    assert "Create Event → Manual" in text
    assert "POST /api/v2/assets/events" in text


# -- review of issue 21: docs/emulator.md's tables name what the emulator has ----------------------------


def test_emulator_page_lists_every_cli_option_and_fault_route() -> None:
    from pictory_provider.emulator.__main__ import _parser
    from pictory_provider.emulator.faults import FAULT_ROUTES
    from pictory_provider.emulator.routes import ROUTE_OF_HANDLER, create_video

    text = read("docs/emulator.md")
    options = section(text, "## Running it")
    flags = [flag for action in _parser()._actions for flag in action.option_strings if flag.startswith("--")]
    missing = [flag for flag in flags if flag != "--help" and f"| `{flag}" not in options]
    assert not missing, f"docs/emulator.md's options table lacks {missing}"

    faults = section(text, "## Fault injection")
    assert set(FAULT_ROUTES) | set(ROUTE_OF_HANDLER.values()) <= set(re.findall(r"^\| `(\w+)` \|", faults, re.M))
    (create_row,) = [line for line in faults.splitlines() if line.startswith("| `create` |")]
    assert ROUTE_OF_HANDLER[create_video] == "create" and "/aistudio/videos" in create_row
    assert "/storyboard/render" in create_row


def test_example_dags_page_names_every_output_path_default() -> None:
    text = " ".join(read("docs/example-dags.md").split())
    defaults = set()
    for path in sorted((ROOT / "example_dags").glob("*.py")):
        defaults |= set(re.findall(r'"output_path": Param\("([^"]+)"', path.read_text(encoding="utf-8")))
    assert defaults, "no output_path params found in example_dags/"
    missing = sorted(default for default in defaults if f"`{default}`" not in text)
    assert not missing, f"docs/example-dags.md does not name the output_path defaults {missing}"
