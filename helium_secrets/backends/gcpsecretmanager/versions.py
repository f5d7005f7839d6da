"""GCP's version lifecycle after a put: staged rotation (alias mode) and version states."""

from __future__ import annotations

from collections.abc import Callable

from google.api_core import exceptions as api_exceptions
from google.cloud.secretmanager_v1 import types

from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import extra_operation
from helium_secrets.backends.gcpsecretmanager.names import VERSION_ID
from helium_secrets.backends.gcpsecretmanager.reads import STATES, plain_datetime
from helium_secrets.backends.gcpsecretmanager.writes import Writes, written
from helium_secrets.errors import ConflictError, VersionNotFoundError

__all__ = ["Versions"]


class Versions(Writes):
    """Staged rotation and version states of :class:`GCPSecretManagerBackend`."""

    # -- staged rotation (alias mode) ------------------------------------------------------

    def stage(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_current: str | None,
        request_token: str | None = None,
    ) -> VersionInfo:
        """Write a pending version: readers of the current alias don't see it until promoted."""
        alias = self._current_alias
        if alias is None:
            return super().stage(name, value, expected_current=expected_current,
                                 request_token=request_token)
        secret = self._get_secret(name)
        current = self._current_of(name, secret)
        if current != expected_current:
            raise ConflictError("the current version changed before staging")
        if current is not None and secret.version_aliases.get(alias) is None:
            # Pin the current version first, or the pending one would be "latest" and current.
            self._update_aliases(name, {alias: current}, alias_must_be=(alias, None))
        data = value.encode("utf-8") if isinstance(value, str) else value
        version = self._add_version(name, data)
        return written(version, ())

    def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        """Move the current alias to the staged ``version``, from ``expected_current`` only."""
        alias = self._current_alias
        if alias is None:
            super().promote(name, version, expected_current=expected_current)
            return
        expected = int(expected_current) if expected_current is not None else None
        self._update_aliases(name, {alias: version}, alias_must_be=(alias, expected))

    def discard(self, name: str, version: str) -> None:
        """Disable the staged ``version``: it never becomes current (and can't be read)."""
        if self._current_alias is None:
            super().discard(name, version)
            return
        self._client.disable_secret_version(
            name=self._version_path(name, version), retry=None, timeout=self._timeout
        )

    # -- version states (GCP specific): store.extras.<method>(name, version), through the
    # store's call pipeline, which checks the name and translates the errors.

    @extra_operation(writes=True)
    def disable_version(self, name: str, version: str, *, etag: str | None = None) -> VersionInfo:
        """Disable ``version`` of ``name``: it can't be read until enabled again.

        :param etag: only if the version's etag is still this one.
        :raises HeliumError: the service refused (not found, permission denied, ...).
        """
        return self._change_state(self._client.disable_secret_version, name, version, etag)

    @extra_operation(writes=True)
    def enable_version(self, name: str, version: str, *, etag: str | None = None) -> VersionInfo:
        """Enable a disabled ``version`` of ``name`` again.

        :param etag: only if the version's etag is still this one.
        :raises HeliumError: the service refused (a destroyed version can't be enabled, ...).
        """
        return self._change_state(self._client.enable_secret_version, name, version, etag)

    @extra_operation(writes=True)
    def destroy_version(self, name: str, version: str, *, etag: str | None = None) -> VersionInfo:
        """Destroy ``version`` of ``name``: its value is erased for good.

        :param etag: only if the version's etag is still this one.
        :raises HeliumError: the service refused.
        """
        return self._change_state(self._client.destroy_secret_version, name, version, etag)

    def _change_state(
        self, method: Callable[..., types.SecretVersion], name: str, version: str,
        etag: str | None,
    ) -> VersionInfo:
        if not VERSION_ID.fullmatch(version):
            raise VersionNotFoundError("GCP version ids are positive integers")
        request = {"name": self._version_path(name, version)}
        if etag is not None:
            request["etag"] = etag
        try:
            result = method(request=request, retry=None, timeout=self._timeout)
        except api_exceptions.NotFound as exc:
            if self._exists(name):
                raise VersionNotFoundError("no such version") from exc
            raise
        return VersionInfo(
            version=version,
            created_at=plain_datetime(result.create_time if "create_time" in result else None),
            state=STATES.get(result.state, "unknown"),
        )

    def _exists(self, name: str) -> bool:
        """After a state change found nothing: does the secret exist (is the version missing)?

        The store's read path decides this for reads; an extra's arguments are this backend's
        own, so the extras ask here, with the same probe (an access call, 90,000/min, not the
        600/min metadata read) and the same rule: an unreadable current version or a denied
        probe means the secret exists.
        """
        try:
            self.current_version(name)
        except api_exceptions.NotFound:
            return False
        except (VersionNotFoundError, api_exceptions.FailedPrecondition,
                api_exceptions.PermissionDenied):
            pass
        return True
