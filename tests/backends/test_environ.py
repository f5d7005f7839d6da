"""The environment-variable store passes the conformance suite in its read-only mode, maps names
by its documented rule both ways, and refuses writes with a clear error."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from helium_secrets import RetryPolicy, SecretStore, open_store
from helium_secrets.backends.environ import VERSION, EnvironBackend
from helium_secrets.errors import (
    InvalidNameError,
    ReadOnlyError,
    SecretNotFoundError,
    VersionNotFoundError,
)
from helium_secrets.testing.conformance import CANARY, BackendConformance


class TestEnvironConformance(BackendConformance):
    read_only = True

    @pytest.fixture
    def store(self) -> Iterator[SecretStore]:
        # An injected mapping: the suite seeds it, the process environment stays untouched.
        with open_store("env://?prefix=HS_TEST_", environ={}) as store:
            yield store

    def seed(self, store: SecretStore, name: str, value: str | bytes) -> str:
        backend = store.backend
        assert isinstance(backend, EnvironBackend)
        assert isinstance(value, str)
        environ = backend.environ
        assert isinstance(environ, dict)
        environ[backend.variable(name)] = value
        return VERSION


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
    with pytest.raises(ValueError, match="invalid env:// prefix"):
        EnvironBackend.from_url(urlsplit("env://?prefix=1-BAD"))
