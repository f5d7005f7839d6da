"""docs/cli.md against the command line: every command and option is documented, the mapping
file example reads as documented, the audit's JSON output validates against the page's schema,
and the page's table of what each backend describes matches the backends."""

from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path

import pytest

from helium_secrets import open_store
from helium_secrets.cli import main
from helium_secrets.cli._main import _build_parser
from helium_secrets.cli.run import DEFAULT_ALLOW, _load_mapping_file, variable_name
from helium_secrets.lifecycle import FIELDS, RECORDED_FIELDS
from tests.docs.pages import CANARY, ROOT

PAGE = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = _build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _section(command: str) -> str:
    match = re.search(rf"^### `{command}\b.*?(?=^### |^## )", PAGE, re.S | re.M)
    assert match is not None, f"docs/cli.md has no section for {command}"
    return match.group(0)


@pytest.mark.parametrize("command", sorted(_commands()))
def test_every_command_and_option_is_documented(command: str) -> None:
    section = _section(command)
    # the options every command shares, documented once in the common table
    globals_ = {"--url", "--json", "--debug", "--timeout", "-h", "--help"}
    for action in _commands()[command]._actions:
        for option in action.option_strings:
            if option in globals_ or (option.startswith("-") and not option.startswith("--")):
                continue
            assert f"`{option}" in section or f"`{option.replace('--no-', '--')}" in section, (
                f"{command} {option} is not in its section of docs/cli.md")


def _block(after: str, language: str) -> str:
    start = PAGE.index(after)
    match = re.search(rf"```{language}\n(.*?)```", PAGE[start:], re.S)
    assert match is not None
    return match.group(1)


def test_the_mapping_file_example(tmp_path: Path) -> None:
    path = tmp_path / "env.toml"
    path.write_text(_block("The mapping file has up to four tables", "toml"), encoding="utf-8")
    rules = {(r.kind, r.target, r.source, r.field) for r in _load_mapping_file(str(path))}
    assert rules == {("env", "DB_PASSWORD", "app/db", None),
                     ("env", "DB_HOST", "app/config", "db.host"),
                     ("expand", "SMTP", "app/smtp", None),
                     ("prefix", "", "app/feature-flags/", None),
                     ("lease", "PG", "database/creds/app", None)}


def test_the_default_variable_name_examples() -> None:
    assert variable_name("app/db-password") == "APP_DB_PASSWORD"
    assert variable_name("2fa") == "_2FA"
    listed = re.search(r"inherit only (.*?), plus the mapped", PAGE)
    assert listed is not None
    assert re.findall(r"`([^`]+)`", listed.group(1)) == list(DEFAULT_ALLOW)


def test_the_minimum_masked_length_is_the_documented_one() -> None:
    from helium_secrets.cli._mask import MASK, MIN_MASK_LENGTH

    assert f"shorter than **{MIN_MASK_LENGTH} bytes**" in PAGE
    assert f"`{MASK.decode()}`" in PAGE


def _schema() -> dict[str, object]:
    schema: dict[str, object] = json.loads(_block("**The JSON output**", "json"))
    return schema


def test_audit_json_validates_against_the_documented_schema(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    url = f"file://{tmp_path}/store"
    with open_store(url) as store:
        store.put("app/db", CANARY)
        store.put("app/db", CANARY + "2")
        store.put("app/api", CANARY)
    assert main(["audit", url, "--max-age", "0s", "--unused-for", "1d", "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert CANARY not in out
    document = json.loads(out)
    jsonschema.validate(document, _schema())
    assert document["unchecked"] == ["unused"]
    assert document["summary"]["by_problem"]["max_age"] == 2
    assert main(["--url", url, "describe", "app/db", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    lifecycle = {k: v for k, v in described.items() if k not in ("name", "backend", "fields")}
    jsonschema.validate(lifecycle, {"$defs": _schema()["$defs"], "$ref": "#/$defs/lifecycle"})


def test_the_table_of_what_each_backend_describes() -> None:
    from helium_secrets.backends.awssecretsmanager import reads as aws
    from helium_secrets.backends.azurekeyvault import common as azure
    from helium_secrets.backends.gcpsecretmanager import reads as gcp
    from helium_secrets.backends.hashivault import core as vault

    declared = {"aws": aws._DESCRIBED, "gcp": gcp._DESCRIBED, "azure": azure._DESCRIBED,
                "vault": vault._DESCRIBED, "file": RECORDED_FIELDS,
                "memory": RECORDED_FIELDS | {"accessed_at"}}
    header = re.search(r"^\| backend \| from \| (.*) \|$", PAGE, re.M)
    assert header is not None
    columns = header.group(1).split(" | ")
    for backend, fields in declared.items():
        row = re.search(rf"^\| `{backend}` \| [^|]* \| (.*) \|$", PAGE, re.M)
        assert row is not None, backend
        cells = row.group(1).split(" | ")
        documented = {c for c, cell in zip(columns, cells, strict=True) if cell != "—"}
        assert documented | {"current_version", "versions"} == set(fields), backend
    assert set(columns) | {"current_version", "versions"} == set(FIELDS)


def test_the_console_examples_parse() -> None:
    """Every ``$ helium-secrets ...`` line on the page is a valid command line."""
    parser = _build_parser()
    lines = re.findall(r"^\$ (?:.*?\| )?helium-secrets (.*?)(?:\s+#.*)?$", PAGE, re.M)
    assert len(lines) > 15
    for line in lines:
        argv = shlex.split(line.split(" > ")[0].split(" <<")[0].split(" < ")[0])
        try:
            parser.parse_known_args(argv)
        except SystemExit as exc:  # pragma: no cover - shows the bad line
            raise AssertionError(f"docs/cli.md example does not parse: {line}") from exc
        except Exception as exc:  # the parser's usage error
            raise AssertionError(f"docs/cli.md example does not parse: {line}: {exc}") from exc
