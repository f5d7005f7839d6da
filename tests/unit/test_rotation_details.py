"""Rotation listeners in detail: what a poll reports and counts, what listeners are told after a
deletion, a removal or a failed first read, how failures are logged, the one poller thread, and
a forked child's listeners (issue 21: the survivors of mutation testing in ``_rotation``)."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from helium_secrets import PollPolicy, RetryPolicy, Secret, SecretStore
from helium_secrets import _rotation as rotation_module
from helium_secrets._rotation import RotationListeners
from helium_secrets._values import VersionInfo
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import ErrorCode, SecretNotFoundError, UnavailableError
from tests.backends.forking import fork_and_run

WAIT = 30.0  # generous: the machine may be slow
POLLER = "helium-rotation-poller[memory]"

Seen = list[tuple[Secret | None, Secret]]


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def store(backend: MemoryBackend) -> Iterator[SecretStore]:
    with SecretStore(backend, poll=PollPolicy(interval=None), retry=RetryPolicy.never()) as store:
        yield store


def versions(seen: Seen) -> list[tuple[str | None, str]]:
    return [(None if old is None else old.version, new.version) for old, new in seen]


def record(seen: Seen):  # type: ignore[no-untyped-def]
    def callback(old: Secret | None, new: Secret) -> None:
        seen.append((old, new))

    return callback


def poller_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("helium-rotation-poller")]


# -- polls: counted, deletions, the version last seen ----------------------------------------


def test_every_poll_is_counted_in_the_stats(store: SecretStore) -> None:
    store.put("db", "one")
    store.on_rotation("db", lambda old, new: None)
    assert store.stats().rotations_polled == 0
    store.rotation.poll_once()
    store.rotation.poll_once()
    store.rotation.poll_once()
    assert store.stats().rotations_polled == 3


def test_a_secret_the_poller_finds_deleted_and_then_created_again_has_no_old_version(
    store: SecretStore, backend: MemoryBackend
) -> None:
    store.put("db", "one")
    seen: Seen = []
    store.on_rotation("db", record(seen))
    backend.delete("db")
    assert store.rotation.poll_once() is True, "a deleted secret is not a failed poll"
    assert store.rotation.known_version("db") is None
    backend.write_external("db", "two")  # "1" again, created later
    assert store.rotation.poll_once() is True
    assert len(seen) == 1
    old, new = seen[0]
    assert old is None and new.value.reveal() == "two"
    assert store.rotation.known_version("db") == "1"


def test_a_secret_the_store_deleted_and_created_again_has_no_old_version(
    store: SecretStore,
) -> None:
    store.put("db", "one")
    seen: Seen = []
    store.on_rotation("db", record(seen))
    store.delete("db")
    store.put("db", "two")
    assert len(seen) == 1 and seen[0][0] is None and seen[0][1].value.reveal() == "two"


def test_the_version_last_seen_of_a_watched_name(store: SecretStore) -> None:
    store.put("db", "one")
    assert store.rotation.known_version("db") is None, "not watched"
    store.on_rotation("db", lambda old, new: None)
    assert store.rotation.known_version("db") == "1"
    store.put("db", "two")
    assert store.rotation.known_version("db") == "2"
    assert store.rotation.known_version("other") is None


def test_a_listener_of_a_secret_created_later_is_told_old_is_none(store: SecretStore) -> None:
    seen: Seen = []
    store.on_rotation("new", record(seen))
    assert store.rotation.known_version("new") is None
    store.put("new", "v")
    assert len(seen) == 1 and seen[0][0] is None  # None itself, not another falsy value


def test_a_first_read_that_failed_sets_the_version_silently_when_a_read_succeeds(
    store: SecretStore, backend: MemoryBackend
) -> None:
    backend.write_external("db", "one")
    backend.fail_next(100, UnavailableError, operations=["get"])
    seen: Seen = []
    store.on_rotation("db", record(seen))  # its first read fails: the version is unknown
    assert store.rotation.known_version("db") is None
    backend.clear_faults()
    assert store.rotation.poll_once() is True
    assert seen == [], "the first version learned is not a rotation"
    assert store.rotation.known_version("db") == "1"
    backend.write_external("db", "two")
    store.rotation.poll_once()
    assert versions(seen) == [("1", "2")]


# -- removal ---------------------------------------------------------------------------------


def test_removing_one_listener_keeps_the_others(store: SecretStore) -> None:
    store.put("db", "one")
    first: Seen = []
    second: Seen = []
    a, b = record(first), record(second)
    store.on_rotation("db", a)
    store.on_rotation("db", b)
    assert store.remove_rotation_listener("db", a) is True
    store.put("db", "two")
    assert first == [] and versions(second) == [("1", "2")]
    assert store.rotation.watched() == ["db"]
    assert store.remove_rotation_listener("db", b) is True
    assert store.rotation.watched() == []


def test_a_listener_added_after_all_were_removed_starts_from_the_version_current_then() -> None:
    backend = MemoryBackend()
    with SecretStore(backend, cache=None, poll=PollPolicy(interval=None)) as store:
        store.put("db", "one")
        old_listener = record([])
        store.on_rotation("db", old_listener)
        store.remove_rotation_listener("db", old_listener)
        backend.write_external("db", "two")  # while no one listens
        seen: Seen = []
        store.on_rotation("db", record(seen))
        assert seen == [], "a rotation no listener saw is not told to a later listener"
        assert store.rotation.known_version("db") == "2"
        store.put("db", "three")
        assert versions(seen) == [("2", "3")]


def test_a_listener_removed_before_its_queued_change_is_delivered_is_not_called(
    store: SecretStore,
) -> None:
    store.put("a", "v")
    store.put("b", "v")
    b_seen: Seen = []
    b_listener = record(b_seen)
    store.on_rotation("b", b_listener)

    def on_a(old: Secret | None, new: Secret) -> None:
        store.put("b", "queued")  # delivered after this callback returns
        store.remove_rotation_listener("b", b_listener)

    store.on_rotation("a", on_a)
    store.put("a", "w")  # no error: the queued change of "b" has no listener left
    assert b_seen == []
    assert store.stats().callback_errors == 0


# -- how failures are logged ---------------------------------------------------------------


def test_a_failed_probe_is_logged_with_the_backend_name_and_error_code(
    store: SecretStore, backend: MemoryBackend, caplog: pytest.LogCaptureFixture
) -> None:
    store.put("db", "one")
    store.on_rotation("db", lambda old, new: None)
    backend.fail_next(1, UnavailableError, operations=["current_version"])
    with caplog.at_level(logging.WARNING, logger="helium_secrets.rotation"):
        assert store.rotation.poll_once() is False
    messages = [r.getMessage() for r in caplog.records if r.name == "helium_secrets.rotation"]
    assert messages == [f"rotation poll of memory secret 'db' failed: {ErrorCode.UNAVAILABLE}"]


def _listeners(probe: Callable[[str], VersionInfo]) -> RotationListeners:
    def fail(name: str) -> Secret:
        raise AssertionError("not called")

    def refuse(name: str) -> Secret:
        raise SecretNotFoundError("secret not found")

    return RotationListeners(
        backend="memory", policy=PollPolicy(interval=None), probe=probe, refresh=fail,
        baseline=refuse, ticket=iter(range(10**6)).__next__, confirm=lambda name: None)


def test_a_poll_that_meets_an_unexpected_exception_reports_failure_and_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    probed: list[str] = []

    def probe(name: str) -> VersionInfo:
        probed.append(name)
        raise RuntimeError("a bug, with words that are not logged")

    listeners = _listeners(probe)
    listeners.add("a", lambda old, new: None)
    listeners.add("b", lambda old, new: None)
    with caplog.at_level(logging.WARNING, logger="helium_secrets.rotation"):
        assert listeners.poll_once() is False
    assert probed == ["a", "b"], "one failure does not stop the poll"
    messages = [r.getMessage() for r in caplog.records if r.name == "helium_secrets.rotation"]
    assert messages == ["rotation poll of memory secret 'a' failed: RuntimeError",
                        "rotation poll of memory secret 'b' failed: RuntimeError"]
    assert "words" not in caplog.text


class _Listener:
    """A callable object: it has no ``__qualname__`` of its own."""

    def __repr__(self) -> str:
        return "<the listener object>"

    def __call__(self, old: Secret | None, new: Secret) -> None:
        raise ValueError(f"saw {new.value.reveal()}")


def test_a_failing_callback_is_logged_by_its_name_the_backend_and_the_secret(
    store: SecretStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.put("db", "one")

    def broken(old: Secret | None, new: Secret) -> None:
        raise RuntimeError(f"saw {new.value.reveal()}")

    store.on_rotation("db", broken)
    store.on_rotation("db", _Listener())
    with caplog.at_level(logging.ERROR, logger="helium_secrets.rotation"):
        store.put("db", "the-new-value")
    messages = [r.getMessage() for r in caplog.records if r.name == "helium_secrets.rotation"]
    assert messages == [
        f"rotation callback {broken.__qualname__!r} failed for memory secret 'db': RuntimeError",
        "rotation callback <the listener object> failed for memory secret 'db': ValueError",
    ]
    assert "the-new-value" not in caplog.text
    assert store.stats().callback_errors == 2


# -- the poller thread -----------------------------------------------------------------------


def test_no_poller_runs_when_polling_is_off(backend: MemoryBackend) -> None:
    with SecretStore(backend, poll=PollPolicy(interval=None)) as store:
        store.put("db", "one")
        store.on_rotation("db", lambda old, new: None)
        store.put("db", "two")
        assert store.rotation._thread is None


def test_one_store_has_one_named_poller_thread(backend: MemoryBackend) -> None:
    before = poller_threads()
    with SecretStore(backend, poll=PollPolicy(interval=60)) as store:
        store.put("a", "one")
        store.put("b", "one")
        store.on_rotation("a", lambda old, new: None)
        store.on_rotation("b", lambda old, new: None)
        store.put("a", "two")
        store.get("b")
        new = [t for t in poller_threads() if t not in before]
        assert [t.name for t in new] == [POLLER]
    assert not new[0].is_alive()


def test_the_poller_keeps_polling_after_failed_polls(backend: MemoryBackend) -> None:
    fired = threading.Event()
    seen: Seen = []

    def listener(old: Secret | None, new: Secret) -> None:
        seen.append((old, new))
        fired.set()

    backend.write_external("db", "one")
    with SecretStore(backend, poll=PollPolicy(interval=0.01, jitter=0.1, max_backoff=0.05),
                     retry=RetryPolicy.never()) as store:
        store.on_rotation("db", listener)
        backend.fail_next(3, UnavailableError, operations=["current_version"])
        backend.write_external("db", "two")
        assert fired.wait(WAIT), "the poller stopped after its first failed poll"
    assert versions(seen) == [("1", "2")]
    assert store.stats().rotations_polled >= 4


def recording_policy(**fields: float) -> tuple[PollPolicy, list[float]]:
    """A :class:`PollPolicy` whose waits are recorded: each wait the poller asks the policy to
    jitter, in order. The poller then waits 1 ms, so that a test sees a long schedule at once."""
    asked: list[float] = []

    class Recording(PollPolicy):
        def jittered(self, delay: float) -> float:
            asked.append(delay)
            return 0.001

    return Recording(**fields), asked


#: Long enough for a few polls 1 ms apart on a loaded machine; short of mutmut's limit for a
#: hung run of the poller's tests (about 20 s), so that a poller that never wakes fails here.
SCHEDULE_DEADLINE = 10.0


def test_the_poller_waits_as_its_policy_says_backing_off_after_failed_polls(
    backend: MemoryBackend,
) -> None:
    # The thread follows PollPolicy's schedule: the interval first and after a clean poll;
    # after a failed one, twice the last wait, up to max_backoff (the fleet simulation relies
    # on the thread waiting exactly so).
    policy, asked = recording_policy(interval=10, jitter=0.2, max_backoff=35)
    backend.write_external("db", "one")
    backend.fail_next(3, UnavailableError, operations=["current_version"])
    with SecretStore(backend, poll=policy, retry=RetryPolicy.never()) as store:
        store.on_rotation("db", lambda old, new: None)
        poller = store.rotation._thread
        assert poller is not None
        deadline = threading.Event()
        for _ in range(int(SCHEDULE_DEADLINE / 0.005)):
            if len(asked) >= 7 or not poller.is_alive():
                break
            deadline.wait(0.005)
        assert poller.is_alive(), "the poller thread ended while the store was open"
    assert asked[:7] == [10, 20, 35, 35, 10, 10, 10]
    assert store.stats().rotations_polled >= 6


# -- fork ------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_polls_delivers_and_closes_with_its_own_poller() -> None:
    backend = MemoryBackend()
    backend.write_external("db", "one")
    store = SecretStore(backend, poll=PollPolicy(interval=60))
    seen: Seen = []
    store.on_rotation("db", record(seen))
    parent_poller = store.rotation._thread

    def child() -> None:  # an assertion that fails makes the child exit 1
        pollers = poller_threads()
        assert [t.name for t in pollers] == [POLLER] and pollers[0] is not parent_poller
        backend.write_external("db", "two")
        assert store.rotation.poll_once() is True
        store.put("db", "three")
        assert versions(seen) == [("1", "2"), ("2", "3")]
        store.close()
        assert not pollers[0].is_alive()

    try:
        assert fork_and_run(child) == 0, "the child's listeners and poller work (exit 0)"
    finally:
        store.close()


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_of_a_store_without_listeners_starts_no_poller() -> None:
    store = SecretStore(MemoryBackend(), poll=PollPolicy(interval=60))
    store.put("db", "one")
    try:
        def child() -> None:
            assert poller_threads() == []

        assert fork_and_run(child) == 0
    finally:
        store.close()


# -- stopping: what a stopped poller answers, a second stop, a callback that never returns ----


def test_a_poll_after_close_probes_nothing_and_reports_no_failure(
    store: SecretStore, backend: MemoryBackend
) -> None:
    store.put("db", "one")
    store.on_rotation("db", lambda old, new: None)
    store.close()
    probes = backend.calls["current_version"]
    assert store.rotation.poll_once() is True  # a bool, as documented: nothing failed
    assert backend.calls["current_version"] == probes


def test_stopping_the_poller_twice_is_harmless(backend: MemoryBackend) -> None:
    backend.write_external("db", "one")
    store = SecretStore(backend, poll=PollPolicy(interval=60), retry=RetryPolicy.never())
    store.on_rotation("db", lambda old, new: None)
    assert poller_threads()
    store.rotation.stop()
    store.rotation.stop()
    store.close()  # stops it a third time
    assert not [t for t in poller_threads() if t.is_alive()]


def test_close_gives_up_waiting_for_a_callback_that_never_returns(
    backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener stuck in the poller thread delays ``close()`` by the poller's limit
    (``STOP_WAIT``, 10 s; a tenth of a second here), not for good."""
    monkeypatch.setattr(rotation_module, "STOP_WAIT", 0.1)
    entered, release = threading.Event(), threading.Event()

    def stuck(old: Secret | None, new: Secret) -> None:
        entered.set()
        release.wait(WAIT * 3)

    backend.write_external("db", "one")
    store = SecretStore(backend, poll=PollPolicy(interval=0.01, jitter=0.1),
                        retry=RetryPolicy.never())
    try:
        store.on_rotation("db", stuck)
        backend.write_external("db", "two")
        assert entered.wait(WAIT), "the poller did not deliver the rotation"
        closer = threading.Thread(target=store.close, name="closer")
        closer.start()
        closer.join(WAIT)
        assert not closer.is_alive(), "close() waited for the stuck callback without a limit"
        assert not release.is_set()
    finally:
        release.set()
