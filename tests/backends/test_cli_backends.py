"""The command line on the real backends: restore with advice that speaks CLI, describe from each
service's own fields, copy between stores and audit (moto, OpenBao, the Key Vault and Secret
Manager emulators; nothing in an SDK is mocked)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from helium_secrets import SecretStore
from helium_secrets.cli import ExitCode, main
from tests.backends.motoserver import MotoServer

CANARY = "canary-cli-backends-9ad2-never-print-me"


@pytest.fixture
def prefix() -> str:
    return f"cli/t{uuid.uuid4().hex[:12]}"


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert CANARY not in out + err
    return code, out, err


# -- AWS (moto) ----------------------------------------------------------------------------------


@pytest.fixture
def aws_url(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The CLI opens moto by URL; credentials come from the environment, as they would."""
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(variable, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    moto.allow_all()
    yield f"awssecretsmanager://us-east-1?endpoint_url={moto.endpoint_url}"
    moto.allow_all()


def test_aws_deleted_secret_advice_names_the_restore_command(
        aws_url: str, prefix: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    name = f"{prefix}/db"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(CANARY.encode())))
    assert call(capsys, "--url", aws_url, "put", name)[0] == 0
    assert call(capsys, "--url", aws_url, "delete", name, "--yes")[0] == 0
    code, _, err = call(capsys, "--url", aws_url, "get", name)
    assert code == ExitCode.NOT_FOUND
    assert f"`helium-secrets restore {name}`" in err and "store." not in err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"other")))
    code, _, err = call(capsys, "--url", aws_url, "put", name)
    assert code == ExitCode.CONFLICT
    assert f"`helium-secrets restore {name}`" in err
    assert f"`helium-secrets delete {name} --purge --yes`" in err and "store." not in err
    assert call(capsys, "--url", aws_url, "restore", name)[:2] == (0, f"restored {name}\n")
    assert main(["--url", aws_url, "get", name]) == 0  # get prints the value: no canary check
    assert capsys.readouterr().out == CANARY + "\n"


# -- Azure Key Vault (the emulator) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def keyvault() -> Iterator[Any]:
    pytest.importorskip("azure.keyvault.secrets")
    from tests.emulators.keyvault import KeyVaultEmulator

    with KeyVaultEmulator(page_size=3, deletion_polls=1) as server:
        yield server


@pytest.fixture
def azure_store(keyvault: Any) -> Iterator[SecretStore]:
    from helium_secrets import GuardPolicy, RetryPolicy
    from tests.backends.test_azure import make_backend

    with SecretStore(make_backend(keyvault), cache=None, guard=GuardPolicy(threshold=0),
                     retry=RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0,
                                       deadline=60.0)) as store:
        yield store


@pytest.fixture
def cli_on(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make the CLI use a store the test built (a backend that needs keyword options)."""

    def use(store: SecretStore) -> None:
        import helium_secrets.cli._main as cli_main

        monkeypatch.setattr(cli_main, "open_store", lambda url, **options: _Borrowed(store))

    return use


class _Borrowed(SecretStore):
    """A test's store lent to one CLI command: the command's close leaves it open."""

    def __init__(self, store: SecretStore) -> None:
        self.__dict__.update(store.__dict__)

    def close(self) -> None:
        pass


def test_azure_restore_and_purge_through_the_cli(
        azure_store: SecretStore, cli_on: Any, prefix: str, tmp_path: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    cli_on(azure_store)
    name = f"{prefix}/db"
    azure_store.put(name, CANARY)
    azure_store.delete(name)
    value = tmp_path / "value"
    value.write_text("another value", encoding="utf-8")
    code, _, err = call(capsys, "put", name, "--file", str(value))
    assert code == ExitCode.CONFLICT
    assert f"`helium-secrets restore {name}`" in err
    assert f"`helium-secrets purge {name} --yes`" in err
    assert "?recover_deleted=true to the store URL" in err and "store." not in err
    assert call(capsys, "restore", name)[:2] == (0, f"restored {name}\n")
    assert azure_store.get(name).value.reveal() == CANARY
    azure_store.delete(name)
    assert call(capsys, "purge", name, "--yes")[:2] == (0, f"purged {name}\n")
    assert call(capsys, "restore", name)[0] == ExitCode.NOT_FOUND
