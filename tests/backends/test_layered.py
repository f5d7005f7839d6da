"""Layered stores: the conformance suite for what they support, and fall-through, error
propagation (saying which layer) and where a write lands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from helium_secrets import GuardPolicy, RetryPolicy, SecretStore, open_store
from helium_secrets.backends.environ import VERSION, EnvironBackend
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    ConflictError,
    InvalidNameError,
    PermissionDeniedError,
    ReadOnlyError,
    SecretNotFoundError,
    ThrottledError,
    TooLargeError,
    UnavailableError,
    VersionNotFoundError,
)
from helium_secrets.layered import LayeredBackend, layered
from helium_secrets.testing import BackendHarness
from helium_secrets.testing.conformance import CANARY, BackendConformance

NO_RETRY = RetryPolicy.never()


def plain(backend: MemoryBackend | EnvironBackend) -> SecretStore:
    """A layer as the layered store wants it: no cache, retries or guard of its own."""
    return SecretStore(backend, cache=None, retry=NO_RETRY, guard=GuardPolicy(threshold=0))


class LayeredHarness(BackendHarness):
    """Environment variables (a dict) over the fake, which takes the writes. Each store the
    harness makes is a new layered store over the same two services."""

    faults = frozenset({"unavailable", "throttled", "lost_answer"})
    _ERRORS = {"unavailable": UnavailableError, "throttled": ThrottledError}

    def __init__(self) -> None:
        super().__init__()
        self.environ: dict[str, str] = {}
        self.memory = MemoryBackend()

    def make_backend(self) -> LayeredBackend:
        return LayeredBackend(layers=(plain(EnvironBackend(prefix="HS_", environ=self.environ)),
                                      plain(self.memory)), write=1)

    def inject_fault(self, kind: str, operation: str, count: int = 1) -> None:
        if kind == "lost_answer":
            super().inject_fault(kind, operation, count)
        else:  # the write layer's service fails, and the error comes up through the layers
            self.memory.fail_next(count, self._ERRORS[kind], operations=[operation])

    def clear_faults(self) -> int:
        return self.memory.clear_faults() + super().clear_faults()


class TestLayeredConformance(BackendConformance):
    @pytest.fixture
    def harness(self) -> Iterator[LayeredHarness]:
        with LayeredHarness() as harness:
            yield harness


class ReadOnlyLayeredHarness(BackendHarness):
    """Two read-only layers and no write layer: written "from outside", in the lower one."""

    def __init__(self) -> None:
        super().__init__()
        self.upper: dict[str, str] = {}
        self.lower: dict[str, str] = {}

    def make_backend(self) -> LayeredBackend:
        return LayeredBackend(layers=(plain(EnvironBackend(prefix="UP_", environ=self.upper)),
                                      plain(EnvironBackend(prefix="LOW_", environ=self.lower))))

    def write_external(self, name: str, value: str | bytes) -> str:
        assert isinstance(value, str)
        self.lower[EnvironBackend(prefix="LOW_").variable(name)] = value
        return VERSION


class TestReadOnlyLayeredConformance(BackendConformance):
    @pytest.fixture
    def harness(self) -> Iterator[ReadOnlyLayeredHarness]:
        with ReadOnlyLayeredHarness() as harness:
            yield harness


# -- fall-through, errors, writes -----------------------------------------------------------


@pytest.fixture
def stack() -> Iterator[tuple[dict[str, str], MemoryBackend, MemoryBackend, SecretStore]]:
    """env over a read-only-by-convention fake over a writable fake (write=2)."""
    environ: dict[str, str] = {}
    middle, bottom = MemoryBackend(), MemoryBackend()
    with layered(plain(EnvironBackend(environ=environ)), plain(middle), plain(bottom),
                 write=2, cache=None, retry=NO_RETRY) as store:
        yield environ, middle, bottom, store


def test_reads_take_the_first_layer_that_has_the_name(
    stack: tuple[dict[str, str], MemoryBackend, MemoryBackend, SecretStore],
) -> None:
    environ, middle, bottom, store = stack
    bottom.write_external("db", "bottom")
    assert store.get("db").value.reveal() == "bottom"
    middle.write_external("db", "middle")
    assert store.get("db").value.reveal() == "middle"
    environ["DB"] = "env"
    secret = store.get("db")
    assert (secret.value.reveal(), secret.version) == ("env", VERSION)  # the env layer's version
    del environ["DB"]
    # versions, current_version and version reads come from the layer that has the name.
    middle.write_external("db", "middle-2")
    assert [v.version for v in store.versions("db")] == ["1", "2"]
    assert store.current_version("db") == "2"
    assert store.get("db", "1").value.reveal() == "middle"
    with pytest.raises(VersionNotFoundError) as info:
        store.get("db", "3")  # the middle layer has the name: no falling through to bottom
    assert "layer 1 (memory)" in str(info.value)
    with pytest.raises(SecretNotFoundError) as missing:
        store.get("nowhere")
    assert type(missing.value) is SecretNotFoundError and "no layer has it" in str(missing.value)


def test_a_name_a_layer_cannot_hold_skips_that_layer(
    stack: tuple[dict[str, str], MemoryBackend, MemoryBackend, SecretStore],
) -> None:
    _, _, bottom, store = stack
    bottom.write_external("App_Key", "bottom")  # env:// takes no upper-case names
    assert store.get("App_Key").value.reveal() == "bottom"
    assert store.get_many(["App_Key"])["App_Key"].value.reveal() == "bottom"
    with pytest.raises(InvalidNameError):
        store.get("a b")  # no layer takes it: refused before any call
    assert store.stats().backend_calls == 2


def test_other_errors_do_not_fall_through_and_say_which_layer(
    stack: tuple[dict[str, str], MemoryBackend, MemoryBackend, SecretStore],
) -> None:
    _, middle, bottom, store = stack
    bottom.write_external("db", CANARY)
    middle.fail_next(1, PermissionDeniedError, operations=["get"])
    with pytest.raises(PermissionDeniedError) as info:
        store.get("db")
    error = info.value
    assert str(error).startswith("layer 1 (memory): ")
    assert (error.backend, error.name) == ("layered", "db")
    assert isinstance(error.__cause__, PermissionDeniedError)
    assert CANARY not in str(error)
    middle.fail_next(1, UnavailableError, operations=["get"])
    with pytest.raises(UnavailableError) as down:
        store.get("db")
    assert down.value.transient  # the layer's verdict is kept, so the outer store may retry


def test_fall_through_can_be_configured(tmp_path: Path) -> None:
    upper, lower = MemoryBackend(), MemoryBackend()
    lower.write_external("db", "lower")
    with layered(plain(upper), plain(lower), fall_through=["unavailable"], cache=None,
                 retry=NO_RETRY) as store:
        upper.fail_next(2, UnavailableError)
        assert store.get("db").value.reveal() == "lower"
        assert list(store.list()) == ["db"]  # the failing layer is left out of the list too
        upper.fail_next(1, PermissionDeniedError)
        with pytest.raises(PermissionDeniedError):
            store.get("db")
    with pytest.raises(ValueError, match="fall_through"):
        layered(plain(upper), fall_through=["not_found"])
    with pytest.raises(ValueError, match="fall_through"):
        layered(plain(upper), fall_through=["nonsense"])


def test_writes_land_in_the_write_layer_only(
    stack: tuple[dict[str, str], MemoryBackend, MemoryBackend, SecretStore],
) -> None:
    environ, middle, bottom, store = stack
    written = store.put("db", "v1")
    assert (bottom.get("db").value, written.version) == ("v1", "1")
    assert list(middle.list_names()) == []
    store.put("db", "v2", expected_version="1", labels=["blue"])
    with pytest.raises(ConflictError) as info:
        store.put("db", "v3", expected_version="1")
    assert "layer 2 (memory)" in str(info.value)
    store.set_label("db", "green", "1")
    assert bottom.get("db", label="green").value == "v1"
    store.delete("db")
    with pytest.raises(SecretNotFoundError):
        bottom.get("db")
    # A shadowed name: the write lands below, reads keep answering from above.
    environ["TOKEN"] = "from-env"
    store.put("token", "written")
    assert bottom.get("token").value == "written"
    assert store.get("token").value.reveal() == "from-env"


def test_limits_are_the_write_layers_before_any_call() -> None:
    with layered(plain(MemoryBackend(max_value_bytes=8)), plain(MemoryBackend()),
                 write=0) as store:
        assert store.backend.capabilities.max_value_bytes == 8
        with pytest.raises(TooLargeError):
            store.put("a", CANARY)
        assert store.stats().backend_calls == 0


def test_list_merges_and_get_many_falls_through_per_name(
    stack: tuple[dict[str, str], MemoryBackend, MemoryBackend, SecretStore],
) -> None:
    environ, middle, bottom, store = stack
    environ["APP__A"] = "env-a"
    middle.write_external("app/b", "middle-b")
    bottom.write_external("app/a", "bottom-a")
    bottom.write_external("app/c", "bottom-c")
    assert list(store.list("app/")) == ["app/a", "app/b", "app/c"]
    got = store.get_many(["app/a", "app/b", "app/c", "app/d"], ignore_missing=True)
    assert {n: s.value.reveal() for n, s in got.items()} == {
        "app/a": "env-a", "app/b": "middle-b", "app/c": "bottom-c"}
    # A layer is asked only for the names the layers above did not have.
    assert (middle.calls["get"], bottom.calls["get"]) == (3, 2)


def test_read_only_without_a_write_layer() -> None:
    with layered(plain(MemoryBackend())) as store:
        with pytest.raises(ReadOnlyError):
            store.put("a", "v")
        assert store.stats().backend_calls == 0


def test_listeners_hear_of_the_layer_that_answers(
    stack: tuple[dict[str, str], MemoryBackend, MemoryBackend, SecretStore],
) -> None:
    environ, _, bottom, store = stack
    bottom.write_external("db", "one")
    seen: list[tuple[str | None, str]] = []
    store.on_rotation("db", lambda old, new: seen.append(
        (old.value.reveal() if old else None, new.value.reveal())))
    store.get("db")
    bottom.write_external("db", "two")
    store.rotation.poll_once()
    environ["DB"] = "env"  # an override appears above
    store.rotation.poll_once()
    assert [new for _, new in seen] == ["two", "env"]


# -- construction ---------------------------------------------------------------------------


def test_url_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("APP_DB_PASSWORD=from-dotenv\n")
    monkeypatch.setenv("APP_API_KEY", "from-env")
    url = (f"layered://?layer=env://%3Fprefix%3DAPP_&layer=dotenv://{tmp_path}/.env%3Fprefix%3DAPP_"
           "&layer=mem://&write=2&fall_through=unavailable,permission_denied")
    with open_store(url) as store:
        backend = store.backend
        assert isinstance(backend, LayeredBackend)
        assert [layer.backend.name for layer in backend.layers] == ["env", "dotenv", "memory"]
        assert backend.options.write == 2
        assert backend.options.fall_through == ("unavailable", "permission_denied")
        assert backend.layers[0].cache_policy is None  # the outer store is the one cache
        assert store.get("api-key").value.reveal() == "from-env"
        assert store.get("db-password").value.reveal() == "from-dotenv"
        store.put("new", "v")
        assert backend.layers[2].get("new").value.reveal() == "v"
    assert all(layer.closed for layer in backend.layers)  # closing it closed its layers
    with pytest.raises(ValueError, match="at least one layer"):
        open_store("layered://")
    with pytest.raises(ValueError, match="index of a layer"):
        open_store("layered://?layer=mem://&write=1")
    with pytest.raises(ValueError, match=r"layer 0 \(env\), which is read-only"):
        open_store("layered://?layer=env://&layer=mem://&write=0")
    with pytest.raises(ValueError, match="unknown store URL scheme"):
        open_store("layered://?layer=nope://")
    with pytest.raises(ValueError, match="no host or path"):
        open_store("layered://host?layer=mem://")
    with pytest.raises(ValueError, match="unknown layered:// URL option"):
        open_store("layered://?layer=mem://&colour=blue")


def test_keyword_form_takes_stores_and_urls() -> None:
    memory = MemoryBackend()
    memory.write_external("a", "fake")
    with open_store("layered://", layers=(plain(memory), "env://"), write=0) as store:
        assert store.get("a").value.reveal() == "fake"
        assert isinstance(store.backend, LayeredBackend)
        assert store.backend.layers[1].backend.name == "env"
