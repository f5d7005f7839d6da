"""Loaded only by `nox -s mutation` (``pytest_add_cli_args`` in ``[tool.mutmut]``).

Two things for mutmut's runs: the caller stack below, and the order of the tests
(:func:`pytest_collection_modifyitems`).

mutmut's trampolines keep a caller stack in a ``ContextVar`` to record which mutated function
calls which. Setting it in the store's short-lived threads crashes CPython 3.11 (a segfault in
``ContextVar.set`` during the stats run). The caller stack only serves dependency tracking,
which the configuration turns off, so it is made a constant here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mutmut.core import MutmutCallStack


def _get(cls: type[MutmutCallStack]) -> tuple[str | None, int]:
    return (None, 0)


def _set(cls: type[MutmutCallStack], value: tuple[str, int]) -> None:
    return None


def _reset(cls: type[MutmutCallStack], token: object) -> None:
    return None


MutmutCallStack.get = classmethod(_get)  # type: ignore[method-assign,assignment]
MutmutCallStack.set = classmethod(_set)  # type: ignore[method-assign,assignment]
MutmutCallStack.reset = classmethod(_reset)  # type: ignore[method-assign,assignment]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the fastest tests first, by mutmut's own timings from its stats run.

    mutmut stops a mutant's run at the first failure (``-x``) and passes the tests that reach
    the mutated function in no useful order. Most mutants of the functions every read or write
    goes through fail one of the quick unit tests; run first, it catches them in a fraction of a
    second instead of after the slow CLI and plugin tests. (The stats run itself, before the
    file exists, keeps pytest's order.)
    """
    stats = Path("mutmut-stats.json")  # mutmut runs the tests in mutants/, beside it
    if not stats.exists():
        return
    durations: dict[str, float] = json.loads(stats.read_text())["duration_by_test"]
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))
