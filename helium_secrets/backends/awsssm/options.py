"""SSM's options. The client is built, and checked, by the one function every AWS backend
shares (:func:`~helium_secrets.backends.awssecretsmanager.options.client_for`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Literal

from helium_secrets._options import option
from helium_secrets.backends.awssecretsmanager.options import AWSClientOptions
from helium_secrets.backends.awsssm.names import path_problem

__all__ = ["MAX_VALUE_BYTES", "AWSSSMOptions"]

#: The largest value of each tier, in bytes (Intelligent-Tiering moves a parameter to
#: Advanced when its value needs it).
MAX_VALUE_BYTES = {"Standard": 4096, "Advanced": 8192, "Intelligent-Tiering": 8192}


@dataclass(frozen=True, kw_only=True)
class AWSSSMOptions(AWSClientOptions):
    """The options of :class:`AWSSSMBackend` (the table in docs/backends/awsssm.md).

    :param region: the AWS region; default: ``AWS_DEFAULT_REGION``, then ``AWS_REGION``, then
        the profile's region.
    :param profile: a named profile from the AWS config files.
    :param endpoint_url: another endpoint (a VPC endpoint, FIPS, or a test server).
    :param allow_insecure_http: allow a plain ``http://`` endpoint off loopback (however it is
        configured); without it, one is a ``ValueError`` before any connection.
    :param session: a ``boto3.Session`` to build the client from.
    :param client: a ready ``ssm`` client, with its retries switched off.
    :param config: a ``botocore.config.Config`` merged into the client's (its retry settings
        are overridden).
    :param timeout: seconds per request, or a ``(connect, read)`` pair; beats ``config``'s.
    :param path: the root path every name is under (``"/myapp/prod"``; ``""``: ``/``).
    :param parameter_type: the type of the parameters this backend writes.
    :param kms_key_id: the KMS key of the ``SecureString`` parameters this backend writes.
    :param tier: the tier of the parameters this backend writes (it sets the value limit).
    :param tags: tags for parameters this backend creates (merged with ``metadata`` of a put).
    """

    scheme: ClassVar[str] = "awsssm"
    service: ClassVar[str] = "ssm"
    service_id: ClassVar[str] = "SSM"

    path: str = option("", url="path", check=path_problem)
    parameter_type: Literal["SecureString", "String"] = option("SecureString", query=True)
    kms_key_id: str | None = option(None, query=True)
    tier: Literal["Standard", "Advanced", "Intelligent-Tiering"] = option("Standard", query=True)
    tags: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kms_key_id is not None and self.parameter_type != "SecureString":
            raise ValueError("awsssm:// option kms_key_id applies to SecureString parameters "
                             "only; parameter_type is String")
        if self.tags is not None:  # a copy: the options stay as they were made
            object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))
