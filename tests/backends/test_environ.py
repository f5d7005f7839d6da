"""The environment-variable store passes the conformance suite in its read-only mode, maps names
by its documented rule both ways, and refuses writes with a clear error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from helium_secrets import RetryPolicy, SecretStore, open_store
from helium_secrets.backends.aio import AsyncEnvironBackend
from helium_secrets.backends.environ import VERSION, EnvironBackend
from helium_secrets.errors import (
    InvalidNameError,
    ReadOnlyError,
    SecretNotFoundError,
    UnsupportedError,
    VersionNotFoundError,
)
from helium_secrets.testing import BackendHarness
from helium_secrets.testing.conformance import CANARY, BackendConformance


class EnvironHarness(BackendHarness):
    """An injected mapping plays the environment: the process environment stays untouched."""

    def __init__(self) -> None:
        super().__init__()
        self.environ: dict[str, str] = {}

    def make_backend(self) -> EnvironBackend:
        return EnvironBackend(prefix="HS_TEST_", environ=self.environ)

    def write_external(self, name: str, value: str | bytes) -> str:
        assert isinstance(value, str), "environment variables hold text"
        self.environ[self.make_backend().variable(name)] = value
        return VERSION


class TestEnvironConformance(BackendConformance):
    @pytest.fixture
    def harness(self) -> Iterator[EnvironHarness]:
        with EnvironHarness() as harness:
            yield harness


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("db-password", "APP_DB_PASSWORD"),
        ("billing/api-key", "APP_BILLING__API_KEY"),
        ("a/b/c", "APP_A__B__C"),
        ("v2/token-1", "APP_V2__TOKEN_1"),
    ],
)
def test_name_mapping_both_ways(name: str, variable: str) -> None:
    backend = EnvironBackend(prefix="APP_", environ={variable: "v"})
    assert backend.variable(name) == variable
    assert backend.name_for(variable) == name
    assert list(backend.list_names()) == [name]


@pytest.mark.parametrize(
    "variable",
    ["OTHER_X", "APP_", "APP_lower", "APP__LEAD", "APP_TRAIL_", "APP_A___B", "APP_A-B", "APP_É"],
)
def test_variables_no_name_maps_to_are_not_listed(variable: str) -> None:
    backend = EnvironBackend(prefix="APP_", environ={variable: "v", "APP_OK": "v"})
    assert backend.name_for(variable) is None
    assert list(backend.list_names()) == ["ok"]


@pytest.mark.parametrize("bad", ["DB", "db_password", "db--x", "-db", "db-", "a.b", "a+b"])
def test_names_outside_the_injective_rule_are_refused_before_any_call(bad: str) -> None:
    # Without the rule "db_password" and "db-password" would both read DB_PASSWORD.
    with SecretStore(EnvironBackend(environ={"DB_PASSWORD": "v"})) as store:
        calls = store.stats().backend_calls
        with pytest.raises(InvalidNameError, match="lower-case"):
            store.get(bad)
        assert store.stats().backend_calls == calls


def test_reads_from_the_live_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HS_LIVE_DB_PASSWORD", CANARY)
    with open_store("env://?prefix=HS_LIVE_", cache=None) as store:
        secret = store.get("db-password")
        assert secret.value.reveal() == CANARY
        assert secret.version == VERSION
        assert list(store.list()) == ["db-password"]
        assert [v.version for v in store.versions("db-password")] == [VERSION]
        assert store.current_version("db-password") == VERSION
        monkeypatch.setenv("HS_LIVE_DB_PASSWORD", "changed")
        assert store.get("db-password").value.reveal() == "changed"
        assert CANARY not in repr(store.backend)


def test_empty_prefix_lists_every_readable_variable() -> None:
    environ = {"DB_PASSWORD": "a", "APP__KEY": "b", "path": "/bin", "_X": "c"}
    with SecretStore(EnvironBackend(environ=environ)) as store:
        assert list(store.list()) == ["app/key", "db-password"]
        assert list(store.list("app/")) == ["app/key"]
        assert store.get("app/key").value.reveal() == "b"


def test_not_found_names_the_variable_and_versions() -> None:
    with SecretStore(EnvironBackend(prefix="APP_", environ={"APP_X": "v"}),
                     retry=RetryPolicy.never()) as store:
        with pytest.raises(SecretNotFoundError, match="APP_MISSING") as info:
            store.get("missing")
        assert info.value.name == "missing"
        assert store.get("x", VERSION).value.reveal() == "v"
        with pytest.raises(VersionNotFoundError):
            store.get("x", "2")
        with pytest.raises(SecretNotFoundError):
            store.versions("missing")


def test_writes_are_refused_with_a_clear_error() -> None:
    environ = {"APP_X": "v"}
    backend = EnvironBackend(prefix="APP_", environ=environ)
    assert backend.capabilities.read_only
    with SecretStore(backend) as store:
        with pytest.raises(ReadOnlyError, match="read-only") as info:
            store.put("x", CANARY)
        assert CANARY not in str(info.value)
        with pytest.raises(ReadOnlyError):
            store.delete("x")
    # The backend itself refuses too, for callers that bypass the store, and names the variable.
    with pytest.raises(ReadOnlyError, match="set the environment variable APP_X instead"):
        backend.put("x", CANARY)
    with pytest.raises(ReadOnlyError):
        backend.delete("x")
    with pytest.raises(ReadOnlyError):
        backend.set_label("x", "blue", VERSION)
    with pytest.raises(ReadOnlyError):
        backend.stage("x", CANARY, expected_current=VERSION)
    with pytest.raises(ReadOnlyError):
        backend.promote("x", VERSION, expected_current=None)
    with pytest.raises(ReadOnlyError):
        backend.discard("x", VERSION)
    assert environ == {"APP_X": "v"}


def test_url_forms() -> None:
    assert EnvironBackend.from_url(urlsplit("env://")).prefix == ""
    assert EnvironBackend.from_url(urlsplit("env://?prefix=MY_APP_")).prefix == "MY_APP_"
    assert EnvironBackend.from_url(urlsplit("env://")).environ is os.environ
    with pytest.raises(ValueError, match="take no host or path"):
        EnvironBackend.from_url(urlsplit("env://APP_"))
    with pytest.raises(ValueError, match="unknown env:// URL option"):
        EnvironBackend.from_url(urlsplit("env://?colour=blue"))
    with pytest.raises(ValueError, match="env:// option prefix must be letters"):
        EnvironBackend.from_url(urlsplit("env://?prefix=1-BAD"))


# -- documented behaviour (docs/backends/env.md, checked black-box through the public API) -----


class RecordingEnviron(dict[str, str]):
    """A mapping that records which variables had their *value* read."""

    def __init__(self, **variables: str) -> None:
        super().__init__(**variables)
        self.read: list[str] = []

    def __getitem__(self, key: str) -> str:
        self.read.append(key)
        return super().__getitem__(key)

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.read.append(key)
        return super().get(key, default)


def test_doc_prefix_as_keyword_and_the_documented_examples() -> None:
    environ = {"DB_PASSWORD": "plain", "APP_DB_PASSWORD": "prefixed"}
    with open_store("env://", environ=environ) as store:
        assert store.get("db-password").value.reveal() == "plain"
    with open_store("env://?prefix=APP_", environ=environ) as store:
        assert store.get("db-password").value.reveal() == "prefixed"
    with open_store("env://", prefix="APP_", environ=environ) as store:
        assert store.get("db-password").value.reveal() == "prefixed"
    # Keyword options win over the URL's, as for every backend.
    with open_store("env://?prefix=OTHER_", prefix="APP_", environ=environ) as store:
        assert store.get("db-password").value.reveal() == "prefixed"
    with pytest.raises(ValueError, match="env:// option prefix must be letters"):
        open_store("env://", prefix="APP-")


@pytest.mark.parametrize("bad", ["DB", "db_password", "db--x", "-db", "a.b"])
def test_doc_refused_names_never_read_the_environment(bad: str) -> None:
    environ = RecordingEnviron(DB_PASSWORD="v", DB="v", A_B="v")
    with SecretStore(EnvironBackend(environ=environ), cache=None) as store:
        with pytest.raises(InvalidNameError) as info:
            store.get(bad)
        assert info.value.backend == "env"
    assert environ.read == []


def test_doc_current_version_never_reads_the_value() -> None:
    environ = RecordingEnviron(APP_X=CANARY)
    with SecretStore(EnvironBackend(prefix="APP_", environ=environ), cache=None) as store:
        assert store.current_version("x") == VERSION
        assert [v.version for v in store.versions("x")] == [VERSION]
    assert environ.read == []


def test_doc_a_label_is_unsupported_and_another_version_not_found() -> None:
    with SecretStore(EnvironBackend(environ={"X": "v"}), cache=None,
                     retry=RetryPolicy.never()) as store:
        with pytest.raises(UnsupportedError) as info:
            store.get("x", label="AWSCURRENT")
        assert (info.value.backend, info.value.name) == ("env", "x")
        assert store.stats().backend_calls == 0
        with pytest.raises(VersionNotFoundError):
            store.get("x", "7")
        assert store.get("x", "env").version == VERSION


def test_doc_values_are_text_only() -> None:
    with SecretStore(EnvironBackend(environ={"X": '{"user": "u"}'})) as store:
        assert not store.backend.capabilities.binary
        secret = store.get("x")
        assert not secret.value.is_binary
        assert store.get_json("x") == {"user": "u"}
        assert store.get_json("x", "user") == "u"


def test_doc_writes_are_refused_before_any_call_and_name_backend_and_secret() -> None:
    environ = RecordingEnviron(APP_X="v")
    with SecretStore(EnvironBackend(prefix="APP_", environ=environ)) as store:
        for call in (
            lambda: store.put("x", CANARY),
            lambda: store.delete("x"),
            lambda: store.set_label("x", "blue", VERSION),
        ):
            with pytest.raises(ReadOnlyError) as info:
                call()
            assert (info.value.backend, info.value.name) == ("env", "x")
            assert CANARY not in str(info.value) and CANARY not in repr(info.value)
        assert store.stats().backend_calls == 0
    assert environ.read == []
    assert dict(environ) == {"APP_X": "v"}


def test_doc_missing_variable_names_it_never_a_value() -> None:
    environ = {"APP_OTHER": CANARY}
    with SecretStore(EnvironBackend(prefix="APP_", environ=environ),
                     retry=RetryPolicy.never()) as store:
        with pytest.raises(SecretNotFoundError) as info:
            store.get("db-password")
        assert "APP_DB_PASSWORD" in str(info.value)
        assert (info.value.backend, info.value.name) == ("env", "db-password")
        assert CANARY not in str(info.value)


def test_doc_list_is_sorted_and_filtered_by_prefix() -> None:
    environ = {"APP_Z": "1", "APP_B__X": "2", "APP_A": "3", "APP_B__A": "4", "OTHER": "5"}
    with SecretStore(EnvironBackend(prefix="APP_", environ=environ)) as store:
        assert list(store.list()) == ["a", "b/a", "b/x", "z"]
        assert list(store.list("b/")) == ["b/a", "b/x"]


def test_doc_a_changed_variable_is_not_a_rotation_and_refresh_reads_it() -> None:
    environ = {"APP_X": "one"}
    seen: list[object] = []
    with SecretStore(EnvironBackend(prefix="APP_", environ=environ)) as store:
        store.on_rotation("x", lambda old, new: seen.append(new))
        assert store.get("x").value.reveal() == "one"
        environ["APP_X"] = "two"
        assert store.get("x").value.reveal() == "one", "the cached value stays"
        refreshed = store.refresh("x")
        assert refreshed.value.reveal() == "two"
        assert refreshed.version == VERSION
    assert seen == []


def test_doc_get_many_reads_each_variable() -> None:
    environ = {"APP_A": "1", "APP_B": "2"}
    with SecretStore(EnvironBackend(prefix="APP_", environ=environ)) as store:
        got = store.get_many(["a", "b", "c"], ignore_missing=True)
        assert {n: s.value.reveal() for n, s in got.items()} == {"a": "1", "b": "2"}
        with pytest.raises(SecretNotFoundError, match="APP_D"):
            store.get_many(["a", "d"])


def test_doc_a_cached_not_found_still_names_the_variable() -> None:
    with SecretStore(EnvironBackend(prefix="APP_", environ={})) as store:
        for _ in range(2):
            with pytest.raises(SecretNotFoundError, match="APP_MISSING"):
                store.get("missing")


def test_doc_import_loads_no_sdk() -> None:
    import subprocess
    import sys

    code = (
        "import sys, helium_secrets\n"
        "sdks = ('boto3', 'botocore', 'hvac', 'azure', 'google', 'grpc')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in sdks))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_doc_path_is_listed_as_path_with_an_empty_prefix() -> None:
    with SecretStore(EnvironBackend(environ={"PATH": "/bin", "HOME": "/root"})) as store:
        assert list(store.list()) == ["home", "path"]


def test_doc_rotation_is_unsupported_on_a_read_only_store() -> None:
    from helium_secrets.errors import UnsupportedError

    environ = {"X": "v"}
    with SecretStore(EnvironBackend(environ=environ)) as store:
        with pytest.raises(UnsupportedError) as info:
            store.rotate_staged("x", lambda: CANARY, lambda pending: True)
        assert (info.value.backend, info.value.name) == ("env", "x")
        with pytest.raises(UnsupportedError):
            store.rotate("x", lambda: CANARY)
        assert CANARY not in str(info.value)
    assert environ == {"X": "v"}


def test_doc_only_readable_names_are_listed() -> None:
    longest, too_long = "A" * 512, "B" * 513
    with SecretStore(EnvironBackend(environ={longest: "1", too_long: "2"})) as store:
        assert list(store.list()) == ["a" * 512]
        for name in store.list():
            assert store.get(name).value.reveal() == "1"


class AsyncEnvironHarness(EnvironHarness):
    """The same mapping, for the async twin: read on the loop."""

    def __init__(self) -> None:
        super().__init__()
        self.twin = "async"

    def make_async_backend(self) -> AsyncEnvironBackend:
        return AsyncEnvironBackend.wrap(self.make_backend())


class TestEnvironAsyncTwinConformance(BackendConformance):
    """Every conformance case, on the async twin."""

    @pytest.fixture
    def harness(self) -> Iterator[EnvironHarness]:
        with AsyncEnvironHarness() as harness:
            yield harness
