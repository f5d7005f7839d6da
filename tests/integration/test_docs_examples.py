"""The examples in docs/ that say they are run, are run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
_EXAMPLE = re.compile(r"<!-- example: (?P<name>[\w-]+) -->\s*```python\n(?P<code>.*?)```", re.S)


def examples() -> list[tuple[str, str]]:
    found = []
    for page in sorted(DOCS.rglob("*.md")):
        for match in _EXAMPLE.finditer(page.read_text(encoding="utf-8")):
            found.append((f"{page.relative_to(DOCS)}:{match['name']}", match["code"]))
    return found


def test_the_rotation_example_is_there() -> None:
    assert any(name == "rotation.md:bearer-token" for name, _ in examples())


@pytest.mark.parametrize(("name", "code"), examples(), ids=[name for name, _ in examples()])
def test_example_runs(name: str, code: str) -> None:
    exec(compile(code, name, "exec"), {"__name__": f"docs_example_{name}"})  # noqa: S102
