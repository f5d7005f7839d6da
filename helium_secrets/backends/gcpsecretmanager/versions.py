"""GCP's version lifecycle after a put: staged rotation (alias mode) and version states."""

from __future__ import annotations

from google.api_core import exceptions as api_exceptions

from helium_secrets._values import VersionInfo
from helium_secrets.backends._flows import Flow
from helium_secrets.backends.gcpsecretmanager.names import VERSION_ID
from helium_secrets.backends.gcpsecretmanager.reads import STATES, plain_datetime
from helium_secrets.backends.gcpsecretmanager.writes import Writes, written
from helium_secrets.errors import ConflictError, VersionNotFoundError

__all__ = ["Versions"]


class Versions(Writes):
    """Staged rotation and version states of both GCP backends, as flows."""

    # -- staged rotation (alias mode) ------------------------------------------------------

    def _stage(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_current: str | None,
        request_token: str | None = None,
    ) -> Flow[VersionInfo]:
        """Write a pending version: readers of the current alias don't see it until promoted."""
        alias = self._alias_for_staging()
        secret = yield from self._get_secret(name)
        current = yield from self._current_of(name, secret)
        if current != expected_current:
            raise ConflictError("the current version changed before staging")
        if current is not None and secret.version_aliases.get(alias) is None:
            # Pin the current version first, or the pending one would be "latest" and current.
            yield from self._update_aliases(name, {alias: current}, alias_must_be=(alias, None))
        data = value.encode("utf-8") if isinstance(value, str) else value
        version = yield from self._add_version(name, data)
        return written(version, ())

    def _promote(self, name: str, version: str, *, expected_current: str | None) -> Flow[None]:
        """Move the current alias to the staged ``version``, from ``expected_current`` only."""
        alias = self._alias_for_staging()
        expected = int(expected_current) if expected_current is not None else None
        yield from self._update_aliases(name, {alias: version}, alias_must_be=(alias, expected))

    def _discard(self, name: str, version: str) -> Flow[None]:
        """Disable the staged ``version``: it never becomes current (and can't be read)."""
        self._alias_for_staging()
        yield self._call("disable_secret_version", name=self._version_path(name, version))

    def _alias_for_staging(self) -> str:
        """The current alias; without one (default mode) there is no staged rotation."""
        if self._current_alias is None:
            raise self._no_staging()
        return self._current_alias

    # -- version states (GCP specific): store.extras.<method>(name, version), through the
    # store's call pipeline, which checks the name and translates the errors.

    def _change_state(self, method: str, name: str, version: str, etag: str | None,
                      ) -> Flow[VersionInfo]:
        """``disable_secret_version``, ``enable_secret_version`` or ``destroy_secret_version``."""
        if not VERSION_ID.fullmatch(version):
            raise VersionNotFoundError("GCP version ids are positive integers")
        request = {"name": self._version_path(name, version)}
        if etag is not None:
            request["etag"] = etag
        try:
            result = yield self._call(method, request=request)
        except api_exceptions.NotFound as exc:
            if (yield from self._exists(name)):
                raise VersionNotFoundError("no such version") from exc
            raise
        return VersionInfo(
            version=version,
            created_at=plain_datetime(result.create_time if "create_time" in result else None),
            state=STATES.get(result.state, "unknown"),
        )

    def _exists(self, name: str) -> Flow[bool]:
        """After a state change found nothing: does the secret exist (is the version missing)?

        The store's read path decides this for reads; an extra's arguments are this backend's
        own, so the extras ask here, with the same probe (an access call, 90,000/min, not the
        600/min metadata read) and the same rule: an unreadable current version or a denied
        probe means the secret exists.
        """
        try:
            yield from self._current_version(name)
        except api_exceptions.NotFound:
            return False
        except (VersionNotFoundError, api_exceptions.FailedPrecondition,
                api_exceptions.PermissionDenied):
            pass
        return True
