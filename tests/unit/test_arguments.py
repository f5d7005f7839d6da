"""Bad arguments are clear errors naming the argument, raised before any backend call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from helium_secrets import PollPolicy, SecretStore
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import InvalidArgumentError


@pytest.fixture
def backend() -> MemoryBackend:
    backend = MemoryBackend()
    backend.write_external("a", "v")
    return backend


@pytest.fixture
def store(backend: MemoryBackend) -> Iterator[SecretStore]:
    with SecretStore(backend, poll=PollPolicy(interval=None)) as store:
        yield store


CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("put", "labels", {"value": "x", "labels": "blue"}),
    ("put", "labels", {"value": "x", "labels": ["ok", 5]}),
    ("put", "metadata", {"value": "x", "metadata": "abc"}),
    ("put", "create_only", {"value": "x", "create_only": "no"}),
    ("put", "expected_version", {"value": "x", "expected_version": 1}),
    ("get", "version", {"version": 5}),
    ("get", "label", {"label": ["x"]}),
    ("get", "ttl", {"ttl": "5"}),
    ("get", "ttl", {"ttl": True}),
    ("delete", "purge", {"purge": "yes"}),
    ("set_label", "label", {"label": 3, "version": "1"}),
]


@pytest.mark.parametrize(("method", "argument", "kwargs"), CASES)
def test_a_wrong_type_is_refused_before_any_call(
    store: SecretStore, backend: MemoryBackend, method: str, argument: str, kwargs: dict[str, Any]
) -> None:
    before = sum(backend.calls.values())
    with pytest.raises(InvalidArgumentError, match=argument) as info:
        getattr(store, method)("a", **kwargs)
    assert (info.value.backend, info.value.name) == ("memory", "a")
    assert sum(backend.calls.values()) == before, "nothing reached the backend"
    assert backend.get("a").value == "v", "stored data untouched"


def test_get_many_refuses_a_single_string(store: SecretStore, backend: MemoryBackend) -> None:
    with pytest.raises(InvalidArgumentError, match="names must be an iterable"):
        store.get_many("ab")
    with pytest.raises(InvalidArgumentError, match="ignore_missing"):
        store.get_many(["a"], ignore_missing="no")  # type: ignore[arg-type]
    assert backend.calls["get"] == 0


@pytest.mark.parametrize("value", ["x\ud800y", "\udfff", "ok \U0001f511 then \udc80"])
def test_a_value_that_cannot_round_trip_is_refused_on_every_backend(
    store: SecretStore, backend: MemoryBackend, value: str
) -> None:
    with pytest.raises(InvalidArgumentError, match="lone surrogate") as info:
        store.put("a", value)
    assert value not in str(info.value)
    assert backend.calls["put"] == 0
    with pytest.raises(InvalidArgumentError, match="lone surrogate"):
        store.rotate("a", lambda: value)
    with pytest.raises(InvalidArgumentError, match="lone surrogate"):
        store.put("a", "fine", metadata={"k": value})


def test_metadata_limits_are_checked_before_any_call(backend: MemoryBackend) -> None:
    import dataclasses

    backend.capabilities = dataclasses.replace(
        backend.capabilities, max_metadata_keys=2, max_metadata_key_bytes=4,
        max_metadata_value_bytes=8)
    with SecretStore(backend, poll=PollPolicy(interval=None)) as store:
        for metadata, problem in [
            ({"a": "1", "b": "2", "c": "3"}, "3 keys"),
            ({"toolong": "1"}, "'toolong': the key is 7 bytes"),
            ({"k": "é" * 5}, "'k': the value is 10 bytes"),
            ({"": "x"}, "key must not be empty"),
        ]:
            with pytest.raises(InvalidArgumentError, match=problem):
                store.put("a", "new", metadata=metadata)
        assert backend.calls["put"] == 0
        store.put("a", "new", metadata={"k": "é" * 4})


def test_get_many_checks_every_name_before_any_call(store: SecretStore, backend: MemoryBackend) -> None:
    from helium_secrets.errors import InvalidNameError

    for names in (["a", ["not", "a", "name"]], ["a", 5], ["a", "../b"]):
        with pytest.raises(InvalidNameError):
            store.get_many(names)  # type: ignore[arg-type]
    assert backend.calls["get"] == 0
