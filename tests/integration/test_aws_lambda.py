"""The Secrets Manager rotation Lambda helper, driven step by step as Secrets Manager drives it,
against moto's server over real HTTP."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from helium_secrets.integrations.aws_lambda import (
    STEPS,
    RotationStep,
    SecretsManagerRotation,
)
from tests.backends.motoserver import MotoServer


@pytest.fixture
def client(moto: MotoServer) -> Any:
    return moto.client()


def new_secret(client: Any, value: str) -> str:
    name = f"lambda/{uuid.uuid4().hex[:10]}"
    arn: str = client.create_secret(Name=name, SecretString=value)["ARN"]
    # Enable rotation the way a console user would (moto needs no Lambda for this; it copies
    # the value to a new current version when RotateImmediately is false).
    client.rotate_secret(SecretId=arn, RotationRules={"AutomaticallyAfterDays": 30},
                         RotateImmediately=False)
    return arn


def stages(client: Any, arn: str) -> dict[str, list[str]]:
    versions: dict[str, list[str]] = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
    return versions


def rotate(handler: SecretsManagerRotation, arn: str, token: str, steps: tuple[str, ...] = STEPS) -> None:
    for step in steps:
        handler({"Step": step, "SecretId": arn, "ClientRequestToken": token}, None)


def test_four_steps_rotate_a_database_credential(client: Any) -> None:
    arn = new_secret(client, json.dumps({"username": "app", "password": "old-password"}))
    before = {v for v, s in stages(client, arn).items() if "AWSCURRENT" in s}
    calls: list[tuple[str, str, str]] = []

    def set_secret(step: RotationStep) -> None:
        calls.append((step.step, step.current.json()["password"], step.pending.json()["password"]))

    def test_secret(step: RotationStep) -> None:
        assert step.pending.json()["username"] == "app"
        calls.append((step.step, "", step.pending.json()["password"]))

    handler = SecretsManagerRotation(set_secret=set_secret, test_secret=test_secret, client=client)
    token = str(uuid.uuid4())
    rotate(handler, arn, token)

    current = client.get_secret_value(SecretId=arn)
    document = json.loads(current["SecretString"])
    assert current["VersionId"] == token
    assert document["username"] == "app" and document["password"] != "old-password"
    assert [c[0] for c in calls] == ["setSecret", "testSecret"]
    assert calls[0][1] == "old-password" and calls[0][2] == calls[1][2] == document["password"]
    versions = stages(client, arn)
    assert versions[token] == ["AWSCURRENT"]
    assert {v for v, s in versions.items() if "AWSPREVIOUS" in s} == before
    assert not any("AWSPENDING" in s for s in versions.values())


def test_every_step_is_idempotent(client: Any) -> None:
    arn = new_secret(client, "plain-old")
    handler = SecretsManagerRotation(test_secret=lambda step: None, client=client)
    token = str(uuid.uuid4())
    rotate(handler, arn, token, ("createSecret", "createSecret"))
    pending = client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
    rotate(handler, arn, token, ("createSecret",))
    again = client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
    assert pending["SecretString"] == again["SecretString"] != "plain-old"
    rotate(handler, arn, token, ("setSecret", "testSecret", "finishSecret", "finishSecret"))
    assert client.get_secret_value(SecretId=arn)["VersionId"] == token


def test_a_failing_test_leaves_the_current_version(client: Any) -> None:
    arn = new_secret(client, "still-current")

    def test_secret(step: RotationStep) -> None:
        raise ConnectionRefusedError("the new password does not work")

    handler = SecretsManagerRotation(test_secret=test_secret, client=client)
    token = str(uuid.uuid4())
    with pytest.raises(ConnectionRefusedError):
        rotate(handler, arn, token)
    assert client.get_secret_value(SecretId=arn)["SecretString"] == "still-current"
    assert "AWSPENDING" in stages(client, arn)[token]


def test_refuses_without_rotation_enabled_or_pending_version(client: Any) -> None:
    name = f"lambda/{uuid.uuid4().hex[:10]}"
    arn = client.create_secret(Name=name, SecretString="x")["ARN"]
    handler = SecretsManagerRotation(test_secret=lambda step: None, client=client)
    with pytest.raises(ValueError, match="rotation is not enabled"):
        rotate(handler, arn, str(uuid.uuid4()))
    arn = new_secret(client, "y")
    with pytest.raises(ValueError, match="is not AWSPENDING"):
        rotate(handler, arn, str(uuid.uuid4()), ("setSecret",))
    with pytest.raises(ValueError, match="unknown rotation step"):
        rotate(handler, arn, str(uuid.uuid4()), ("dance",))
