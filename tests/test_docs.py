"""The documentation site: it builds strictly, its code comes only from tested files, and it stays true.

1. ``mkdocs build --strict`` succeeds (no dead link or anchor, no griffe warning) and the copied code,
   the changelog and the API reference really end up in the pages.
2. Every ```python block in docs/*.md is a copy of a tested file (``<!-- code: path:section -->``, written
   by scripts/docs_code.py) and equal to it, so the pages read as plain Markdown on the repository host.
3. Every file in docs/snippets/ is imported and exercised here, offline, against the emulator.
4. The hand-written parameter tables cover every constructor parameter, XCom key and exception.
"""

from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred

from pictory_provider import api, events, exceptions
from pictory_provider.emulator import PictoryEmulator
from pictory_provider.exceptions import PictoryJobFailedError
from pictory_provider.hooks.pictory import PictoryHook
from pictory_provider.operators.pictory import PictoryGenerateImageOperator
from pictory_provider.sensors.pictory import PictoryImageJobSensor
from pictory_provider.triggers.pictory import PictoryJobTrigger

from .fakes import RecordingTI

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNIPPETS = DOCS / "snippets"

#: ```python blocks allowed to hold code of their own, not a copy of a tested file: {"page.md": count}. Keep it empty.
ALLOWED_INLINE_PYTHON: dict[str, int] = {}
PYTHON_LANGUAGES = {"python", "py", "python3", "pycon"}
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})\s*\{?\s*\.?(?P<lang>[\w+-]*)")
CODE_MARKER = re.compile(r"^<!-- code: (?P<path>\S+) -->$")


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_snippet_{name}", SNIPPETS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _pages() -> list[Path]:
    return sorted(path for path in DOCS.rglob("*.md") if SNIPPETS not in path.parents)


def _page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


# -- 3. the offline CI tests shown on the emulator and storage pages run as part of this suite --------

# Their fixtures (pictory_emulator, pictory_connection) come from the provider's own pytest plugin.
_offline = _load("test_pictory_offline")
test_snippet_generate_and_wait = _offline.test_generate_and_wait
test_snippet_faults = _offline.test_transient_errors_are_retried_and_failed_jobs_are_not
test_snippet_store_the_png = _offline.test_store_the_png


# -- 1. the strict build --------------------------------------------------------------------------


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr

    def html(page: str) -> str:
        return (site / page / "index.html").read_text(encoding="utf-8")

    def text(page: str) -> str:
        return unescape(re.sub(r"<[^>]+>", "", html(page)))

    # The copied code and the changelog really arrived (no --8<-- include is left to show raw).
    assert "def example_pictory_image():" in text("example-dags")
    assert "def example_pictory_mapped():" in text("example-dags")
    assert "def test_generate_and_wait(" in text("emulator")
    assert "def test_a_refused_prompt_fails_only_its_own_poster(" in text("testing")
    assert "def pictory_posters():" in text("testing")
    assert "0.1.0" in text("changelog")
    assert all("--8<--" not in text(page) for page in ("operators", "sensors", "example-dags", "changelog", "renders"))
    # The API reference is generated from the docstrings.
    for page, anchor in [
        ("operators", "pictory_provider.operators.pictory.PictoryGenerateImageOperator"),
        ("sensors", "pictory_provider.sensors.pictory.PictoryImageJobSensor"),
        ("triggers", "pictory_provider.triggers.pictory.PictoryJobTrigger"),
        ("hooks", "pictory_provider.hooks.pictory.PictoryHook"),
        ("exceptions", "pictory_provider.exceptions.PictoryJobFailedError"),
        ("emulator", "pictory_provider.emulator.PictoryEmulator"),
    ]:
        assert f'id="{anchor}"' in html(page), (page, anchor)
    # Sphinx roles in docstrings are rewritten (docs/_ext/sphinx_roles.py), never shown raw.
    assert ":class:" not in html("sensors")
    assert 'class="mermaid"' in (site / "index.html").read_text(encoding="utf-8")


# -- 2. code samples come from tested files ------------------------------------------------------------


def _fenced_blocks(text: str) -> list[tuple[str, str, list[str]]]:
    """(language, the line before the fence, body) of every fenced block."""
    blocks: list[tuple[str, str, list[str]]] = []
    previous = ""
    lines = iter(text.splitlines())
    for line in lines:
        opening = FENCE.match(line)
        if not opening:
            previous = line
            continue
        body: list[str] = []
        for inner in lines:
            if inner.strip() == opening["fence"]:
                break
            body.append(inner)
        blocks.append((opening["lang"].lower(), previous, body))
        previous = ""
    return blocks


def test_python_blocks_are_copies_of_tested_files() -> None:
    inline: dict[str, int] = {}
    for page in _pages():
        for lang, before, _body in _fenced_blocks(page.read_text(encoding="utf-8")):
            if lang in PYTHON_LANGUAGES and not CODE_MARKER.match(before):
                name = str(page.relative_to(DOCS))
                inline[name] = inline.get(name, 0) + 1
    assert inline == ALLOWED_INLINE_PYTHON, f"python code must be copied from a tested file: {inline}"


def test_pages_show_their_code_inline_and_current() -> None:
    """On the repository host a page is plain Markdown: no ``--8<--`` include, each copy equal to its file."""
    docs_code = _load_script("docs_code")
    copies = 0
    for page in _pages():
        text = page.read_text(encoding="utf-8")
        assert "--8<--" not in text, f"{page.name}: an include line shows raw on the repository host"
        for line in text.splitlines():
            match = CODE_MARKER.match(line)
            if match:
                copies += 1
                path, _, section = match["path"].partition(":")
                assert (ROOT / path).is_file(), f"{page.name}: {path} does not exist"
                assert not (path.startswith("docs/snippets/") and not section), "copy a section of a snippet"
    assert copies >= 10
    stale = [str(page.relative_to(ROOT)) for page in docs_code.stale_pages()]
    assert stale == [], f"{stale}: code differs from its tested file; run .venv/bin/python scripts/docs_code.py"


def _load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_snippet_file_is_exercised_here() -> None:
    exercised = {
        "connection_values.py",
        "custom_operator.py",
        "dag_patterns.py",
        "emulator_admin.py",
        "test_pictory_offline.py",
    }
    assert {path.name for path in SNIPPETS.glob("*.py")} == exercised
    # The example user project is run as a separate pytest project by tests/test_pytest_plugin.py.
    assert {path.relative_to(SNIPPETS).as_posix() for path in (SNIPPETS / "user_project").rglob("*.py")} == {
        "user_project/dags/pictory_posters.py",
        "user_project/tests/test_pictory_posters.py",
    }


def test_generated_pages_are_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in ("reliability.md", "performance.md"):
        assert (DOCS / page).is_file()
        assert f": {page}" in nav


# -- 3. the snippets work -----------------------------------------------------------------------------


def test_connection_values_reach_the_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    snippet = _load("connection_values")
    for value in (snippet.as_json, snippet.as_uri):
        monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DOCS", value)
        credentials = PictoryHook("pictory_docs").get_credentials()
        assert credentials.base_url == snippet.base_url == "http://127.0.0.1:8931"
        assert credentials.api_key == snippet.api_key
    # the page's literal example and the "real API" URI form
    for value, base_url in [
        ("pictory://:pictai_x@http%3A%2F%2F127.0.0.1%3A8931", "http://127.0.0.1:8931"),
        ("pictory://:pictai_x@", api.DEFAULT_BASE_URL),
    ]:
        monkeypatch.setenv("AIRFLOW_CONN_PICTORY_DOCS", value)
        assert PictoryHook("pictory_docs").get_credentials().base_url == base_url
    page = _page("connection.md")
    assert "pictory://:pictai_x@http%3A%2F%2F127.0.0.1%3A8931" in page
    assert "](images/connection-form.png)" in page
    assert (DOCS / "images" / "connection-form.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_emulator_admin_routes(pictory_emulator: PictoryEmulator, pictory_connection: str) -> None:
    result = _load("emulator_admin").configure_faults(pictory_emulator.base_url)
    assert [fault["kind"] for fault in result["faults"]] == ["status", "fail_job"]
    assert result["stats"]["jobs_created"] == 0

    hook = PictoryHook(retry_min_wait=0.01, retry_max_wait=0.05)
    job_id = hook.generate_image("A prompt the emulator will fail")
    with pytest.raises(PictoryJobFailedError, match="CONTENT_POLICY"):
        hook.wait_for_job(job_id, poll_interval=0.1, timeout=10)
    assert pictory_emulator.stats()["responses"]["503"] == 2


def test_dag_patterns(pictory_connection: str) -> None:
    snippet = _load("dag_patterns")
    dag = snippet.docs_pictory_patterns()
    tasks = {task.task_id: task for task in dag.tasks}
    assert set(tasks) == {
        "submit",
        "wait_for_image",
        "wait_in_worker",
        "optional_image",
        "generate",
        "generate_sync",
        "generate_with_hook",
        "submit_video",
        "wait_for_video",
        "render_weekly_update",
    }
    assert tasks["render_weekly_update"].kind.name == "project render"
    assert tasks["render_weekly_update"].project_id == "{{ var.value.weekly_update_project }}"
    assert tasks["submit"].wait_for_completion is False
    assert tasks["wait_for_image"].deferrable is True
    assert tasks["wait_for_image"].hook_params == {"max_attempts": 8, "retry_max_wait": 60}
    assert tasks["wait_in_worker"].deferrable is False
    assert tasks["wait_in_worker"].mode == "reschedule"
    assert tasks["optional_image"].soft_fail is True
    assert tasks["optional_image"].output_path == "s3://my_aws@my-bucket/pictory/"
    assert tasks["generate"].deferrable is True
    assert tasks["generate"].retries == 2
    assert tasks["generate_sync"].deferrable is False
    assert tasks["generate_sync"].pictory_conn_id == "pictory_staging"
    assert (tasks["submit_video"].wait_for_completion, tasks["submit_video"].duration) == (False, "8s")
    assert tasks["wait_for_video"].upstream_task_ids == {"submit_video"}

    job = snippet.generate_with_hook.function("A watercolor map of an island", poll_interval=0.1, timeout=10)
    json.dumps(job)  # XCom-friendly
    assert job["status"] == "completed"
    assert (job["width"], job["height"]) == (1024, 1024)
    assert job["ai_credits_used"] == api.MODEL_CREDITS["flux-schnell"]


def test_custom_operator_defers_and_completes(pictory_emulator: PictoryEmulator, pictory_connection: str) -> None:
    pictory_emulator.set_job_seconds(0)  # done at the first poll: the trigger fires at once
    operator = _load("custom_operator").BrandedImageOperator(task_id="branded", subject="A lighthouse")
    ti = RecordingTI()
    context: dict[str, Any] = {"ti": ti}
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, PictoryJobTrigger)
    assert trigger.job_id == ti.xcom["job_id"]
    assert deferred.value.method_name == "execute_complete"

    async def first_event() -> Any:
        async for event in trigger.run():
            return event.payload
        return None

    event = asyncio.run(asyncio.wait_for(first_event(), 20))
    result = operator.execute_complete(context, event)
    assert result["job_id"] == ti.xcom["job_id"]
    assert (result["width"], result["height"]) == (1280, 720)
    assert ti.xcom["image_url"] == result["url"]


# -- 4. the prose stays in step with the code ----------------------------------------------------------


def _init_parameters(cls: type) -> list[str]:
    skip = {"self", "kwargs"}
    return [name for name in inspect.signature(cls.__init__).parameters if name not in skip]


@pytest.mark.parametrize(
    ("page", "cls"),
    [
        ("operators.md", PictoryGenerateImageOperator),
        ("sensors.md", PictoryImageJobSensor),
        ("triggers.md", PictoryJobTrigger),
        ("hooks.md", PictoryHook),
    ],
)
def test_parameter_tables_cover_every_parameter(page: str, cls: type) -> None:
    text = _page(page)
    missing = [name for name in _init_parameters(cls) if f"| `{name}` |" not in text]
    assert not missing, f"{page} does not document {missing}"


def test_xcom_keys_and_exceptions_are_documented() -> None:
    keys = [events.XCOM_JOB_ID, events.XCOM_IMAGE_URL, events.XCOM_AI_CREDITS, events.XCOM_WIDTH]
    keys += [events.XCOM_HEIGHT, events.XCOM_IMAGE_PATH]
    for page in ("index.md", "operators.md"):
        text = _page(page)
        assert all(f"`{key}`" in text for key in keys), page
    sensor = _page("sensors.md")
    assert all(f"`{key}`" in sensor for key in keys if key != events.XCOM_JOB_ID)
    for key in events.EVENT_KEYS:
        assert f"`{key}`" in _page("triggers.md"), key

    names = [
        name
        for name, obj in vars(exceptions).items()
        if inspect.isclass(obj) and issubclass(obj, exceptions.PictoryError) and obj.__module__ == exceptions.__name__
    ]
    exceptions_page = _page("exceptions.md")
    assert all(name in exceptions_page for name in names), names

    hooks_page = _page("hooks.md")
    for model, credits in api.MODEL_CREDITS.items():
        assert f"| `{model}`" in hooks_page
        assert f"| {credits:g} |" in hooks_page
    for value in (*api.ASPECT_RATIOS, *api.STYLES):
        assert f"`{value}`" in hooks_page
