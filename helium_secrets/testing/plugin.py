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
    ``open_async_store()`` reads the same variable.
``async_fake_secrets``
    A fresh :class:`~helium_secrets.testing.AsyncFakeSecrets` per test (the same switches),
    made in the test's event loop and closed (``await aclose()``) after the test. An async
    fixture run by anyio's pytest plugin: for tests marked ``@pytest.mark.anyio`` (anyio is
    installed with httpx; nothing here imports it, so the plugin loads without it).
``async_secret_store``
    The :class:`~helium_secrets.AsyncSecretStore` of ``async_fake_secrets``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

from helium_secrets import testing
from helium_secrets._store import SecretStore
from helium_secrets.testing import AsyncFakeSecrets, FakeSecrets

if TYPE_CHECKING:
    from helium_secrets._async._store import AsyncSecretStore


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


@pytest.fixture
async def async_fake_secrets(anyio_backend_name: str) -> AsyncIterator[AsyncFakeSecrets]:
    """A fresh fake with an :class:`~helium_secrets.AsyncSecretStore`, for one async test.

    It asks for anyio's ``anyio_backend_name`` so that anyio's plugin runs it in the test's
    event loop; the store runs on asyncio only, so a test on another anyio backend is skipped.
    """
    if anyio_backend_name != "asyncio":
        pytest.skip(f"AsyncSecretStore runs on asyncio, not on {anyio_backend_name}")
    fake = AsyncFakeSecrets()
    try:
        yield fake
    finally:
        await fake.aclose()


@pytest.fixture
def async_secret_store(async_fake_secrets: AsyncFakeSecrets) -> AsyncSecretStore:
    """An :class:`~helium_secrets.AsyncSecretStore` on the in-memory fake, fresh for each test."""
    return async_fake_secrets.store
