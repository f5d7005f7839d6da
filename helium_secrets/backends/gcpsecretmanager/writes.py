"""GCP's writes: versions, the secret's annotations and aliases (under its etag), deletion."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence

from google.api_core import exceptions as api_exceptions
from google.cloud.secretmanager_v1 import types
from google.protobuf import field_mask_pb2

from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import RequestTokens
from helium_secrets.backends._flows import Flow
from helium_secrets.backends.gcpsecretmanager.names import ANNOTATION_KEY, VERSION_ID, valid_alias
from helium_secrets.backends.gcpsecretmanager.reads import Reads, crc32c, plain_datetime, version_of
from helium_secrets.errors import (
    ConflictError,
    InvalidArgumentError,
    SecretNotFoundError,
    VersionNotFoundError,
)

__all__ = ["Writes", "written"]

#: How many of the newest unaliased versions a retried put reads to find its own lost one.
LOST_VERSION_CANDIDATES = 3


class Writes(Reads):
    """The writing half of :class:`GCPSecretManagerBackend`."""

    _replicas: tuple[str, ...]
    _tokens: RequestTokens[bool]

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
        # The service has no idempotency token (capabilities.idempotent_put is False): the
        # store never retries a plain put; a check-and-set one comes back with the same token.
        retried = self._tokens.get(request_token) is not None
        self._tokens.remember(request_token, True)
        for label in labels:
            if not valid_alias(label):
                raise InvalidArgumentError(
                    f"invalid GCP version alias {label!r}: a letter, then letters, digits, "
                    "_ or -, up to 63 characters; not 'latest' or 'new'"
                )
        for key in metadata or {}:
            if not ANNOTATION_KEY.fullmatch(key):
                raise InvalidArgumentError(
                    f"invalid GCP annotation key {key!r}: letters, digits, . _ -, up to 63 "
                    "characters, starting and ending with a letter or digit"
                )
        data = value.encode("utf-8") if isinstance(value, str) else value
        if self._current_alias is not None:
            return (yield from self._put_alias_mode(name, data, expected_version, create_only,
                                                    metadata, labels, retried=retried))
        # Default mode has no conditional write (capabilities.check_and_set is False): the store
        # checks expected_version / create_only with a read first and never passes them here.
        if metadata:
            yield from self._merge_annotations(name, metadata)
        version = yield from self._add_or_create(name, data, metadata, guarded=False)
        version_id = version_of(version.name)
        if labels:
            yield from self._update_aliases(name, {label: version_id for label in labels})
        return written(version, labels)

    def _put_alias_mode(
        self, name: str, data: bytes, expected_version: str | None, create_only: bool,
        metadata: Mapping[str, str] | None, labels: Sequence[str], *, retried: bool,
    ) -> Flow[VersionInfo]:
        """Write a version, then move the current alias onto it.

        A guarded write (``expected_version`` or ``create_only``) moves the alias only if it
        still names the version it named before the write (checked and moved under the
        secret's etag): if a concurrent writer moved it first, ours is refused and the version
        we wrote is disabled. Check-and-set is atomic. A retry of a guarded write whose first
        answer was lost reuses the version that attempt added, if it did, rather than adding
        a second one.
        """
        alias = self._current_alias
        assert alias is not None
        annotated = False
        if create_only:
            annotated = yield from self._create(name, metadata)
            if not annotated and (yield from self._has_versions(name)):
                raise ConflictError("the secret already exists")
        guarded = expected_version is not None or create_only
        seen: types.Secret | None = None
        if guarded:
            try:
                seen = yield from self._get_secret(name)
            except api_exceptions.NotFound as exc:
                raise ConflictError("check-and-set failed: the secret does not exist") from exc
            current = yield from self._current_of(name, seen)
            if create_only and current is not None:
                raise ConflictError("the secret already exists")
            if expected_version is not None and current != expected_version:
                raise ConflictError("check-and-set failed: the current version changed")
        version = None
        if retried and seen is not None:
            version = yield from self._lost_version(name, data, seen)
        if version is None:
            version = yield from self._add_or_create(name, data, None if annotated else metadata,
                                                     guarded=expected_version is not None)
        version_id = version_of(version.name)
        moves: dict[str, str | None] = {label: version_id for label in labels}
        moves[alias] = version_id
        extra = None if annotated else metadata
        if seen is None:
            yield from self._update_aliases(name, moves, metadata=extra)
        else:
            expected_alias = seen.version_aliases.get(alias)
            try:
                yield from self._update_aliases(name, moves, metadata=extra,
                                                alias_must_be=(alias, expected_alias))
            except ConflictError:
                yield from self._disable_quietly(name, version_id)
                raise
        return written(version, [*labels, alias])

    def _lost_version(self, name: str, data: bytes, seen: types.Secret,
                      ) -> Flow[types.SecretVersion | None]:
        """The version an earlier attempt of this put added, its answer lost: enabled, newer
        than the current alias' target, named by no alias, holding our data (a retry only:
        it lists versions and reads the newest few)."""
        aliased = {int(v) for v in seen.version_aliases.values()}
        floor = int(seen.version_aliases.get(self._current_alias or "", 0))
        listed = yield from self._list_raw_versions(name)
        candidates = sorted(
            (v for v in listed
             if v.state == types.SecretVersion.State.ENABLED
             and int(version_of(v.name)) > floor and int(version_of(v.name)) not in aliased),
            key=lambda v: int(version_of(v.name)), reverse=True)
        for candidate in candidates[:LOST_VERSION_CANDIDATES]:
            if bytes((yield from self._access(name, version_of(candidate.name))).payload.data) == data:
                return candidate
        return None

    def _current_of(self, name: str, secret: types.Secret) -> Flow[str | None]:
        """The current version in alias mode: the alias, or (not set yet) the latest."""
        assert self._current_alias is not None
        target = secret.version_aliases.get(self._current_alias)
        if target is not None:
            return str(target)
        try:
            return (yield from self._latest_version(name))
        except (api_exceptions.NotFound, SecretNotFoundError):
            return None

    def _latest_version(self, name: str) -> Flow[str]:
        try:
            response = yield from self._access(name, "latest")
        except api_exceptions.FailedPrecondition:
            response = yield from self._access_newest_enabled(name)
        return version_of(response.name)

    def _add_or_create(
        self, name: str, data: bytes, metadata: Mapping[str, str] | None, *, guarded: bool
    ) -> Flow[types.SecretVersion]:
        try:
            return (yield from self._add_version(name, data))
        except api_exceptions.NotFound:
            if guarded:
                raise ConflictError("check-and-set failed: the secret was deleted") from None
            if not (yield from self._create(name, metadata)) and metadata:
                yield from self._merge_annotations(name, metadata)  # created by someone else
            return (yield from self._add_version(name, data))

    def _disable_quietly(self, name: str, version: str) -> Flow[None]:
        """Take a version that lost a check-and-set race out of reach; best effort."""
        # If this fails, nothing reads the version anyway: the current alias never names it.
        with contextlib.suppress(api_exceptions.GoogleAPICallError):
            yield self._call("disable_secret_version", name=self._version_path(name, version))

    def _add_version(self, name: str, data: bytes) -> Flow[types.SecretVersion]:
        payload = types.SecretPayload(data=data, data_crc32c=crc32c(data))
        version: types.SecretVersion = yield self._call(
            "add_secret_version", parent=self._secret_path(name), payload=payload)
        return version

    def _create(self, name: str, metadata: Mapping[str, str] | None) -> Flow[bool]:
        """Create the secret (with ``metadata`` as annotations); False if it already exists."""
        secret = types.Secret(annotations=dict(metadata or {}))
        if self.location is None:
            if self._replicas:
                secret.replication = types.Replication(
                    user_managed=types.Replication.UserManaged(
                        replicas=[
                            types.Replication.UserManaged.Replica(location=loc)
                            for loc in self._replicas
                        ]
                    )
                )
            else:
                secret.replication = types.Replication(automatic=types.Replication.Automatic())
        try:
            yield self._call("create_secret", parent=self._parent,
                             secret_id=self._secret_id(name), secret=secret)
        except api_exceptions.AlreadyExists:
            return False
        return True

    def _has_versions(self, name: str) -> Flow[bool]:
        request = types.ListSecretVersionsRequest(parent=self._secret_path(name), page_size=1)
        # The pager (sync or async) answers attributes from its first page.
        pager = yield self._call("list_secret_versions", request=request)
        return bool(pager.versions)

    def _update_secret(
        self,
        name: str,
        paths: Sequence[str],
        change: Callable[[types.Secret], bool],
        *,
        must_exist: str | None = None,
    ) -> Flow[bool]:
        """Read-modify-write map fields of the secret under its etag.

        ``change`` edits the secret just read (and raises ConflictError when what it relies on
        is not so); the update carries that read's etag, so a concurrent update in between
        makes it fail (ABORTED), and ``change`` is applied again to a fresh read. That makes
        the check in ``change`` and the update atomic. This is optimistic concurrency on our
        own update, not a retry of a failed call.

        :param must_exist: a version that must exist (VersionNotFoundError), checked once the
            secret's read has shown the secret exists: so a "not found" is the version's.
        :return: whether an update was needed.
        """
        for attempt in range(3):
            secret = yield from self._get_secret(name)
            if must_exist is not None:
                try:
                    yield self._call("get_secret_version",
                                     name=self._version_path(name, must_exist))
                except api_exceptions.NotFound as exc:
                    raise VersionNotFoundError("no such version") from exc
            if not change(secret):
                return False
            update = types.Secret(name=secret.name, etag=secret.etag)
            for path in paths:
                setattr(update, path, dict(getattr(secret, path)))
            try:
                yield self._call("update_secret", secret=update,
                                 update_mask=field_mask_pb2.FieldMask(paths=list(paths)))
            except api_exceptions.Aborted:
                if attempt == 2:
                    raise
                continue
            return True
        return False  # pragma: no cover - the loop returns or raises

    def _merge_annotations(self, name: str, metadata: Mapping[str, str]) -> Flow[None]:
        def change(secret: types.Secret) -> bool:
            if all(secret.annotations.get(k) == v for k, v in metadata.items()):
                return False
            secret.annotations.update(metadata)
            return True

        # NotFound: a new secret, which put() creates with its annotations.
        with contextlib.suppress(api_exceptions.NotFound):
            yield from self._update_secret(name, ["annotations"], change)

    def _update_aliases(
        self,
        name: str,
        moves: Mapping[str, str | None],
        *,
        metadata: Mapping[str, str] | None = None,
        alias_must_be: tuple[str, int | None] | None = None,
        must_exist: str | None = None,
    ) -> Flow[None]:
        """Move aliases (``None`` removes one), and merge ``metadata`` in the same update.

        :param alias_must_be: ``(alias, version)``: refuse (ConflictError) unless the alias
            still points at that version (``None``: is unset) when the update is applied.
        :param must_exist: a version that must exist (VersionNotFoundError), checked once the
            secret's read has shown the secret exists: so a "not found" is the version's.
        """

        def change(secret: types.Secret) -> bool:
            aliases = secret.version_aliases
            if alias_must_be is not None:
                alias, target = alias_must_be
                if aliases.get(alias) != target:
                    raise ConflictError("check-and-set failed: the current version changed")
            before = dict(aliases)
            for alias, version in moves.items():
                if version is None:
                    aliases.pop(alias, None)
                else:
                    aliases[alias] = int(version)
            changed = dict(aliases) != before
            if metadata and any(secret.annotations.get(k) != v for k, v in metadata.items()):
                secret.annotations.update(metadata)
                changed = True
            return changed

        paths = ["version_aliases", "annotations"] if metadata else ["version_aliases"]
        yield from self._update_secret(name, paths, change, must_exist=must_exist)

    def _set_label(self, name: str, label: str, version: str | None) -> Flow[None]:
        if not valid_alias(label):
            raise InvalidArgumentError(f"invalid GCP version alias {label!r}")
        if version is not None and not VERSION_ID.fullmatch(version):
            raise VersionNotFoundError("GCP version ids are positive integers")
        yield from self._update_aliases(name, {label: version}, must_exist=version)

    def _delete(self, name: str, *, purge: bool = False) -> Flow[None]:
        # GCP deletes at once, with every version: there is no recovery window to purge.
        yield self._call("delete_secret", name=self._secret_path(name))


def written(version: types.SecretVersion, labels: Sequence[str]) -> VersionInfo:
    """What a write made: the new version (enabled), with ``labels``."""
    return VersionInfo(
        version=version_of(version.name),
        labels=frozenset(labels),
        created_at=plain_datetime(version.create_time if "create_time" in version else None),
        state="enabled",
    )
