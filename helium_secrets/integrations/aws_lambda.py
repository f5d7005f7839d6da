"""An AWS Secrets Manager rotation Lambda with the stage bookkeeping done for you.

Secrets Manager rotates a secret by invoking a Lambda four times with the same
``ClientRequestToken`` (the new version's id): ``createSecret``, ``setSecret``, ``testSecret``
and ``finishSecret``. :class:`SecretsManagerRotation` implements all four, following AWS's own
rotation template; you supply only how to set the new credential in the target system and how to
test it::

    from helium_secrets.integrations.aws_lambda import SecretsManagerRotation

    def set_secret(step):          # step.pending / step.current are Secrets
        db.alter_password(step.pending.json()["password"])

    def test_secret(step):
        db.connect(step.pending.json()).close()

    handler = SecretsManagerRotation(set_secret=set_secret, test_secret=test_secret)

Every step is idempotent, as Secrets Manager requires: it may invoke a step more than once.
Importing this module imports boto3 (install ``helium-secrets[aws]``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.exceptions

from helium_secrets._values import Secret, SecretValue
from helium_secrets.generators import PasswordGenerator

__all__ = ["RotationStep", "SecretsManagerRotation", "default_generator"]

_log = logging.getLogger("helium_secrets.aws_lambda")

CURRENT = "AWSCURRENT"
PENDING = "AWSPENDING"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


@dataclass(frozen=True)
class RotationStep:
    """What a step's callback gets.

    :param step: ``"setSecret"`` or ``"testSecret"``.
    :param secret_id: the secret's ARN or name, as Secrets Manager passed it.
    :param token: the ``ClientRequestToken``: the pending version's id.
    :param current: the ``AWSCURRENT`` version.
    :param pending: the ``AWSPENDING`` version being rotated in.
    """

    step: str
    secret_id: str
    token: str
    current: Secret
    pending: Secret


def default_generator(current: Secret) -> str:
    """A new value for ``current``: a JSON object with a ``password`` key gets a new password
    (every other key kept, e.g. ``username`` and ``host``); anything else becomes a new password."""
    password = PasswordGenerator(length=32)()
    try:
        document = current.value.reveal_json()
    except ValueError:
        return password
    if isinstance(document, dict) and "password" in document:
        return json.dumps({**document, "password": password})
    return password


class SecretsManagerRotation:
    """A Secrets Manager rotation Lambda handler: ``handler(event, context)``.

    :param set_secret: sets ``step.pending`` in the target system (database, API, ...). Called
        in the ``setSecret`` step; skip it (``None``) for secrets only helium-secrets reads.
    :param test_secret: raises if ``step.pending`` does not work. Called in ``testSecret``.
    :param generate: makes the new value from the current secret (see
        :func:`default_generator`).
    :param client: a boto3 ``secretsmanager`` client (default: one from the Lambda's
        environment).
    :param require_rotation_enabled: refuse to run unless rotation is enabled on the secret, as
        AWS's template does.
    """

    def __init__(
        self,
        *,
        test_secret: Callable[[RotationStep], object],
        set_secret: Callable[[RotationStep], object] | None = None,
        generate: Callable[[Secret], str | bytes] = default_generator,
        client: Any = None,
        require_rotation_enabled: bool = True,
    ) -> None:
        self.test_secret = test_secret
        self.set_secret = set_secret
        self.generate = generate
        self._client = client
        self.require_rotation_enabled = require_rotation_enabled

    @property
    def client(self) -> Any:
        """The ``secretsmanager`` client, created on first use."""
        if self._client is None:
            self._client = boto3.client("secretsmanager")
        return self._client

    def __call__(self, event: Mapping[str, Any], context: object = None) -> None:
        """Run the step named in ``event`` (``Step``, ``SecretId``, ``ClientRequestToken``)."""
        step, secret_id, token = event["Step"], event["SecretId"], event["ClientRequestToken"]
        if step not in STEPS:
            raise ValueError(f"unknown rotation step {step!r}; expected one of {', '.join(STEPS)}")
        metadata = self.client.describe_secret(SecretId=secret_id)
        if self.require_rotation_enabled and not metadata.get("RotationEnabled"):
            raise ValueError(f"rotation is not enabled on secret {secret_id!r}")
        stages = metadata.get("VersionIdsToStages", {}).get(token)
        if stages is not None and CURRENT in stages:
            _log.info("%s: version %s is already %s; nothing to do", step, token, CURRENT)
            return
        if step != "createSecret" and (stages is None or PENDING not in stages):
            raise ValueError(f"version {token!r} of {secret_id!r} is not {PENDING}")
        _log.info("%s for %s version %s", step, secret_id, token)
        if step == "createSecret":
            self._create(secret_id, token)
        elif step == "setSecret":
            if self.set_secret is not None:
                self.set_secret(self._step(step, secret_id, token))
        elif step == "testSecret":
            self.test_secret(self._step(step, secret_id, token))
        else:
            self._finish(secret_id, token, metadata)

    # -- the steps -------------------------------------------------------------------------

    def _create(self, secret_id: str, token: str) -> None:
        current = self._read(secret_id, stage=CURRENT)
        try:
            self._read(secret_id, stage=PENDING, version=token)
            return  # created by an earlier invocation of this step
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise
        value = self.generate(current)
        payload: dict[str, Any] = (
            {"SecretBinary": value} if isinstance(value, bytes) else {"SecretString": value}
        )
        self.client.put_secret_value(
            SecretId=secret_id, ClientRequestToken=token, VersionStages=[PENDING], **payload
        )

    def _finish(self, secret_id: str, token: str, metadata: Mapping[str, Any]) -> None:
        current_version = next(
            (v for v, stages in metadata.get("VersionIdsToStages", {}).items() if CURRENT in stages),
            None,
        )
        self.client.update_secret_version_stage(
            SecretId=secret_id,
            VersionStage=CURRENT,
            MoveToVersionId=token,
            **({"RemoveFromVersionId": current_version} if current_version else {}),
        )
        # AWS moves AWSPREVIOUS itself; AWSPENDING stays until removed, and a later rotation
        # would refuse to start while it sits on a non-current version.
        self.client.update_secret_version_stage(
            SecretId=secret_id, VersionStage=PENDING, RemoveFromVersionId=token
        )

    def _step(self, step: str, secret_id: str, token: str) -> RotationStep:
        return RotationStep(
            step=step,
            secret_id=secret_id,
            token=token,
            current=self._read(secret_id, stage=CURRENT),
            pending=self._read(secret_id, stage=PENDING, version=token),
        )

    def _read(self, secret_id: str, *, stage: str, version: str | None = None) -> Secret:
        kwargs: dict[str, str] = {"SecretId": secret_id, "VersionStage": stage}
        if version is not None:
            kwargs["VersionId"] = version
        answer = self.client.get_secret_value(**kwargs)
        raw = answer["SecretString"] if "SecretString" in answer else answer["SecretBinary"]
        return Secret(
            name=answer["Name"],
            value=SecretValue(raw),
            version=answer["VersionId"],
            labels=frozenset(answer.get("VersionStages", ())),
            created_at=answer.get("CreatedDate"),
        )
