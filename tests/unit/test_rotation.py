"""Rotation listeners: own writes, refreshes and the background poller; isolation; close; fork."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator

import pytest

from helium_secrets import PollPolicy, Secret, SecretStore
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import UnavailableError

CANARY = "canary-rotation-5e6f"
WAIT = 30.0  # generous: the machine may be slow; the poll interval is tiny


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def store(backend: MemoryBackend) -> Iterator[SecretStore]:
    with SecretStore(backend, poll=PollPolicy(interval=None)) as store:
        yield store


Seen = list[tuple[str | None, str]]


def recorder(seen: Seen, event: threading.Event | None = None):  # type: ignore[no-untyped-def]
    def callback(old: Secret | None, new: Secret) -> None:
        seen.append((old.version if old else None, new.version))
        if event is not None:
            event.set()

    return callback


def test_own_writes_fire_at_once(store: SecretStore) -> None:
    store.put("db", "one")
    seen: Seen = []
    store.on_rotation("db", recorder(seen))
    store.put("db", "two")
    assert seen == [("1", "2")]
    store.get("db")  # same version: no call
    assert seen == [("1", "2")]


def test_created_later_reports_no_old_secret(store: SecretStore) -> None:
    seen: Seen = []
    store.on_rotation("new", recorder(seen))
    store.put("new", "v")
    assert seen == [(None, "1")]


def test_refresh_detects_an_outside_rotation(store: SecretStore, backend: MemoryBackend) -> None:
    store.put("db", "one")
    seen: Seen = []
    store.on_rotation("db", recorder(seen))
    backend.write_external("db", "two")
    assert store.get("db").version == "1"  # still cached
    assert store.refresh("db").value.reveal() == "two"
    assert seen == [("1", "2")]


def test_poll_once_uses_the_cheap_probe(store: SecretStore, backend: MemoryBackend) -> None:
    store.put("db", "one")
    seen: Seen = []
    store.on_rotation("db", recorder(seen))
    reads = backend.calls["get"]  # registering the listener read the baseline once
    store.rotation.poll_once()
    assert seen == [] and backend.calls["current_version"] == 1 and backend.calls["get"] == reads
    backend.write_external("db", "two")
    store.rotation.poll_once()
    assert seen == [("1", "2")]
    assert store.get("db").value.reveal() == "two"  # the refresh updated the cache


def test_background_poller_fires_within_the_interval(backend: MemoryBackend) -> None:
    fired = threading.Event()
    seen: Seen = []
    with SecretStore(backend, poll=PollPolicy(interval=0.02, jitter=0.1)) as store:
        store.put("db", "one")
        store.on_rotation("db", recorder(seen, fired))
        backend.write_external("db", "two")
        assert fired.wait(WAIT)
        assert seen == [("1", "2")]


def test_failing_callback_is_isolated_and_logged_without_value(
    store: SecretStore, backend: MemoryBackend, caplog: pytest.LogCaptureFixture
) -> None:
    store.put("db", "one")
    seen: Seen = []

    def broken(old: Secret | None, new: Secret) -> None:
        raise RuntimeError(f"callback saw {new.value.reveal()}")

    store.on_rotation("db", broken)
    store.on_rotation("db", recorder(seen))
    with caplog.at_level(logging.DEBUG):
        store.put("db", CANARY)
        backend.write_external("db", CANARY + "2")
        store.rotation.poll_once()
    assert seen == [("1", "2"), ("2", "3")]
    assert store.stats().callback_errors == 2
    assert "RuntimeError" in caplog.text
    assert CANARY not in caplog.text


def test_poller_backs_off_and_survives_errors(store: SecretStore, backend: MemoryBackend) -> None:
    store.put("db", "one")
    seen: Seen = []
    store.on_rotation("db", recorder(seen))
    backend.fail_next(10, UnavailableError, operations=["current_version"])
    assert store.rotation.poll_once() is False
    backend.clear_faults()
    backend.write_external("db", "two")
    assert store.rotation.poll_once() is True
    assert seen == [("1", "2")]


def test_decorator_and_removal(store: SecretStore) -> None:
    seen: Seen = []

    @store.on_rotation("db")
    def listener(old: Secret | None, new: Secret) -> None:
        seen.append((old.version if old else None, new.version))

    store.put("db", "one")
    assert store.remove_rotation_listener("db", listener) is True
    assert store.remove_rotation_listener("db", listener) is False
    store.put("db", "two")
    assert seen == [(None, "1")]


def test_close_stops_the_poller(backend: MemoryBackend) -> None:
    store = SecretStore(backend, poll=PollPolicy(interval=0.01))
    store.put("db", "one")
    store.on_rotation("db", lambda old, new: None)
    thread = store.rotation._thread
    assert thread is not None and thread.is_alive()
    store.close()
    assert not thread.is_alive()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_gets_a_live_poller(backend: MemoryBackend) -> None:
    store = SecretStore(backend, poll=PollPolicy(interval=30))
    store.put("db", "one")
    store.on_rotation("db", lambda old, new: None)
    parent_thread = store.rotation._thread
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether its poller is a fresh, running thread
        thread = store.rotation._thread
        ok = thread is not None and thread is not parent_thread and thread.is_alive()
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    store.close()
    assert answer == b"1"


@pytest.mark.parametrize("read", ["refresh", "get_many"])
def test_a_listener_that_reads_the_rotated_secret_on_a_store_without_cache_does_not_hang(
    read: str,
) -> None:
    # The listener used to run inside the read that found the new version, before that read
    # answered: its own read of the name waited on it for ever.
    import threading

    from helium_secrets.backends.memory import MemoryBackend

    backend = MemoryBackend()
    store = SecretStore(backend, cache=None, poll=PollPolicy(interval=None))
    store.put("a", "one")
    seen: list[str] = []
    store.on_rotation("a", lambda old, new: seen.append(store.get("a").value.reveal()))
    backend.write_external("a", "two")
    worker = threading.Thread(
        target=(lambda: store.refresh("a")) if read == "refresh" else
        (lambda: store.get_many(["a"])), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "the read that found the rotation never returned"
    assert seen == ["two"]
    store.close()


def test_the_poll_schedule_is_the_policys_jittered_interval_doubling_after_failures() -> None:
    # PollPolicy decides the poller's schedule (the thread and the fleet simulation share it).
    policy = PollPolicy(interval=10, jitter=0.2, max_backoff=35)
    waits = [policy.jittered(10) for _ in range(200)]
    assert all(8 <= wait <= 12 for wait in waits)
    assert max(waits) - min(waits) > 1  # it is jittered
    assert policy.next_delay(10, ok=False) == 20
    assert policy.next_delay(20, ok=False) == 35  # capped at max_backoff
    assert policy.next_delay(35, ok=True) == 10
    assert PollPolicy(interval=10, jitter=0).jittered(10) == 10
