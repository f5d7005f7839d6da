"""docs/backends/{memory,file,env,dotenv,layered}.md: each page's async form runs as shown."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

import pytest

from helium_secrets.backends.memory import reset_shared
from tests.docs.pages import CANARY, ROOT, python_block


def _async_block(page: str, after: str) -> Any:
    """The page's async example, defined: its ``main`` coroutine function."""
    namespace: dict[str, Any] = {}
    code = python_block((ROOT / "docs/backends" / page).read_text(), after)
    exec(compile(code, f"docs/backends/{page}", "exec"), namespace)  # noqa: S102
    return namespace["main"]


@pytest.fixture(autouse=True)
def _fresh_named_fakes() -> Any:
    reset_shared()
    yield
    reset_shared()


def test_the_fake_is_shared_by_both_twins() -> None:
    asyncio.run(_async_block("memory.md", "## Async")())


def test_the_file_store_on_the_async_twin(tmp_path: Path) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    asyncio.run(_async_block("file.md", "## Async")(str(tmp_path), key))
    assert [p.name for p in (tmp_path / "secrets").iterdir()]  # written on disk, encrypted
    assert not any(b"hunter2" in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())


def test_the_environment_on_the_async_twin() -> None:
    asyncio.run(_async_block("env.md", "On the [async twin]")())


def test_a_dotenv_file_on_the_async_twin(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    env = tmp_path / ".env"
    env.write_text(f"DB_PASSWORD={CANARY}\n")
    asyncio.run(_async_block("dotenv.md", "On the [async twin]")(str(env)))
    out = capsys.readouterr().out
    assert out == "SecretValue('**********')\n" and CANARY not in out


def test_a_layered_store_on_the_async_twin(capsys: pytest.CaptureFixture[str]) -> None:
    from helium_secrets.backends.memory import shared

    shared("app").write_external("app/db", CANARY)
    asyncio.run(_async_block("layered.md", "## Async")())
    out = capsys.readouterr().out
    assert out == "SecretValue('**********')\n" and CANARY not in out
