"""The public BackendHarness: its defaults (stores, writes from outside, lost answers) and the
checks that keep a fault-injection test from testing nothing."""

from __future__ import annotations

import pytest

from helium_secrets import RetryPolicy
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import PermissionDeniedError, UnavailableError
from helium_secrets.testing import BackendHarness


class SharedFake(BackendHarness):
    """The smallest harness: one fake is the service."""

    def __init__(self) -> None:
        super().__init__()
        self.backend = MemoryBackend()

    def make_backend(self) -> MemoryBackend:
        return self.backend


def test_make_backend_is_what_a_harness_implements() -> None:
    with pytest.raises(NotImplementedError, match="BackendHarness must implement make_backend"):
        BackendHarness().make_store()


def test_write_external_is_not_seen_until_the_store_reads_again() -> None:
    with SharedFake() as harness:
        store = harness.make_store()
        first = store.put("app/db", "one")
        assert store.get("app/db").value.reveal() == "one"  # now cached
        second = harness.write_external("app/db", "two")
        assert second != first.version
        assert store.get("app/db").value.reveal() == "one"
        assert store.refresh("app/db").version == second


def test_a_lost_answer_takes_effect_then_fails_transiently() -> None:
    with SharedFake() as harness:
        store = harness.make_store(retry=RetryPolicy.never())
        harness.inject_fault("lost_answer", "put")
        with pytest.raises(UnavailableError) as info:
            store.put("app/db", "one")
        assert info.value.transient
        assert harness.backend.get("app/db").value == "one"  # it was written
        assert harness.clear_faults() == 0
        assert "put" not in vars(harness.backend)  # the backend's own method is back
        store.put("app/db", "two")


def test_a_lost_answer_reaches_stores_made_after_it_and_is_counted() -> None:
    with SharedFake() as harness:
        harness.make_store()
        harness.inject_fault("lost_answer", "delete", count=2)
        late = harness.make_store(retry=RetryPolicy.never())
        late.put("a", "1")
        with pytest.raises(UnavailableError):
            late.delete("a")
        assert harness.clear_faults() == 1  # one of two was used


def test_the_fault_block_fails_when_a_fault_went_unused() -> None:
    with SharedFake() as harness:
        store = harness.make_store()
        with pytest.raises(AssertionError, match="1 of 1 injected lost_answer"), \
                harness.fault("lost_answer", "delete"):
            store.put("a", "1")  # no delete: the test would have tested nothing
        assert "delete" not in vars(harness.backend)


def test_the_fault_block_cancels_what_is_left_when_the_block_raises() -> None:
    with SharedFake() as harness:
        store = harness.make_store()
        with pytest.raises(KeyError), harness.fault("lost_answer", "get"):
            raise KeyError("the test's own failure")
        store.put("a", "1")
        assert store.get("a").value.reveal() == "1"


@pytest.mark.parametrize(
    ("kind", "operation", "count", "message"),
    [
        ("meteor", "get", 1, "unknown fault kind 'meteor'"),
        ("throttled", "get", 1, "SharedFake cannot inject 'throttled' faults"),
        ("lost_answer", "list_names", 1, "unknown operation 'list_names'"),
        ("lost_answer", "get", 0, "count must be at least 1"),
    ],
)
def test_bad_faults_are_refused(kind: str, operation: str, count: int, message: str) -> None:
    with SharedFake() as harness:
        assert harness.supports("lost_answer") and not harness.supports("throttled")
        with pytest.raises(ValueError, match=message), harness.fault(kind, operation, count):
            pass
        with pytest.raises(ValueError, match=message):
            harness.inject_fault(kind, operation, count)


def test_close_closes_every_store() -> None:
    harness = SharedFake()
    stores = [harness.make_store(), harness.make_store()]
    harness.inject_fault("lost_answer", "get")
    harness.close()
    assert all(store.closed for store in stores)
    assert "get" not in vars(harness.backend)


def test_failing_reads_fail_one_name_in_every_store_until_the_block_ends() -> None:
    with SharedFake() as harness:
        before = harness.make_store(cache=None)
        before.put("a", "1")
        before.put("b", "2")
        with harness.failing_reads("b", PermissionDeniedError):
            after = harness.make_store(cache=None)
            for store in (before, after):
                assert store.get("a").value.reveal() == "1"
                with pytest.raises(PermissionDeniedError, match="injected") as info:
                    store.get("b")
                assert info.value.name == "b"
            answers = harness.backend.get_many(["a", "b"])
            assert isinstance(answers["b"], PermissionDeniedError)
            assert answers["a"].value == "1"  # type: ignore[union-attr]
        assert after.get("b").value.reveal() == "2"
        assert "get" not in vars(harness.backend), "the backend's own methods are back"


def test_manual_clock_sleep_records_the_wait_and_moves_time_by_it() -> None:
    from helium_secrets.testing import ManualClock

    clock = ManualClock(start=10.0)
    clock.sleep(2.5)
    clock.sleep(0)
    clock.advance(1.0)
    assert clock.monotonic() == 13.5
    assert clock.sleeps == [2.5, 0]


def test_a_blocking_call_on_the_twins_loop_fails_the_harness_however_fast() -> None:
    """A sync SDK call on the event loop against a local server returns in a millisecond,
    well under any stall limit: the loop's thread is watched for the blocking call itself."""
    import asyncio
    import socket

    from helium_secrets.testing.twin import LoopThread

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = listener.getsockname()
        loop = LoopThread()
        try:
            async def non_blocking() -> None:  # asyncio's own connect: not a blocking call
                _, writer = await asyncio.open_connection(*address)
                writer.close()
                await writer.wait_closed()

            loop.run(non_blocking())
            assert loop.stalls == []

            async def blocking() -> None:
                with socket.create_connection(address, timeout=5):
                    pass

            loop.run(blocking())
        finally:
            loop.close()
    assert loop.stalls == [  # the sync client's name lookup, then its connect
        f"a blocking name lookup (socket.getaddrinfo {address[0]!r}) on the event loop",
        f"a blocking socket connect to {address!r} on the event loop"]
    with SharedFake() as harness:  # the harness fails a twin whose loop was blocked
        harness._loop = loop
        with pytest.raises(AssertionError, match="the event loop was blocked"):
            harness.close()
