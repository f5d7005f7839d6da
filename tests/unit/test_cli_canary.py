"""No value in any output, error or progress line of any command: every command of the parser
runs here on a store holding canary values (``get``, which prints a value on purpose, only with
``--metadata-only``), with and without ``--debug``, successes and failures alike."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pytest

from helium_secrets import open_store
from helium_secrets.cli import main
from helium_secrets.cli._main import _build_parser

CANARY = "canary-every-command-e41f-never-print-me"
JSON_CANARY = '{"password": "' + CANARY + '-field", "port": 5432}'


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _commands() -> set[str]:
    parser = _build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(sub.choices)


def _argv(url: str, other: str, tmp_path: Path) -> list[tuple[str, list[str], bytes]]:
    mapping = tmp_path / "map.toml"
    mapping.write_text('[env]\nP = "app/db"\n[expand]\nC = "app/config"\n', encoding="utf-8")
    planted = tmp_path / "planted"
    planted.mkdir(exist_ok=True)
    (planted / "leak.py").write_text(f"A = '{CANARY}'\nB = '{CANARY}-field'\n", encoding="utf-8")
    child = [sys.executable, "-c", "import os; print(os.environ['P'], os.environ['C_PASSWORD'])"]
    return [
        ("demo", ["demo"], b""),
        ("get", ["get", "app/db", "--metadata-only"], b""),
        ("get", ["get", "app/config", "--field", "nope"], b""),
        ("put", ["put", "app/new"], CANARY.encode() + b"-new"),
        ("put", ["put", "app/db", CANARY + "-argument"], b""),
        ("put", ["put", "app/db", "--expected-version", "99"], CANARY.encode() + b"-cas"),
        ("list", ["list"], b""),
        ("versions", ["versions", "app/db"], b""),
        ("rotate", ["rotate", "app/db"], b""),
        ("rotate", ["rotate", "app/db", "--stdin"], CANARY.encode() + b"-rotated"),
        ("label", ["label", "app/db", "old", "1"], b""),
        ("describe", ["describe", "app/db"], b""),
        ("restore", ["restore", "app/db"], b""),
        ("purge", ["purge", "app/db", "--yes"], b""),
        ("copy", ["copy", url, other], b""),
        ("copy", ["copy", url, other, "--versions", "all", "--dry-run"], b""),
        ("audit", ["audit", url, "--max-age", "0s"], b""),
        ("audit", ["audit", url, "--format", "csv"], b""),
        ("audit", ["audit", url, "--format", "json", "--fail-on", "any", "--max-age", "0s"], b""),
        ("run", ["run", "--mask", "--mapping", str(mapping), "--", *child], b""),
        ("run", ["run", "--env", "P=app/db", "--env", "P=app/config", "--", "true"], b""),
        ("run", ["run", "--strict", "--env", "P=app/missing", "--", "true"], b""),
        ("run", ["run", "--expand", "app/db", "--", "true"], b""),
        ("delete", ["delete", "app/new", "--yes"], b""),
        *[("scan", ["scan", url, str(planted), "--format", fmt, "--versions", "all",
                    "--heuristics", "--fail-on-find"], b"") for fmt in ("table", "json", "sarif")],
        ("scan", ["scan", "-", "--prefix", "app/"], CANARY.encode() + b"\n" + JSON_CANARY.encode()),
        ("scan", ["scan", str(planted), "--git-history"], b""),
        ("access", ["access", "app/db", "app/config"], b""),
        ("access", ["access", "app/db", "--json"], b""),
        ("audit", ["audit", url, "--access", "--format", "json"], b""),
    ]


@pytest.mark.parametrize("debug", [False, True])
def test_no_command_prints_a_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capfd: pytest.CaptureFixture[str], debug: bool) -> None:
    url, other = f"file://{tmp_path}/store", f"file://{tmp_path}/other"
    monkeypatch.setenv("HELIUM_SECRETS_URL", url)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with open_store(url) as store:
        store.put("app/db", CANARY)
        store.put("app/config", JSON_CANARY)
    runs = _argv(url, other, tmp_path)
    assert {name for name, _, _ in runs} == _commands(), "a command is missing from this test"
    terminal = _Terminal()
    for _name, argv, stdin in runs:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        monkeypatch.setattr(sys, "stderr", terminal)  # progress bars are drawn on a terminal
        main([*argv, "--debug"] if debug and argv[0] != "run" else argv)
        out, err = capfd.readouterr()
        shown = out + err + terminal.getvalue()
        assert CANARY not in shown, f"a value in the output of {argv}"
    assert "[" in terminal.getvalue()  # copy drew its progress bar
