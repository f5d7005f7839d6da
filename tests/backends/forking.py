"""Test helper: run a function in a child made by ``os.fork()`` and report how it ended."""

from __future__ import annotations

import os
import signal
import threading
import time
import traceback
from collections.abc import Callable

__all__ = ["HANG", "fork_and_run"]

#: The exit status reported for a child that did not finish within the timeout (and was killed).
HANG = -1


def fork_and_run(child: Callable[[], None], *, then: Callable[[], None] = lambda: None,
                 timeout: float = 60.0) -> int:
    """Fork; the child runs ``child`` and exits 0 (1 if it raised); the parent runs ``then``
    and waits for the child.

    :param then: what the parent does right after the fork (release a held lock, say).
    :param timeout: how long the child may take; generous, since it only catches a hang.
    :return: the child's exit status, or :data:`HANG` when it had to be killed.
    """
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 0
        try:
            child()
        except BaseException:
            os.write(2, traceback.format_exc().encode())
            status = 1
        os._exit(status)
    then()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        threading.Event().wait(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return HANG
