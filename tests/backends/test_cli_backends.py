"""The command line on the real backends: restore with advice that speaks CLI, describe from each
service's own fields, copy between stores and audit (moto, OpenBao, the Key Vault and Secret
Manager emulators; nothing in an SDK is mocked)."""

from __future__ import annotations

import json
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
    code, out, err = call(capsys, "--url", aws_url, "restore", name)
    assert (code, out) == (0, f"restored {name}\n"), err  # the CLI's errors hold no value
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


# -- copy ----------------------------------------------------------------------------------------


@pytest.fixture
def vault_url(bao: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VAULT_TOKEN", bao.root_token)
    return f"vault://127.0.0.1:{bao.port}/secret?tls=false"


def test_copy_vault_to_aws_keeps_metadata_and_a_second_run_copies_nothing(
        vault_url: str, aws_url: str, moto: MotoServer, prefix: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    from helium_secrets import open_store

    with open_store(vault_url) as vault:
        vault.put(f"{prefix}/db", CANARY, metadata={"team": "payments"})
        vault.put(f"{prefix}/db", CANARY + "-2", metadata={"team": "payments"})
        vault.put(f"{prefix}/db", CANARY + "-3", metadata={"team": "payments"})
        vault.put(f"{prefix}/api", CANARY + "-api")
    code, out, _ = call(capsys, "copy", vault_url, aws_url, "--prefix", prefix + "/",
                        "--versions", "all")
    assert code == 0, out
    assert out.splitlines()[-1].startswith("copied 2 secret(s) (4 version(s))")
    with open_store(aws_url) as aws:
        assert aws.get(f"{prefix}/db").value.reveal() == CANARY + "-3"
        # AWS reads return no tags (docs/backends/aws.md): the service's own answer says.
        tags = moto.client().describe_secret(SecretId=f"{prefix}/db")["Tags"]
        assert {"Key": "team", "Value": "payments"} in tags
        assert aws.previous(f"{prefix}/db").value.reveal() == CANARY + "-2"  # type: ignore[union-attr]
        # The first version is deprecated now (no stage): AWS's history is the last two, and
        # the second run below must still find nothing to copy.
    code, out, _ = call(capsys, "copy", vault_url, aws_url, "--prefix", prefix + "/",
                        "--versions", "all", "--json")
    assert (code, json.loads(out)["copied"]) == (0, [])


def test_copy_aws_to_the_file_store(aws_url: str, prefix: str, tmp_path: Any,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from helium_secrets import open_store

    with open_store(aws_url) as aws:
        aws.put(f"{prefix}/token", CANARY)
        aws.put(f"{prefix}/blob", b"\x00\x01" + CANARY.encode())
    target = f"file://{tmp_path}/copy?key_file={tmp_path}/copy.key"
    code, out, _ = call(capsys, "copy", aws_url, target, "--prefix", prefix)
    assert code == 0 and "copied 2 secret(s)" in out
    with open_store(target) as local:
        assert local.get(f"{prefix}/token").value.reveal() == CANARY
        assert local.get(f"{prefix}/blob").value.reveal_bytes() == b"\x00\x01" + CANARY.encode()
    assert "0 skipped" in call(capsys, "copy", aws_url, target, "--prefix", prefix)[1]
    assert "2 already up to date" in call(capsys, "copy", aws_url, target, "--prefix", prefix)[1]


def test_copy_memory_to_azure_reports_a_name_it_cannot_represent(
        azure_store: SecretStore, prefix: str) -> None:
    from helium_secrets.backends.memory import MemoryBackend
    from helium_secrets.cli.copy import copy_secrets

    source = SecretStore(MemoryBackend(), cache=None)
    long_name = f"{prefix}/" + "_" * 100  # each '_' is escaped: past Key Vault's 127 characters
    source.put(f"{prefix}/db", CANARY, metadata={"team": "payments"})
    source.put(f"{prefix}/web.config", CANARY + "-web")
    source.put(long_name, CANARY)
    report = copy_secrets(source, azure_store, prefix=prefix)
    assert sorted(report.copied) == [f"{prefix}/db", f"{prefix}/web.config"]
    assert "cannot represent" in report.skipped[long_name]
    assert CANARY not in json.dumps(report.document())
    assert azure_store.get(f"{prefix}/web.config").value.reveal() == CANARY + "-web"
    assert azure_store.get(f"{prefix}/db").metadata["team"] == "payments"
    again = copy_secrets(source, azure_store, prefix=prefix)
    assert (again.copied, sorted(again.unchanged)) == ({}, [f"{prefix}/db", f"{prefix}/web.config"])


# -- describe and audit: each service's own fields -----------------------------------------------


def test_aws_describe_is_describe_secret(aws_url: str, moto: MotoServer, prefix: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import timedelta

    from helium_secrets import open_store
    from helium_secrets.lifecycle import AuditPolicy

    name = f"{prefix}/db"
    with open_store(aws_url, cache=None) as aws:
        first = aws.put(name, CANARY)
        aws.put(name, CANARY + "-2")
        aws.get(name)
        lifecycle = aws.describe(name)
        raw = moto.client().describe_secret(SecretId=name)
        assert lifecycle.fields == {"created_at", "updated_at", "rotated_at", "next_rotation_at",
                                    "accessed_at", "rotation_enabled", "current_version",
                                    "versions"}
        assert (lifecycle.created_at, lifecycle.updated_at) == (raw["CreatedDate"],
                                                                raw["LastChangedDate"])
        assert lifecycle.current_version == aws.current_version(name) != first.version
        assert lifecycle.rotation_enabled is False and lifecycle.rotated_at is None
        # moto never sets LastAccessedDate, even after a read: "never read" counts from the
        # creation, so the secret is unused once the limit has passed since then.
        assert lifecycle.accessed_at is None and "LastAccessedDate" not in raw
        assert lifecycle.created_at is not None
        later = lifecycle.created_at + timedelta(days=2)
        [finding] = aws.audit(prefix, AuditPolicy(unused_for=86400.0), now=later)
        assert finding.problems == ("unused",)
        [finding] = aws.audit(prefix, AuditPolicy(unused_for=3 * 86400.0), now=later)
        assert finding.problems == ()
    code, out, _ = call(capsys, "describe", name, "--url", aws_url, "--json")
    assert code == 0
    document = json.loads(out)
    assert document["backend"] == "aws" and "expires_at" not in document["fields"]
    assert call(capsys, "audit", aws_url, "--prefix", prefix, "--unused-for", "0s",
                "--fail-on", "unused")[0] == ExitCode.FINDINGS


def test_vault_describe_is_kv_metadata(vault_url: str, bao: Any, prefix: str) -> None:
    from datetime import timedelta

    from helium_secrets import open_store

    name = f"{prefix}/db"
    with open_store(vault_url, cache=None) as vault:
        vault.put(name, CANARY)
        vault.put(name, CANARY + "-2")
        bao.request("POST", f"/secret/metadata/{name}",
                    json={"delete_version_after": "768h"}).raise_for_status()
        lifecycle = vault.describe(name)
        raw = bao.request("GET", f"/secret/metadata/{name}").json()["data"]
    assert lifecycle.fields == {"created_at", "updated_at", "expires_at", "current_version",
                                "versions"}
    assert (lifecycle.current_version, lifecycle.versions) == ("2", 2)
    assert lifecycle.created_at is not None and lifecycle.updated_at is not None
    assert lifecycle.created_at.isoformat()[:19] == raw["created_time"][:19]
    assert lifecycle.updated_at.isoformat()[:19] == raw["versions"]["2"]["created_time"][:19]
    assert lifecycle.expires_at == lifecycle.updated_at + timedelta(hours=768)


def test_azure_describe_is_the_versions_attributes(azure_store: SecretStore, keyvault: Any,
                                                   prefix: str) -> None:
    from datetime import datetime, timedelta, timezone

    from azure.keyvault.secrets import SecretClient

    from helium_secrets.lifecycle import AuditPolicy
    from tests.backends.test_azure import StaticCredential

    name = f"{prefix}/db"
    azure_store.put(name, CANARY)
    second = azure_store.put(name, CANARY + "-2")
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=3)
    raw = SecretClient(keyvault.url, StaticCredential(keyvault.token),
                       connection_verify=str(keyvault.ca_path), verify_challenge_resource=False)
    kv_name = azure_store.backend.kv_name(name)  # type: ignore[attr-defined]
    raw.update_secret_properties(kv_name, second.version, expires_on=expires)
    lifecycle = azure_store.describe(name)
    assert lifecycle.fields == {"created_at", "updated_at", "expires_at", "current_version",
                                "versions"}
    assert (lifecycle.current_version, lifecycle.versions) == (second.version, 2)
    assert lifecycle.expires_at == expires
    [finding] = azure_store.audit(prefix, AuditPolicy(expiring_within=7 * 86400.0,
                                                      unused_for=86400.0))
    assert (finding.problems, finding.unknown) == (("expiring",), ("unused",))
    raw.close()


@pytest.fixture(scope="module")
def secretmanager() -> Iterator[Any]:
    pytest.importorskip("google.cloud.secretmanager")
    from tests.emulators.secretmanager import SecretManagerEmulator

    with SecretManagerEmulator() as server:
        yield server


def test_gcp_describe_is_the_secret_and_its_versions(secretmanager: Any, prefix: str) -> None:
    from datetime import datetime, timedelta, timezone

    from helium_secrets.backends.gcpsecretmanager.names import encode_name
    from helium_secrets.lifecycle import AuditPolicy
    from tests.backends.test_gcp import PROJECT, make_backend

    name = f"{prefix}/db"
    client = secretmanager.client()
    next_rotation = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=5)
    client.create_secret(request={
        "parent": f"projects/{PROJECT}", "secret_id": encode_name(name),
        "secret": {"replication": {"automatic": {}}, "expire_time": expires,
                   "topics": [{"name": f"projects/{PROJECT}/topics/rotate"}],
                   "rotation": {"next_rotation_time": next_rotation,
                                "rotation_period": timedelta(days=30)}},
    })
    with SecretStore(make_backend(secretmanager), cache=None) as store:
        store.put(name, CANARY)
        store.put(name, CANARY + "-2")
        lifecycle = store.describe(name)
        assert lifecycle.fields == {"created_at", "updated_at", "expires_at", "next_rotation_at",
                                    "rotation_enabled", "current_version", "versions"}
        assert (lifecycle.current_version, lifecycle.versions) == ("2", 2)
        assert (lifecycle.expires_at, lifecycle.next_rotation_at) == (expires, next_rotation)
        assert lifecycle.rotation_enabled is True
        [finding] = store.audit(prefix, AuditPolicy(expiring_within=7 * 86400.0,
                                                    unused_for=86400.0))
        assert (finding.problems, finding.unknown) == (("expiring",), ("unused",))
        plain = f"{prefix}/plain"
        store.put(plain, CANARY)
        bare = store.describe(plain)
        assert (bare.rotation_enabled, bare.expires_at, bare.next_rotation_at) == (False, None,
                                                                                  None)
