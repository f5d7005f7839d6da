"""The helium-secrets pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

``fake_secrets``
    A fresh :class:`~helium_secrets.testing.FakeSecrets` per test: seed, rotate, inject
    faults, inspect calls. Closed after the test.
``secret_store``
    The :class:`~helium_secrets.SecretStore` of ``fake_secrets``, to hand to the code under test.
``fake_default_store``
    For code that opens its own store: ``HELIUM_SECRETS_URL`` points at an empty named fake
    (``mem://helium-test``) during the test; the fixture is its
    :class:`~helium_secrets.testing.FakeSecrets` (seed it, rotate, inject faults).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helium_secrets import testing
from helium_secrets._store import SecretStore
from helium_secrets.testing import FakeSecrets


@pytest.fixture
def fake_secrets() -> Iterator[FakeSecrets]:
    """A fresh fake secret store with test switches; nothing is shared between tests."""
    fake = FakeSecrets()
    try:
        yield fake
    finally:
        fake.close()


@pytest.fixture
def secret_store(fake_secrets: FakeSecrets) -> SecretStore:
    """A :class:`~helium_secrets.SecretStore` on the in-memory fake, fresh for each test."""
    return fake_secrets.store


@pytest.fixture
def fake_default_store() -> Iterator[FakeSecrets]:
    """``open_store()`` (and ``HELIUM_SECRETS_URL``) on an empty named fake, for one test."""
    with testing.fake_default_store() as fake:
        yield fake
