"""AWS's options, and the client built from them (or checked).

:class:`AWSClientOptions` (where the client comes from) and :func:`client_for` are shared by every
AWS backend (Secrets Manager here, SSM Parameter Store in :mod:`~helium_secrets.backends.awsssm`),
so a client is built, and checked, in this one place.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import boto3
import botocore.exceptions
from botocore.config import Config

from helium_secrets._options import (
    Options,
    option,
    parse_timeout,
    timeout_pair,
    timeout_problem,
)
from helium_secrets.backends._transport import check_plaintext

__all__ = [
    "AWSClientOptions",
    "AWSSecretsManagerOptions",
    "check_endpoint",
    "check_ready_client",
    "checked_client",
    "client_arguments",
    "client_for",
    "endpoint_of",
    "profile_not_found",
    "region_of",
    "region_option",
]

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
    :param allow_insecure_http: allow a plain ``http://`` endpoint off loopback.
    :param session: a ``boto3.Session`` to build the client from.
    :param client: a ready client.
    :param config: a ``botocore.config.Config`` merged into the client's.
    :param timeout: seconds per request, or ``(connect, read)``; beats ``config``'s timeouts.
    """

    #: The boto3 service name of the client (``session.client(service)``).
    service: ClassVar[str] = "secretsmanager"
    #: botocore's id of the service (``AWS_ENDPOINT_URL_<ID>`` names its endpoint variable).
    service_id: ClassVar[str] = "Secrets Manager"

    # botocore reads AWS_DEFAULT_REGION only; AWS_REGION comes after it, as awscli v2 has it.
    region: str | None = option(None, query=True, url="host",
                                env=("AWS_DEFAULT_REGION", "AWS_REGION"))
    profile: str | None = option(None, query=True)
    endpoint_url: str | None = option(None, query=True)
    allow_insecure_http: bool = option(False, query=True)
    session: boto3.Session | None = None
    client: Any = None
    config: Config | None = None
    timeout: float | tuple[float, float] | None = option(None, query=True, parse=parse_timeout,
                                     check=timeout_problem)


@dataclass(frozen=True, kw_only=True)
class AWSSecretsManagerOptions(AWSClientOptions):
    """The options of :class:`AWSSecretsManagerBackend` (the table in docs/backends/aws.md).

    Pass an existing ``client``, or a boto3 ``session``, or let the backend build one from
    ``region`` / ``profile`` (and the usual AWS environment variables and config files, which
    boto3 reads itself).

    :param region: the AWS region; default: ``AWS_DEFAULT_REGION``, then ``AWS_REGION`` (what
        awscli v2 and most other SDKs read), then the profile's region. A given ``session`` or
        ``client`` keeps its own region over the environment's.
    :param profile: a named profile from the AWS config files.
    :param endpoint_url: another endpoint (a VPC endpoint, FIPS, or a test server).
    :param allow_insecure_http: allow a plain ``http://`` endpoint off loopback (however it
        is configured: ``endpoint_url``, ``AWS_ENDPOINT_URL``, the config files, a ready
        ``client``); without it, one is a ``ValueError`` before any connection.
    :param session: a ``boto3.Session`` to build the client from.
    :param client: a ready ``secretsmanager`` client. Switch its retries off
        (``Config(retries={"total_max_attempts": 1})``): the store retries, and a client that
        retries too multiplies the attempts (a warning says so).
    :param config: a ``botocore.config.Config`` merged into the client's (timeouts, proxies,
        pool size); its retry settings are overridden. Defaults: 10 s to connect, 30 s to read.
    :param timeout: seconds per request, or a ``(connect, read)`` pair (``5,30`` in a URL), the
        same option as on every other backend; it beats ``config``'s timeouts.
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
    retries on its own), or one built without botocore's retries from the others; either
    way its endpoint is https, or plain http only to loopback (or with ``allow_insecure_http``).

    :raises ValueError: conflicting options, no region anywhere, or a plain-http endpoint off
        loopback.
    """
    region = region_option(opts)
    if opts.client is not None:
        check_ready_client(opts)
        return opts.client
    session = opts.session
    if session is None:
        try:
            session = boto3.Session(profile_name=opts.profile, region_name=region)
        except botocore.exceptions.ProfileNotFound as exc:
            raise ValueError(profile_not_found(opts.profile)) from exc
    arguments = client_arguments(opts, region)
    return checked_client(lambda: session.client(opts.service, **arguments), opts)


def region_option(opts: AWSClientOptions) -> str | None:
    """The region to ask for: ``None`` when it came from the environment and a ready client or
    session has its own (the ``session`` may be boto3's or botocore's)."""
    if opts.source("region").startswith("env:") and (
            opts.client is not None or (opts.session is not None and _session_region(opts.session))):
        return None  # a ready client or session keeps its own region
    return opts.region


def _session_region(session: Any) -> str | None:
    if hasattr(session, "region_name"):  # boto3.Session
        return session.region_name  # type: ignore[no-any-return]
    return session.get_config_variable("region")  # type: ignore[no-any-return]


def check_ready_client(opts: AWSClientOptions) -> None:
    """Hold a ready ``client`` to the rules: nothing else to build it from, its endpoint https
    (or loopback), and a warning if it retries on its own.

    :raises ValueError: other client options beside it, or a plain-http endpoint off loopback.
    """
    if any(x is not None for x in (opts.session, opts.profile, region_option(opts),
                                   opts.endpoint_url, opts.config, opts.timeout)):
        raise ValueError(
            "pass either client= or session/profile/region/endpoint_url/config/timeout, "
            "not both"
        )
    check_endpoint(opts.client, opts)
    _warn_if_client_retries(opts.client, opts.service)


def client_arguments(opts: AWSClientOptions, region: str | None) -> dict[str, Any]:
    """The keywords of ``session.client(service, ...)`` (boto3) or ``create_client``
    (botocore, aiobotocore): region, endpoint and the config without SDK retries. A given
    ``endpoint_url`` is checked here, before any client (whose building may look up
    credentials) exists.

    :raises ValueError: ``session`` and ``profile`` both given, or a plain-http
        ``endpoint_url`` off loopback.
    """
    if opts.session is not None and opts.profile is not None:
        raise ValueError("pass either session= or profile=, not both")
    if opts.endpoint_url is not None:
        _check_url(opts.endpoint_url, opts.service_id, opts)
    config = opts.config
    merged = (_DEFAULTS.merge(config) if config is not None else _DEFAULTS).merge(_NO_RETRIES)
    if opts.timeout is not None:  # beats config's timeouts
        connect, read = timeout_pair(opts.timeout)
        merged = merged.merge(Config(connect_timeout=connect, read_timeout=read))
    return {"region_name": region, "endpoint_url": opts.endpoint_url, "config": merged}


def checked_client(build: Callable[[], Any], opts: AWSClientOptions) -> Any:
    """The client ``build`` makes (which connects nowhere), its endpoint checked.

    :raises ValueError: no region anywhere, a profile the config files lack, or a plain-http
        endpoint off loopback (the client is closed then).
    """
    try:
        built = build()
    except botocore.exceptions.NoRegionError as exc:
        raise ValueError(
            f"no AWS region: name it in the URL ({opts.scheme}://eu-west-1), with "
            "region=, AWS_DEFAULT_REGION or AWS_REGION, or the profile's region"
        ) from exc
    except botocore.exceptions.ProfileNotFound as exc:
        raise ValueError(profile_not_found(opts.profile)) from exc
    try:
        check_endpoint(built, opts)
    except ValueError:
        built.close()
        raise
    return built


def endpoint_of(client: Any) -> str:
    """The endpoint a boto3 client calls (``""`` for an object that is not one)."""
    return str(getattr(getattr(client, "meta", None), "endpoint_url", "") or "")


def region_of(client: Any) -> str | None:
    """The region a boto3 client calls."""
    region: str | None = getattr(getattr(client, "meta", None), "region_name", None)
    return region


def check_endpoint(client: Any, opts: AWSClientOptions) -> None:
    """Plain http only to loopback, checked on the endpoint the client resolved: botocore
    reads ``endpoint_url=``, ``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_ENDPOINT_URL`` and the
    config files' ``endpoint_url`` itself. Building a client connects nowhere."""
    meta: Any = getattr(client, "meta", None)
    endpoint = getattr(meta, "endpoint_url", None)
    if isinstance(endpoint, str):  # else not a botocore client: nothing to inspect
        _check_url(endpoint, str(meta.service_model.service_id), opts)


def _check_url(endpoint: str, service_id: str, opts: AWSClientOptions) -> None:
    """:param service_id: botocore's name of the service, ``"Secrets Manager"``."""
    variable = "AWS_ENDPOINT_URL_" + service_id.replace(" ", "_").upper()
    check_plaintext(
        endpoint, service=f"the AWS {service_id} endpoint",
        allowed=opts.allow_insecure_http,
        fix=f"use an https:// endpoint (endpoint_url=, {variable}, AWS_ENDPOINT_URL or the "
            "profile's endpoint_url)",
    )


def profile_not_found(profile: str | None) -> str:
    """What to do about a profile the AWS config files do not have."""
    named = (f"profile={profile!r}" if profile is not None
             else f"AWS_PROFILE={os.environ.get('AWS_PROFILE', '')!r}")
    return (f"the AWS profile of {named} is not in the AWS config files (~/.aws/config and "
            "~/.aws/credentials, or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE): create it "
            "with `aws configure --profile NAME` (or `aws configure sso`), or name another one")


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
            stacklevel=6,  # past here, check_ready_client, client_for and the backend's __init__
        )
