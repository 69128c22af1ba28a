"""Write the tested code into the docs pages, so they read as plain Markdown wherever they are shown.

A code block in docs/*.md is a copy of a tested file (an example DAG, a docs/snippets/*.py section),
marked by an HTML comment on the line before it (invisible on the repository host and in the site):

    <!-- code: example_dags/example_pictory_blog_to_video.py:render -->
    ```python
    ...the lines between "# --8<-- [start:render]" and "# --8<-- [end:render]", dedented...
    ```

``path`` alone copies the whole file; ``path:section`` the lines between the section's
``--8<-- [start:section]`` and ``[end:section]`` markers (other markers dropped, dedented). A block
written as a ``--8<-- "path:section"`` include line is converted to this form. tests/test_docs.py fails
when a page's block differs from its file:

    .venv/bin/python scripts/docs_code.py          # rewrite the pages
    .venv/bin/python scripts/docs_code.py --check  # list stale pages, exit 1 if any
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MARKER = re.compile(r"^<!-- code: (?P<source>\S+) -->$")
INCLUDE = re.compile(r'^\s*-{1,}8<-{1,}\s+"(?P<source>[^"]+)"\s*$')
FENCE = re.compile(r"^(?P<fence>`{3,})\w*")
SECTION = re.compile(r"-{1,}8<-{1,}[ \t]+\[[ \t]*(?P<type>start|end)[ \t]*:[ \t]*(?P<name>[\w-]+)[ \t]*\]")


def code_of(source: str) -> list[str]:
    """The lines ``source`` (``path`` or ``path:section``, relative to the repository root) stands for."""
    path, _, section = source.partition(":")
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    if not section:
        return [line for line in lines if not SECTION.search(line)]
    kept: list[str] = []
    inside = found = False
    for line in lines:
        marker = SECTION.search(line)
        if marker and marker["name"] == section:
            if marker["type"] == "end":
                break
            inside = found = True
        elif inside and not marker:
            kept.append(line)
    if not found:
        raise ValueError(f"{path} has no section [start:{section}]")
    return textwrap.dedent("\n".join(kept)).split("\n")


def pages() -> list[Path]:
    """Every page of the site (docs/snippets/ holds code, not pages)."""
    return sorted(path for path in DOCS.rglob("*.md") if DOCS / "snippets" not in path.parents)


def render(text: str) -> str:
    """``text`` with every marked (or ``--8<--`` include) code block replaced by its source's lines."""
    lines = text.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = MARKER.match(line)
        fence = FENCE.match(line)
        source = None
        if marker and index + 1 < len(lines) and FENCE.match(lines[index + 1]):
            source, opening = marker["source"], lines[index + 1]
            index += 2
        elif fence and index + 2 < len(lines) and INCLUDE.match(lines[index + 1]):
            closing = lines[index + 2].strip()
            if closing == fence["fence"]:
                source, opening = INCLUDE.match(lines[index + 1])["source"], line  # type: ignore[index]
                index += 1
        if source is None:
            out.append(line)
            index += 1
            continue
        closing_fence = FENCE.match(opening)["fence"]  # type: ignore[index]
        while index < len(lines) and lines[index].strip() != closing_fence:
            index += 1
        out += [f"<!-- code: {source} -->", opening, *code_of(source), closing_fence]
        index += 1
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def stale_pages() -> list[Path]:
    """The pages whose code blocks differ from their sources."""
    return [page for page in pages() if render(page.read_text(encoding="utf-8")) != page.read_text(encoding="utf-8")]


def main(argv: list[str]) -> int:
    stale = stale_pages()
    if "--check" in argv:
        for page in stale:
            print(f"{page.relative_to(ROOT)} is stale: run .venv/bin/python scripts/docs_code.py")
        return 1 if stale else 0
    for page in stale:
        page.write_text(render(page.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"rewrote {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
