"""AWS's options, and the client built from them (or checked).

:class:`AWSClientOptions` (where the client comes from) and :func:`client_for` are shared by every
AWS backend (Secrets Manager here, SSM Parameter Store in :mod:`~helium_secrets.backends.awsssm`),
so a client is built, and checked, in this one place.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import boto3
import botocore.exceptions
from botocore.config import Config

from helium_secrets._options import Options, option

__all__ = ["AWSClientOptions", "AWSSecretsManagerOptions", "client_for"]

_NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
# botocore waits 60 s by default; a hung call should fail well within the store's deadline.
_DEFAULTS = Config(connect_timeout=10, read_timeout=30)


@dataclass(frozen=True, kw_only=True)
class AWSClientOptions(Options):
    """Where an AWS backend's client comes from: the fields every AWS backend's options share
    (each backend's own class documents them, for its page's table).

    :param region: the AWS region.
    :param profile: a named profile from the AWS config files.
    :param endpoint_url: another endpoint.
    :param session: a ``boto3.Session`` to build the client from.
    :param client: a ready client.
    :param config: a ``botocore.config.Config`` merged into the client's.
    """

    #: The boto3 service name of the client (``session.client(service)``).
    service: ClassVar[str] = "secretsmanager"

    region: str | None = option(None, query=True, url="host")
    profile: str | None = option(None, query=True)
    endpoint_url: str | None = option(None, query=True)
    session: boto3.Session | None = None
    client: Any = None
    config: Config | None = None


@dataclass(frozen=True, kw_only=True)
class AWSSecretsManagerOptions(AWSClientOptions):
    """The options of :class:`AWSSecretsManagerBackend` (the table in docs/backends/aws.md).

    Pass an existing ``client``, or a boto3 ``session``, or let the backend build one from
    ``region`` / ``profile`` (and the usual AWS environment variables and config files, which
    boto3 reads itself).

    :param region: the AWS region (default: the session's / environment's region).
    :param profile: a named profile from the AWS config files.
    :param endpoint_url: another endpoint (a VPC endpoint, FIPS, or a test server).
    :param session: a ``boto3.Session`` to build the client from.
    :param client: a ready ``secretsmanager`` client. Switch its retries off
        (``Config(retries={"total_max_attempts": 1})``): the store retries, and a client that
        retries too multiplies the attempts (a warning says so).
    :param config: a ``botocore.config.Config`` merged into the client's (timeouts, proxies,
        pool size); its retry settings are overridden. Defaults: 10 s to connect, 30 s to read.
    :param recovery_window_days: days a deleted secret can be restored (7-30, default 30).
    :param kms_key_id: the KMS key for secrets this backend creates.
    :param description: the description of secrets this backend creates.
    :param tags: tags for secrets this backend creates (merged with ``metadata`` of a put).
    :param atomic_check_and_set: ``put(expected_version=...)`` is a staging-label
        compare-and-swap (3 calls, atomic; the default); ``False`` checks DescribeSecret and then
        writes (2 calls, with a race window); see the documentation page.
    """

    scheme: ClassVar[str] = "awssecretsmanager"

    recovery_window_days: int = option(30, query=True, ge=7, le=30)
    kms_key_id: str | None = option(None, query=True)
    description: str | None = None
    tags: Mapping[str, str] | None = None
    atomic_check_and_set: bool = option(True, query=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tags is not None:  # a copy: the options stay as they were made
            object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))


def client_for(opts: AWSClientOptions) -> Any:
    """The client of ``opts`` (for ``opts.service``): the ready ``client`` (with a warning if it
    retries on its own), or one built without botocore's retries from the others.

    :raises ValueError: conflicting options, or no region anywhere.
    """
    region, profile, session, client = opts.region, opts.profile, opts.session, opts.client
    endpoint_url, config = opts.endpoint_url, opts.config
    if client is not None:
        if any(x is not None for x in (session, profile, region, endpoint_url, config)):
            raise ValueError(
                "pass either client= or session/profile/region/endpoint_url/config, not both"
            )
        _warn_if_client_retries(client, opts.service)
        return client
    if session is None:
        session = boto3.Session(profile_name=profile, region_name=region)
    elif profile is not None:
        raise ValueError("pass either session= or profile=, not both")
    merged = (_DEFAULTS.merge(config) if config is not None else _DEFAULTS).merge(_NO_RETRIES)
    try:
        return session.client(
            opts.service, region_name=region, endpoint_url=endpoint_url, config=merged
        )
    except botocore.exceptions.NoRegionError as exc:
        raise ValueError(
            f"no AWS region: name it in the URL ({opts.scheme}://eu-west-1), with "
            "region=, AWS_DEFAULT_REGION or the profile's region"
        ) from exc


def _warn_if_client_retries(client: Any, service: str) -> None:
    retries = getattr(getattr(client, "meta", None), "config", None)
    settings = getattr(retries, "retries", None) or {}
    attempts = settings.get("total_max_attempts")
    if attempts is None and "max_attempts" in settings:
        attempts = settings["max_attempts"] + 1
    if attempts != 1:
        warnings.warn(
            f"the injected {service} client retries on its own; the store retries too, "
            "so attempts multiply. Build it with "
            "Config(retries={'total_max_attempts': 1}).",
            RuntimeWarning,
            stacklevel=5,  # past here, client_for and the backend's __init__
        )
