"""docs/backends/writing.md: the backend protocol and what ``BackendBase`` gives a minimal
backend."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest

from helium_secrets import (
    SecretStore,
    VersionInfo,
    errors,
    open_store,
    register_backend,
)
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    SecretNotFoundError,
)


def test_the_backend_protocol_members_exist() -> None:
    from helium_secrets.backends import Backend, BackendBase, Capabilities, RawSecret

    documented = {"name", "capabilities", "get", "put", "delete", "list_names", "list_versions",
                  "current_version", "get_many", "set_label", "stage", "promote", "discard",
                  "staging_companion", "classify", "close"}
    assert documented <= set(dir(Backend))
    assert isinstance(MemoryBackend(), Backend)
    assert hasattr(BackendBase, "from_url")
    fields = {"binary", "versions", "labels", "read_only", "max_value_bytes", "name_rules",
              "version_probe", "batch_get", "idempotent_put", "check_and_set", "staging",
              "staging_companion", "sequential_versions"}
    assert fields <= set(Capabilities.__dataclass_fields__)
    assert RawSecret is not None
    put = inspect.signature(Backend.put).parameters
    assert {"expected_version", "create_only", "request_token", "metadata", "labels"} <= set(put)


def test_a_minimal_backend_on_backend_base_gets_the_documented_defaults() -> None:
    from helium_secrets.backends import BackendBase, Capabilities, RawSecret
    from helium_secrets.generators import PasswordGenerator
    from helium_secrets.testing.conformance import BackendConformance

    assert isinstance(BackendConformance, type)

    class Tiny(BackendBase):
        name = "tiny"
        capabilities = Capabilities(versions=False)

        def __init__(self) -> None:
            self.data: dict[str, str | bytes] = {}

        def get(self, name: str, version: str | None = None,
                label: str | None = None) -> RawSecret:
            if name not in self.data:
                raise SecretNotFoundError("secret not found")
            return RawSecret(name=name, value=self.data[name], version="1")

        def put(self, name: str, value: str | bytes, **kwargs: Any) -> VersionInfo:
            self.data[name] = value
            return VersionInfo("1")

        def delete(self, name: str, *, purge: bool = False) -> None:
            del self.data[name]

        def list_names(self, prefix: str = "") -> Iterator[str]:
            return iter(sorted(n for n in self.data if n.startswith(prefix)))

        def list_versions(self, name: str) -> list[VersionInfo]:
            return [VersionInfo("1")]

    register_backend("documented-tiny", Tiny, replace=True)
    with open_store("documented-tiny://") as store:
        store.put("a", "v")
        assert store.current_version("a") == "1"  # built on get
        assert store.get_many(["a"])["a"].value.reveal() == "v"  # built on get
        with pytest.raises(errors.UnsupportedError):
            store.rotate_staged("a", PasswordGenerator(), lambda pending: True)
        assert store.get("a").value.reveal() == "v"


def test_set_label_on_a_backend_without_labels_is_unsupported() -> None:
    import dataclasses

    backend = MemoryBackend()
    backend.capabilities = dataclasses.replace(backend.capabilities, labels=False)
    with SecretStore(backend) as store:
        store.put("a", "v")
        with pytest.raises(errors.UnsupportedError) as info:
            store.set_label("a", "blue", "1")
        assert "memory" in str(info.value) and "'a'" in str(info.value)


def test_a_backend_without_staging_declares_a_companion() -> None:
    import dataclasses

    from helium_secrets.backends import Capabilities

    class Companioned(MemoryBackend):
        capabilities: Capabilities

        def staging_companion(self, name: str) -> str:
            return name + "~staged"

        def list_names(self, prefix: str = "") -> Iterator[str]:
            return (n for n in list(super().list_names(prefix)) if not n.endswith("~staged"))

    backend = Companioned()
    backend.capabilities = dataclasses.replace(backend.capabilities, staging=False,
                                               staging_companion=True, sequential_versions=True)
    with SecretStore(backend) as store:
        store.put("a", "one")
        pending: list[str] = []
        promoted = store.rotate_staged("a", lambda: "two", lambda p: pending.append(p.version))
        assert pending == [promoted.version] == ["2"]  # announced by the id it gets
        assert backend.calls["stage"] == backend.calls["promote"] == 0  # the store's emulation
        assert list(store.list("")) == ["a"]


# -- the async twin ------------------------------------------------------------------------------


def test_the_async_protocol_is_the_sync_one_awaited() -> None:
    from helium_secrets.backends import AsyncBackend, AsyncBackendBase, Backend

    def members(protocol: type) -> set[str]:
        return {name for name in dir(protocol) if not name.startswith("_")}

    assert members(AsyncBackend) == members(Backend) - {"close"} | {"aclose"}
    plain = {"name", "capabilities", "classify", "lease_upkeep_due"}  # no I/O
    for name in members(AsyncBackend) - plain:
        assert inspect.iscoroutinefunction(getattr(AsyncBackend, name)), name
        if name != "aclose":
            sync = inspect.signature(getattr(Backend, name))
            assert inspect.signature(getattr(AsyncBackend, name)).parameters.keys() == \
                sync.parameters.keys(), name
    assert inspect.iscoroutinefunction(AsyncBackendBase.get_many)


def test_the_pages_async_examples_run() -> None:
    import re

    from tests.docs.pages import ROOT

    text = (ROOT / "docs" / "backends" / "writing.md").read_text(encoding="utf-8")
    section = text.split("## The async twin", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2
    for block in blocks:
        exec(compile(block, "docs/backends/writing.md", "exec"), {})  # noqa: S102


def test_a_registered_async_class_is_what_open_async_store_uses() -> None:
    import asyncio

    from helium_secrets import open_async_store
    from helium_secrets.backends.aio import AsyncMemoryBackend, ThreadedBackend

    class Native(AsyncMemoryBackend):
        pass

    register_backend("nativefake", MemoryBackend, async_target=Native)
    register_backend("plainfake", MemoryBackend)

    async def main() -> None:
        native, plain = open_async_store("nativefake://"), open_async_store("plainfake://")
        assert isinstance(native.backend, Native)
        assert isinstance(plain.backend, ThreadedBackend)  # in worker threads
        await native.aclose()
        await plain.aclose()

    asyncio.run(main())
