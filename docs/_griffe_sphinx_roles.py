"""A griffe extension for the API reference: the docstrings' Sphinx roles as Markdown.

The docstrings are Sphinx-style (``:param x:``, which mkdocstrings reads), and their inline roles
(``:class:`~helium_secrets.SecretStore```) would otherwise show as typed. A role naming a full
``helium_secrets.`` path becomes a link to its entry in the reference (a ``~`` keeps only the
last part as the text); a relative one becomes plain code. An RST ``::`` before a literal block
becomes ``:``, the block itself being Markdown's indented code already.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|exc|data|obj|const):`(~?)([\w.]+?)(\(\))?`")
LITERAL_BLOCK = re.compile(r"(\S)::$", re.M)


def _markdown(match: re.Match[str]) -> str:
    short, target, call = match.group(1), match.group(2), match.group(3) or ""
    text = (target.rsplit(".", 1)[-1] if short else target) + call
    if target.startswith("helium_secrets."):
        return f"[`{text}`][{target}]"
    return f"`{text}`"


def rewrite(docstring: str) -> str:
    """The docstring with its roles and literal-block markers in Markdown."""
    return LITERAL_BLOCK.sub(r"\1:", ROLE.sub(_markdown, docstring))


class SphinxRoles(griffe.Extension):
    """Rewrites every docstring of the package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        pending: list[griffe.Object] = [pkg]
        while pending:
            obj = pending.pop()
            if obj.docstring is not None:
                obj.docstring.value = rewrite(obj.docstring.value)
            pending.extend(m for m in obj.members.values() if isinstance(m, griffe.Object))
