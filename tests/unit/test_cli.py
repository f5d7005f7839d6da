"""The ``helium-secrets`` command line, run in-process through ``main(argv)`` and as the
installed console script.

Commands that span several invocations use a ``file://`` store in a temporary directory (a
``mem://`` store lives only as long as one invocation). Fault paths use a registered test scheme
whose in-memory backend is shared across invocations and fails on demand.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult

import pytest

from helium_secrets import open_store, register_backend
from helium_secrets.backends._base import Classified
from helium_secrets.backends.localfile import generate_key
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.cli import ExitCode, exit_code_for, main
from helium_secrets.errors import ErrorCode, error_for_code

CANARY = "canary-5c1f0e-cli-never-show-me"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


@dataclass
class Result:
    code: int
    out: bytes
    err: str

    @property
    def text(self) -> str:
        return self.out.decode("utf-8")


Run = Callable[..., Result]


class _Stdin(io.TextIOWrapper):
    """A piped stdin (not a terminal) holding ``data``."""

    def __init__(self, data: bytes, tty: bool = False) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.fixture
def run(capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``main(argv)`` with ``stdin`` piped in; return the exit code and the output."""

    def call(*argv: str, stdin: bytes = b"", tty: bool = False) -> Result:
        monkeypatch.setattr(sys, "stdin", _Stdin(stdin, tty))
        code = main(list(argv))
        captured = capsysbinary.readouterr()
        return Result(code, captured.out, captured.err.decode("utf-8"))

    return call


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A file store in a temporary directory as the default store; nothing reaches $HOME."""
    url = f"file://{tmp_path}/store"
    monkeypatch.setenv("HELIUM_SECRETS_URL", url)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("HELIUM_SECRETS_KEY", raising=False)
    return url


# -- a scheme whose backend outlives one invocation, for fault injection -----------------------

SHARED = MemoryBackend()


def _shared_backend(url: SplitResult, **options: Any) -> MemoryBackend:
    return SHARED


def _exploding_backend(url: SplitResult, **options: Any) -> MemoryBackend:
    raise RuntimeError(f"a bug that quotes {CANARY}")


register_backend("clitest", _shared_backend, replace=True)
register_backend("clitest-bug", _exploding_backend, replace=True)
register_backend("clitest-noextra", "no_such_sdk_for_cli_tests:Backend", extra="cli-test",
                 replace=True)


@pytest.fixture
def shared() -> Iterator[MemoryBackend]:
    SHARED.clear_faults()
    with open_store("clitest://") as store:
        for name in list(store.list()):
            store.delete(name)
    yield SHARED
    SHARED.clear_faults()


def one_error_line(result: Result) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) >= 1 and lines[-1].startswith("helium-secrets: error: "), result.err
    assert "Traceback" not in result.err
    return lines[-1]


# -- put and get -------------------------------------------------------------------------------


def test_put_then_get_round_trips_text(run: Run) -> None:
    put = run("put", "app/db", stdin=b"hunter2\n")
    assert put.code == 0, put.err
    assert put.text == "stored app/db version 1\n"
    got = run("get", "app/db")
    assert got.code == 0, got.err
    assert got.out == b"hunter2\n"  # one newline removed by put, one added by get


def test_get_output_piped_into_put_is_exact(run: Run) -> None:
    assert run("put", "a", "--keep-newline", stdin=b"two\nlines\n").code == 0
    first = run("get", "a")
    assert run("put", "b", stdin=first.out).code == 0
    second = run("get", "b", "--json")
    assert json.loads(second.out)["value"] == "two\nlines\n"


def test_put_strips_one_newline_only(run: Run) -> None:
    assert run("put", "crlf", stdin=b"v\r\n").code == 0
    assert run("put", "two", stdin=b"v\n\n").code == 0
    assert json.loads(run("get", "crlf", "--json").out)["value"] == "v"
    assert json.loads(run("get", "two", "--json").out)["value"] == "v\n"


def test_put_from_file_and_binary(run: Run, tmp_path: Path) -> None:
    blob = bytes(range(256)) + b"\n"
    path = tmp_path / "blob.bin"
    path.write_bytes(blob)
    assert run("put", "bin", "--file", str(path), "--binary").code == 0
    assert run("get", "bin").out == blob  # bytes are written as they are, newline kept
    document = json.loads(run("get", "bin", "--json").out)
    assert document["encoding"] == "base64"
    assert base64.b64decode(document["value"]) == blob


def test_put_refuses_non_utf8_without_binary(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\xff\xfe" + CANARY.encode())
    result = run("put", "bin", "--file", str(path))
    assert result.code == ExitCode.INVALID
    assert "--binary" in one_error_line(result)
    assert run("get", "bin").code == ExitCode.NOT_FOUND


def test_put_missing_file_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    result = run("put", "x", "--file", str(tmp_path / "absent"))
    assert result.code == ExitCode.USAGE
    assert "No such file" in one_error_line(result)


def test_put_refuses_an_empty_value_unless_allowed(run: Run) -> None:
    empty = run("put", "e", stdin=b"\n")
    assert empty.code == ExitCode.INVALID
    assert "--allow-empty" in one_error_line(empty)
    assert run("put", "e", "--allow-empty", stdin=b"").code == 0
    assert run("get", "e").out == b"\n"


def test_put_never_takes_the_value_from_the_command_line(run: Run) -> None:
    result = run("put", "app/db", CANARY)
    assert result.code == ExitCode.USAGE
    assert "stdin or --file" in one_error_line(result)
    assert CANARY not in result.err
    assert run("get", "app/db").code == ExitCode.NOT_FOUND


def test_put_prompts_without_echo_on_a_terminal(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return "typed-value"

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert run("put", "t", tty=True).code == 0
    assert prompts and "t" in prompts[0]
    assert run("get", "t").out == b"typed-value\n"


def test_check_and_set_and_create_only(run: Run) -> None:
    assert run("put", "c", "--create-only", stdin=b"one").code == 0
    again = run("put", "c", "--create-only", stdin=b"two")
    assert again.code == ExitCode.CONFLICT
    assert "[conflict]" in one_error_line(again)
    stale = run("put", "c", "--expected-version", "7", stdin=b"two")
    assert stale.code == ExitCode.CONFLICT
    ok = run("put", "c", "--expected-version", "1", "--json", stdin=b"two")
    assert ok.code == 0
    assert json.loads(ok.out)["version"] == "2"
    assert run("get", "c").out == b"two\n"
    both = run("put", "c", "--create-only", "--expected-version", "2", stdin=b"x")
    assert both.code == ExitCode.USAGE


def test_get_version_label_and_metadata(run: Run) -> None:
    assert run("put", "v", "--label", "blue", "--meta", "owner=team", stdin=b"one").code == 0
    assert run("put", "v", stdin=b"two").code == 0
    assert run("get", "v", "--version", "1").out == b"one\n"
    assert run("get", "v", "--label", "blue").out == b"one\n"
    missing = run("get", "v", "--version", "9")
    assert missing.code == ExitCode.NOT_FOUND
    assert "version_not_found" in one_error_line(missing)
    meta = run("get", "v", "--version", "1", "--metadata-only", "--json")
    document = json.loads(meta.out)
    assert document["version"] == "1" and document["labels"] == ["blue"]
    assert "value" not in document
    human = run("get", "v", "--version", "1", "--metadata-only")
    assert "version: 1" in human.text and "labels: blue" in human.text
    assert "one" not in human.text
    assert run("put", "v", "--meta", "novalue", stdin=b"x").code == ExitCode.USAGE


def test_get_json_document(run: Run) -> None:
    doc = {"db": {"user": "app", "port": 5432}, "hosts": ["a", "b"]}
    assert run("put", "cfg", stdin=json.dumps(doc).encode()).code == 0
    assert run("get", "cfg", "--field", "db.user").out == b"app\n"
    assert run("get", "cfg", "--field", "db.port").out == b"5432\n"
    assert run("get", "cfg", "--field", "hosts.1").out == b"b\n"
    assert json.loads(run("get", "cfg", "--field", "db").out) == doc["db"]
    as_json = json.loads(run("get", "cfg", "--field", "db.port", "--json").out)
    assert as_json["value"] == 5432 and as_json["field"] == "db.port"
    absent = run("get", "cfg", "--field", "db.nope")
    assert absent.code == ExitCode.INVALID
    assert "db.nope" in one_error_line(absent)
    assert run("put", "plain", stdin=CANARY.encode()).code == 0
    not_json = run("get", "plain", "--field", "a")
    assert not_json.code == ExitCode.INVALID
    assert CANARY not in not_json.err


def test_get_json_has_the_documented_keys(run: Run) -> None:
    run("put", "k", stdin=b"value")
    document = json.loads(run("get", "k", "--json").out)
    assert {"name", "version", "labels", "created_at", "value"} <= set(document)
    assert document["name"] == "k" and document["value"] == "value"
    assert document["created_at"] is not None


# -- list, versions, delete ----------------------------------------------------------------------


def test_list_with_prefix_and_global_options_anywhere(run: Run, environment: str) -> None:
    for name in ("app/b", "app/a", "other/c"):
        assert run("put", name, stdin=b"x").code == 0
    assert run("list").text == "app/a\napp/b\nother/c\n"
    assert run("list", "app/").text == "app/a\napp/b\n"
    assert json.loads(run("--json", "list", "app/").out) == ["app/a", "app/b"]
    assert json.loads(run("list", "app/", "--json").out) == ["app/a", "app/b"]
    assert run("--url", "mem://", "list").text == ""  # --url beats $HELIUM_SECRETS_URL
    assert run("list", "--url", environment).text.count("\n") == 3


def test_versions(run: Run) -> None:
    run("put", "v", stdin=b"one")
    run("put", "v", "--label", "stable", stdin=b"two")
    human = run("versions", "v")
    lines = human.text.splitlines()
    assert lines[0].split() == ["VERSION", "STATE", "CREATED", "LABELS"]
    assert lines[1].split()[:2] == ["1", "enabled"]
    assert lines[2].startswith("*") and lines[2].split()[-1] == "stable"
    documents = json.loads(run("versions", "v", "--json").out)
    assert [d["version"] for d in documents] == ["1", "2"]
    assert [d["current"] for d in documents] == [False, True]
    assert documents[1]["labels"] == ["stable"]
    assert run("versions", "absent").code == ExitCode.NOT_FOUND


def test_delete_needs_confirmation(run: Run) -> None:
    run("put", "d", stdin=b"x")
    refused = run("delete", "d")
    assert refused.code == ExitCode.USAGE
    assert "--yes" in one_error_line(refused)
    declined = run("delete", "d", stdin=b"n\n", tty=True)
    assert declined.code == ExitCode.USAGE
    assert "[y/N]" in declined.err
    assert run("get", "d").code == 0
    confirmed = run("delete", "d", stdin=b"y\n", tty=True)
    assert confirmed.code == 0, confirmed.err
    assert run("get", "d").code == ExitCode.NOT_FOUND


def test_delete_with_yes(run: Run) -> None:
    run("put", "d", stdin=b"x")
    result = run("delete", "d", "--yes", "--purge", "--json")
    assert result.code == 0
    assert json.loads(result.out) == {"name": "d", "deleted": True, "purged": True}
    assert run("delete", "d", "-y").code == ExitCode.NOT_FOUND


# -- demo ----------------------------------------------------------------------------------------


def test_demo_on_mem(run: Run) -> None:
    result = run("--url", "mem://", "demo")
    assert result.code == 0, result.err
    text = result.text
    assert "SecretValue('**********')" in text
    assert "returns the value written: True" in text
    assert "ConflictError" in text
    assert "nothing left behind" in text
    assert result.err == ""


def test_demo_json_on_the_default_file_store_cleans_up(run: Run, tmp_path: Path) -> None:
    result = run("demo", "--json")
    assert result.code == 0, result.err
    document = json.loads(result.out)
    steps = [s["step"] for s in document["steps"]]
    assert steps[:3] == ["store", "put", "get"]
    assert {"versions", "list", "redaction", "conflict"} <= set(steps)
    listed = next(s for s in document["steps"] if s["step"] == "list")
    assert len(listed["names"]) == 2
    assert document["left"] == []
    assert run("list", "helium-demo/").text == ""


def test_demo_keep_leaves_the_secrets(run: Run) -> None:
    result = run("demo", "--keep", "--json")
    assert result.code == 0, result.err
    left = json.loads(result.out)["left"]
    assert len(left) == 2
    assert run("list", "helium-demo/").text.split() == sorted(left)


def test_demo_on_a_read_only_store_fails_cleanly(run: Run) -> None:
    result = run("--url", "env://?prefix=HELIUM_CLI_TEST_", "demo")
    assert result.code == ExitCode.INVALID
    assert "read-only" in one_error_line(result)


# -- errors and exit codes -------------------------------------------------------------------------


@pytest.mark.parametrize("code", list(ErrorCode), ids=[c.value for c in ErrorCode])
def test_every_error_code_has_its_exit_code(
    run: Run, shared: MemoryBackend, code: ErrorCode
) -> None:
    expected = {
        ErrorCode.NOT_FOUND: 3, ErrorCode.VERSION_NOT_FOUND: 3,
        ErrorCode.PERMISSION_DENIED: 4, ErrorCode.UNAUTHENTICATED: 4,
        ErrorCode.CONFLICT: 5,
        ErrorCode.THROTTLED: 6, ErrorCode.UNAVAILABLE: 6, ErrorCode.DEADLINE_EXCEEDED: 6,
        ErrorCode.INVALID_ARGUMENT: 7, ErrorCode.TOO_LARGE: 7, ErrorCode.UNSUPPORTED: 7,
        ErrorCode.INTEGRITY: 8,
        ErrorCode.CLOSED: 1, ErrorCode.UNKNOWN: 1,
    }[code]
    assert exit_code_for(error_for_code(code)("x")) == expected
    shared.fail_next(10, Classified(code, "injected"), operations=["get"])
    result = run("--url", "clitest://", "get", "app/db")
    assert result.code == expected
    assert f"[{code.value}]" in one_error_line(result)


def test_transient_errors_are_retried_first(run: Run, shared: MemoryBackend) -> None:
    assert run("--url", "clitest://", "put", "app/db", stdin=b"v").code == 0
    shared.fail_next(1, Classified(ErrorCode.UNAVAILABLE, "blip", transient=True),
                     operations=["get"])
    result = run("--url", "clitest://", "get", "app/db")
    assert result.code == 0, result.err
    assert result.out == b"v\n"


def test_wrong_key_is_an_integrity_error(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("put", "k", stdin=b"v").code == 0
    monkeypatch.setenv("HELIUM_SECRETS_KEY", generate_key())
    result = run("get", "k")
    assert result.code == ExitCode.INTEGRITY
    assert "key" in one_error_line(result)


def test_readable_key_file_is_an_access_error(run: Run, tmp_path: Path) -> None:
    assert run("put", "k", stdin=b"v").code == 0
    (tmp_path / "store" / ".key").chmod(0o644)
    result = run("get", "k")
    assert result.code == ExitCode.ACCESS
    assert "chmod 600" in one_error_line(result)


def test_invalid_name_and_too_large(run: Run) -> None:
    bad = run("get", "bad name")
    assert bad.code == ExitCode.INVALID
    big = run("--url", "mem://?max_value_bytes=8", "put", "x", stdin=CANARY.encode())
    assert big.code == ExitCode.INVALID
    assert "[too_large]" in one_error_line(big)


def test_store_url_problems_are_usage_errors(run: Run) -> None:
    unknown = run("--url", "nosuchscheme://", "list")
    assert unknown.code == ExitCode.USAGE
    assert "unknown store URL scheme" in one_error_line(unknown)
    extra = run("--url", "clitest-noextra://", "list")
    assert extra.code == ExitCode.USAGE
    assert "pip install 'helium-secrets[cli-test]'" in one_error_line(extra)
    hidden = run("--url", "mem://user:pa55word@host?token=t0ken", "list")
    assert hidden.code == ExitCode.USAGE
    assert "pa55word" not in hidden.err and "t0ken" not in hidden.err


def test_unexpected_error_shows_no_text_and_traceback_only_with_debug(run: Run) -> None:
    plain = run("--url", "clitest-bug://", "list")
    assert plain.code == ExitCode.UNEXPECTED
    line = one_error_line(plain)
    assert "RuntimeError" in line and "--debug" in line
    assert CANARY not in plain.err
    debug = run("--url", "clitest-bug://", "list", "--debug")
    assert debug.code == ExitCode.UNEXPECTED
    assert "Traceback" in debug.err


def test_debug_logs_backend_calls(run: Run) -> None:
    result = run("--url", "mem://", "--debug", "get", "x")
    assert result.code == ExitCode.NOT_FOUND
    assert "memory get name=x" in result.err and "outcome=error(not_found)" in result.err


def test_usage_errors(run: Run) -> None:
    assert run().code == ExitCode.USAGE
    assert run("frobnicate").code == ExitCode.USAGE
    typo = run("list", "--jsno")
    assert typo.code == ExitCode.USAGE
    assert "--jsno" in one_error_line(typo)
    assert run("get").code == ExitCode.USAGE
    help_ = run("--help")
    assert help_.code == 0 and b"Exit codes" in help_.out


def test_version_option(run: Run) -> None:
    from helium_secrets import __version__

    result = run("--version")
    assert result.code == 0
    assert result.text.strip() == f"helium-secrets {__version__}"


def test_importing_the_cli_imports_no_sdk() -> None:
    code = ("import sys, helium_secrets.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('boto3', 'botocore', 'hvac', 'azure', 'google', 'grpc')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.strip() == "[]"


def test_exit_codes_are_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for code in ExitCode:
        assert re.search(rf"^\| `{code.value}` \|", text, re.M), f"exit code {code.value}"


# -- the canary ------------------------------------------------------------------------------------


def test_canary_never_reaches_stderr_or_non_get_output(run: Run, tmp_path: Path) -> None:
    value = CANARY.encode()
    results: list[Result] = []
    cfg = json.dumps({"password": CANARY}).encode()
    path = tmp_path / "value"
    path.write_bytes(value)
    for argv, stdin in [
        (("put", "app/db"), value),
        (("put", "app/db", "--file", str(path), "--expected-version", "1", "--json"), b""),
        (("put", "app/db", "--expected-version", "1"), value),  # conflict
        (("put", "app/db", "--create-only"), value),  # conflict
        (("put", "app/db", CANARY), b""),  # value on the command line: refused
        (("put", "app/cfg"), cfg),
        (("put", "bad name"), value),
        (("--url", "mem://?max_value_bytes=8", "put", "app/db"), value),
        (("--url", "env://?prefix=HELIUM_CLI_TEST_", "put", "app/db"), value),
        (("get", "app/db", "--metadata-only"), b""),
        (("get", "app/db", "--metadata-only", "--json"), b""),
        (("get", "app/db", "--field", "x"), b""),
        (("get", "app/cfg", "--field", "nope"), b""),
        (("get", "app/db", "--version", "99"), b""),
        (("list", "--json"), b""),
        (("versions", "app/db", "--json"), b""),
        (("versions", "app/db"), b""),
        (("delete", "app/db"), b""),
        (("--url", "clitest-bug://", "get", "app/db"), b""),
        (("demo",), b""),
    ]:
        results.append(run(*argv, stdin=stdin))
    getters = [run("get", "app/db"), run("get", "app/db", "--json"),
               run("get", "app/cfg", "--field", "password")]
    assert all(CANARY.encode() in g.out for g in getters)  # the one place it is printed
    results.append(run("delete", "app/db", "--yes"))
    results.append(run("get", "app/db"))
    leaks = [r for r in results + getters if CANARY in r.err]
    leaks += [r for r in results if CANARY.encode() in r.out]
    assert not leaks, f"{len(leaks)} invocations show the canary"
    assert {r.code for r in results} >= {0, 2, 3, 5, 7}


# -- the installed console script ------------------------------------------------------------------


def _script_env(tmp_path: Path, url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("HELIUM_SECRETS_URL", "HELIUM_SECRETS_KEY")}
    env.update(HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "xdg"))
    if url is not None:
        env["HELIUM_SECRETS_URL"] = url
    return env


def test_console_script(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "helium-secrets"
    assert script.exists(), "the package is installed with its console script"
    env = _script_env(tmp_path, f"file://{tmp_path}/store")

    def call(*argv: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([str(script), *argv], input=stdin, capture_output=True,
                              env=env, timeout=120, check=False)

    put = call("put", "app/db", stdin=CANARY.encode() + b"\n")
    assert put.returncode == 0, put.stderr
    got = call("get", "app/db")
    assert got.returncode == 0 and got.stdout == CANARY.encode() + b"\n"
    conflict = call("put", "app/db", "--create-only", stdin=CANARY.encode())
    assert conflict.returncode == 5
    missing = call("get", "app/nope")
    assert missing.returncode == 3
    for failed in (conflict, missing):
        err = failed.stderr.decode()
        assert err.startswith("helium-secrets: error: ") and err.count("\n") == 1
        assert CANARY not in err


def test_python_m_demo_on_a_fresh_default_store(tmp_path: Path) -> None:
    env = _script_env(tmp_path, None)
    result = subprocess.run([sys.executable, "-m", "helium_secrets", "demo"],
                            capture_output=True, env=env, timeout=120, check=False, text=True)
    assert result.returncode == 0, result.stderr
    store = tmp_path / "xdg" / "helium-secrets"
    assert str(store) in result.stdout
    assert "nothing left behind" in result.stdout
    assert (store / ".key").stat().st_mode & 0o077 == 0
    assert list((store / "secrets").glob("*.hsec")) == []


# -- documented behaviour: docs/cli.md, claim by claim ----------------------------------------------


def test_doc_first_session_prints_what_the_page_shows(run: Run) -> None:
    assert run("put", "app/db", stdin=b"hunter2\n").text == "stored app/db version 1\n"
    assert run("get", "app/db").text == "hunter2\n"
    assert run("list", "app/").text == "app/db\n"
    lines = run("versions", "app/db").text.splitlines()
    assert re.fullmatch(r" {3}VERSION {2}STATE {4}CREATED +LABELS", lines[0])
    assert re.fullmatch(r"\* {2}1 {8}enabled {2}\S+", lines[1])
    assert run("delete", "app/db", "--yes").text == "deleted app/db\n"


def test_doc_which_store_url_then_environment_then_default(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run("put", "a", stdin=b"from-env-store")
    other = f"file://{tmp_path}/other"
    assert run("--url", other, "get", "a").code == ExitCode.NOT_FOUND  # --url wins
    assert run("get", "a").text == "from-env-store\n"  # else $HELIUM_SECRETS_URL
    monkeypatch.delenv("HELIUM_SECRETS_URL")
    assert run("put", "b", stdin=b"x").code == 0  # else the default file store
    assert list((tmp_path / "xdg" / "helium-secrets").glob("**/*.hsec"))
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert run("put", "c", stdin=b"x").code == 0
    assert (tmp_path / "home" / ".local" / "share" / "helium-secrets").is_dir()


def test_doc_a_mem_store_lives_for_one_command(run: Run) -> None:
    assert run("--url", "mem://", "put", "a", stdin=b"x").code == 0
    assert run("--url", "mem://", "get", "a").code == ExitCode.NOT_FOUND


def test_doc_field_selection_and_its_errors(run: Run) -> None:
    run("put", "app/config", stdin=b'{"db": {"host": "db.internal", "port": 5432}, "l": [7]}\n')
    assert run("get", "app/config", "--field", "db.port").text == "5432\n"
    assert run("get", "app/config", "--field", "db.host").text == "db.internal\n"  # as is
    assert json.loads(run("get", "app/config", "--field", "db").out) == {
        "host": "db.internal", "port": 5432}  # anything else as JSON
    assert run("get", "app/config", "--field", "l.0").text == "7\n"  # digits index lists
    run("put", "plain", stdin=CANARY.encode())
    for argv in (("app/config", "--field", "db.nope"), ("plain", "--field", "a")):
        result = run("get", *argv)
        assert result.code == ExitCode.INVALID
        line = one_error_line(result)
        # "It names the backend and the secret and ends with the error code in brackets."
        assert "backend=file" in line and f"name='{argv[0]}'" in line
        assert line.endswith("[invalid_argument]") and CANARY not in line


def test_doc_one_trailing_newline_from_stdin_or_file(run: Run, tmp_path: Path) -> None:
    run("put", "crlf", stdin=b"v\r\n\r\n")
    assert run("get", "crlf", "--json").out and json.loads(
        run("get", "crlf", "--json").out)["value"] == "v\r\n"
    path = tmp_path / "value.txt"
    path.write_bytes(b"from-file\n")
    assert run("put", "f", "--file", str(path)).code == 0
    assert run("get", "f").out == b"from-file\n"
    assert run("put", "s", "--file", "-", stdin=b"from-stdin\n").code == 0  # '-' is stdin
    assert run("get", "s").out == b"from-stdin\n"
    run("put", "b", "--binary", stdin=b"raw\n")
    assert run("get", "b").out == b"raw\n"  # never changed, no newline added


def test_doc_error_line_format(run: Run) -> None:
    run("put", "app/db", stdin=b"one")
    run("put", "app/db", stdin=b"two")
    result = run("put", "app/db", "--expected-version", "1", stdin=CANARY.encode())
    assert result.code == ExitCode.CONFLICT
    assert one_error_line(result) == (
        "helium-secrets: error: check-and-set failed: the current version changed "
        "(backend=file, name='app/db') [conflict]")


def _interrupting_backend(url: SplitResult, **options: Any) -> MemoryBackend:
    class Interrupted(MemoryBackend):
        def get(self, name: str, version: str | None = None,
                label: str | None = None) -> Any:
            raise KeyboardInterrupt

    return Interrupted()


register_backend("clitest-interrupt", _interrupting_backend, replace=True)


def test_doc_ctrl_c_exits_130(run: Run) -> None:
    result = run("--url", "clitest-interrupt://", "get", "a")
    assert result.code == 130  # ExitCode.INTERRUPTED
    assert one_error_line(result) == "helium-secrets: error: interrupted"


def test_doc_debug_logs_calls_without_values(run: Run) -> None:
    run("put", "app/db", stdin=CANARY.encode())
    result = run("get", "app/db", "--debug")
    assert result.code == 0
    assert "get" in result.err and "app/db" in result.err and "outcome=ok" in result.err
    assert CANARY not in result.err


def test_doc_a_store_url_in_an_error_hides_its_query_and_password(run: Run) -> None:
    result = run("--url", f"mem://?bogus={CANARY}", "list")
    assert result.code == ExitCode.USAGE
    line = one_error_line(result)
    assert "cannot open the store mem://?***" in line
    assert CANARY not in line
    result = run("--url", f"clitest://user:{CANARY}@host/path?a=1", "list")
    assert CANARY not in result.err


def test_doc_a_reader_that_went_away_is_exit_1_without_noise(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write: every write fails
    try:
        result = subprocess.run([sys.executable, "-m", "helium_secrets", "--url", "mem://",
                                 "demo"], stdout=write_end, stderr=subprocess.PIPE,
                                env=_script_env(tmp_path, None), timeout=120, check=False)
    finally:
        os.close(write_end)
    assert result.returncode == ExitCode.UNEXPECTED
    assert b"Traceback" not in result.stderr


def test_doc_a_refused_value_names_backend_and_secret(run: Run) -> None:
    empty = run("put", "app/db", stdin=b"\n")
    binary = run("put", "app/db", stdin=b"\xff" + CANARY.encode())
    for result in (empty, binary):
        assert result.code == ExitCode.INVALID
        line = one_error_line(result)
        assert "(backend=file, name='app/db') [invalid_argument]" in line
        assert CANARY not in line
    unconfirmed = run("delete", "app/db")
    assert unconfirmed.code == ExitCode.USAGE
    assert "[" not in one_error_line(unconfirmed)  # a usage error just says what is wrong


def test_doc_a_bad_name_is_refused_before_the_value_is_asked_for(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return "x"

    monkeypatch.setattr("getpass.getpass", getpass)
    result = run("put", "bad//name", tty=True)
    assert result.code == ExitCode.INVALID and asked == []
    assert "[invalid_argument]" in one_error_line(result)
    read_only = run("--url", "env://?prefix=HELIUM_CLI_TEST_", "put", "a", tty=True)
    assert read_only.code == ExitCode.INVALID and asked == []
    assert "read-only" in one_error_line(read_only)
