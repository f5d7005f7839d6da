"""A forked child can use a store whose parent had reads in flight (the docs say forking is
supported): what threads held in the parent is gone in the child, and the child starts afresh."""

from __future__ import annotations

import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from helium_secrets import GuardPolicy, PollPolicy, SecretStore
from tests.unit.clock import TIMEOUT, ControlledBackend

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin",
                                reason="needs os.fork")


def _in_child(check: object) -> int:
    """Run ``check()`` in a forked child with an alarm; return the child's exit status."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            signal.alarm(20)  # a hang fails the test instead of blocking it
            code = 0 if check() else 2  # type: ignore[operator]
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_a_child_forked_during_a_read_in_flight_reads_without_hanging() -> None:
    backend = ControlledBackend()
    backend.write_external("a", "v1")
    with SecretStore(backend, poll=PollPolicy(interval=None),
                     guard=GuardPolicy(threshold=0)) as store, ThreadPoolExecutor(1) as pool:
        hold = backend.hold("a")
        reading = pool.submit(store.get, "a")  # in flight while we fork
        hold.wait_entered()
        status = _in_child(lambda: store.get("a").value.reveal() == "v1")
        hold.release()
        assert reading.result(TIMEOUT).version == "1"
    assert status == 0, "the child read the secret (exit 0), it did not hang (alarm: -14)"
