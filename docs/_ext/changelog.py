"""MkDocs hook: the Changelog page shows the repository's CHANGELOG.md.

docs/changelog.md itself is a plain-Markdown link to that file, so it reads on the repository host too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHANGELOG = Path(__file__).resolve().parents[2] / "CHANGELOG.md"


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    """The changelog page's Markdown is CHANGELOG.md's; every other page is left alone."""
    if page.file.src_uri == "changelog.md":
        return CHANGELOG.read_text(encoding="utf-8")
    return markdown
