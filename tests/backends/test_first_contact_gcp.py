"""GCP Secret Manager, as a newcomer meets it (issue 13), through the real client and the
emulator: one option name across backends (``endpoint_url``), the endpoint named when it is
unreachable, a useful repr."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from helium_secrets import open_store
from helium_secrets.errors import UnavailableError
from helium_secrets.layers.retry import RetryPolicy
from tests.emulators.secretmanager import SecretManagerEmulator

ONCE = RetryPolicy(max_attempts=1, initial_backoff=0.0, max_backoff=0.0, deadline=60.0)
PROJECT = "helium-test"


@pytest.fixture(scope="module")
def emulator() -> Iterator[SecretManagerEmulator]:
    with SecretManagerEmulator() as server:
        yield server


def test_endpoint_is_the_old_name_of_endpoint_url(emulator: SecretManagerEmulator) -> None:
    new = f"gcpsecretmanager://{PROJECT}?endpoint_url={emulator.address}&insecure=true"
    with open_store(new, retry=ONCE) as store:
        store.put("fc/one", "v")
    with pytest.warns(DeprecationWarning, match="endpoint is now called endpoint_url"):
        store = open_store(new.replace("endpoint_url=", "endpoint="), retry=ONCE)
    with store:
        assert store.get("fc/one").value.reveal() == "v"
        assert store.backend.options.endpoint_url == emulator.address  # type: ignore[attr-defined]
        shown = repr(store.backend)
        assert f"project={PROJECT!r}" in shown and emulator.address in shown
        assert " object at 0x" not in shown
    with pytest.raises(TypeError, match="pass endpoint_url only"):
        open_store(new + f"&endpoint={emulator.address}")


def test_an_unreachable_endpoint_is_named() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"gcpsecretmanager://{PROJECT}?endpoint_url=127.0.0.1:{port}&insecure=true&timeout=5"
    with open_store(url, retry=ONCE) as store, pytest.raises(UnavailableError) as info:
        store.get("fc/one")
    assert f"UNAVAILABLE at 127.0.0.1:{port}" in str(info.value)
