"""docs/exposure.md: its Python example runs, its JSON example has the output's keys, its
tables agree with the code (encodings, the minimum length, which backends can review access),
and its pre-commit and GitHub Actions YAML name real hooks and parse."""

from __future__ import annotations

import json
import re

import pytest

from helium_secrets.cli.scan import scan_document
from helium_secrets.exposure import ENCODINGS, MIN_LENGTH, Finding, Matcher
from tests.docs.pages import ROOT, close_stores, python_block

PAGE = (ROOT / "docs" / "exposure.md").read_text(encoding="utf-8")


def _block(after: str, language: str) -> str:
    start = PAGE.index(after)
    match = re.search(rf"```{language}\n(.*?)```", PAGE[start:], re.S)
    assert match is not None
    return match.group(1)


def test_the_python_example(capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {}
    exec(compile(python_block(PAGE, "From Python"), "exposure.md", "exec"), namespace)  # noqa: S102
    close_stores(namespace)
    assert capsys.readouterr().out == "app.log 2 10 app/db True\n"


def test_the_json_example_has_the_outputs_keys() -> None:
    example = json.loads(_block("## The JSON output", "json"))
    with Matcher() as matcher:
        actual = scan_document([Finding("f", 1, 1)], matcher, store="s", backend="b", prefix="",
                               versions="all", git_history=False, skipped=[])
    assert set(example) == set(actual)
    assert set(example["findings"][0]) == set(actual["findings"][0])
    assert set(example["summary"]) == set(actual["summary"])
    assert example["min_length"] == MIN_LENGTH


def test_the_encodings_table_and_the_minimum_length() -> None:
    table = PAGE[PAGE.index("| encoding |"):PAGE.index("- **JSON secrets**")]
    named = {n for row in re.findall(r"^\| (`[^|]+) \|", table, re.M)
             for n in re.findall(r"`(\w+)`", row)}
    assert named == set(ENCODINGS)
    assert f"shorter than {MIN_LENGTH} characters" in PAGE


def test_the_access_table_lists_the_backends_that_can_tell() -> None:
    from helium_secrets.backends._base import extra_operations
    from helium_secrets.backends.awssecretsmanager import AWSSecretsManagerBackend
    from helium_secrets.backends.gcpsecretmanager import GCPSecretManagerBackend
    from helium_secrets.backends.hashivault import VaultBackend

    table = PAGE[PAGE.index("| backend | from |"):PAGE.index("With `--json`: `{\"schema\": \"helium")]
    known = {m.group(1) for m in re.finditer(r"^\| `(\w+)` \| (?!—)", table, re.M)}
    assert known == {"vault", "aws", "gcp"}
    for backend in (VaultBackend, AWSSecretsManagerBackend, GCPSecretManagerBackend):
        assert "access" in extra_operations(backend.__new__(backend))
    unknown = {n for row in re.findall(r"^\| (`[^|]+) \| — \|", table, re.M)
               for n in re.findall(r"`(\w+)`", row)}
    assert unknown == {"azure", "awsssm", "file", "dotenv", "env", "memory"}


def test_the_hook_and_ci_examples() -> None:
    yaml = pytest.importorskip("yaml")
    hooks = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert hooks == {"helium-secrets-scan", "helium-secrets-scan-heuristics"}
    assert all(f"`{hook}`" in PAGE for hook in hooks)
    config = yaml.safe_load(_block("**pre-commit.**", "yaml"))
    assert {h["id"] for r in config["repos"] for h in r["hooks"]} <= hooks
    workflow = yaml.safe_load(_block("**GitHub Actions.**", "yaml"))
    [run] = [s["run"] for s in workflow["jobs"]["scan"]["steps"] if "helium-secrets scan" in s.get("run", "")]
    assert "--fail-on-find" in run and "--format sarif" in run and "--git-history" in run
