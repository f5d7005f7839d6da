"""AWS Secrets Manager, as a newcomer meets it (issue 13), through real boto3 against moto.

Each case is the real situation: a profile the config files do not have, no credentials at all,
only ``AWS_REGION`` set, an endpoint nobody listens on, an ARN handed out by ECS, and moto's
two-AWSCURRENT state; each message names the cause and the fix, and no credential.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from helium_secrets import SecretStore, open_store
from helium_secrets.backends.awssecretsmanager import AWSSecretsManagerBackend
from helium_secrets.cli import main
from helium_secrets.errors import (
    IntegrityError,
    InvalidArgumentError,
    UnauthenticatedError,
    UnavailableError,
)
from helium_secrets.layers.guard import GuardPolicy
from helium_secrets.layers.retry import RetryPolicy
from helium_secrets.testing.moto import patch_moto, unpatch_moto
from tests.backends.motoserver import MotoServer

ONCE = RetryPolicy(max_attempts=1, initial_backoff=0.0, max_backoff=0.0, deadline=60.0)
KEY_CANARY = "AKIA" + uuid.uuid4().hex[:16].upper()
SECRET_CANARY = "canary-" + uuid.uuid4().hex


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An AWS environment with no credentials, no profiles and no instance metadata."""
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "config").write_text("")
    (tmp_path / "credentials").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return tmp_path


def _session() -> boto3.Session:
    return boto3.Session(aws_access_key_id=KEY_CANARY, aws_secret_access_key=SECRET_CANARY,
                         region_name="us-east-1")


@pytest.fixture
def store(moto: MotoServer) -> Iterator[SecretStore]:
    backend = AWSSecretsManagerBackend(session=_session(), endpoint_url=moto.endpoint_url)
    with SecretStore(backend, retry=ONCE, guard=GuardPolicy(threshold=0)) as store:
        yield store


def _clean(text: str) -> None:
    assert KEY_CANARY not in text and SECRET_CANARY not in text


def test_a_missing_profile_is_a_value_error_at_open(aws_home: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "prod")
    with pytest.raises(ValueError, match=r"AWS_PROFILE='prod'.*not in the AWS config files") \
            as info:
        open_store("awssecretsmanager://us-east-1")
    assert "aws configure --profile" in str(info.value)
    monkeypatch.delenv("AWS_PROFILE")
    with pytest.raises(ValueError, match=r"profile='prod'.*aws configure --profile"):
        open_store("awssecretsmanager://us-east-1?profile=prod")


def test_a_missing_profile_on_the_cli_is_a_usage_error(
        aws_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "prod")
    assert main(["--url", "awssecretsmanager://us-east-1", "get", "app/db"]) == 2
    err = capsys.readouterr().err
    assert "AWS_PROFILE='prod'" in err and "aws configure --profile" in err
    assert "unexpected" not in err


def test_no_credentials_says_what_to_do(aws_home: Path, moto: MotoServer) -> None:
    with open_store(f"awssecretsmanager://us-east-1?endpoint_url={moto.endpoint_url}",
                    retry=ONCE) as store, pytest.raises(UnauthenticatedError) as info:
        store.get("app/db")
    assert "no AWS credentials found" in str(info.value)
    assert "AWS_PROFILE" in str(info.value) and "aws configure" in str(info.value)


def test_aws_region_is_honoured_after_aws_default_region(aws_home: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    with open_store("awssecretsmanager://") as store:
        assert store.backend.region == "eu-west-3"  # type: ignore[attr-defined]
        assert store.backend.options.source("region") == "env:AWS_REGION"  # type: ignore[attr-defined]
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")  # botocore's own wins, as in boto3
    with open_store("awssecretsmanager://") as store:
        assert store.backend.region == "ap-south-1"  # type: ignore[attr-defined]
    with open_store("awssecretsmanager://sa-east-1") as store:  # the URL beats both
        assert store.backend.region == "sa-east-1"  # type: ignore[attr-defined]
    backend = AWSSecretsManagerBackend(session=_session())  # a session keeps its own
    assert backend.region == "us-east-1"
    backend.close()


def test_an_unreachable_endpoint_is_named(aws_home: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = AWSSecretsManagerBackend(session=_session(), endpoint_url=f"http://127.0.0.1:{port}")
    with SecretStore(backend, retry=ONCE) as store, pytest.raises(UnavailableError) as info:
        store.get("app/db")
    assert f"AWS Secrets Manager at http://127.0.0.1:{port} unreachable" in str(info.value)
    _clean(str(info.value))


def test_repr_names_region_and_endpoint_and_no_credential(store: SecretStore,
                                                          moto: MotoServer) -> None:
    shown = repr(store.backend) + repr(store)
    assert "region='us-east-1'" in shown and moto.endpoint_url in shown
    assert " object at 0x" not in shown
    _clean(shown)


def test_an_arn_reads_like_the_name_and_is_refused_for_writes(store: SecretStore,
                                                              moto: MotoServer) -> None:
    name = f"fc/{uuid.uuid4().hex[:8]}"
    store.put(name, SECRET_CANARY)
    arn = moto.client().describe_secret(SecretId=name)["ARN"]
    assert store.get(arn).value.reveal() == SECRET_CANARY
    assert store.get_many([arn])[arn].value.reveal() == SECRET_CANARY
    with pytest.raises(InvalidArgumentError, match="write it by its name"):
        store.put(arn, "other")
    with pytest.raises(InvalidArgumentError, match="':' appears only in an ARN"):
        store.get("app:db")


def _two_currents(store: SecretStore, moto: MotoServer, name: str) -> None:
    first = store.put(name, "one")
    store.put(name, "two", expected_version=first.version)  # a stage move
    moto.client().put_secret_value(SecretId=name, SecretString="three")  # an ordinary put


def test_moto_with_two_awscurrent_versions_fails_loudly(store: SecretStore,
                                                         moto: MotoServer) -> None:
    unpatch_moto()  # plain moto, as most users run it
    try:
        name = f"fc/{uuid.uuid4().hex[:8]}"
        _two_currents(store, moto, name)
        stages = moto.client().describe_secret(SecretId=name)["VersionIdsToStages"]
        assert sum("AWSCURRENT" in s for s in stages.values()) == 2  # moto's defect, really
        for call in (store.current_version, store.versions):
            with pytest.raises(IntegrityError, match="patch_moto") as info:
                call(name)
            assert "AWS never allows" in str(info.value)
    finally:
        patch_moto()


def test_patch_moto_makes_moto_behave_like_aws(store: SecretStore, moto: MotoServer) -> None:
    patch_moto()
    patch_moto()  # idempotent
    name = f"fc/{uuid.uuid4().hex[:8]}"
    _two_currents(store, moto, name)
    stages = moto.client().describe_secret(SecretId=name)["VersionIdsToStages"]
    assert sum("AWSCURRENT" in s for s in stages.values()) == 1
    assert store.refresh(name).value.reveal() == "three"
    assert moto.client().get_secret_value(SecretId=name)["SecretString"] == "three"


def test_patch_moto_works_in_process_with_mock_aws(aws_home: Path) -> None:
    moto = pytest.importorskip("moto")
    patch_moto()
    with moto.mock_aws():
        backend = AWSSecretsManagerBackend(session=_session())
        with SecretStore(backend, retry=ONCE) as store:
            first = store.put("fc/in-process", "one")
            store.put("fc/in-process", "two", expected_version=first.version)
            backend.client.put_secret_value(SecretId="fc/in-process", SecretString="three")
            assert store.refresh("fc/in-process").value.reveal() == "three"
            assert len(store.versions("fc/in-process")) == 3
