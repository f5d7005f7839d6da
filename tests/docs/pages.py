"""What the docs tests share: where the pages are, and reading a code block out of one."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["CANARY", "ROOT", "close_stores", "python_block"]

#: The repository root: README.md and docs/ are under it.
ROOT = Path(__file__).resolve().parents[2]

#: A distinctive value the docs tests write and then look for where it must never appear.
CANARY = "canary-0d5e7a-documented-core-never-show-me"


def python_block(text: str, after: str) -> str:
    """The first ```python block that follows the heading/text ``after``."""
    start = text.index(after)
    match = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert match is not None
    return match.group(1)


def close_stores(namespace: dict[str, object]) -> None:
    """Close every store an example left open (their pollers must not outlive the test)."""
    from helium_secrets import SecretStore

    for value in namespace.values():
        if isinstance(value, SecretStore):
            value.close()
