"""Rotation against real servers: a second client rotates a secret and a running store's
listener fires, and its next read returns the new value; staged rotation and its rollback."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from helium_secrets import PollPolicy, RetryPolicy, Secret, SecretStore
from helium_secrets.backends._base import Backend
from helium_secrets.errors import RotationTestFailed

WAIT = 60.0  # generous for a slow shared machine; the poll interval is 0.05 s

BackendFactory = Callable[[], Backend]


def _aws(request: pytest.FixtureRequest) -> BackendFactory:
    from helium_secrets.backends.awssecretsmanager import AWSSecretsManagerBackend

    server = request.getfixturevalue("moto")  # tests/conftest.py
    return lambda: AWSSecretsManagerBackend(session=server.session(),
                                            endpoint_url=server.endpoint_url)


def _vault(request: pytest.FixtureRequest) -> BackendFactory:
    from helium_secrets.backends.hashivault import VaultBackend

    server = request.getfixturevalue("bao")  # tests/conftest.py
    return lambda: VaultBackend(server.address, token=server.root_token)


SERVERS: dict[str, Callable[[pytest.FixtureRequest], BackendFactory]] = {
    "aws": _aws,
    "vault": _vault,
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def make_backend(request: pytest.FixtureRequest) -> BackendFactory:
    return SERVERS[request.param](request)


def open_store(make_backend: BackendFactory, **options: Any) -> SecretStore:
    options.setdefault("retry", RetryPolicy(max_attempts=3, initial_backoff=0, max_backoff=0))
    return SecretStore(make_backend(), **options)


@pytest.fixture
def name() -> str:
    return f"rotation/t{uuid.uuid4().hex[:12]}"


def test_second_client_rotates_and_the_listener_fires(make_backend: BackendFactory,
                                                      name: str) -> None:
    with open_store(make_backend) as other, open_store(
        make_backend, poll=PollPolicy(interval=0.05, jitter=0.1)
    ) as app:
        first = other.put(name, "before")
        assert app.get(name).value.reveal() == "before"
        fired = threading.Event()
        seen: list[tuple[str | None, str]] = []

        def listener(old: Secret | None, new: Secret) -> None:
            seen.append((old.version if old else None, new.value.reveal()))
            fired.set()

        app.on_rotation(name, listener)
        second = other.put(name, "after")  # another client rotates it
        assert fired.wait(WAIT), "the listener did not fire"
        assert seen == [(first.version, "after")]
        current = app.get(name)  # the next read returns the new value, no restart
        assert (current.version, current.value.reveal()) == (second.version, "after")


def test_staged_rotation_and_rollback(make_backend: BackendFactory, name: str) -> None:
    with open_store(make_backend, poll=PollPolicy(interval=None)) as store:
        if not store.backend.capabilities.staging:
            pytest.skip("no staged rotation on this backend")
        first = store.put(name, "one")
        with pytest.raises(RotationTestFailed):
            store.rotate_staged(name, lambda: "bad", lambda pending: False)
        assert store.refresh(name).version == first.version
        seen_during: list[str] = []

        def test(pending: Secret) -> bool:
            seen_during.append(store.refresh(name).value.reveal())
            return pending.value.reveal() == "good"

        promoted = store.rotate_staged(name, lambda: "good", test)
        assert seen_during == ["one"]
        assert store.refresh(name).version == promoted.version
        assert store.get(name).value.reveal() == "good"
