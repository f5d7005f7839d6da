"""Azure Key Vault, as a newcomer meets it (issue 13), through the real SDK and the emulator.

Real situations: no credential anywhere (``DefaultAzureCredential`` in an empty environment),
an impossible vault name in the URL, a vault nobody serves; each message names the cause and
the fix, and no credential.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from helium_secrets import SecretStore, open_store
from helium_secrets.backends.azurekeyvault import AzureKeyVaultBackend
from helium_secrets.errors import UnauthenticatedError, UnavailableError
from helium_secrets.layers.guard import GuardPolicy
from helium_secrets.layers.retry import RetryPolicy
from tests.backends.test_azure import StaticCredential
from tests.emulators.keyvault import KeyVaultEmulator

ONCE = RetryPolicy(max_attempts=1, initial_backoff=0.0, max_backoff=0.0, deadline=60.0)


@pytest.fixture(scope="module")
def emulator() -> Iterator[KeyVaultEmulator]:
    with KeyVaultEmulator() as server:
        yield server


def test_no_credential_says_what_to_do(emulator: KeyVaultEmulator, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
                "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_USERNAME", "AZURE_PASSWORD",
                "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no az CLI login, no shared token cache
    monkeypatch.setenv("PATH", str(tmp_path))  # no az, azd or pwsh to ask
    # The managed-identity probe asks a closed loopback port, never the real IMDS address.
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
    backend = AzureKeyVaultBackend(emulator.url, connection_verify=str(emulator.ca_path),
                                   verify_challenge_resource=False)
    with SecretStore(backend, retry=ONCE, guard=GuardPolicy(threshold=0)) as store, \
            pytest.raises(UnauthenticatedError) as info:
        store.get("app-db")
    message = str(info.value)
    assert "no Azure credential could get a token" in message
    assert "az login" in message and "AZURE_CLIENT_ID" in message


@pytest.mark.parametrize(("url", "guess"), [
    ("azurekeyvault://my_vault", "my-vault"),
    ("azurekeyvault://ab", None),
    ("azurekeyvault://1vault", None),
    ("azurekeyvault://my--vault", "my-vault"),
])
def test_an_impossible_vault_name_is_refused_before_any_call(url: str, guess: str | None) -> None:
    with pytest.raises(ValueError, match="cannot be a Key Vault name") as info:
        open_store(url)
    if guess is not None:
        assert f"did you mean {guess!r}" in str(info.value)


def test_an_unreachable_vault_is_named(emulator: KeyVaultEmulator) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = AzureKeyVaultBackend(f"https://127.0.0.1:{port}", credential=StaticCredential("t"),
                                   connection_verify=str(emulator.ca_path))
    with SecretStore(backend, retry=ONCE) as store, pytest.raises(UnavailableError) as info:
        store.get("app-db")
    assert f"could not connect to Key Vault at https://127.0.0.1:{port}" in str(info.value)


def test_repr_names_the_vault_and_no_credential(emulator: KeyVaultEmulator) -> None:
    backend = AzureKeyVaultBackend(emulator.url, credential=StaticCredential("tok-canary-1"),
                                   connection_verify=str(emulator.ca_path))
    shown = repr(backend)
    assert emulator.url.rstrip("/") in shown and "tok-canary" not in shown and "0x" not in shown
    backend.close()
