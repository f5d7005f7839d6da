"""The sync store is generated from the async source (scripts/unasync.py): they agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync", ROOT / "scripts" / "unasync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_sync_modules_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert _script().main(["--check"]) == 0, capsys.readouterr().err


def test_a_stale_generated_module_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    script = _script()
    (tmp_path / "_async").mkdir()
    for name in script.MODULES:
        (tmp_path / "_async" / name).write_text("async def f() -> None:\n    await g()\n")
        (tmp_path / name).write_text(script.unasync("async def f() -> None:\n    await g()\n",
                                                    name))
    monkeypatch.setattr(script, "ROOT", tmp_path)
    monkeypatch.setattr(script, "SOURCE", tmp_path / "_async")
    monkeypatch.setattr(script, "TARGET", tmp_path)
    assert script.main(["--check"]) == 0
    (tmp_path / "_store.py").write_text("def f() -> None:\n    h()\n")
    assert script.main(["--check"]) == 1
    assert "_store.py" in capsys.readouterr().err


@pytest.mark.parametrize(("source", "generated"), [
    ("    async def aclose(self) -> None:", "    def close(self) -> None:"),
    ("fn: Callable[[], Awaitable[dict[str, int]]]", "fn: Callable[[], dict[str, int]]"),
    ("from helium_secrets._async._reads import AsyncReadPath",
     "from helium_secrets._reads import ReadPath"),
    ("        async with lock:", "        with lock:"),
    ("        async for name in self.list(prefix):", "        for name in self.list(prefix):"),
    ("x = await self.get(name)  # awaited", "x = self.get(name)  # awaited"),
    ("def list(self) -> AsyncIterator[str]:", "def list(self) -> Iterator[str]:"),
    ("async def __aenter__(self) -> AsyncSecretStore:", "def __enter__(self) -> SecretStore:"),
])
def test_the_substitutions(source: str, generated: str) -> None:
    assert _script().unasync_line(source) == generated


def test_an_unused_awaitable_import_is_dropped() -> None:
    text = "from collections.abc import Awaitable, Callable\nf: Callable[[], Awaitable[int]]\n"
    out = _script().unasync(text, "_x.py")
    assert "Awaitable" not in out and "from collections.abc import Callable\n" in out


def test_no_lock_of_the_async_source_is_held_across_an_await() -> None:
    """A plain ``with`` whose body awaits holds what it entered while the loop runs others:
    only the redactor's hold and the store's call contexts (context variables, per task: a
    tracing span made current) may; locks are ``async with``."""
    import ast

    spans = []
    for path in sorted((ROOT / "helium_secrets" / "_async").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.With) and any(
                    isinstance(sub, (ast.Await, ast.AsyncFor, ast.AsyncWith))
                    for sub in ast.walk(node)):
                spans.append((path.name, ast.unparse(node.items[0].context_expr)))
    assert sorted(spans) == [("_pipeline.py", "ExitStack()"), ("_pipeline.py", "redactor.holding()")]


def test_a_continuation_aligned_with_its_bracket_stays_aligned() -> None:
    source = ("async def get(self, name: str,\n"
              "              policy: int) -> None:\n"
              "    x = await f(a,\n"
              "                b)\n")
    out = _script().unasync(source, "_x.py").split("\n", 2)[2]
    assert out == ("def get(self, name: str,\n"
                   "        policy: int) -> None:\n"
                   "    x = f(a,\n"
                   "          b)\n")
