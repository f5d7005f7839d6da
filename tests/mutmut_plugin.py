"""Loaded only by `nox -s mutation` (``pytest_add_cli_args`` in ``[tool.mutmut]``).

mutmut's trampolines keep a caller stack in a ``ContextVar`` to record which mutated function
calls which. Setting it in the store's short-lived threads crashes CPython 3.11 (a segfault in
``ContextVar.set`` during the stats run). The caller stack only serves dependency tracking,
which the configuration turns off, so it is made a constant here.
"""

from __future__ import annotations

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
