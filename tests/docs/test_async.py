"""docs/async.md: its examples run, and its claims hold on the fake."""

from __future__ import annotations

import asyncio
import re

import pytest

import helium_secrets
from helium_secrets import AsyncSecretStore, SecretStore, open_async_store
from tests.docs.pages import ROOT

PAGE = (ROOT / "docs" / "async.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("index", range(len(re.findall(r"```python\n", PAGE))))
def test_each_example_runs(index: int) -> None:
    block = re.findall(r"```python\n(.*?)```", PAGE, re.S)[index]
    exec(compile(block, f"docs/async.md[{index}]", "exec"), {})  # noqa: S102


def test_every_store_method_has_its_awaited_twin() -> None:
    sync = {name for name in dir(SecretStore) if not name.startswith("_")}
    twin = {name for name in dir(AsyncSecretStore) if not name.startswith("_")}
    assert sync - {"close"} == twin - {"aclose"}
    plain = {"check_name", "check_writable", "stats_nowait", "remove_rotation_listener", "add_audit_hook",
             "remove_audit_hook", "add_call_context", "remove_call_context", "closed", "rotation", "extras", "list", "OPTIONS", "backend",
             "retry_policy", "cache_policy"}
    for name in twin - plain - {"on_rotation"}:
        assert asyncio.iscoroutinefunction(getattr(AsyncSecretStore, name)), name
    assert AsyncSecretStore.OPTIONS == SecretStore.OPTIONS


def test_on_rotation_is_awaited_with_a_callback_and_plain_as_a_decorator() -> None:
    async def main() -> None:
        async with open_async_store("mem://") as store:
            await store.put("a", "1")
            seen: list[str] = []

            def callback(old: object, new: object) -> None:
                seen.append("called")

            registration = store.on_rotation("a", callback)
            assert asyncio.iscoroutine(registration)
            assert await registration is callback
            assert store.on_rotation("a")(callback) is callback  # no await: a decorator
            await store.put("a", "2")
            assert seen == ["called", "called"]

    asyncio.run(main())


def test_the_page_names_every_awaited_method() -> None:
    awaited = {name for name in dir(AsyncSecretStore) if not name.startswith("_")
               and asyncio.iscoroutinefunction(getattr(AsyncSecretStore, name))}
    awaited.add("on_rotation")
    section = PAGE.split("## The methods", 1)[1].split("## ", 1)[0]
    assert {name for name in awaited if f"`{name}" not in section} == set()


def test_open_async_store_is_exported_beside_open_store() -> None:
    assert "open_async_store" in helium_secrets.__all__
    assert "AsyncSecretStore" in helium_secrets.__all__
    assert open_async_store.__doc__ and "open_store" in open_async_store.__doc__
