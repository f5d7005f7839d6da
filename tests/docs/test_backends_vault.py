"""docs/backends/vault.md, its async part: the ready-client example is valid Python that uses
the documented option, and the page's rules name what the backend refuses (the behaviour itself
is tested against OpenBao in tests/backends/test_vault_async.py)."""

from __future__ import annotations

import ast

from helium_secrets.backends.hashivault.aio import TRANSPORT_OPTIONS
from tests.docs.pages import ROOT, python_block

PAGE = (ROOT / "docs" / "backends" / "vault.md").read_text(encoding="utf-8")


def test_the_ready_client_example_passes_client() -> None:
    tree = ast.parse(python_block(PAGE, "### A ready `httpx.AsyncClient`"))
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and getattr(node.func, "id", None) == "open_async_store"]
    assert len(calls) == 1 and "client" in {keyword.arg for keyword in calls[0].keywords}


def test_the_page_names_every_option_a_ready_client_refuses() -> None:
    section = PAGE.split("### A ready `httpx.AsyncClient`", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{name}`" in section for name in TRANSPORT_OPTIONS)
    assert "does not close a client it did not create" in section
