"""Error advice that speaks CLI: the library's errors name Python calls
(``store.extras.restore(name)``), a command line names commands and flags."""

from __future__ import annotations

import re
import shlex

__all__ = ["cli_advice"]

#: A Python call in an error's advice -> the command that does it (``{name}``: the secret,
#: ``{0}``, ``{1}``: the pattern's groups).
_RULES = [
    (re.compile(r"store\.extras\.(?:restore|recover)\(name\)"), "`helium-secrets restore {name}`"),
    (re.compile(r"store\.extras\.purge\(name\)"), "`helium-secrets purge {name} --yes`"),
    (re.compile(r"store\.delete\(name, purge=True\)"),
     "`helium-secrets delete {name} --purge --yes`"),
    # Keyword options that the URL query can set (the backends' messages name only those).
    (re.compile(r"(?:re)?open the store with (\w+)=(\w+)"),
     "add ?{0}={1} to the store URL (--url)"),
    (re.compile(r"pass (\w+)=(True|False)\b"), "add ?{0}={1} to the store URL (--url)"),
]


def cli_advice(message: str, name: str | None) -> str:
    """``message`` with its Python advice rewritten as commands and flags for ``name``."""
    shown = shlex.quote(name) if name else "NAME"
    for pattern, template in _RULES:
        message = pattern.sub(_Filler(template, shown), message)
    return message


class _Filler:
    def __init__(self, template: str, name: str) -> None:
        self._template, self._name = template, name

    def __call__(self, match: re.Match[str]) -> str:
        return self._template.format(*(g.lower() for g in match.groups()), name=self._name)
