"""The SSM Parameter Store backend: its construction and its raw operations."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar
from urllib.parse import SplitResult, unquote

import botocore.exceptions

from helium_secrets._options import build, parse, query_of
from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import (
    BackendBase,
    Capabilities,
    Classified,
    RawSecret,
    RequestTokens,
)
from helium_secrets.backends._display import shown_address
from helium_secrets.backends._flows import Call, Flow
from helium_secrets.backends._shells import Operations, SyncShell
from helium_secrets.backends.awssecretsmanager.client import AWSClient, BotoClient
from helium_secrets.backends.awssecretsmanager.errors import error_code
from helium_secrets.backends.awssecretsmanager.reads import next_page
from helium_secrets.backends.awssecretsmanager.writes import tags_problem
from helium_secrets.backends.awsssm.errors import classify
from helium_secrets.backends.awsssm.names import (
    MAX_LABELS,
    label_problem,
    name_rules,
    path_problem,
)
from helium_secrets.backends.awsssm.options import MAX_VALUE_BYTES, AWSSSMOptions
from helium_secrets.errors import InvalidArgumentError, SecretNotFoundError, VersionNotFoundError

__all__ = ["BATCH_SIZE", "AWSSSMBackend", "AWSSSMCore"]

Self = TypeVar("Self", bound="AWSSSMCore")

#: GetParameters takes at most 10 names (moto takes more; AWS does not).
BATCH_SIZE = 10
#: GetParametersByPath answers at most 10 parameters a page, GetParameterHistory 50.
_PAGE = {"get_parameters_by_path": 10, "get_parameter_history": 50}
#: AWS's tag limits, the same as Secrets Manager's.
_MAX_TAGS, _MAX_TAG_KEY, _MAX_TAG_VALUE = 50, 128, 256
#: How a version records the request token of the put that wrote it (SSM has no tokens).
_TOKEN_MARK = "helium-request:"


class AWSSSMCore(Operations, AWSClient):
    """What the sync and the async SSM backends share: their options, capabilities, state and
    operations (as flows), their URL form and error classification."""

    name: ClassVar[str] = "awsssm"
    #: The options class the URL and keywords are parsed into.
    options_class: ClassVar[type[AWSSSMOptions]] = AWSSSMOptions

    def _configure(self, options: AWSSSMOptions | None,
                   keywords: Mapping[str, Any]) -> AWSSSMOptions:
        """Resolve the options and the state built from them (nothing that connects).

        :raises ValueError: tags AWS would refuse (and the options' own errors).
        """
        self._options = opts = build(self.options_class, options, keywords)
        problem = tags_problem(opts.tags or {})
        if problem is not None:
            raise ValueError(f"tags=: {problem}")
        self.root = opts.path
        self.capabilities = Capabilities(
            binary=False,
            versions=True,
            labels=True,
            max_value_bytes=MAX_VALUE_BYTES[opts.tier],
            name_rules=name_rules(opts.path),
            version_probe=True,
            batch_get=BATCH_SIZE,
            idempotent_put=True,
            check_and_set=False,  # SSM has no conditional write: the store compares first
            max_metadata_keys=_MAX_TAGS,
            max_metadata_key_bytes=_MAX_TAG_KEY,
            max_metadata_value_bytes=_MAX_TAG_VALUE,
        )
        self._tokens: RequestTokens[bool] = RequestTokens()
        self._owns_client = opts.client is None
        return opts

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} region={self.region!r} path={self.root!r} "
                f"endpoint={shown_address(self.endpoint)}>")

    @property
    def options(self) -> AWSSSMOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls: type[Self], url: SplitResult, **keywords: Any) -> Self:
        """Build from ``awsssm://[REGION][/ROOT/PATH][?profile=...&endpoint_url=...]``.

        The host is the region, the path the root path of every name. Keyword options win
        over the URL's.
        """
        query = query_of(url)
        derived: dict[str, str] = {}
        if url.hostname:
            if "region" in query:
                raise ValueError("give the region as the URL's host or ?region=, not both")
            derived["region"] = url.hostname
        if url.path not in ("", "/"):
            derived["path"] = unquote(url.path.rstrip("/"))
        return cls(options=parse(cls.options_class, keywords=keywords,  # type: ignore[call-arg]
                                 query=query, url=derived))

    def classify(self, exc: BaseException) -> Classified | None:
        return classify(exc, self.endpoint)

    # -- names -----------------------------------------------------------------------------

    def parameter(self, name: str) -> str:
        """The parameter name of the portable ``name``."""
        return f"{self.root}/{name}"

    def _portable(self, parameter: str) -> str | None:
        head = self.root + "/"
        return parameter[len(head):] if parameter.startswith(head) else None

    # -- reads -----------------------------------------------------------------------------

    def _get(self, name: str, version: str | None = None, label: str | None = None,
             ) -> Flow[RawSecret]:
        selector = ""
        if version is not None:
            if not version.isdigit():
                raise VersionNotFoundError("no such version (SSM versions are numbers)")
            selector = f":{version}"
        if label is not None:
            if label_problem(label) is not None:
                raise VersionNotFoundError("no such label (not a valid SSM label)")
            if version is not None:  # both: the version must carry the label
                raw = yield from self._get(name, version)
                if label not in (yield from self._labels_of(name)).get(raw.version, ()):
                    raise VersionNotFoundError("the version does not carry that label")
                return raw
            selector = f":{label}"
        response = yield Call("get_parameter", {"Name": self.parameter(name) + selector,
                                                "WithDecryption": True})
        return self._raw(name, response["Parameter"])

    @staticmethod
    def _raw(name: str, parameter: Mapping[str, Any]) -> RawSecret:
        return RawSecret(name=name, value=parameter.get("Value", ""),
                         version=str(parameter["Version"]),
                         created_at=parameter.get("LastModifiedDate"))

    def _current_version(self, name: str) -> Flow[VersionInfo]:
        # The cheap probe: no decryption, so no KMS call and no plaintext on the wire.
        response = yield Call("get_parameter", {"Name": self.parameter(name),
                                                "WithDecryption": False})
        parameter = response["Parameter"]
        return VersionInfo(version=str(parameter["Version"]),
                           created_at=parameter.get("LastModifiedDate"))

    def _get_many(self, names: Sequence[str]) -> Flow[dict[str, RawSecret | BaseException]]:
        # The store sends distinct names, at most capabilities.batch_get (10) of them.
        by_parameter = {self.parameter(name): name for name in names}
        response = yield Call("get_parameters", {"Names": list(by_parameter),
                                                 "WithDecryption": True})
        out: dict[str, RawSecret | BaseException] = {}
        for parameter in response.get("Parameters", ()):
            name = by_parameter.get(parameter.get("Name", ""))
            if name is not None:
                out[name] = self._raw(name, parameter)
        for name in names:
            out.setdefault(name, SecretNotFoundError("parameter not found"))
        return out

    def _list_names(self, prefix: str = "") -> Flow[list[str]]:
        head = self.parameter(prefix)
        path = head[:head.rfind("/")] or "/"
        if path != "/" and path_problem(path) is not None:
            return []  # no parameter is under such a path (and SSM would refuse it)
        entries = yield from self._pages("get_parameters_by_path", Path=path, Recursive=True,
                                         WithDecryption=False)
        return [name for entry in entries
                if (name := self._portable(entry.get("Name", ""))) is not None
                and name.startswith(prefix)]

    def _list_versions(self, name: str) -> Flow[list[VersionInfo]]:
        return [
            VersionInfo(version=str(entry["Version"]), labels=frozenset(entry.get("Labels") or ()),
                        created_at=entry.get("LastModifiedDate"))
            for entry in (yield from self._history(name))
        ]

    def _history(self, name: str) -> Flow[list[dict[str, Any]]]:
        """GetParameterHistory, oldest first, without values."""
        entries = yield from self._pages("get_parameter_history", Name=self.parameter(name),
                                         WithDecryption=False)
        return sorted(entries, key=lambda entry: int(entry["Version"]))

    def _labels_of(self, name: str) -> Flow[dict[str, list[str]]]:
        history = yield from self._history(name)
        return {str(e["Version"]): list(e.get("Labels") or ()) for e in history}

    def _pages(self, operation: str, **params: Any) -> Flow[list[dict[str, Any]]]:
        """Every page's ``Parameters``, ``_PAGE[operation]`` a page (as botocore's paginator
        pages them, by ``NextToken``)."""
        entries: list[dict[str, Any]] = []
        request: dict[str, Any] | None = {**params, "MaxResults": _PAGE[operation]}
        while request is not None:
            page = yield Call(operation, request)
            entries.extend(page.get("Parameters", ()))
            request = next_page(request, page)
        return entries

    # -- writes ----------------------------------------------------------------------------

    def _put(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_version: str | None = None,
        create_only: bool = False,
        request_token: str | None = None,
        metadata: Mapping[str, str] | None = None,
        labels: Sequence[str] = (),
    ) -> Flow[VersionInfo]:
        # check_and_set is False: the store checks expected_version / create_only itself.
        if not value:
            raise InvalidArgumentError("SSM Parameter Store does not store empty values")
        if isinstance(value, bytes):
            raise InvalidArgumentError("SSM parameters hold text only")
        labels = list(dict.fromkeys(labels))
        self._check_labels(labels)
        problem = tags_problem({**(self._options.tags or {}), **(metadata or {})})
        if problem is not None:
            raise InvalidArgumentError(f"metadata becomes SSM tags: {problem}")
        mark = _mark(request_token)
        version = ((yield from self._retried_version(name, request_token, mark))
                   or (yield from self._put_parameter(name, value, mark)))
        # SSM takes no tags with Overwrite: they are added to the parameter afterwards (again
        # on a retry, whose first attempt may have stopped before).
        tags = {**(self._options.tags or {}), **(metadata or {})} if version == "1" else metadata
        if tags:
            yield Call("add_tags_to_resource", {
                "ResourceType": "Parameter", "ResourceId": self.parameter(name),
                "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
            })
        if labels:
            yield from self._label(name, version, labels)
        return VersionInfo(version=version, labels=frozenset(labels))

    def _retried_version(self, name: str, token: str | None, mark: str | None,
                         ) -> Flow[str | None]:
        """The version an earlier attempt of this put wrote, if it did (found by the mark it
        left in the version's description); ``None`` on a first attempt."""
        retried = self._tokens.get(token) is not None
        self._tokens.remember(token, True)
        if not retried or mark is None:
            return None
        try:
            history = yield from self._history(name)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "ParameterNotFound":
                return None
            raise
        return next((str(e["Version"]) for e in reversed(history)
                     if e.get("Description") == mark), None)

    def _put_parameter(self, name: str, value: str, mark: str | None) -> Flow[str]:
        opts = self._options
        params: dict[str, Any] = {"Name": self.parameter(name), "Value": value,
                                  "Type": opts.parameter_type, "Tier": opts.tier,
                                  "Overwrite": True}
        if mark is not None:
            params["Description"] = mark
        if opts.kms_key_id is not None:
            params["KeyId"] = opts.kms_key_id
        return str((yield Call("put_parameter", params))["Version"])

    @staticmethod
    def _check_labels(labels: Sequence[str]) -> None:
        if len(labels) > MAX_LABELS:
            raise InvalidArgumentError(f"an SSM version carries at most {MAX_LABELS} labels")
        for label in labels:
            problem = label_problem(label)
            if problem is not None:
                raise InvalidArgumentError(f"invalid label: {problem}")

    def _label(self, name: str, version: str, labels: Sequence[str]) -> Flow[None]:
        response = yield Call("label_parameter_version", {
            "Name": self.parameter(name), "ParameterVersion": int(version),
            "Labels": list(labels)})
        if response.get("InvalidLabels"):  # checked before, so a rule of the service's own
            raise InvalidArgumentError("SSM refused a label")

    def _set_label(self, name: str, label: str, version: str | None) -> Flow[None]:
        self._check_labels([label])
        if version is not None:
            if not version.isdigit():
                raise VersionNotFoundError("no such version (SSM versions are numbers)")
            # LabelParameterVersion moves the label off the version that had it.
            yield from self._label(name, version, [label])
            return
        labels_of = yield from self._labels_of(name)
        holder = next((v for v, held in labels_of.items() if label in held), None)
        if holder is not None:
            yield Call("unlabel_parameter_version", {
                "Name": self.parameter(name), "ParameterVersion": int(holder),
                "Labels": [label]})

    def _delete(self, name: str, *, purge: bool = False) -> Flow[None]:
        # SSM keeps nothing recoverable: a deleted parameter is gone, purge or not.
        yield Call("delete_parameter", {"Name": self.parameter(name)})


class AWSSSMBackend(BotoClient, AWSSSMCore, SyncShell, BackendBase):
    """AWS Systems Manager Parameter Store through boto3.

    :param options: a ready :class:`AWSSSMOptions`, or pass its fields as keywords.
    :raises ValueError: conflicting options, a bad root path or tags, or no region anywhere.
    """

    def __init__(self, *, options: AWSSSMOptions | None = None, **keywords: Any) -> None:
        self._connect(self._configure(options, keywords))


def _mark(token: str | None) -> str | None:
    """The description that records ``token`` (hashed: fixed length, and nothing of the token
    a reader of the parameter could replay)."""
    if token is None:
        return None
    return _TOKEN_MARK + hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]
