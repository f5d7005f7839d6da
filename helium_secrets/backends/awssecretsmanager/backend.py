"""The AWS backends' shared construction, and the sync backend: a thin shell that runs the
operations of :mod:`.reads` and :mod:`.writes` on a boto3 client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar
from urllib.parse import SplitResult

from helium_secrets._options import build, parse, query_of
from helium_secrets.access import AccessReview
from helium_secrets.backends._base import BackendBase, Capabilities, Classified, extra_operation
from helium_secrets.backends._display import shown_address
from helium_secrets.backends._shells import SyncShell
from helium_secrets.backends.awssecretsmanager.client import AWSClient, BotoClient
from helium_secrets.backends.awssecretsmanager.errors import classify
from helium_secrets.backends.awssecretsmanager.names import CURRENT, NAME_RULES, PENDING, PREVIOUS
from helium_secrets.backends.awssecretsmanager.options import AWSSecretsManagerOptions
from helium_secrets.backends.awssecretsmanager.reads import BATCH_SIZE
from helium_secrets.backends.awssecretsmanager.writes import Writes, tags_problem
from helium_secrets.lifecycle import Lifecycle

__all__ = ["MAX_VALUE_BYTES", "AWSSecretsManagerBackend", "AWSSecretsManagerCore"]

#: SecretString / SecretBinary limit of the service.
MAX_VALUE_BYTES = 64 * 1024

Self = TypeVar("Self", bound="AWSSecretsManagerCore")


class AWSSecretsManagerCore(Writes, AWSClient):
    """What the sync and the async AWS backends share: their options, capabilities, state and
    operations (as flows), their URL form and error classification. The subclasses only hold
    a client and run the flows on it."""

    name: ClassVar[str] = "aws"
    #: The options class the URL and keywords are parsed into.
    options_class: ClassVar[type[AWSSecretsManagerOptions]] = AWSSecretsManagerOptions

    def _configure(self, options: AWSSecretsManagerOptions | None,
                   keywords: Mapping[str, Any]) -> AWSSecretsManagerOptions:
        """Resolve the options and the state built from them (nothing that connects).

        :raises ValueError: tags AWS would refuse (and the options' own errors).
        """
        self._options = opts = build(self.options_class, options, keywords)
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
            managed_labels=frozenset({CURRENT, PREVIOUS, PENDING}),
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
        return opts

    @property
    def options(self) -> AWSSecretsManagerOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls: type[Self], url: SplitResult, **keywords: Any) -> Self:
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
        return cls(options=parse(cls.options_class, keywords=keywords, query=query,  # type: ignore[call-arg]
                                 url=derived))

    def classify(self, exc: BaseException) -> Classified | None:
        return classify(exc, self.endpoint)

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} region={self.region!r} "
                f"endpoint={shown_address(self.endpoint)}>")


class AWSSecretsManagerBackend(BotoClient, AWSSecretsManagerCore, SyncShell, BackendBase):
    """AWS Secrets Manager through boto3.

    :param options: a ready :class:`AWSSecretsManagerOptions`, or pass its fields as keywords.
    :raises ValueError: conflicting options, a recovery window outside 7-30 days, or no
        region anywhere.
    """

    def __init__(
        self, *, options: AWSSecretsManagerOptions | None = None, **keywords: Any
    ) -> None:
        self._connect(self._configure(options, keywords))

    @extra_operation(writes=False)
    def access(self, name: str) -> AccessReview:
        """Who the secret's resource policy (``GetResourcePolicy``) lets read it, or denies;
        the account's identity policies can grant access too, and are not shown."""
        return self._run(self._access_review(name))

    @extra_operation(writes=False)
    def describe(self, name: str) -> Lifecycle:
        """The secret's lifecycle from one DescribeSecret (40,000/s, no value read):
        ``CreatedDate``, ``LastChangedDate``, ``LastRotatedDate``, ``NextRotationDate``,
        ``LastAccessedDate`` (AWS records the day) and ``RotationEnabled``. AWS secrets do not
        expire."""
        return self._run(self._lifecycle(name))

    @extra_operation(writes=True)
    def restore(self, name: str) -> None:
        """Cancel the scheduled deletion of ``name`` (within its recovery window).

        Not part of the portable API: call it as ``store.extras.restore(name)``, which runs it
        through the store's call pipeline (checked, retried, translated, audited).
        """
        self._run(self._restore(name))
