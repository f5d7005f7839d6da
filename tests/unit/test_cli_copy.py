"""``helium-secrets copy`` between file and memory stores: idempotent, resumable, a summary,
progress on a terminal only, names the target cannot represent reported. The copies between
the real backends are in tests/backends/test_cli_backends.py."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from helium_secrets import SecretStore, open_store
from helium_secrets.backends._base import NameRules
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.cli import ExitCode, main
from helium_secrets.cli.copy import copy_secrets
from helium_secrets.errors import PermissionDeniedError

CANARY = "canary-copy-3b7d-never-print-me"


@pytest.fixture
def urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    source, target = f"file://{tmp_path}/src", f"file://{tmp_path}/dst"
    with open_store(source) as store:
        store.put("app/db", CANARY + "-1", metadata={"team": "payments"})
        store.put("app/db", CANARY + "-2", metadata={"team": "payments"})
        store.put("app/blob", b"\x00\xffbinary" + CANARY.encode())
        store.put("other/x", CANARY + "-x")
    return source, target


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert CANARY not in out + err
    return code, out, err


def test_copy_then_a_second_run_writes_nothing(urls: tuple[str, str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    source, target = urls
    code, out, _ = call(capsys, "copy", source, target, "--prefix", "app/")
    assert code == 0
    assert out.splitlines() == ["copied app/blob (1 version)", "copied app/db (1 version)",
                                "copied 2 secret(s) (2 version(s)), 0 already up to date, "
                                "0 skipped, 0 failed"]
    with open_store(target) as store:
        assert store.get("app/db").value.reveal() == CANARY + "-2"
        assert dict(store.get("app/db").metadata) == {"team": "payments"}
        assert store.get("app/blob").value.reveal_bytes() == b"\x00\xffbinary" + CANARY.encode()
        assert list(store.list()) == ["app/blob", "app/db"]
        before = [v.version for v in store.versions("app/db")]
    code, out, _ = call(capsys, "copy", source, target, "--prefix", "app/", "--json")
    document = json.loads(out)
    assert (code, document["copied"], document["unchanged"]) == (0, [], ["app/blob", "app/db"])
    with open_store(target) as store:
        assert [v.version for v in store.versions("app/db")] == before


def test_dry_run_writes_nothing(urls: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    source, target = urls
    code, out, _ = call(capsys, "copy", source, target, "--dry-run")
    assert code == 0 and "would copy app/db (1 version)" in out and "would copy 3" in out
    with open_store(target) as store:
        assert list(store.list()) == []


def test_all_versions_and_resume(urls: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    source, target = urls
    code, out, _ = call(capsys, "copy", source, target, "--versions", "all", "--prefix", "app/db")
    assert (code, out.splitlines()[0]) == (0, "copied app/db (2 versions)")
    with open_store(source) as store:
        store.put("app/db", CANARY + "-3")
    code, out, _ = call(capsys, "copy", source, target, "--versions", "all", "--prefix", "app/db")
    assert out.splitlines()[0] == "copied app/db (1 version)"  # only the new one
    with open_store(target) as store:
        assert [store.get("app/db", v.version).value.reveal() for v in store.versions("app/db")
                ] == [CANARY + "-1", CANARY + "-2", CANARY + "-3"]
    assert "already up to date" in call(capsys, "copy", source, target, "--versions", "all")[1]


def _memory(**values: str) -> SecretStore:
    store = SecretStore(MemoryBackend(), cache=None)
    for name, value in values.items():
        store.put(name.replace("__", "/"), value)
    return store


def test_an_interrupted_copy_resumes_where_it_stopped() -> None:
    source = _memory(a__one=CANARY, a__two=CANARY + "2", a__three=CANARY + "3")
    target_backend = MemoryBackend()
    target = SecretStore(target_backend, cache=None)

    def interrupt(done: int, total: int, name: str) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_secrets(source, target, progress=interrupt)
    assert len(list(target.list())) == 2
    report = copy_secrets(source, target)
    assert (len(report.copied), len(report.unchanged)) == (1, 2)
    # A history cut short (the run died after its first write) is completed, not duplicated.
    source.put("a/one", "second value")
    source.put("a/one", "third value")
    target.delete("a/one")
    target_backend.fail_next(1, PermissionDeniedError, operations=["put"])
    failed = copy_secrets(source, target, versions="all", prefix="a/one")
    assert failed.failed["a/one"][0] == "permission_denied"
    assert failed.exit_code == ExitCode.ACCESS
    target.put("a/one", CANARY)  # what the interrupted run had written
    assert copy_secrets(source, target, versions="all", prefix="a/one").copied == {"a/one": 2}
    assert [target.get("a/one", v.version).value.reveal() for v in target.versions("a/one")] == [
        CANARY, "second value", "third value"]
    assert copy_secrets(source, target, versions="all", prefix="a/one").unchanged == ["a/one"]


def test_a_name_the_target_cannot_represent_is_reported_not_mangled() -> None:
    source = _memory(short=CANARY, a_much_longer_name=CANARY)

    strict = MemoryBackend()
    strict.capabilities = replace(strict.capabilities,
                                  name_rules=NameRules(max_length=10, description="short"))
    target = SecretStore(strict, cache=None)
    report = copy_secrets(source, target)
    assert list(report.copied) == ["short"]
    assert "the target cannot represent the name" in report.skipped["a_much_longer_name"]
    assert report.exit_code == ExitCode.INVALID
    assert list(target.list()) == ["short"]


def test_progress_only_on_a_terminal(urls: tuple[str, str], capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    source, target = urls
    call(capsys, "copy", source, target, "--dry-run")
    assert capsys.readouterr().err == ""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["copy", source, target]) == 0
    shown = terminal.getvalue()
    assert "3/3" in shown and "app/db" in shown and CANARY not in shown


def test_copy_to_a_read_only_or_the_same_store(urls: tuple[str, str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    source, _ = urls
    assert call(capsys, "copy", source, "env://")[0] == ExitCode.INVALID
    assert call(capsys, "copy", source, source)[0] == ExitCode.USAGE
    assert call(capsys, "copy", source, "nope://x")[0] == ExitCode.USAGE
