"""``add_call_context``: entered around each operation that reaches the backend (retries and
the audit event inside it), never on a cache hit, on both twins; on the async twin the backend's
worker thread runs inside it too."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from helium_secrets import AsyncSecretStore, PollPolicy, RetryPolicy, SecretStore
from helium_secrets.backends.aio import ThreadedBackend
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.layers.audit import AuditEvent

current: ContextVar[str | None] = ContextVar("current", default=None)


class Watching(MemoryBackend):
    """Records the call context each backend call ran in."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str | None] = []

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        self.seen.append(current.get())
        return super().get(name, version, label)


class Recorder:
    def __init__(self) -> None:
        self.log: list[str] = []

    @contextmanager
    def __call__(self, operation: str, name: str | None) -> Iterator[None]:
        self.log.append(f"enter {operation} {name}")
        token = current.set(f"{operation} {name}")
        try:
            yield
        finally:
            current.reset(token)
            self.log.append("exit")

    def audit(self, event: AuditEvent) -> None:
        self.log.append(f"event {event.operation} {event.cache} inside={current.get() is not None}")


RETRY = RetryPolicy(max_attempts=2, initial_backoff=0)


def test_the_sync_store_enters_it_around_backend_calls_only() -> None:
    backend, recorder = Watching(), Recorder()
    backend.write_external("a", "v")
    with SecretStore(backend, retry=RETRY, poll=PollPolicy(interval=None),
                     audit=[recorder.audit]) as store:
        store.add_call_context(recorder)
        backend.fail_next(1, operations=["get"])
        store.get("a")
        store.get("a")  # a cache hit
        store.remove_call_context(recorder)
        store.refresh("a")
    assert recorder.log == ["enter get a", "event get miss inside=True", "exit",
                            "event get hit inside=False", "event get miss inside=False"]
    assert backend.seen == ["get a", "get a", None]  # both attempts inside, then removed


def test_the_async_store_enters_it_and_its_worker_threads_run_inside() -> None:
    backend, recorder = Watching(), Recorder()
    backend.write_external("a", "v")

    async def main() -> None:
        async with AsyncSecretStore(ThreadedBackend.wrap(backend), retry=RETRY,
                                    poll=PollPolicy(interval=None),
                                    audit=[recorder.audit]) as store:
            store.add_call_context(recorder)
            backend.fail_next(1, operations=["get"])
            await store.get("a")
            await store.get("a")

    asyncio.run(main())
    assert recorder.log == ["enter get a", "event get miss inside=True", "exit",
                            "event get hit inside=False"]
    assert backend.seen == ["get a", "get a"]
