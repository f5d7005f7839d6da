"""The pytest plugin's fixtures, used the way an application's test suite uses them."""

from __future__ import annotations

import pytest

from helium_secrets import SecretStore
from helium_secrets.errors import SecretNotFoundError, ThrottledError, UnavailableError
from helium_secrets.testing import FakeSecrets

pytest_plugins = ["pytester"]


def read_password(store: SecretStore) -> str:
    return store.get("app/db").value.reveal()


def test_seed_and_read(fake_secrets: FakeSecrets, secret_store: SecretStore) -> None:
    assert secret_store is fake_secrets.store
    fake_secrets.seed({"app/db": "hunter2"})
    assert read_password(secret_store) == "hunter2"
    assert read_password(secret_store) == "hunter2"
    assert fake_secrets.calls["get"] == 1  # the second read was a cache hit


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_a_fresh_store(secret_store: SecretStore, run: int) -> None:
    with pytest.raises(SecretNotFoundError):
        secret_store.get("leak/check")
    secret_store.put("leak/check", f"written by run {run}")


def test_rotate_is_seen_on_refresh_and_by_listeners(
    fake_secrets: FakeSecrets, secret_store: SecretStore
) -> None:
    fake_secrets.seed({"app/db": "old"})
    seen: list[str] = []
    secret_store.on_rotation("app/db", lambda old, new: seen.append(new.value.reveal()))
    version = fake_secrets.rotate("app/db", "new")
    assert read_password(secret_store) == "old"  # cached, as in production
    secret_store.rotation.poll_once()
    assert seen == ["new"]
    assert secret_store.get("app/db").version == version == fake_secrets.secret("app/db").version


def test_fault_injection(fake_secrets: FakeSecrets, secret_store: SecretStore) -> None:
    fake_secrets.seed({"app/db": "hunter2"})
    fake_secrets.fail_next(2)  # transient: retried by the store
    assert read_password(secret_store) == "hunter2"
    assert fake_secrets.calls["get"] == 3
    fake_secrets.fail_next(10, ThrottledError, operations=["put"])
    with pytest.raises(ThrottledError):
        secret_store.put("app/db", "x")
    assert secret_store.stats().retries >= 3


def test_plugin_is_registered_by_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_uses_fixture(secret_store, fake_secrets):
            fake_secrets.seed({"a": "b"})
            assert secret_store.get("a").value.reveal() == "b"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_default_fault_is_transient_and_retried_to_the_limit(fake_secrets: FakeSecrets) -> None:
    fake_secrets.seed({"a": "1"})
    fake_secrets.fail_next(99)
    with pytest.raises(UnavailableError) as info:
        fake_secrets.store.get("a")
    assert info.value.transient
    assert fake_secrets.calls["get"] == fake_secrets.store.retry_policy.max_attempts
