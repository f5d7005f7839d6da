"""The OpenTelemetry integration on the async twin, with the OTel SDK's in-memory exporters:
the same spans (each task's operation a child of that task's current span) and metrics (read by
the reader's thread without awaiting), and a canary value (or, by default, name) nowhere."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.trace import SpanKind, StatusCode

from helium_secrets import AsyncSecretStore, GuardPolicy, PollPolicy, RetryPolicy, errors
from helium_secrets.backends.aio import AsyncMemoryBackend
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.integrations.opentelemetry import Instrumentation, instrument
from helium_secrets.testing import ManualClock
from tests.integration.test_opentelemetry import CANARY, NAME, Telemetry


def async_store(backend: MemoryBackend | None = None, **options: Any) -> AsyncSecretStore:
    options.setdefault("poll", PollPolicy(interval=None))
    return AsyncSecretStore(AsyncMemoryBackend.wrap(backend or MemoryBackend()),
                            clock=ManualClock(), **options)


def _instrument(store: AsyncSecretStore, telemetry: Telemetry, **options: Any) -> Instrumentation:
    return instrument(store, tracer_provider=telemetry.tracer_provider,
                      meter_provider=telemetry.meter_provider, **options)


def test_the_async_store_has_the_sync_stores_spans() -> None:
    telemetry = Telemetry()

    async def main() -> None:
        async with async_store() as store:
            _instrument(store, telemetry)
            await store.put(NAME, CANARY)
            await store.get(NAME)  # a miss
            await store.get(NAME)  # a cache hit: counted, no span
            with pytest.raises(errors.SecretNotFoundError):
                await store.get("missing")

    asyncio.run(main())
    spans = telemetry.finished()
    assert [s.name for s in spans] == ["helium_secrets.put", "helium_secrets.get",
                                       "helium_secrets.get"]
    assert {s.kind for s in spans} == {SpanKind.INTERNAL}
    put, get, missing = (dict(s.attributes or {}) for s in spans)
    assert put == {"helium_secrets.backend": "memory", "helium_secrets.operation": "put",
                   "helium_secrets.outcome": "ok", "helium_secrets.attempts": 1,
                   "helium_secrets.retries": 0, "helium_secrets.version": "1"}
    assert get["helium_secrets.cache"] == "miss"
    assert missing["error.type"] == "not_found"
    assert spans[2].status.status_code is StatusCode.ERROR
    text = telemetry.everything()
    assert CANARY not in text and NAME not in text


def test_each_tasks_operation_is_a_child_of_that_tasks_span() -> None:
    telemetry = Telemetry()
    tracer = telemetry.tracer_provider.get_tracer("app")
    parents: dict[str, int] = {}

    async def request(name: str, store: AsyncSecretStore, both: asyncio.Event) -> None:
        with tracer.start_as_current_span(f"request {name}") as parent:
            parents[name] = parent.get_span_context().span_id
            if len(parents) == 2:
                both.set()
            await both.wait()  # both requests' spans are current, each in its own task
            await store.put(name, CANARY)

    async def main() -> None:
        async with async_store() as store:
            _instrument(store, telemetry, record_names=True)
            both = asyncio.Event()
            await asyncio.gather(request("a", store, both), request("b", store, both))

    asyncio.run(main())
    puts = [s for s in telemetry.finished() if s.name == "helium_secrets.put"]
    assert len(puts) == 2
    for put in puts:
        name = dict(put.attributes or {})["helium_secrets.secret.name"]
        assert put.parent is not None and put.parent.span_id == parents[str(name)]
    assert CANARY not in telemetry.everything()


def test_the_metrics_are_read_in_the_readers_thread_without_awaiting() -> None:
    telemetry = Telemetry()
    backend = MemoryBackend()
    readers: list[dict[str, list[tuple[dict[str, Any], Any]]]] = []

    async def main() -> None:
        store = async_store(backend, retry=RetryPolicy(max_attempts=3, initial_backoff=0),
                            guard=GuardPolicy(threshold=3))
        _instrument(store, telemetry)
        await store.put("a", CANARY)
        await store.get("a")  # miss (the write dropped the cached value)
        await store.get("a")  # hit
        backend.fail_next(2, operations=["get"])
        await store.get("a", ttl=0)  # two transient failures, then success: 2 retries
        backend.fail_next(3, operations=["get"])
        with pytest.raises(errors.UnavailableError):
            await store.get("b", ttl=0)  # 3 failed attempts: the guard opens
        # Collected on the loop's own thread while the loop runs (a callback that waited on
        # the loop would hang here), and from another thread, as a periodic reader does.
        readers.append(telemetry.metrics())
        collector = threading.Thread(target=lambda: readers.append(telemetry.metrics()))
        collector.start()
        await asyncio.to_thread(collector.join, 60)
        await store.aclose()

    asyncio.run(main())
    assert len(readers) == 2
    for found in readers:
        cache = {a["helium_secrets.cache"]: v for a, v in found["helium_secrets.cache.results"]
                 if a["helium_secrets.backend"] == "memory"}
        assert cache["hit"] == 1 and cache["miss"] == 3
        assert {cache[k] for k in ("stale", "negative", "coalesced")} == {0}
        assert found["helium_secrets.guard.trips"] == [({"helium_secrets.backend": "memory"}, 1)]
        assert sum(v for _, v in found["helium_secrets.backend.calls"]) == 1 + 1 + 3 + 3
        assert sum(v for _, v in found["helium_secrets.retries"]) == 2 + 2
    assert CANARY not in telemetry.everything()


def test_stats_nowait_is_the_awaited_stats() -> None:
    async def main() -> None:
        async with async_store() as store:
            await store.put("a", CANARY)
            await store.get("a")
            await store.get("a")
            assert store.stats_nowait() == await store.stats()
            assert store.stats_nowait().hits == 1

    asyncio.run(main())


def test_instrument_takes_either_twin_and_nothing_else() -> None:
    async def main() -> None:
        async with async_store() as store:
            hook = instrument(store)
            assert hook.store is store
            hook.uninstrument()

    asyncio.run(main())
    with pytest.raises(TypeError, match="SecretStore or an AsyncSecretStore"):
        instrument(object())  # type: ignore[arg-type]
