"""Rotation listeners see versions in the order the store learned them and never step backwards,
whatever the threads do; a deleted and re-created secret is a rotation."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from helium_secrets import PollPolicy, Secret, SecretStore
from helium_secrets.backends.memory import MemoryBackend
from tests.unit.clock import TIMEOUT, ControlledBackend, wait_until


def test_a_read_that_finishes_after_a_put_does_not_announce_the_older_version() -> None:
    backend = ControlledBackend()
    backend.write_external("a", "v1")
    seen: list[tuple[str | None, str]] = []
    with SecretStore(backend, poll=PollPolicy(interval=None)) as store:
        store.on_rotation("a", lambda old, new: seen.append((old.version if old else None, new.version)))
        hold = backend.hold("a", read_first=True)  # this read's answer is v1, delivered late
        with ThreadPoolExecutor(1) as pool:
            late = pool.submit(store.refresh, "a")
            hold.wait_entered()
            store.put("a", "v2")
            hold.release()
            assert late.result(TIMEOUT).version == "1"
        wait_until(lambda: store.stats().refreshes >= 1, "the read finished")
    assert seen == [("1", "2")], "the late answer (v1) was not announced after v2"


def test_threads_writing_and_reading_never_see_a_version_go_back() -> None:
    backend = MemoryBackend()
    backend.write_external("a", "0")
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def record(old: Secret | None, new: Secret) -> None:
        with lock:
            seen.append((int(old.version) if old else 0, int(new.version)))

    with SecretStore(backend, poll=PollPolicy(interval=None)) as store:
        store.on_rotation("a", record)

        def work(i: int) -> None:
            for n in range(40):
                if i % 2:
                    store.put("a", f"{i}-{n}")
                else:
                    store.refresh("a")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(work, range(8)))
        final = store.refresh("a").version
        wait_until(lambda: not store.rotation._pending, "deliveries drained")
    with lock:
        news = [new for _, new in seen]
        assert news == sorted(news), "announced versions only move forward"
        assert all(new > old for old, new in seen)
        assert all(seen[i][1] == seen[i + 1][0] for i in range(len(seen) - 1)), \
            "each callback's old is the previous callback's new"
        assert news[-1] == int(final), "the listeners end on the current version"


def test_a_secret_deleted_and_created_again_outside_the_store_is_a_rotation() -> None:
    backend = MemoryBackend()
    backend.write_external("a", "one")
    seen: list[tuple[str | None, str]] = []
    with SecretStore(backend, poll=PollPolicy(interval=None)) as store:
        store.on_rotation("a", lambda old, new: seen.append((old.version if old else None, new.version)))
        backend.delete("a")
        backend.write_external("a", "two")  # version ids start again at "1"
        assert store.refresh("a").value.reveal() == "two"
    assert seen == [("1", "1")], "the new version 1 was told apart from the old one"


def test_a_callback_sees_changes_one_at_a_time_even_when_it_writes() -> None:
    backend = MemoryBackend()
    backend.write_external("a", "v")
    calls: list[str] = []
    with SecretStore(backend, poll=PollPolicy(interval=None)) as store:
        def on_change(old: Secret | None, new: Secret) -> None:
            calls.append(f"start {new.version}")
            if new.version == "2":
                store.put("a", "from the callback")  # delivered after this callback returns
            calls.append(f"end {new.version}")

        store.on_rotation("a", on_change)
        store.put("a", "w")
    assert calls == ["start 2", "end 2", "start 3", "end 3"]


def test_the_poller_notices_a_secret_deleted_and_created_again_with_the_same_version_id() -> None:
    backend = MemoryBackend()
    backend.write_external("a", "one")
    seen: list[str] = []
    with SecretStore(backend, poll=PollPolicy(interval=None)) as store:
        store.on_rotation("a", lambda old, new: seen.append(new.value.reveal()))
        backend.delete("a")
        backend.write_external("a", "two")  # "1" again, created later
        store.rotation.poll_once()  # the probe's answer carries the creation time
    assert seen == ["two"]
