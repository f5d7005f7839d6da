"""``rotate``, ``label``, ``restore``, ``purge`` and ``describe`` on a file store, and the CLI's
error advice (commands and flags, not Python calls). The backends' own restore and describe
are in tests/backends/test_cli_backends.py."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import pytest

from helium_secrets import open_store
from helium_secrets.cli import ExitCode, main
from helium_secrets.cli._advice import cli_advice

CANARY = "canary-verbs-51c9-never-print-me"


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"file://{tmp_path}/store"
    monkeypatch.setenv("HELIUM_SECRETS_URL", url)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with open_store(url) as store:
        store.put("app/db", CANARY)
    return url


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert CANARY not in out + err
    return code, out, err


def test_rotate_generates_a_value_and_never_prints_it(
        url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(capsys, "rotate", "app/db", "--length", "20", "--no-symbols")
    assert (code, out) == (0, "rotated app/db to version 2\n")
    with open_store(url) as store:
        value = store.get("app/db").value.reveal()
        assert len(value) == 20 and value.isalnum() and value not in out
        assert store.get("app/db", "1").value.reveal() == CANARY


def test_rotate_from_stdin_and_json(url: str, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"from-stdin-value\n")))
    code, out, _ = call(capsys, "rotate", "app/db", "--stdin", "--json")
    assert code == 0 and json.loads(out)["version"] == "2"
    with open_store(url) as store:
        assert store.get("app/db").value.reveal() == "from-stdin-value"


def test_rotate_creates_a_missing_secret(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert call(capsys, "rotate", "app/new")[:2] == (0, "rotated app/new to version 1\n")


def test_rotate_with_an_impossible_policy_is_a_usage_error(
        url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = call(capsys, "rotate", "app/db", "--length", "0")
    assert code == ExitCode.USAGE and "cannot generate a value" in err


def test_label_moves_and_removes(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    call(capsys, "rotate", "app/db")
    assert call(capsys, "label", "app/db", "stable", "1")[1] == (
        "label stable now on app/db version 1\n")
    assert call(capsys, "label", "app/db", "latest")[1] == (
        "label latest now on app/db version 2\n")
    with open_store(url) as store:
        assert store.get("app/db", label="stable").version == "1"
        assert store.get("app/db", label="latest").version == "2"
    code, out, _ = call(capsys, "label", "app/db", "stable", "--remove", "--json")
    assert (code, json.loads(out)) == (0, {"name": "app/db", "label": "stable", "version": None})
    assert call(capsys, "label", "app/db", "x", "9")[0] == ExitCode.NOT_FOUND
    assert call(capsys, "label", "app/db", "x", "1", "--remove")[0] == ExitCode.USAGE


def test_describe_shows_what_the_backend_tracks(url: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = call(capsys, "describe", "app/db")
    assert code == 0
    assert "current_version: 1\n" in out and "versions: 1\n" in out
    assert "rotated_at: (not tracked by file)\n" in out
    code, out, _ = call(capsys, "describe", "app/db", "--json")
    document = json.loads(out)
    assert document["fields"] == ["created_at", "updated_at", "current_version", "versions"]
    assert document["backend"] == "file" and document["accessed_at"] is None
    assert call(capsys, "describe", "app/missing")[0] == ExitCode.NOT_FOUND


def test_describe_on_a_backend_that_cannot(capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_DB", CANARY)
    code, _, err = call(capsys, "--url", "env://", "describe", "app/db")
    assert code == ExitCode.INVALID and "cannot describe" in err


def test_restore_and_purge_where_the_backend_keeps_nothing(
        url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = call(capsys, "restore", "app/db")
    assert code == ExitCode.INVALID and "keeps no deleted secrets" in err
    code, _, err = call(capsys, "purge", "app/db", "--yes")
    assert code == ExitCode.INVALID and "no purge" in err


def test_advice_names_commands_not_python_calls() -> None:
    assert cli_advice("restore it with store.extras.restore(name) within the window",
                      "app/db") == "restore it with `helium-secrets restore app/db` within the window"
    assert cli_advice("recover it with store.extras.recover(name), purge it with "
                      "store.extras.purge(name), or open the store with recover_deleted=True",
                      "a b") == (
        "recover it with `helium-secrets restore 'a b'`, purge it with "
        "`helium-secrets purge 'a b' --yes`, or add ?recover_deleted=true to the store URL (--url)")
    assert cli_advice("or purge it with store.delete(name, purge=True)", "x") == (
        "or purge it with `helium-secrets delete x --purge --yes`")
    assert cli_advice("use https, or pass allow_insecure_http=True if trusted", None) == (
        "use https, or add ?allow_insecure_http=true to the store URL (--url) if trusted")


def _library_messages() -> list[tuple[str, str]]:
    """Every string literal of the library outside the CLI that is not a docstring."""
    import ast

    root = Path(__file__).resolve().parents[2] / "helium_secrets"
    found: list[tuple[str, str]] = []
    for path in sorted(root.rglob("*.py")):
        if "cli" in path.relative_to(root).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        found += [(str(path.relative_to(root)), node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in docstrings]
    return found


def test_every_python_advice_of_the_library_has_a_cli_form() -> None:
    """An error message that tells a Python caller what to call (``store.extras.x(name)``,
    ``open the store with x=...``, ``pass x=True``) reads as a command or a URL option on the
    command line; a new piece of advice without a rule in cli/_advice.py fails here."""
    python_advice = re.compile(r"store\.(?:extras\.)?\w+\(|open the store with \w+=|"
                               r"pass \w+=(?:True|False)")
    advice = [(where, text) for where, text in _library_messages() if python_advice.search(text)]
    assert len(advice) >= 4  # AWS, Azure and Vault have some today
    for where, text in advice:
        if where == "_registry.py":  # register_backend(replace=True): Python only, never a CLI path
            continue
        shown = cli_advice(text, "app/db")
        assert not python_advice.search(shown), f"{where}: {shown}"
