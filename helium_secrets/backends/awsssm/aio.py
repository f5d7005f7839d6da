"""The async SSM Parameter Store backend: the operations of :mod:`.backend`, run on an
aiobotocore client (``pip install 'helium-secrets[aws-async]'``), built and checked as the
async Secrets Manager backend's (:class:`~helium_secrets.backends.awssecretsmanager.aio.AioClient`).

Imported only when used; its methods are the sync backend's, awaited (``close`` is ``aclose``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiobotocore.session import AioSession

from helium_secrets.backends._base import AsyncBackendBase
from helium_secrets.backends._shells import AsyncShell
from helium_secrets.backends.awssecretsmanager.aio import AioClient
from helium_secrets.backends.awsssm.backend import AWSSSMCore
from helium_secrets.backends.awsssm.options import AWSSSMOptions

__all__ = ["AsyncAWSSSMBackend", "AsyncAWSSSMOptions"]


@dataclass(frozen=True, kw_only=True)
class AsyncAWSSSMOptions(AWSSSMOptions):
    """The options of :class:`AsyncAWSSSMBackend`: those of
    :class:`~helium_secrets.backends.awsssm.AWSSSMOptions`, except that ``session`` is an
    ``aiobotocore.session.AioSession`` and ``client`` a ready aiobotocore ``ssm`` client
    (already entered; the backend does not close it)."""

    session: AioSession | None = None


class AsyncAWSSSMBackend(AioClient, AWSSSMCore, AsyncShell, AsyncBackendBase):
    """AWS Systems Manager Parameter Store through aiobotocore, awaited. Building it connects
    nowhere and looks up no credentials; the client is made on the first call.

    :param options: a ready :class:`AsyncAWSSSMOptions`, or pass its fields as keywords.
    :raises ValueError: as the sync backend's.
    """

    options_class = AsyncAWSSSMOptions

    def __init__(self, *, options: AWSSSMOptions | None = None, **keywords: Any) -> None:
        self._prepare(self._configure(options, keywords))
