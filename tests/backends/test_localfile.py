"""The local encrypted file store passes the conformance suite, keeps its data safe on disk,
refuses a wrong key or a damaged file without touching anything, and two processes writing at
once lose nothing."""

from __future__ import annotations

import base64
import errno
import multiprocessing
import os
import re
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from filelock import FileLock

from helium_secrets import RetryPolicy, Secret, SecretStore, open_store
from helium_secrets.backends.aio import AsyncLocalFileBackend
from helium_secrets.backends.localfile import (
    FORMAT_VERSION,
    KEY_ENV_VAR,
    PENDING,
    LocalFileBackend,
    default_path,
    default_url,
    generate_key,
)
from helium_secrets.errors import (
    ConflictError,
    HeliumError,
    IntegrityError,
    PermissionDeniedError,
    RotationTestFailed,
    SecretNotFoundError,
    UnauthenticatedError,
    UnavailableError,
    UnknownError,
    VersionNotFoundError,
)
from helium_secrets.testing import BackendHarness
from helium_secrets.testing.conformance import CANARY, BackendConformance

KEY = generate_key()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (except the lock file) and its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def secret_files(root: Path) -> list[Path]:
    return sorted((root / "secrets").glob("*.hsec"))


def no_retry_store(backend: LocalFileBackend) -> SecretStore:
    return SecretStore(backend, cache=None, retry=RetryPolicy.never())


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


# -- the conformance suite ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("conformance") / "store"


class LocalFileHarness(BackendHarness):
    """One directory is the service; each store opens its own instance on it, as another
    process would. Answers are lost at the driver boundary (the write is on disk, then the
    call fails)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def make_backend(self) -> LocalFileBackend:
        return LocalFileBackend(self.path, key=KEY)


class TestLocalFileConformance(BackendConformance):
    @pytest.fixture
    def harness(self, shared_dir: Path) -> Iterator[LocalFileHarness]:
        with LocalFileHarness(shared_dir) as harness:  # one directory for the whole module
            yield harness


# -- URLs, the default location ----------------------------------------------------------------


def test_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = LocalFileBackend.from_url(urlsplit("file:///srv/secrets%20dir"))
    assert plain.path == Path("/srv/secrets dir")
    assert LocalFileBackend.from_url(urlsplit("file://localhost/srv/x")).path == Path("/srv/x")
    monkeypatch.setenv("HOME", str(tmp_path))
    home = LocalFileBackend.from_url(urlsplit("file://~/secrets"))
    assert home.path == tmp_path / "secrets"
    monkeypatch.chdir(tmp_path)
    assert LocalFileBackend.from_url(urlsplit("file:rel/dir")).path == tmp_path / "rel" / "dir"
    options = LocalFileBackend.from_url(
        urlsplit("file:///srv/x?key_file=/etc/k&max_value_bytes=10&lock_timeout=2")
    )
    assert options.key_file == Path("/etc/k")
    assert options.capabilities.max_value_bytes == 10


def test_bad_urls_are_refused() -> None:
    with pytest.raises(ValueError, match="host 'example.com' is not supported"):
        LocalFileBackend.from_url(urlsplit("file://example.com/srv"))
    with pytest.raises(ValueError, match="unknown file:// URL option"):
        LocalFileBackend.from_url(urlsplit("file:///srv?colour=blue"))


def test_default_location_follows_xdg(tmp_path: Path) -> None:
    assert default_path({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "helium-secrets"
    home = Path(os.path.expanduser("~"))
    assert default_path({}) == home / ".local" / "share" / "helium-secrets"
    # The XDG spec says a relative XDG_DATA_HOME is invalid and ignored.
    assert default_path({"XDG_DATA_HOME": "rel"}) == home / ".local" / "share" / "helium-secrets"
    url = default_url({"XDG_DATA_HOME": str(tmp_path / "a b")})
    assert url == "file://" + str(tmp_path / "a%20b" / "helium-secrets")
    backend = LocalFileBackend.from_url(urlsplit("file://"), environ={"XDG_DATA_HOME": str(tmp_path)})
    assert backend.path == tmp_path / "helium-secrets"


def test_registry_default_is_the_file_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from helium_secrets import default_url as registry_default

    monkeypatch.delenv("HELIUM_SECRETS_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert registry_default() == default_url()
    with open_store(None, key=KEY) as store:
        assert isinstance(store.backend, LocalFileBackend)
        store.put("demo", "v")
    assert secret_files(tmp_path / "helium-secrets")


# -- keys ------------------------------------------------------------------------------------


def test_new_store_creates_a_private_key_file(root: Path) -> None:
    with no_retry_store(LocalFileBackend(root, environ={})) as store:
        assert list(store.list()) == []
        assert not root.exists(), "reading an empty store creates nothing"
        store.put("app/db", "v1")
    key_file = root / ".key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "secrets").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in secret_files(root))
    # A second instance finds the same key file and reads the data.
    with no_retry_store(LocalFileBackend(root, environ={})) as store:
        assert store.get("app/db").value.reveal() == "v1"


def test_key_file_option_creates_file_and_directory(tmp_path: Path, root: Path) -> None:
    key_file = tmp_path / "keys" / "store.key"
    with no_retry_store(LocalFileBackend(root, key_file=key_file, environ={})) as store:
        store.put("a", "v")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    assert not (root / ".key").exists()


def test_key_precedence(tmp_path: Path, root: Path) -> None:
    explicit, from_file, from_env = generate_key(), generate_key(), generate_key()
    key_file = tmp_path / "k"
    key_file.write_text(from_file)
    key_file.chmod(0o600)
    env = {KEY_ENV_VAR: from_env}
    # The store is created with the env key; each source then wins over the next one.
    with no_retry_store(LocalFileBackend(root, environ=env)) as store:
        store.put("a", "v")
    assert not (root / ".key").exists(), "an env key means no key file"

    def reads(**options: object) -> bool:
        with no_retry_store(LocalFileBackend(root, **options)) as store:  # type: ignore[arg-type]
            try:
                return store.get("a").value.reveal() == "v"
            except IntegrityError:
                return False

    assert reads(environ=env)
    assert not reads(environ=env, key_file=key_file), "key_file= beats the environment"
    assert not reads(environ=env, key=explicit), "key= beats the environment"
    assert reads(environ={}, key=from_env), "key= takes base64 text"
    assert reads(environ={}, key=base64.urlsafe_b64decode(from_env)), "or the raw 32 bytes"
    assert reads(environ={}, key=base64.b64encode(base64.urlsafe_b64decode(from_env)).decode())
    key_file.write_text(from_env)
    assert reads(environ={KEY_ENV_VAR: explicit}, key_file=key_file)
    assert not reads(environ={KEY_ENV_VAR: from_env}, key_file=key_file, key=explicit)


def test_missing_key_for_an_existing_store(root: Path) -> None:
    with no_retry_store(LocalFileBackend(root, environ={KEY_ENV_VAR: KEY})) as store:
        store.put("a", "v")
    before = snapshot(root)
    with no_retry_store(LocalFileBackend(root, environ={})) as store:
        with pytest.raises(UnauthenticatedError, match=KEY_ENV_VAR) as info:
            store.get("a")
        assert info.value.name == "a"
        assert info.value.backend == "file"
        with pytest.raises(UnauthenticatedError):
            store.put("b", "v")
    assert snapshot(root) == before, "no key file is made up for an existing store"


def test_bad_key_text_is_refused_without_echoing_it(root: Path) -> None:
    bad = "not-a-key-" + CANARY
    store = no_retry_store(LocalFileBackend(root, environ={KEY_ENV_VAR: bad}))
    with pytest.raises(UnauthenticatedError) as info:
        store.put("a", "v")
    assert CANARY not in str(info.value)
    with pytest.raises(ValueError, match="32 bytes"):
        LocalFileBackend(root, key=b"short")


def test_key_file_readable_by_others_is_refused(root: Path) -> None:
    with no_retry_store(LocalFileBackend(root, environ={})) as store:
        store.put("a", "v")
    (root / ".key").chmod(0o644)
    store = no_retry_store(LocalFileBackend(root, environ={}))
    with pytest.raises(UnauthenticatedError, match="chmod 600"):
        store.get("a")


# -- wrong key, damaged files: a clear error and nothing overwritten -----------------------------


@pytest.fixture
def populated(root: Path) -> Path:
    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:
        store.put("app/db", CANARY)
        store.put("app/db", CANARY + "-2", labels=["blue"])
        store.put("app/other", "x")
    return root


def test_wrong_key_fails_every_operation_and_touches_nothing(populated: Path) -> None:
    before = snapshot(populated)
    with no_retry_store(LocalFileBackend(populated, key=generate_key())) as store:
        for call in (
            lambda: store.get("app/db"),
            lambda: store.put("app/db", "new"),
            lambda: store.put("brand-new", "new"),  # even a secret the store doesn't have
            lambda: store.delete("app/db"),
            lambda: store.set_label("app/db", "green", "1"),
            lambda: list(store.list()),
            lambda: store.versions("app/db"),
        ):
            with pytest.raises(IntegrityError, match="different key") as info:
                call()
            assert str(populated / "store.hsec") in str(info.value)
            assert CANARY not in str(info.value)
    assert snapshot(populated) == before


def damage(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("flip-ciphertext", "damaged (authentication failed)"),
        ("flip-nonce", "damaged (authentication failed)"),
        ("truncate", "damaged (truncated)"),
        ("magic", "not a helium-secrets file"),
        ("future-format", "format 2"),
        ("other-key-id", "different key"),
    ],
)
def test_damaged_file_is_a_clear_error_and_is_not_overwritten(
    populated: Path, how: str, message: str
) -> None:
    backend = LocalFileBackend(populated, key=KEY)
    target = backend._file("app/db")
    if how == "flip-ciphertext":
        damage(target, len(target.read_bytes()) - 20)
    elif how == "flip-nonce":
        damage(target, 4 + 1 + 8)
    elif how == "truncate":
        target.write_bytes(target.read_bytes()[:30])
    elif how == "magic":
        damage(target, 0)
    elif how == "future-format":
        data = bytearray(target.read_bytes())
        data[4] = FORMAT_VERSION + 1
        target.write_bytes(bytes(data))
    elif how == "other-key-id":
        damage(target, 5)
    before = snapshot(populated)
    with no_retry_store(backend) as store:
        for call in (
            lambda: store.get("app/db"),
            lambda: store.put("app/db", "new"),
            lambda: store.delete("app/db"),
            lambda: store.set_label("app/db", "green", "1"),
        ):
            with pytest.raises(IntegrityError, match=re.escape(message)) as info:
                call()
            assert str(target) in str(info.value)
            assert CANARY not in str(info.value)
            assert info.value.__cause__ is None or CANARY not in str(info.value.__cause__)
        # The other secrets stay readable and writable.
        assert store.get("app/other").value.reveal() == "x"
        store.put("app/other", "y")
    after = snapshot(populated)
    assert after[str(target.relative_to(populated))] == before[str(target.relative_to(populated))]


def test_a_file_copied_over_another_secret_is_detected(populated: Path) -> None:
    backend = LocalFileBackend(populated, key=KEY)
    backend._file("app/other").write_bytes(backend._file("app/db").read_bytes())
    store = no_retry_store(backend)
    with pytest.raises(IntegrityError, match="holds another secret"):
        store.get("app/other")


def test_missing_store_file_is_detected(populated: Path) -> None:
    (populated / "store.hsec").unlink()
    store = no_retry_store(LocalFileBackend(populated, key=KEY))
    with pytest.raises(IntegrityError, match="store.hsec is missing"):
        store.get("app/db")


# -- what is on disk -------------------------------------------------------------------------


def test_on_disk_format_is_encrypted_and_versioned(populated: Path) -> None:
    files = secret_files(populated)
    assert len(files) == 2
    for path in [*files, populated / "store.hsec"]:
        data = path.read_bytes()
        assert data[:4] == b"HSEC"
        assert data[4] == FORMAT_VERSION
        assert CANARY.encode() not in data
        assert b"app/db" not in data, "names are encrypted too"
    leftovers = [p for p in populated.rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []


def test_data_survives_a_new_instance(populated: Path) -> None:
    fixed = LocalFileBackend(populated, key=KEY)
    fixed.put("meta", "v", metadata={"owner": "team-a"}, request_token="tok-1")
    with no_retry_store(LocalFileBackend(populated, key=KEY)) as store:
        secret = store.get("app/db", label="blue")
        assert secret.value.reveal() == CANARY + "-2"
        assert [v.version for v in store.versions("app/db")] == ["1", "2"]
        assert store.get("app/db", "1").value.reveal() == CANARY
        assert dict(store.get("meta").metadata) == {"owner": "team-a"}
        assert list(store.list("app/")) == ["app/db", "app/other"]
    # The idempotency token outlives the process that wrote it.
    again = LocalFileBackend(populated, key=KEY).put("meta", "v", request_token="tok-1")
    assert again.version == "1"
    assert len(LocalFileBackend(populated, key=KEY).list_versions("meta")) == 1


def test_odd_text_round_trips(root: Path) -> None:
    odd = "NUL \x00, emoji \U0001f511, quote \" and backslash \\"
    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:
        store.put("odd", odd)
        store.put("empty", "")
    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:
        assert store.get("odd").value.reveal() == odd
        assert store.get("empty").value.reveal() == ""
        assert not store.get("empty").value.is_binary


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores permissions")
def test_unwritable_directory_is_permission_denied(root: Path) -> None:
    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:
        store.put("a", "v")
        (root / "secrets").chmod(0o500)
        try:
            with pytest.raises(PermissionDeniedError, match="secrets"):
                store.put("a", "w")
        finally:
            (root / "secrets").chmod(0o700)


def test_delete_removes_the_file(populated: Path) -> None:
    with no_retry_store(LocalFileBackend(populated, key=KEY)) as store:
        store.delete("app/db")
        assert len(secret_files(populated)) == 1
        with pytest.raises(SecretNotFoundError):
            store.get("app/db")


def test_lock_timeout_is_a_transient_unavailable_error(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY, lock_timeout=0.05)
    with no_retry_store(backend) as store:
        store.put("a", "v")
        before = snapshot(root)
        # Another holder of the lock file: a separate FileLock object, as another process has.
        with FileLock(str(root / ".lock"), thread_local=False, is_singleton=False):
            with pytest.raises(UnavailableError, match="lock") as info:
                store.put("a", "w")
            assert info.value.transient
            assert store.get("a").value.reveal() == "v", "readers take no lock"
        assert snapshot(root) == before
        store.put("a", "w")


# -- staged rotation -------------------------------------------------------------------------


def test_staged_rotation_promotes_and_survives_a_new_instance(root: Path) -> None:
    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:
        store.put("db", "one")
        during: list[str] = []

        def test(pending: Secret) -> bool:
            # Another process (a new instance) still reads the current version meanwhile.
            during.append(LocalFileBackend(root, key=KEY).get("db").value)  # type: ignore[arg-type]
            assert PENDING in pending.labels
            return True

        promoted = store.rotate_staged("db", lambda: "two", test)
        assert during == ["one"]
    fresh = LocalFileBackend(root, key=KEY)
    assert fresh.get("db").value == "two"
    assert fresh.current_version("db").version == promoted.version
    assert PENDING not in fresh.get("db").labels
    # A plain put after a staged rotation is current again, as always.
    third = fresh.put("db", "three")
    assert fresh.current_version("db").version == third.version


def test_staged_rotation_rolls_back_and_destroys_the_value(root: Path) -> None:
    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:
        store.put("db", "one")
        with pytest.raises(RotationTestFailed) as info:
            store.rotate_staged("db", lambda: CANARY, lambda pending: False)
        assert store.get("db").value.reveal() == "one"
        states = {v.version: v.state for v in store.versions("db")}
        assert states == {"1": "enabled", info.value.version: "destroyed"}
        with pytest.raises(VersionNotFoundError) as gone:
            store.get("db", info.value.version)
        assert gone.value.message == "version is destroyed"
    # The discarded value is gone from the (decrypted) document, not just hidden.
    from helium_secrets.backends.localfile.envelope import open_file

    backend = LocalFileBackend(root, key=KEY)
    document = open_file(backend._file("db"), base64.urlsafe_b64decode(KEY))
    assert CANARY not in str(document)


def test_staging_checks_the_current_version_and_tokens(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY)
    with pytest.raises(SecretNotFoundError):
        backend.stage("db", "x", expected_current=None)
    first = backend.put("db", "one")
    with pytest.raises(ConflictError):
        backend.stage("db", "x", expected_current="7")
    staged = backend.stage("db", "two", expected_current=first.version, request_token="tok")
    again = backend.stage("db", "two", expected_current=first.version, request_token="tok")
    assert again.version == staged.version
    assert len(backend.list_versions("db")) == 2
    assert backend.get("db").version == first.version
    assert backend.get("db", label=PENDING).value == "two"
    with pytest.raises(ConflictError):
        backend.discard("db", first.version)  # the current version can't be discarded
    with pytest.raises(ConflictError):
        backend.promote("db", staged.version, expected_current="7")
    backend.promote("db", staged.version, expected_current=first.version)
    assert backend.get("db").version == staged.version
    with pytest.raises(VersionNotFoundError):
        backend.promote("db", "42", expected_current=None)


# -- two processes writing at once -------------------------------------------------------------

WRITES_PER_PROCESS = 40
WRITERS = 3


def _writer(path: str, key: str, worker: int, start: multiprocessing.synchronize.Event) -> None:
    backend = LocalFileBackend(path, key=key, lock_timeout=120)
    start.wait(60)
    for i in range(WRITES_PER_PROCESS):
        backend.put("shared", f"w{worker}-{i}")
        backend.put(f"own/{worker}", f"w{worker}-{i}")


def test_processes_writing_at_once_lose_nothing(root: Path) -> None:
    # spawn: a fresh interpreter per writer, as two separate programs would be.
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    workers = [
        ctx.Process(target=_writer, args=(str(root), KEY, n, start)) for n in range(WRITERS)
    ]
    for proc in workers:
        proc.start()
    start.set()
    for proc in workers:
        proc.join(240)
    assert [proc.exitcode for proc in workers] == [0] * WRITERS

    backend = LocalFileBackend(root, key=KEY)
    versions = backend.list_versions("shared")
    total = WRITERS * WRITES_PER_PROCESS
    assert [v.version for v in versions] == [str(i) for i in range(1, total + 1)]
    values = {backend.get("shared", v.version).value for v in versions}
    assert values == {f"w{n}-{i}" for n in range(WRITERS) for i in range(WRITES_PER_PROCESS)}
    for n in range(WRITERS):
        own = [backend.get(f"own/{n}", v.version).value for v in backend.list_versions(f"own/{n}")]
        assert own == [f"w{n}-{i}" for i in range(WRITES_PER_PROCESS)], "each writer's order kept"
    assert list(backend.list_names()) == [*(f"own/{n}" for n in range(WRITERS)), "shared"]


def test_threads_and_instances_writing_at_once_lose_nothing(root: Path) -> None:
    # Threads sharing one instance, and instances sharing one directory, in one process.
    shared = LocalFileBackend(root, key=KEY)
    backends = [shared, shared, LocalFileBackend(root, key=KEY), LocalFileBackend(root, key=KEY)]
    start = threading.Barrier(len(backends))

    def write(n: int) -> None:
        start.wait(60)
        for i in range(10):
            backends[n].put("shared", f"t{n}-{i}", request_token=f"t{n}-{i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(len(backends))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    versions = shared.list_versions("shared")
    assert [v.version for v in versions] == [str(i) for i in range(1, 41)]
    assert {shared.get("shared", v.version).value for v in versions} == {
        f"t{n}-{i}" for n in range(len(backends)) for i in range(10)
    }


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_store_directory_permissions_of_an_existing_dir_are_kept(tmp_path: Path) -> None:
    # A directory the user made (e.g. a mounted volume) is used as is; only new ones are 0700.
    tmp_path.chmod(0o755)
    with no_retry_store(LocalFileBackend(tmp_path, key=KEY)) as store:
        store.put("a", "v")
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700


# -- documented behaviour (docs/backends/file.md, checked black-box through the public API) ----


def decrypt_as_documented(path: Path, key_text: str) -> dict[str, object]:
    """Read a ``.hsec`` file by the format page alone, without the backend's code."""
    import hashlib
    import hmac
    import json

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = base64.urlsafe_b64decode(key_text)
    data = path.read_bytes()
    assert data[0:4] == b"HSEC"
    assert data[4] == 1
    assert data[5:13] == hmac.new(key, b"helium-secrets key id v1", hashlib.sha256).digest()[:8]
    nonce, header = data[13:25], data[:25]
    plaintext = AESGCM(key).decrypt(nonce, data[25:], header)
    assert plaintext.isascii(), "the JSON is written with ASCII escapes"
    doc = json.loads(plaintext)
    assert isinstance(doc, dict)
    return doc


def test_doc_on_disk_format_version_1_reads_as_documented(root: Path) -> None:
    from datetime import datetime

    with open_store(root.as_uri(), key=KEY, cache=None) as store:
        store.put("app/db", "h\u00e9llo", metadata={"owner": "team-a"})
        store.put("app/db", b"\x00\x01\x02", labels=["blue"])
    store_doc = decrypt_as_documented(root / "store.hsec", KEY)
    assert store_doc["kind"] == "store" and store_doc["format"] == 1
    assert datetime.fromisoformat(str(store_doc["created_at"])).utcoffset() is not None
    import hashlib

    path = root / "secrets" / (hashlib.sha256(b"app/db").hexdigest() + ".hsec")
    assert secret_files(root) == [path]
    doc = decrypt_as_documented(path, KEY)
    assert doc["kind"] == "secret" and doc["name"] == "app/db"
    assert doc["next_version"] == 3
    assert "current" not in doc, "absent until a version is first staged"
    assert doc["metadata"] == {"owner": "team-a"}
    versions = doc["versions"]
    assert isinstance(versions, list)
    assert [(v["id"], v["labels"], v["state"], v["type"], v["value"]) for v in versions] == [
        ("1", [], "enabled", "text", "h\u00e9llo"),
        ("2", ["blue"], "enabled", "bytes", base64.b64encode(b"\x00\x01\x02").decode()),
    ]
    for v in versions:
        assert datetime.fromisoformat(v["created_at"]).utcoffset() is not None
    # Every write draws a new nonce.
    nonces = {p.read_bytes()[13:25] for p in [path, root / "store.hsec"]}
    assert len(nonces) == 2


def test_doc_tokens_staging_and_destroyed_versions_on_disk(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY)
    backend.put("db", "one", request_token="tok-a")
    staged = backend.stage("db", CANARY, expected_current="1", request_token="tok-b")
    path = backend._file("db")
    doc = decrypt_as_documented(path, KEY)
    assert doc["current"] == "1", "present once a version is staged"
    assert doc["tokens"] == [["tok-a", "1"], ["tok-b", staged.version]]
    backend.discard("db", staged.version)
    doc = decrypt_as_documented(path, KEY)
    versions = doc["versions"]
    assert isinstance(versions, list)
    assert versions[-1]["state"] == "destroyed"
    assert versions[-1]["value"] == "" and versions[-1]["type"] == "text"
    # A put after a staged version is current, and "current" says so.
    third = backend.put("db", "three")
    assert decrypt_as_documented(path, KEY)["current"] == third.version == "3"


def test_doc_the_last_100_tokens_are_remembered(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY)
    for i in range(101):
        backend.put("db", f"v{i}", request_token=f"tok-{i}")
    # The newest 100 are recognised; the oldest was forgotten.
    assert backend.put("db", "v1", request_token="tok-1").version == "2"
    assert backend.put("db", "v100", request_token="tok-100").version == "101"
    assert len(backend.list_versions("db")) == 101
    assert backend.put("db", "v0", request_token="tok-0").version == "102"
    doc = decrypt_as_documented(backend._file("db"), KEY)
    tokens = doc["tokens"]
    assert isinstance(tokens, list) and len(tokens) == 100
    assert tokens[-1] == ["tok-0", "102"], "newest last"


def test_doc_delete_removes_every_version_and_ids_restart(root: Path) -> None:
    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:
        store.put("db", "one")
        store.put("db", "two")
        store.delete("db")
        assert secret_files(root) == []
        with pytest.raises(SecretNotFoundError) as info:
            store.versions("db")
        assert (info.value.backend, info.value.name) == ("file", "db")
        assert store.put("db", "again").version == "1"
        assert [v.version for v in store.versions("db")] == ["1"]


def test_doc_labels_move_and_metadata_updates(root: Path) -> None:
    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:
        store.put("db", "one", labels=["blue"], metadata={"owner": "a", "team": "x"})
        store.put("db", "two", labels=["blue"], metadata={"owner": "b"})
        assert {v.version: v.labels for v in store.versions("db")} == {
            "1": frozenset(), "2": frozenset({"blue"})
        }
        store.set_label("db", "blue", "1")
        assert store.get("db", label="blue").version == "1"
        assert store.get("db", "2").labels == frozenset()
        store.set_label("db", "blue", None)
        with pytest.raises(VersionNotFoundError):
            store.get("db", label="blue")
        with pytest.raises(VersionNotFoundError) as info:
            store.set_label("db", "blue", "9")
        assert (info.value.backend, info.value.name) == ("file", "db")
        assert dict(store.get("db").metadata) == {"owner": "b", "team": "x"}


def test_doc_value_limit_is_64_kib_in_encoded_bytes_before_any_call(root: Path) -> None:
    from helium_secrets.errors import TooLargeError

    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:
        with pytest.raises(TooLargeError) as info:
            store.put("big", "\u00e9" * 32769)  # 32,769 characters, 65,538 bytes in UTF-8
        assert (info.value.backend, info.value.name) == ("file", "big")
        with pytest.raises(TooLargeError):
            store.put("big", b"x" * 65537)
        assert store.stats().backend_calls == 0
        assert not root.exists(), "nothing was written"
        store.put("big", b"x" * 65536)
        store.put("big", "\u00e9" * 32768)
        assert store.get("big").value.reveal() == "\u00e9" * 32768
    with open_store(root.as_uri() + "?max_value_bytes=10", key=KEY) as small, \
            pytest.raises(TooLargeError):
        small.put("small", "x" * 11)


def test_doc_names_are_portable_names_up_to_512_characters(root: Path) -> None:
    from helium_secrets.errors import InvalidNameError

    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:
        long = "a/" * 255 + "bc"
        assert len(long) == 512
        store.put(long, "v")
        assert list(store.list("a/")) == [long]
        calls = store.stats().backend_calls
        with pytest.raises(InvalidNameError):
            store.put(long + "d", "v")
        assert store.stats().backend_calls == calls


def test_doc_url_forms_default_and_home_of_a_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    env = {"XDG_DATA_HOME": str(tmp_path)}
    for url in ("file://", "file:"):
        with open_store(url, environ=env, key=KEY) as store:
            assert isinstance(store.backend, LocalFileBackend)
            assert store.backend.path == tmp_path / "helium-secrets"
    user = getpass.getuser()
    backend = LocalFileBackend.from_url(urlsplit(f"file://~{user}/dir"))
    assert backend.path == Path(os.path.expanduser(f"~{user}")) / "dir"
    # lock_timeout from the URL reaches the lock.
    timed = LocalFileBackend.from_url(urlsplit(f"{(tmp_path / 's').as_uri()}?lock_timeout=0.05"))
    timed.put("a", "v")
    other = FileLock(str(tmp_path / "s" / ".lock"), thread_local=False, is_singleton=False)
    with other, pytest.raises(UnavailableError):
        no_retry_store(timed).put("a", "w")


def test_doc_key_in_the_standard_alphabet_without_padding(root: Path) -> None:
    raw = base64.urlsafe_b64decode(KEY)
    standard = base64.b64encode(raw).decode().rstrip("=")
    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:
        store.put("a", "v")
    for text in (standard, KEY.rstrip("="), f"  {KEY}\n"):
        with no_retry_store(LocalFileBackend(root, environ={KEY_ENV_VAR: text})) as store:
            assert store.get("a").value.reveal() == "v"


def test_doc_a_leftover_temporary_file_is_ignored(populated: Path) -> None:
    leftover = populated / "secrets" / ".tmp-crashed.part"
    leftover.write_bytes(b"half a file")
    with no_retry_store(LocalFileBackend(populated, key=KEY)) as store:
        assert list(store.list()) == ["app/db", "app/other"]
        store.put("app/db", "next")
        assert store.get("app/db").value.reveal() == "next"


def test_doc_created_at_comes_from_the_clock_option(root: Path) -> None:
    from datetime import datetime, timezone

    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    with no_retry_store(LocalFileBackend(root, key=KEY, clock=lambda: moment)) as store:
        assert store.put("a", "v").created_at == moment
        assert store.get("a").created_at == moment


def test_doc_a_write_without_store_file_writes_nothing(populated: Path) -> None:
    # The store exists (it has secrets) but store.hsec is gone: the key can no longer be
    # checked, so a write must not make up a new store (with whatever key it has) over it.
    (populated / "store.hsec").unlink()
    before = snapshot(populated)
    with no_retry_store(LocalFileBackend(populated, key=generate_key())) as store:
        for name in ("brand-new", "app/db"):
            with pytest.raises(IntegrityError, match="store.hsec is missing") as info:
                store.put(name, "v")
            assert (info.value.backend, info.value.name) == ("file", name)
    assert snapshot(populated) == before


def test_doc_unknown_format_names_the_file_and_both_formats(populated: Path) -> None:
    backend = LocalFileBackend(populated, key=KEY)
    target = backend._file("app/db")
    data = bytearray(target.read_bytes())
    data[4] = 7
    target.write_bytes(bytes(data))
    with pytest.raises(IntegrityError) as info:
        no_retry_store(backend).get("app/db")
    message = str(info.value)
    assert str(target) in message and "format 7" in message and "format 1" in message
    assert (info.value.backend, info.value.name) == ("file", "app/db")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_doc_every_file_written_is_private_except_the_lock(root: Path) -> None:
    with no_retry_store(LocalFileBackend(root, environ={})) as store:
        store.put("a", "v")
        store.put("a", "w")
    for path in root.rglob("*"):
        if path.is_file() and path.name != ".lock":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    assert {p.name for p in root.iterdir()} == {"store.hsec", ".key", ".lock", "secrets"}


@pytest.mark.parametrize("query", [
    "max_value_bytes=big", "lock_timeout=soon", "max_value_bytes=0", "lock_timeout=-1",
    "lock_timeout=nan",
])
def test_doc_bad_option_values_are_refused_when_opening(tmp_path: Path, query: str) -> None:
    # A negative lock_timeout would make filelock wait forever: refused, not obeyed.
    with pytest.raises(ValueError, match="max_value_bytes|lock_timeout"):
        open_store(f"{tmp_path.as_uri()}?{query}", key=KEY)
    assert list(tmp_path.iterdir()) == []


def test_doc_metadata_read_after_a_put_is_the_secrets_metadata(root: Path) -> None:
    with SecretStore(LocalFileBackend(root, key=KEY)) as store:
        store.put("db", "one", metadata={"owner": "a", "team": "x"})
        store.put("db", "two")  # "a write with metadata= updates it": none given, none changed
        assert dict(store.get("db").metadata) == {"owner": "a", "team": "x"}


@pytest.mark.parametrize("key", ["c2hvcnQ", "not base64 at all " + CANARY, b"short"])
def test_doc_a_bad_key_option_is_a_value_error_when_opening(
    tmp_path: Path, key: str | bytes
) -> None:
    # The key= option is an argument: refused when the store opens, like every bad option,
    # without echoing it.
    with pytest.raises(ValueError, match="key= option|32 bytes") as info:
        open_store(tmp_path.as_uri(), key=key)
    assert CANARY not in str(info.value)
    assert info.value.__cause__ is None or CANARY not in str(info.value.__cause__)
    assert list(tmp_path.iterdir()) == []


# -- issue 11: what one damaged or stray file costs ------------------------------------------


@pytest.mark.parametrize("how", ["flip-ciphertext", "truncate", "other-key-id", "renamed",
                                 "stray-junk", "stray-directory", "store-file-copy"])
def test_list_skips_a_file_it_cannot_read_and_names_it_in_a_warning(
    populated: Path, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    backend = LocalFileBackend(populated, key=KEY)
    target = backend._file("app/db")
    if how == "flip-ciphertext":
        damage(target, len(target.read_bytes()) - 20)
    elif how == "truncate":
        target.write_bytes(target.read_bytes()[:30])
    elif how == "other-key-id":
        damage(target, 5)
    elif how == "renamed":  # a good file under a name that is not its secret's hash
        target = target.rename(target.with_name("0" * 64 + ".hsec"))
    elif how == "stray-junk":
        target = populated / "secrets" / "notes.hsec"
        target.write_bytes(b"not a secret " + CANARY.encode())
    elif how == "stray-directory":
        target = populated / "secrets" / "backup.hsec"
        target.mkdir()
    elif how == "store-file-copy":
        target = populated / "secrets" / "copy.hsec"
        target.write_bytes((populated / "store.hsec").read_bytes())
    listed = {"flip-ciphertext": ["app/other"], "truncate": ["app/other"],
              "other-key-id": ["app/other"], "renamed": ["app/other"]}.get(
                  how, ["app/db", "app/other"])
    caplog.set_level("WARNING", logger="helium_secrets")
    with no_retry_store(backend) as store:
        assert list(store.list()) == listed
        assert list(store.list("app/")) == listed
        warnings = [r for r in caplog.records if r.levelname == "WARNING"]
        assert warnings and all(str(target) in r.getMessage() for r in warnings)
        assert all(CANARY not in r.getMessage() for r in caplog.records)
        if listed == ["app/other"] and how != "renamed":
            # A damaged secret is still a clear error when read, as before.
            with pytest.raises(IntegrityError) as info:
                store.get("app/db")
            assert str(target) in str(info.value)
        # The other secrets stay readable and writable.
        assert store.get("app/other").value.reveal() == "x"
        store.put("app/other", "y")


# -- issue 11: the key file changing under a running process ---------------------------------


@pytest.mark.parametrize("where", ["default", "key_file"])
@pytest.mark.parametrize("change", ["deleted", "replaced", "opened-up"])
def test_a_write_after_the_key_file_changed_is_refused_and_writes_nothing(
    tmp_path: Path, root: Path, where: str, change: str
) -> None:
    options: dict[str, object] = {"environ": {}}
    if where == "key_file":
        options["key_file"] = tmp_path / "keys" / "app.key"
    with no_retry_store(LocalFileBackend(root, **options)) as store:  # type: ignore[arg-type]
        store.put("app/db", CANARY)
        backend = store.backend
        assert isinstance(backend, LocalFileBackend) and backend.key_file is not None
        key_file = backend.key_file
        original = key_file.read_text()
        if change == "deleted":
            key_file.unlink()
        elif change == "replaced":
            key_file.unlink()
            key_file.write_text(generate_key())
            key_file.chmod(0o600)
        else:  # a key file others can read is refused by a new process too
            key_file.chmod(0o644)
        before = snapshot(root)
        expected = IntegrityError if change == "replaced" else UnauthenticatedError
        for write in (lambda: store.put("app/db", "next"), lambda: store.put("new", "v"),
                      lambda: store.delete("app/db"),
                      lambda: store.set_label("app/db", "blue", "1")):
            with pytest.raises(expected) as info:
                write()
            message = str(info.value)
            assert str(key_file) in message
            assert "; nothing was written, since no new process could read it" in message
            if change == "deleted":
                assert info.value.message.endswith(
                    "was deleted while the store was open; nothing was written, since no new "
                    "process could read it: put the key file back, or reopen the store with "
                    "its key")
            assert original.strip() not in message and CANARY not in message
            assert info.value.__cause__ is None or original.strip() not in str(info.value.__cause__)
        assert snapshot(root) == before, "nothing written, nothing deleted"
        # Reads of what is stored keep working in this process.
        assert store.get("app/db").value.reveal() == CANARY
        # With the key back, writes work again, and a new process reads them.
        key_file.unlink(missing_ok=True)
        key_file.write_text(original)
        key_file.chmod(0o600)
        store.put("app/db", "next")
    with no_retry_store(LocalFileBackend(root, **options)) as fresh:  # type: ignore[arg-type]
        assert fresh.get("app/db").value.reveal() == "next"


def test_a_key_that_is_not_from_a_file_needs_no_key_file(root: Path) -> None:
    # key= and HELIUM_SECRETS_KEY read no file, so a stray .key appearing or going is ignored.
    for options in ({"key": KEY, "environ": {}}, {"environ": {KEY_ENV_VAR: KEY}}):
        with no_retry_store(LocalFileBackend(root, **options)) as store:
            store.put("a", "v")
            (root / ".key").write_text(generate_key())
            store.put("a", "w")
            (root / ".key").unlink()
            store.put("a", "x")


# -- issue 11: fork safety -------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork() on this platform")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_child_forked_while_a_put_runs_gets_fresh_locks(root: Path) -> None:
    from datetime import datetime, timezone

    from tests.backends.forking import fork_and_run

    entered, release = threading.Event(), threading.Event()

    def clock() -> datetime:  # called while the put holds the write lock: hold it there
        if threading.current_thread().name == "holder":
            entered.set()
            release.wait(60)
        return datetime.now(timezone.utc)

    backend = LocalFileBackend(root, key=KEY, clock=clock)
    backend.put("a", "1")
    holder = threading.Thread(target=backend.put, args=("a", "2"), name="holder", daemon=True)
    holder.start()
    assert entered.wait(60)

    def child() -> None:
        assert backend.get("a").value in ("1", "2")  # the parent's put may be done by now
        backend.put("b", "x")  # waits for the parent's writer to let go of the lock file
        assert list(backend.list_names()) == ["a", "b"]

    status = fork_and_run(child, then=release.set)
    holder.join(60)
    assert status == 0, f"the child ended with {status} (-1: hung on a lock)"
    assert backend.get("a").value == "2"
    assert backend.get("b").value == "x"
    backend.put("c", "y")  # and the parent's own locks still work


# -- issue 11: deletion is portable ----------------------------------------------------------


def test_reads_after_delete_are_not_found(root: Path) -> None:
    from tests.backends.deletion import assert_reads_after_delete_are_not_found

    with SecretStore(LocalFileBackend(root, key=KEY)) as store:
        assert_reads_after_delete_are_not_found(store, "app/deleted")


# -- issue 21: check-and-set around a staged version; a write that fails part-way ------------


def test_check_and_set_compares_with_the_current_version_not_the_newest(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY)
    first = backend.put("db", "one")
    staged = backend.stage("db", "two", expected_current=first.version)
    with pytest.raises(ConflictError):
        backend.put("db", "x", expected_version=staged.version)  # pending is not current
    second = backend.put("db", "three", expected_version=first.version)
    assert (backend.get("db").version, backend.get("db").value) == (second.version, "three")
    rolled_back = backend.stage("db", "four", expected_current=second.version)
    backend.discard("db", rolled_back.version)
    # The newest version is the destroyed one; the current one is still second.
    third = backend.put("db", "five", expected_version=second.version)
    with no_retry_store(backend) as store:
        assert store.rotate("db", lambda: "six").version != third.version
        assert store.get("db").value.reveal() == "six"


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_write_that_fails_part_way_leaves_the_secret_as_it_was(
    root: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    backend = LocalFileBackend(root, key=KEY)
    with no_retry_store(backend) as store:
        store.put("db", "one")
        store.put("db", "two")
        before = snapshot(root)

        def disk_full(*args: object) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        # The envelope writes a temporary file, fsyncs it, then renames it over the old one.
        monkeypatch.setattr(os, step, disk_full)
        with pytest.raises(UnavailableError) as info:
            store.put("db", CANARY)
        monkeypatch.undo()
        assert CANARY not in str(info.value)
    assert snapshot(root) == before, "a file changed, went or was left behind"
    fresh = LocalFileBackend(root, key=KEY)
    assert fresh.get("db").value == "two"
    assert [fresh.get("db", v.version).value for v in fresh.list_versions("db")] == ["one", "two"]


def test_every_write_seals_with_a_fresh_nonce(root: Path) -> None:
    from helium_secrets.backends.localfile.envelope import seal

    key = base64.urlsafe_b64decode(KEY)
    doc = {"kind": "secret", "versions": []}
    assert seal(key, doc) != seal(key, doc), "the same document sealed twice is the same bytes"
    backend = LocalFileBackend(root, key=KEY)
    backend.put("a", "same")
    first = secret_files(root)[0].read_bytes()
    backend.delete("a")
    backend.put("a", "same")  # the same document again (ids restart after a delete)
    header = len(b"HSEC") + 1 + 8
    assert first[header:header + 12] != secret_files(root)[0].read_bytes()[header:header + 12]


def test_a_write_goes_through_a_temporary_file_beside_the_secret_and_is_made_durable(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalFileBackend(root, key=KEY)
    backend.put("db", "one")
    renames: list[tuple[Path, Path]] = []
    synced: list[str] = []
    replace, fsync = os.replace, os.fsync

    def recording_replace(src: str, dst: str) -> None:
        renames.append((Path(src), Path(dst)))
        replace(src, dst)

    def recording_fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        fsync(fd)

    monkeypatch.setattr(os, "replace", recording_replace)
    monkeypatch.setattr(os, "fsync", recording_fsync)
    backend.put("db", "two")
    backend.delete("db")
    monkeypatch.undo()
    [(temporary, target)] = renames  # documented: .tmp-*.part in the same directory
    assert target.parent == root / "secrets" and target.suffix == ".hsec"
    assert temporary.parent == target.parent
    assert re.fullmatch(r"\.tmp-.+\.part", temporary.name), temporary.name
    # The file before its rename, the directory after it; the directory after the delete.
    assert synced == ["file", "dir", "dir"]


def test_a_failed_clean_up_after_a_failed_write_still_raises_the_writes_error(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = LocalFileBackend(root, key=KEY)
    with no_retry_store(backend) as store:
        store.put("db", "one")

        def fail(*args: object) -> None:
            raise OSError(errno.EIO, "I/O error")

        monkeypatch.setattr(os, "fsync", fail)
        monkeypatch.setattr(os, "unlink", fail)
        with pytest.raises(UnavailableError, match="EIO"):
            store.put("db", "two")
        monkeypatch.undo()
        assert store.get("db").value.reveal() == "one"


def test_a_key_decodes_from_either_alphabet_with_any_padding_and_whitespace() -> None:
    from helium_secrets.backends.localfile.envelope import decode_key

    raw = b"\xfb\xef\xbe" * 10 + b"\xff\xfe"  # "+" and "/" in the standard alphabet
    standard = base64.b64encode(raw).decode()
    assert "+" in standard and "/" in standard and standard.endswith("=")
    for text in (standard, standard.rstrip("="), standard + "==", f" {standard[:20]}\n{standard[20:]} ",
                 base64.urlsafe_b64encode(raw).decode().rstrip("=")):
        assert decode_key(text, "the test") == raw, text
    with pytest.raises(UnauthenticatedError) as info:
        decode_key("not*base64", "the test")
    assert str(info.value) == "the key in the test is not valid base64"


def test_a_damaged_document_inside_a_valid_envelope_is_named_and_not_shown(root: Path) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from helium_secrets.backends.localfile.envelope import open_file, seal

    key = base64.urlsafe_b64decode(KEY)
    path = root / "doc.hsec"
    root.mkdir(parents=True)
    header = seal(key, {})[:25]  # magic, format, key id, nonce
    for plaintext in (b"[1]", b"\xff" + CANARY.encode()):
        path.write_bytes(header + AESGCM(key).encrypt(header[-12:], plaintext, header))
        with pytest.raises(IntegrityError) as info:
            open_file(path, key)
        assert str(info.value) == f"{path} is damaged (bad document)"
    path.write_bytes(header + b"\x00" * 16)  # exactly a header and a tag: long enough to try
    with pytest.raises(IntegrityError, match=r"damaged \(authentication failed\)"):
        open_file(path, key)


class AsyncLocalFileHarness(LocalFileHarness):
    """The same directory, for the async twin: the file I/O in worker threads."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.twin = "async"

    def make_async_backend(self) -> AsyncLocalFileBackend:
        return AsyncLocalFileBackend.wrap(self.make_backend())


class TestLocalFileAsyncTwinConformance(BackendConformance):
    """Every conformance case, on the async twin."""

    @pytest.fixture
    def harness(self, shared_dir: Path) -> Iterator[LocalFileHarness]:
        with AsyncLocalFileHarness(shared_dir) as harness:
            yield harness


# -- issue 21: error classification, refusals, staging details (survivors of mutation testing)


def _rewrite(backend: LocalFileBackend, name: str, change) -> None:  # type: ignore[no-untyped-def]
    """Decrypt ``name``'s document, let ``change`` edit it, seal and write it back."""
    from helium_secrets.backends.localfile.envelope import atomic_write, open_file, seal

    key = base64.urlsafe_b64decode(KEY)
    path = backend._file(name)
    doc = open_file(path, key)
    change(doc)
    atomic_write(path, seal(key, doc))


@pytest.mark.parametrize(
    ("exc", "error", "transient", "message"),
    [
        (PermissionError(errno.EACCES, "Permission denied", "/srv/s/x.hsec"),
         PermissionDeniedError, False, "file system: Permission denied (/srv/s/x.hsec)"),
        (OSError(errno.ENOSPC, "No space left on device", "/srv/s/x.hsec"),
         UnavailableError, True, "file system error ENOSPC (/srv/s/x.hsec)"),
        (OSError(errno.EIO, "Input/output error", "/srv/s/x.hsec"),
         UnavailableError, True, "file system error EIO (/srv/s/x.hsec)"),
        (OSError(errno.EROFS, "Read-only file system", "/srv/s/x.hsec"),
         UnknownError, False, "file system error EROFS (/srv/s/x.hsec)"),
        (OSError("an error without errno"), UnknownError, False,
         "file system error unknown (None)"),
    ],
)
def test_a_file_system_error_is_classified_by_its_errno_naming_the_path_not_the_value(
    root: Path, monkeypatch: pytest.MonkeyPatch, exc: OSError, error: type[HeliumError],
    transient: bool, message: str,
) -> None:
    import helium_secrets.backends.localfile.backend as module

    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:
        store.put("a", "v")

        def fail(path: Path, data: bytes) -> None:
            raise exc

        monkeypatch.setattr(module, "atomic_write", fail)
        with pytest.raises(HeliumError) as info:
            store.put("a", CANARY)
        assert type(info.value) is error
        assert info.value.message == message
        assert info.value.transient is transient
        assert CANARY not in str(info.value)


def test_a_lock_timeout_says_what_it_waited_for(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY, lock_timeout=0.05)
    with no_retry_store(backend) as store:
        store.put("a", "v")
        with FileLock(str(root / ".lock"), thread_local=False, is_singleton=False), \
                pytest.raises(UnavailableError) as info:
            store.put("a", "w")
        assert info.value.message == "timed out waiting for the store's lock file"


def test_list_warnings_say_why_each_file_was_skipped(
    populated: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import helium_secrets.backends.localfile.backend as module

    backend = LocalFileBackend(populated, key=KEY)
    damaged = backend._file("app/db")
    damage(damaged, len(damaged.read_bytes()) - 20)
    directory = populated / "secrets" / "backup.hsec"
    directory.mkdir()
    caplog.set_level("WARNING", logger="helium_secrets")
    assert list(backend.list_names()) == ["app/other"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 2
    assert f"list() skips {directory}, which cannot be read (Is a directory)" in warnings
    (about_damaged,) = [w for w in warnings if str(damaged) in w]
    assert about_damaged == f"list() skips {damaged}, which is damaged (authentication failed)"
    # An OSError without an explanation of its own is named by its type.
    caplog.clear()

    from helium_secrets.backends.localfile.envelope import open_file as real

    def unreadable(path: Path, key: bytes) -> dict[str, object]:
        if path.parent.name == "secrets":
            raise OSError
        return real(path, key)

    monkeypatch.setattr(module, "open_file", unreadable)
    assert list(LocalFileBackend(populated, key=KEY).list_names()) == []
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings and all(w.endswith("which cannot be read (OSError)") for w in warnings)


def test_list_goes_on_past_every_file_it_skips(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY)
    names = [f"app/{i}" for i in range(6)]
    for name in names:
        backend.put(name, "v")
    for i in range(6):  # interleaved with the good files in directory order, whatever it is
        (root / "secrets" / f"junk{i}.hsec").write_bytes(b"not a secret")
    assert list(LocalFileBackend(root, key=KEY).list_names()) == names


def test_a_second_listing_decrypts_only_files_it_has_not_listed_before(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import helium_secrets.backends.localfile.backend as module

    backend = LocalFileBackend(root, key=KEY)
    for name in ("a", "b", "c"):
        backend.put(name, "v")
    opened: list[Path] = []
    from helium_secrets.backends.localfile.envelope import open_file as real

    def counting(path: Path, key: bytes) -> dict[str, object]:
        opened.append(path)
        return real(path, key)

    monkeypatch.setattr(module, "open_file", counting)
    assert list(backend.list_names()) == ["a", "b", "c"]
    assert len(opened) == 3
    backend.put("d", "v")
    opened.clear()
    assert list(backend.list_names()) == ["a", "b", "c", "d"]
    assert opened == [backend._file("d")]


def test_repr_names_the_directory_and_nothing_secret(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY)
    backend.put("a", CANARY)
    assert repr(backend) == f"LocalFileBackend({str(root)!r})"
    assert KEY not in repr(backend) and CANARY not in repr(backend)


def test_refusals_of_the_file_store_say_what_was_refused(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY)
    with pytest.raises(SecretNotFoundError, match="^secret not found$"):
        backend.stage("db", "x", expected_current=None)
    with pytest.raises(SecretNotFoundError, match="^secret not found$"):
        backend.delete("db")
    first = backend.put("db", "one")
    with pytest.raises(ConflictError, match="^staging failed: the current version changed$"):
        backend.stage("db", "x", expected_current="7")
    staged = backend.stage("db", "two", expected_current=first.version)
    with pytest.raises(ConflictError, match="^promotion failed: the current version changed$"):
        backend.promote("db", staged.version, expected_current="7")
    with pytest.raises(VersionNotFoundError, match="^no such version$"):
        backend.promote("db", "42", expected_current=None)
    with pytest.raises(
        ConflictError, match="^the version is current; it can no longer be discarded$"
    ):
        backend.discard("db", first.version)


def test_a_document_whose_current_version_is_missing_is_damaged(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY)
    first = backend.put("db", "one")
    backend.stage("db", "two", expected_current=first.version)
    _rewrite(backend, "db", lambda doc: doc.update(current="9"))
    with pytest.raises(IntegrityError, match="^the secret's current version is missing$"):
        backend.get("db")


def test_a_discarded_version_cannot_be_promoted(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY)
    first = backend.put("db", "one")
    staged = backend.stage("db", "two", expected_current=first.version)
    backend.discard("db", staged.version)
    with pytest.raises(VersionNotFoundError, match="^version is destroyed$"):
        backend.promote("db", staged.version, expected_current=None)
    assert backend.get("db").version == first.version


def test_versions_recorded_without_a_state_are_enabled_and_can_be_promoted(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY)
    first = backend.put("db", "one")
    staged = backend.stage("db", "two", expected_current=first.version)

    def drop_states(doc: dict[str, list[dict[str, object]]]) -> None:
        for version in doc["versions"]:
            del version["state"]

    _rewrite(backend, "db", drop_states)
    assert {v.state for v in backend.list_versions("db")} == {"enabled"}
    backend.promote("db", staged.version, expected_current=first.version)
    assert backend.get("db").value == "two"


def test_promoting_an_older_staged_version_makes_that_one_current(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY)
    first = backend.put("db", "one")
    older = backend.stage("db", "two", expected_current=first.version)
    newer = backend.stage("db", "three", expected_current=first.version)
    backend.promote("db", older.version, expected_current=first.version)
    assert backend.get("db").version == older.version
    assert backend.current_version("db").version == older.version
    assert LocalFileBackend(root, key=KEY).get("db").value == "two"
    assert newer.version != older.version


def test_a_discarded_version_loses_its_pending_label_and_its_value(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY)
    first = backend.put("db", "one")
    staged = backend.stage("db", b"\x00" + CANARY.encode(), expected_current=first.version)
    assert PENDING in {label for v in backend.list_versions("db") for label in v.labels}
    backend.discard("db", staged.version)
    (_kept, discarded) = backend.list_versions("db")
    assert discarded.state == "destroyed" and discarded.labels == frozenset()
    doc = decrypt_as_documented(backend._file("db"), KEY)
    versions = doc["versions"]
    assert isinstance(versions, list)
    assert (versions[-1]["type"], versions[-1]["value"]) == ("text", "")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork() on this platform")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_childs_writer_keeps_the_lock_timeout(root: Path) -> None:
    from tests.backends.forking import fork_and_run

    backend = LocalFileBackend(root, key=KEY, lock_timeout=0.05)
    backend.put("a", "1")

    def child() -> None:
        with pytest.raises(UnavailableError):  # after 0.05 s, not waiting for ever
            no_retry_store(backend).put("a", "2")

    with FileLock(str(root / ".lock"), thread_local=False, is_singleton=False):
        status = fork_and_run(child, timeout=30)
    assert status == 0, f"the child ended with {status} (-1: it waited for the lock for ever)"
    assert backend.get("a").value == "1"


def test_list_goes_on_past_a_file_deleted_while_it_lists(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import helium_secrets.backends.localfile.backend as module

    backend = LocalFileBackend(root, key=KEY)
    for name in ("a", "b", "c"):
        backend.put(name, "v")
    from helium_secrets.backends.localfile.envelope import open_file as real
    vanished: list[Path] = []

    def first_one_vanishes(path: Path, key: bytes) -> dict[str, object]:
        if path.parent.name == "secrets" and not vanished:
            vanished.append(path)  # deleted by another process after the listing saw it
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        return real(path, key)

    monkeypatch.setattr(module, "open_file", first_one_vanishes)
    listed = list(LocalFileBackend(root, key=KEY).list_names())
    assert len(vanished) == 1 and len(listed) == 2
    assert set(listed) < {"a", "b", "c"}


def test_a_key_file_that_is_not_ascii_text_is_refused_naming_it(tmp_path: Path, root: Path) -> None:
    key_file = tmp_path / "store.key"
    key_file.write_bytes(b"\xff\xfe" + KEY.encode()[2:] + b"\n")
    key_file.chmod(0o600)
    with no_retry_store(LocalFileBackend(root, key_file=key_file, environ={})) as store, \
            pytest.raises(UnauthenticatedError) as info:
        store.put("a", "v")
    assert f"the key file {key_file}" in str(info.value)
    assert KEY[2:] not in str(info.value)


def test_a_new_key_file_is_one_line_of_base64_in_directories_made_for_it(
    tmp_path: Path, root: Path
) -> None:
    key_file = tmp_path / "keys" / "of" / "app" / "store.key"
    with no_retry_store(LocalFileBackend(root, key_file=key_file, environ={})) as store:
        store.put("a", "v")
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}=?\n", key_file.read_text("ascii"))
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700


def test_reading_a_store_that_does_not_exist_creates_nothing(root: Path) -> None:
    backend = LocalFileBackend(root, environ={})
    with pytest.raises(SecretNotFoundError, match="^secret not found$"):
        backend.get("a")
    with pytest.raises(SecretNotFoundError):
        backend.current_version("a")
    assert not root.exists()
    backend.put("a", "v")
    with pytest.raises(SecretNotFoundError, match="^secret not found$"):
        backend.get("b")
    with pytest.raises(VersionNotFoundError, match="^no such version or label$"):
        backend.get("a", label="blue")


def test_metadata_shaped_like_a_version_comes_back_as_text(root: Path) -> None:
    """The envelope keeps every version's value in a SecretValue as it loads a document; user
    metadata with the same two keys ("type", "value") stays plain text."""
    metadata = {"type": "postgres", "value": "primary"}
    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:
        store.put("db", "one", metadata=metadata)
    with no_retry_store(LocalFileBackend(root, key=KEY)) as store:  # read from disk
        read = store.get("db").metadata
    assert dict(read) == metadata
    assert all(type(value) is str for value in read.values())


# -- issue 21: the survivors of the whole mutation run -----------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("=" + KEY, "is not valid base64"),  # padding at the front is no padding
        ("=Uw==", "is not valid base64"),
        # 33 bytes ending in "X": refused for its length, never cut down to 32
        ("QWehfnjs7S8i9aakHjR3reTlDMa0nllUIzea9XBd9KYX", "is 33 bytes; AES-256 needs 32"),
    ],
)
def test_a_malformed_key_text_is_refused_for_what_is_wrong_with_it(text: str, reason: str) -> None:
    from helium_secrets.backends.localfile.envelope import decode_key

    with pytest.raises(UnauthenticatedError) as info:
        decode_key(text, "the test")
    assert str(info.value).startswith(f"the key in the test {reason}")


def test_the_file_store_declares_what_it_does_natively(root: Path) -> None:
    caps = LocalFileBackend(root, key=KEY).capabilities
    assert (caps.idempotent_put, caps.check_and_set, caps.staging) == (True, True, True)
    assert caps.managed_labels == frozenset({PENDING})
    assert caps.version_probe is False  # a probe would decrypt the same file as a read


def test_a_key_option_that_is_not_base64_says_so_exactly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="^the key in the key= option is not valid base64$"):
        LocalFileBackend(tmp_path, key="not*base64")


def test_a_bad_key_in_the_environment_is_named_by_its_variable(root: Path) -> None:
    LocalFileBackend(root, key=KEY).put("db", "one")
    bad = base64.urlsafe_b64encode(CANARY.encode()[:20]).decode()
    backend = LocalFileBackend(root, environ={KEY_ENV_VAR: bad})
    with pytest.raises(UnauthenticatedError) as info:
        backend.get("db")
    assert str(info.value) == (
        f"the key in ${KEY_ENV_VAR} is 20 bytes; AES-256 needs 32 (see generate_key())")
    assert bad not in str(info.value)


def test_a_store_file_that_is_not_a_store_document_is_damaged(root: Path) -> None:
    from helium_secrets.backends.localfile.envelope import atomic_write, seal

    LocalFileBackend(root, key=KEY).put("db", "one")
    store_file = root / "store.hsec"
    atomic_write(store_file, seal(base64.urlsafe_b64decode(KEY), {"kind": "secret"}))
    with pytest.raises(IntegrityError) as info:
        LocalFileBackend(root, key=KEY).get("db")
    assert info.value.message == f"the store file {store_file} is damaged"


def test_a_put_refused_by_its_condition_says_why(root: Path) -> None:
    backend = LocalFileBackend(root, key=KEY)
    backend.put("db", "one")
    with pytest.raises(ConflictError) as info:
        backend.put("db", "two", create_only=True)
    assert info.value.message == "secret already exists"
    with pytest.raises(ConflictError) as info:
        backend.put("missing", "two", expected_version="1")
    assert info.value.message == "check-and-set failed: the secret does not exist"
    assert [v.version for v in backend.list_versions("db")] == ["1"]


def test_the_backend_itself_refuses_a_value_over_its_limit(root: Path) -> None:
    # The store checks the limit first; called directly, the backend keeps it too.
    from helium_secrets.errors import TooLargeError

    backend = LocalFileBackend(root, key=KEY, max_value_bytes=4)
    with pytest.raises(TooLargeError) as info:
        backend.put("db", "12345")
    assert info.value.message == "the value is 5 bytes; this store takes at most 4"
    assert secret_files(root) == []
    backend.put("db", "1234")  # at the limit: taken


@pytest.mark.parametrize("damage", ["no-versions", "name-not-text", "another-kind"])
def test_a_document_missing_what_a_secret_has_is_damaged(
    root: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    backend = LocalFileBackend(root, key=KEY)
    backend.put("db", "one")
    change = {"no-versions": lambda doc: doc.pop("versions"),
              "name-not-text": lambda doc: doc.update(name=5),
              "another-kind": lambda doc: doc.update(kind="other")}[damage]
    _rewrite(backend, "db", change)
    fresh = LocalFileBackend(root, key=KEY)
    with pytest.raises(IntegrityError, match="is damaged or holds another secret"):
        fresh.get("db")
    with caplog.at_level("WARNING"):
        assert list(fresh.list_names()) == []  # listed: skipped with a warning, not a crash
    assert "list() skips" in caplog.text


def test_a_bare_file_url_leaves_the_path_option_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    backend = LocalFileBackend.from_url(urlsplit("file://"), key=KEY)
    assert backend.options.path is None
    assert backend.path == default_path()
