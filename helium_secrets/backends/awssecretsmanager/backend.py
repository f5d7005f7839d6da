"""The AWS backend: built from its options; its reads and writes are its bases."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import SplitResult

from helium_secrets._options import build, parse, query_of
from helium_secrets.backends._base import Capabilities, Classified
from helium_secrets.backends._display import shown_address
from helium_secrets.backends.awssecretsmanager.errors import classify
from helium_secrets.backends.awssecretsmanager.names import NAME_RULES
from helium_secrets.backends.awssecretsmanager.options import (
    AWSSecretsManagerOptions,
    client_for,
    endpoint_of,
    region_of,
)
from helium_secrets.backends.awssecretsmanager.reads import BATCH_SIZE
from helium_secrets.backends.awssecretsmanager.writes import Writes, tags_problem

__all__ = ["MAX_VALUE_BYTES", "AWSSecretsManagerBackend"]

#: SecretString / SecretBinary limit of the service.
MAX_VALUE_BYTES = 64 * 1024


class AWSSecretsManagerBackend(Writes):
    """AWS Secrets Manager through boto3.

    :param options: a ready :class:`AWSSecretsManagerOptions`, or pass its fields as keywords.
    :raises ValueError: conflicting options, a recovery window outside 7-30 days, or no
        region anywhere.
    """

    name: ClassVar[str] = "aws"

    def __init__(
        self, *, options: AWSSecretsManagerOptions | None = None, **keywords: Any
    ) -> None:
        self._options = opts = build(AWSSecretsManagerOptions, options, keywords)
        tags = opts.tags
        self.capabilities = Capabilities(
            binary=True,
            versions=True,
            labels=True,
            max_value_bytes=MAX_VALUE_BYTES,
            name_rules=NAME_RULES,
            version_probe=True,
            batch_get=BATCH_SIZE,
            idempotent_put=True,
            check_and_set=opts.atomic_check_and_set,
            staging=True,
        )
        self.recovery_window_days = opts.recovery_window_days
        self.kms_key_id = opts.kms_key_id
        self.description = opts.description
        problem = tags_problem(tags or {})
        if problem is not None:
            raise ValueError(f"tags=: {problem}")
        self.tags = dict(tags or {})
        self.atomic_check_and_set = opts.atomic_check_and_set
        self._batch_denied = False
        self._owns_client = opts.client is None
        self.client = client_for(opts)

    @property
    def options(self) -> AWSSecretsManagerOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls, url: SplitResult, **keywords: Any) -> AWSSecretsManagerBackend:
        """Build from ``awssecretsmanager://[REGION][?profile=...&endpoint_url=...]``.

        Query options: ``region``, ``profile``, ``endpoint_url``, ``allow_insecure_http``,
        ``recovery_window_days``, ``kms_key_id``, ``atomic_check_and_set`` (``true``/``false``).
        Keyword options win over the URL's.
        """
        if url.path not in ("", "/"):
            raise ValueError("awssecretsmanager:// URLs take no path: the host is the region")
        query = query_of(url)
        derived = {}
        if url.hostname:
            if "region" in query:
                raise ValueError("give the region as the URL's host or ?region=, not both")
            derived["region"] = url.hostname
        return cls(options=parse(AWSSecretsManagerOptions, keywords=keywords, query=query,
                                 url=derived))

    def classify(self, exc: BaseException) -> Classified | None:
        return classify(exc, self.endpoint)

    @property
    def endpoint(self) -> str:
        """The endpoint the client calls (``https://secretsmanager.REGION.amazonaws.com``)."""
        return endpoint_of(self.client)

    @property
    def region(self) -> str | None:
        """The region the client calls."""
        return region_of(self.client)

    def __repr__(self) -> str:
        return (f"<AWSSecretsManagerBackend region={self.region!r} "
                f"endpoint={shown_address(self.endpoint)}>")

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
