"""docs/renders.md stays in step with the code: parameter tables, XCom keys, lookups, the storyboard
rules it promises (each refused before any request in tests/test_render.py), and the included snippets."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from pictory_provider.hooks.lookups import PictoryLookupsMixin
from pictory_provider.kinds import RENDER
from pictory_provider.lookups import LOOKUP_PATHS, MUSIC_FACET_PATHS
from pictory_provider.operators.render import PictoryRenderVideoOperator
from pictory_provider.sensors.pictory import PictoryJobSensor

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "renders.md").read_text()


@pytest.mark.parametrize("cls", [PictoryRenderVideoOperator, PictoryJobSensor])
def test_parameter_tables_cover_every_parameter(cls):
    names = [name for name in inspect.signature(cls.__init__).parameters if name not in ("self", "kwargs")]
    assert [name for name in names if f"| `{name}` |" not in PAGE] == []


def test_xcom_keys_lookups_and_paths_are_documented():
    for key in (*RENDER.xcom_keys.values(), "job_id", "video_path", "srt_path", "vtt_path"):
        assert f"`{key}`" in PAGE, key
    methods = [name for name in vars(PictoryLookupsMixin) if name.startswith(("list_", "search_", "upload_"))]
    assert len(methods) == 14
    for name in methods:
        assert f"`{name}(" in PAGE or f".{name}(" in PAGE, name
    for path in (*LOOKUP_PATHS, *MUSIC_FACET_PATHS.values()):
        assert path.removeprefix("/pictoryapis").removeprefix("/v1/music") in PAGE, path


def test_snippets_exist_in_the_example_dags():
    sections = re.findall(r"<!-- code: ([^:\s]+):(\S+) -->", PAGE)
    assert len(sections) >= 3
    for path, section in sections:
        text = (ROOT / path).read_text()
        assert f"--8<-- [start:{section}]" in text and f"--8<-- [end:{section}]" in text, (path, section)


def test_the_page_is_in_the_nav_and_the_readme():
    assert "renders.md" in (ROOT / "mkdocs.yml").read_text()
    assert "PictoryRenderVideoOperator" in (ROOT / "README.md").read_text()
