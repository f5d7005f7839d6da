"""docs/integrations/pydantic.md: its examples run as written, in the real pydantic-settings."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from tests.docs.pages import ROOT, close_stores, python_block

pytest.importorskip("pydantic_settings")

PAGE = (ROOT / "docs" / "integrations" / "pydantic.md").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _close_the_examples_stores() -> Iterator[None]:
    yield
    for namespace in _namespaces:
        close_stores(namespace)
    _namespaces.clear()


_namespaces: list[dict[str, Any]] = []


def _run(*headings: str) -> dict[str, Any]:
    """Run the blocks after ``headings`` as one module (pydantic resolves annotations there)."""
    module = types.ModuleType("docs_pydantic_example")
    _namespaces.append(module.__dict__)
    sys.modules[module.__name__] = module
    try:
        for heading in headings:
            exec(compile(python_block(PAGE, heading), heading, "exec"), module.__dict__)  # noqa: S102
    finally:
        del sys.modules[module.__name__]
    return module.__dict__


def test_the_source_example_reads_references_in_one_get_many() -> None:
    ns = _run("## A settings source with field references")
    settings = ns["settings"]
    assert settings.db.user == "app" and settings.api_key.get_secret_value() == "key-1"
    assert "hunter2" not in repr(settings)


def test_the_environment_wins_and_the_store_is_not_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    ns = _run("## A settings source with field references")
    monkeypatch.setenv("APP_DB__PASSWORD", "from-env")
    seen: list[str | None] = []
    ns["store"].add_audit_hook(lambda event: seen.append(event.name))
    ns["store"].clear_cache()
    assert ns["Settings"]().db.password.get_secret_value() == "from-env"
    assert "app/api-key" in seen and "app/db" in seen  # app/db still fills db.user


def test_the_options_example_builds_both_sources() -> None:
    ns = _run("## A settings source with field references", "## One JSON secret")
    assert ns["source"].prefix == "app--" and ns["source"].nested_delimiter == "--"


def test_the_live_example_follows_the_rotation(capsys: pytest.CaptureFixture[str]) -> None:
    ns = _run("## A settings source with field references", "## Settings that follow a rotation")
    assert "settings rebuilt" in capsys.readouterr().out
    assert sorted(ns["live"].watched) == ["app/api-key", "app/db"]
    ns["live"].close()
