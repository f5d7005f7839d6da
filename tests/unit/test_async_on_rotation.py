"""``on_rotation`` on the async twin, in both forms: awaited with the callback, and as a
decorator (which cannot await: the watch's starting version is read by a task, and the store's
own writes wait for it)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from helium_secrets import AsyncSecretStore, PollPolicy, Secret
from helium_secrets.backends.aio import AsyncMemoryBackend
from helium_secrets.backends.memory import MemoryBackend


def others() -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - {asyncio.current_task()}


def fake_store(**options: Any) -> tuple[MemoryBackend, AsyncSecretStore]:
    fake = MemoryBackend()
    fake.write_external("app/db", "one")
    return fake, AsyncSecretStore(AsyncMemoryBackend.wrap(fake), **options)


def test_the_decorator_form_registers_sync_and_async_callbacks() -> None:
    seen: list[tuple[str | None, str]] = []
    plain: list[str] = []

    async def main() -> None:
        _, store = fake_store()
        async with store:

            @store.on_rotation("app/db")
            async def reconnect(old: Secret | None, new: Secret) -> None:
                await asyncio.sleep(0)
                seen.append((old.value.reveal() if old else None, new.value.reveal()))

            @store.on_rotation("app/db")
            def count(old: Secret | None, new: Secret) -> None:
                plain.append(new.value.reveal())

            # No await between the decorator and the write: the write waits for the watch's
            # starting read, so it is announced as a rotation from "one".
            await store.rotate("app/db", lambda: "two")
            await store.put("app/db", "three")
            assert seen == [("one", "two"), ("two", "three")]
            assert plain == ["two", "three"]
            # The decorator returns the function itself, so it can be removed.
            assert store.remove_rotation_listener("app/db", reconnect)
            await store.put("app/db", "four")
            assert seen == [("one", "two"), ("two", "three")]
            assert plain == ["two", "three", "four"]

    asyncio.run(main())


def test_the_awaited_form_still_returns_the_callback() -> None:
    async def main() -> None:
        _, store = fake_store()
        async with store:
            seen: list[str] = []

            async def on_change(old: Secret | None, new: Secret) -> None:
                seen.append(new.value.reveal())

            registered: Callable[[Secret | None, Secret], Awaitable[None]] = (
                await store.on_rotation("app/db", on_change))
            assert registered is on_change
            await store.rotate("app/db", lambda: "two")
            assert seen == ["two"]

    asyncio.run(main())


def test_a_decorated_callback_hears_a_rotation_made_elsewhere_through_the_poller() -> None:
    fake, store = fake_store(poll=PollPolicy(interval=0.01))
    changed: list[str] = []

    async def main() -> None:
        @store.on_rotation("app/db")
        async def on_change(old: Secret | None, new: Secret) -> None:
            changed.append(f"{old.value.reveal() if old else None}->{new.value.reveal()}")

        await asyncio.sleep(0)  # the watch's starting read runs at the loop's next turn
        for _ in range(1000):  # it reads "one" (a cache miss), then starts the poller
            if any("rotation-poller" in task.get_name() for task in others()):
                break
            await asyncio.sleep(0.01)
        fake.write_external("app/db", "two")  # a rotation elsewhere: the poller notices it
        for _ in range(6000):
            if changed:
                break
            await asyncio.sleep(0.01)
        assert changed == ["one->two"]
        await store.aclose()
        assert not others()

    asyncio.run(main())


def test_a_decorator_applied_before_any_loop_runs_starts_with_the_first_read() -> None:
    # As at an application module's top level: no loop is running yet.
    fake, store = fake_store(poll=PollPolicy(interval=3600))  # started, never due here
    seen: list[str] = []

    @store.on_rotation("app/db")
    def on_change(old: Secret | None, new: Secret) -> None:
        seen.append(new.value.reveal())

    async def main() -> None:
        assert not others()
        assert (await store.get("app/db")).value.reveal() == "one"  # the starting version
        assert seen == []
        assert "helium-rotation-poller[memory]" in {task.get_name() for task in others()}
        fake.write_external("app/db", "two")
        await store.refresh("app/db")
        assert seen == ["two"]
        await store.aclose()
        assert not others()

    asyncio.run(main())


def test_aclose_right_after_decorating_leaves_no_task() -> None:
    async def main() -> None:
        _, store = fake_store()

        @store.on_rotation("app/db")
        async def on_change(old: Secret | None, new: Secret) -> None:
            raise AssertionError("no rotation here")

        await store.aclose()
        assert not others()
        assert store.remove_rotation_listener("app/db", on_change)

    asyncio.run(main())
