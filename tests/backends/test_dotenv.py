"""``dotenv://``: the conformance suite in its read-only mode, and python-dotenv itself as the
reference for what a file holds, on a set of tricky files."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import dotenv
import pytest

from helium_secrets import RetryPolicy, SecretStore, open_store
from helium_secrets.backends.dotenv import DotenvBackend
from helium_secrets.backends.environ import VERSION
from helium_secrets.errors import (
    HeliumError,
    InvalidArgumentError,
    PermissionDeniedError,
    ReadOnlyError,
    SecretNotFoundError,
)
from helium_secrets.testing import BackendHarness
from helium_secrets.testing.conformance import CANARY, BackendConformance


def quoted(value: str) -> str:
    """``value`` as a double-quoted .env value (python-dotenv decodes these escapes)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DotenvHarness(BackendHarness):
    """A file in a temporary directory plays the .env file; "from outside" is an edit of it."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.path.write_text("# written by the tests\n", encoding="utf-8")
        self._lock = threading.Lock()

    def make_backend(self) -> DotenvBackend:
        return DotenvBackend(path=str(self.path), prefix="HS_")

    def write_external(self, name: str, value: str | bytes) -> str:
        assert isinstance(value, str), ".env files hold text"
        key = self.make_backend().variable(name)
        with self._lock:  # an editor saves whole files: readers never see half of one
            lines = [line for line in self.path.read_text(encoding="utf-8").splitlines(True)
                     if not line.startswith(f"{key}=")]
            lines.append(f"{key}={quoted(value)}\n")
            staged = self.path.with_name(self.path.name + ".tmp")
            staged.write_text("".join(lines), encoding="utf-8")
            os.replace(staged, self.path)
        return VERSION


class TestDotenvConformance(BackendConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Iterator[DotenvHarness]:
        with DotenvHarness(tmp_path / ".env") as harness:
            yield harness


# -- python-dotenv is the reference ---------------------------------------------------------

TRICKY = {
    "quoting": (
        "PLAIN=plain value\n"
        "SINGLE='single $HOME \\n stays'\n"
        'DOUBLE="double \\"quoted\\" \\n escaped \\t tab"\n'
        "EMPTY=\n"
        "EMPTY_QUOTES=''\n"
        "SPACES =   padded   \n"
        "EQUALS=a=b=c\n"
        "UNICODE=\"pässwörd-密码-🔑\"\n"
        f"CANARY_VALUE='{CANARY}'\n"
    ),
    "export-and-comments": (
        "# a comment\n"
        "export EXPORTED=yes\n"
        "   export   INDENTED=also\n"
        "INLINE=value # a comment\n"
        "HASH_IN_QUOTES='not # a comment'\n"
        "HASH_NO_SPACE=value#kept\n"
        "NO_VALUE\n"
        "lower_case=unreadable through the name rule\n"
        "\n"
        "# LAST=commented out\n"
    ),
    "multi-line": (
        'MULTI="line one\nline two\n  line three"\n'
        "SINGLE_MULTI='first\nsecond'\n"
        'JSON={"user": "app", "password": "s3cret"}\n'
        'ESCAPED_NEWLINE="one\\ntwo"\n'
        "AFTER=after\n"
    ),
    "interpolation": (
        "BASE=base\n"
        "DERIVED=${BASE}/derived\n"
        "FROM_ENV=${HS_DOTENV_TEST_VAR:-fallback}\n"
        "SINGLE_NOT='${BASE}'\n"
        "DOLLARS=pa$$word\n"
    ),
    "crlf-and-odd": (
        "CRLF=windows\r\n"
        "TRAILING_SPACE='kept '   \r\n"
        "DUPLICATE=first\n"
        "DUPLICATE=second\n"
        "BROKEN='unterminated\n"
        "AFTER_BROKEN=still read\n"
    ),
}


@pytest.mark.parametrize("interpolate", [False, True])
@pytest.mark.parametrize("case", sorted(TRICKY))
def test_reads_what_python_dotenv_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, interpolate: bool
) -> None:
    monkeypatch.setenv("HS_DOTENV_TEST_VAR", "from-the-environment")
    path = tmp_path / ".env"
    path.write_bytes(TRICKY[case].encode("utf-8"))
    expected = dotenv.dotenv_values(path, interpolate=interpolate)
    backend = DotenvBackend(path=str(path), interpolate=interpolate)
    with SecretStore(backend, cache=None) as store:
        names = {key: backend.name_for(key) for key in expected}
        readable = {n: v for k, v in expected.items() if (n := names[k]) is not None
                    and v is not None}
        unset = [n for k, v in expected.items() if (n := names[k]) is not None and v is None]
        assert list(store.list()) == sorted(readable)
        for name, value in readable.items():
            assert store.get(name).value.reveal() == value, name
        for name in unset:  # a key without "=" is not set
            with pytest.raises(SecretNotFoundError):
                store.get(name)


def test_the_tricky_files_are_tricky(tmp_path: Path) -> None:
    """The reference really parses what the cases are about (so the test above tests them)."""
    path = tmp_path / ".env"
    path.write_text(TRICKY["multi-line"] + TRICKY["export-and-comments"] + TRICKY["quoting"])
    values = dotenv.dotenv_values(path, interpolate=False)
    assert values["MULTI"] == "line one\nline two\n  line three"
    assert values["ESCAPED_NEWLINE"] == "one\ntwo"
    assert values["EXPORTED"] == "yes" and values["INLINE"] == "value"
    assert values["HASH_IN_QUOTES"] == "not # a comment"
    assert values["HASH_NO_SPACE"] == "value#kept" and values["EMPTY"] == ""
    assert values["NO_VALUE"] is None and "LAST" not in values
    assert values["DOUBLE"] == 'double "quoted" \n escaped \t tab'
    path.write_text(TRICKY["interpolation"])
    interpolated = dotenv.dotenv_values(path, interpolate=True)
    assert (interpolated["DERIVED"], interpolated["FROM_ENV"]) == ("base/derived", "fallback")
    assert dotenv.dotenv_values(path, interpolate=False)["DERIVED"] == "${BASE}/derived"


# -- documented behaviour (docs/backends/dotenv.md) ------------------------------------------


def test_doc_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "app.env").write_text("APP_DB_PASSWORD=hunter2\n")
    (tmp_path / ".env").write_text("DB_PASSWORD=dot\n")
    monkeypatch.chdir(tmp_path)
    with open_store("dotenv://conf/app.env?prefix=APP_") as store:
        assert store.get("db-password").value.reveal() == "hunter2"
    with open_store(f"dotenv://{tmp_path}/conf/app.env?prefix=APP_") as store:
        assert store.get("db-password").value.reveal() == "hunter2"
    with open_store("dotenv://") as store:
        assert store.get("db-password").value.reveal() == "dot"
        assert store.backend.options.path == ".env"  # type: ignore[attr-defined]
    with open_store("dotenv://conf/app.env", path=".env") as store:  # keyword wins
        assert store.get("db-password").value.reveal() == "dot"
    with pytest.raises(ValueError, match="interpolate"):
        open_store("dotenv://?interpolate=maybe")
    with pytest.raises(ValueError, match="prefix"):
        open_store("dotenv://?prefix=1BAD")


def test_doc_a_missing_file_holds_nothing_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "absent.env"
    with SecretStore(DotenvBackend(path=str(path)), cache=None) as store:
        with pytest.raises(SecretNotFoundError) as info:
            store.get("db-password")
        assert "DB_PASSWORD" in str(info.value) and "does not exist" in str(info.value)
        assert list(store.list()) == []
        path.write_text("DB_PASSWORD=now\n")  # read afresh at every call
        assert store.get("db-password").value.reveal() == "now"


def test_doc_writes_are_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("DB_PASSWORD=v\n")
    backend = DotenvBackend(path=str(path))
    with SecretStore(backend) as store:
        with pytest.raises(ReadOnlyError):
            store.put("db-password", CANARY)
        assert store.stats().backend_calls == 0
    with pytest.raises(ReadOnlyError, match=f"key DB_PASSWORD in {path}"):
        backend.put("db-password", CANARY)
    assert path.read_text() == "DB_PASSWORD=v\n"


def test_doc_bad_encoding_never_shows_the_file(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes(b"DB_PASSWORD=" + CANARY.encode() + b"\xff\xfe\n")
    with SecretStore(DotenvBackend(path=str(path)), retry=RetryPolicy.never()) as store:
        with pytest.raises(InvalidArgumentError) as info:
            store.get("db-password")
        assert "not valid utf-8" in str(info.value)
        assert info.value.__cause__ is None and info.value.__context__ is None
        assert CANARY not in repr(info.value)
    with SecretStore(DotenvBackend(path=str(path), encoding="latin-1")) as store:
        assert store.get("db-password").value.reveal().startswith(CANARY)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_doc_an_unreadable_file_is_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(f"DB_PASSWORD={CANARY}\n")
    path.chmod(0)
    with SecretStore(DotenvBackend(path=str(path)), retry=RetryPolicy.never()) as store:
        with pytest.raises(PermissionDeniedError) as info:
            store.get("db-password")
        assert (info.value.backend, info.value.name) == ("dotenv", "db-password")
        assert CANARY not in str(info.value)


def test_import_loads_no_dotenv() -> None:
    import subprocess
    import sys

    code = "import sys, helium_secrets; print('dotenv' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_os_errors_are_classified_without_the_file(tmp_path: Path) -> None:
    from helium_secrets.errors import ErrorCode

    backend = DotenvBackend(path=str(tmp_path / ".env"))
    denied = backend.classify(PermissionError(13, CANARY))
    assert denied is not None and denied.code is ErrorCode.PERMISSION_DENIED
    other = backend.classify(OSError(5, CANARY))
    assert other is not None and other.code is ErrorCode.UNAVAILABLE and other.transient is False
    assert CANARY not in (denied.message or "") + (other.message or "")
    assert backend.classify(ValueError()) is None


# -- writes (writable=True) -----------------------------------------------------------------


class WritableDotenvHarness(DotenvHarness):
    def make_backend(self) -> DotenvBackend:
        return DotenvBackend(path=str(self.path), prefix="HS_", writable=True)


class TestWritableDotenvConformance(BackendConformance):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Iterator[WritableDotenvHarness]:
        with WritableDotenvHarness(tmp_path / ".env") as harness:
            yield harness


VALUES = ["plain", "with spaces", 'double "quotes"', "single 'quotes'", "back\\slash \\n",
          "new\nlines\n", "carriage\r\nreturn", "tab\there", "# not a comment", "a=b=c",
          "$HOME ${HOME} $$", "pässwörd-密码-🔑", " padded ", "", "trailing backslash\\",
          '{"json": ["x", 1]}', CANARY]


def test_written_values_read_back_exactly_by_python_dotenv(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    with SecretStore(DotenvBackend(path=str(path), writable=True), cache=None) as store:
        for i, value in enumerate(VALUES):
            store.put(f"v{i}", value)
        expected = {f"V{i}": value for i, value in enumerate(VALUES)}
        assert dotenv.dotenv_values(path, interpolate=False) == expected
        for i, value in enumerate(VALUES):
            assert store.get(f"v{i}").value.reveal() == value


def test_writes_keep_comments_order_and_other_lines(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    original = ("# database\r\nexport DB_PASSWORD='old'   # rotated monthly\r\n\r\n"
                "lower=kept as is\nDUP=1\nAPI_KEY=k\nDUP=2\nBARE\n# end")
    path.write_bytes(original.encode())
    with SecretStore(DotenvBackend(path=str(path), writable=True), cache=None) as store:
        store.put("db-password", "new")
        store.put("dup", "one")
        store.put("added", "a")
        assert path.read_bytes().decode() == (
            "# database\r\nexport DB_PASSWORD=\"new\"\n\r\n"
            "lower=kept as is\nDUP=\"one\"\nAPI_KEY=k\nBARE\n# end\nADDED=\"a\"\n")
        store.delete("api-key")
        assert "API_KEY" not in path.read_text()
        with pytest.raises(SecretNotFoundError):
            store.delete("api-key")
        with pytest.raises(SecretNotFoundError):
            store.delete("bare")  # a key without a value is not set
    assert sorted(p.name for p in tmp_path.iterdir()) == [".env", ".env.lock"]  # no temp file


def test_a_write_creates_the_file_private(tmp_path: Path) -> None:
    path = tmp_path / "new.env"
    with SecretStore(DotenvBackend(path=str(path), writable=True)) as store:
        store.put("token", CANARY)
        assert store.get("token").value.reveal() == CANARY
    assert path.read_text() == f'TOKEN="{CANARY}"\n'
    assert path.stat().st_mode & 0o077 == 0


def test_writes_are_refused_before_any_call(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    with SecretStore(DotenvBackend(path=str(path), writable=True, interpolate=True),
                     retry=RetryPolicy.never()) as store:
        with pytest.raises(HeliumError):
            store.put("a", b"bytes")
        with pytest.raises(HeliumError):
            store.put("a", "v", metadata={"k": "v"})
        with pytest.raises(HeliumError):
            store.put("a", "v", labels=["blue"])
        assert store.stats().backend_calls == 0
        with pytest.raises(InvalidArgumentError, match="interpolate"):
            store.put("a", "${HOME}")
    assert not path.exists()


def test_concurrent_writers_lose_no_key(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    backends = [DotenvBackend(path=str(path), writable=True) for _ in range(4)]

    def write(w: int) -> None:
        for i in range(10):
            backends[w].put(f"w{w}-k{i}", f"v{i}")

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(dotenv.dotenv_values(path)) == 40
