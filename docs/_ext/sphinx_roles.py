"""Griffe extension for the docs build: turn Sphinx cross-reference roles into optional autorefs.

The provider's docstrings use Sphinx fields (``:param x:``, ``:raises E:``), which mkdocstrings parses
with ``docstring_style: sphinx``, and Sphinx roles such as ``:class:`~pkg.mod.Name```, which it does
not. This rewrites each role into ``<autoref identifier="pkg.mod.Name" optional><code>Name</code></autoref>``:
a link when the target is rendered somewhere in the site, plain code otherwise (never a warning, so a
new role in a docstring cannot break ``mkdocs build --strict``). Loaded from ``mkdocs.yml``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|exc|data|obj|const):`(?P<tilde>~?)(?P<target>[^`]+)`")


def _qualify(obj: griffe.Object, target: str) -> str:
    """Resolve a bare name against the docstring's module (its imports and members)."""
    head, _, rest = target.partition(".")
    module = obj.module
    if head in module.imports:
        return module.imports[head] + ("." + rest if rest else "")
    if head in module.members:
        return f"{module.path}.{target}"
    return target


def rewrite_roles(obj: griffe.Object, text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        target = match["target"]
        title = target.rsplit(".", 1)[-1] if match["tilde"] else target
        return f'<autoref identifier="{_qualify(obj, target)}" optional><code>{title}</code></autoref>'

    return ROLE.sub(replace, text)


class SphinxRoles(griffe.Extension):
    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if not obj.is_alias and obj.docstring is not None:
            obj.docstring.value = rewrite_roles(obj, obj.docstring.value)
