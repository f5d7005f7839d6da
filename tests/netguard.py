"""A pytest plugin: no test may try to connect anywhere but loopback.

Every ``connect`` / ``connect_ex`` of a Python socket (which is what ``requests``, urllib3,
``http.client``, botocore, azure-core's transports and asyncio's ``sock_connect`` all end in) is
checked: ``127.0.0.0/8``, ``::1`` (IPv4-mapped too), ``localhost`` and ``AF_UNIX`` pass; anything
else is refused before it leaves (``ConnectionRefusedError``), and the test that tried fails,
even if the code under test swallowed the error. A background thread's attempt fails the test
that is running when it happens.

What it cannot see: sockets opened in C, below Python. gRPC's C core makes its own connections
(``grpc.insecure_channel``, ``grpc.secure_channel``), and so do child processes (``bao
server``): the GCP tests keep their channels on the loopback emulator by construction, and the
transport rules for gRPC are checked on the options, before a channel exists.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Generator
from typing import Any

import pytest

from helium_secrets.backends._transport import is_loopback

_lock = threading.Lock()
_attempts: list[str] = []


def _allowed(family: int, address: Any) -> bool:
    if family == getattr(socket, "AF_UNIX", None):
        return True
    if not isinstance(address, tuple) or not address or not isinstance(address[0], str):
        return False
    host = address[0]
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host.lower() == "localhost"  # another name would be resolved: off the box
    return is_loopback(host)


def _check(sock: socket.socket, address: Any) -> None:
    if _allowed(sock.family, address):
        return
    with _lock:
        _attempts.append(repr(address))
    raise ConnectionRefusedError(f"netguard: tests connect only to loopback, not {address!r}")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _connect_ex(self, address)


def pytest_configure(config: pytest.Config) -> None:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign, assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign, assignment]


def pytest_unconfigure(config: pytest.Config) -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]


def _fail_on_attempts() -> None:
    with _lock:
        attempts = list(_attempts)
        _attempts.clear()
    if attempts:
        pytest.fail("connection attempt(s) off loopback: " + ", ".join(attempts), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    yield
    _fail_on_attempts()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    yield
    _fail_on_attempts()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    yield
    _fail_on_attempts()
