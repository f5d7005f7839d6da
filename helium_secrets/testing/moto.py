"""Make moto's Secrets Manager behave like AWS where helium-secrets relies on it.

moto (``mock_aws`` in-process, or ``ThreadedMotoServer``) differs from AWS in two ways that
reach users of the store:

* moto keeps a "default version" apart from the ``AWSCURRENT`` stage. ``UpdateSecretVersionStage``
  (a helium check-and-set, ``rotate``, ``set_label``) moves the stage but not that id, so the
  next ordinary ``PutSecretValue`` leaves two versions ``AWSCURRENT``, something AWS never
  allows; reads then disagree on the value. The store refuses that state
  (:class:`~helium_secrets.errors.IntegrityError`) wherever it sees the stages; this patch
  keeps moto from getting there.
* moto accepts ``PutSecretValue`` on a secret scheduled for deletion; AWS refuses it.

Call :func:`patch_moto` once, before the first request (in a ``conftest.py``, for instance)::

    from helium_secrets.testing.moto import patch_moto

    patch_moto()
    with moto.mock_aws():
        ...

It patches moto's Secrets Manager model in this process (the server's, for
``ThreadedMotoServer``), never boto3. It is idempotent, and :func:`unpatch_moto` undoes it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["patch_moto", "unpatch_moto"]

_FIXED = "_helium_fixed"
_originals: dict[str, Any] = {}


def patch_moto() -> None:
    """Make moto's default version follow ``AWSCURRENT``, and refuse writes to a secret
    scheduled for deletion, as AWS does.

    :raises ImportError: moto is not installed.
    """
    from moto.secretsmanager.exceptions import InvalidRequestException
    from moto.secretsmanager.models import SecretsManagerBackend

    stage = SecretsManagerBackend.update_secret_version_stage
    put = SecretsManagerBackend.put_secret_value
    if getattr(stage, _FIXED, False):
        return
    _originals.update(update_secret_version_stage=stage, put_secret_value=put)

    def update_secret_version_stage(
        self: Any, secret_id: str, version_stage: str, remove_from_version_id: str,
        move_to_version_id: str,
    ) -> tuple[str, str]:
        result: tuple[str, str] = stage(self, secret_id, version_stage, remove_from_version_id,
                                        move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id:
            self.secrets[secret_id].set_default_version_id(move_to_version_id)
        return result

    def put_secret_value(self: Any, secret_id: str, *args: Any, **kwargs: Any) -> str:
        secret = self.secrets.get(secret_id)
        if secret is not None and secret.is_deleted():
            raise InvalidRequestException(
                "You can't perform this operation on the secret because it was marked for "
                "deletion.")
        result: str = put(self, secret_id, *args, **kwargs)
        return result

    for fixed in (update_secret_version_stage, put_secret_value):
        setattr(fixed, _FIXED, True)
        setattr(SecretsManagerBackend, fixed.__name__, fixed)


def unpatch_moto() -> None:
    """Undo :func:`patch_moto` (nothing happens when it was not applied)."""
    if not _originals:
        return
    from moto.secretsmanager.models import SecretsManagerBackend

    for name, original in _originals.items():
        setattr(SecretsManagerBackend, name, original)
    _originals.clear()
