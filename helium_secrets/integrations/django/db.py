"""Database credentials that follow their rotation: the part every engine of this package shares.

:class:`RotatingCredentialsMixin` goes before Django's own ``DatabaseWrapper``. Each
connection setting (``NAME``, ``USER``, ``PASSWORD``, ``HOST``, ``PORT``) that is a
:func:`~helium_secrets.integrations.django.secret` is read through the store for every new
connection (a cache hit while fresh); one that is a
:func:`~helium_secrets.integrations.django.lease` takes the lease's current credentials (every
field of a connection from one grant). When the server refuses the credentials, the secret was
probably rotated underneath the application: the wrapper refreshes the referenced secrets once,
bypassing the cache, and retries the connection once if one of them has a newer version (the
pattern AWS recommends for rotated database credentials). At each request boundary (Django's
``close_old_connections``) a persistent connection (``CONN_MAX_AGE``) opened with credentials
that have since rotated (or whose lease the store replaced with new credentials) is closed,
so that the next query reconnects with the new ones.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from helium_secrets._values import Lease
from helium_secrets.errors import HeliumError
from helium_secrets.integrations.django import LeaseSetting, Reference, SecretSetting

__all__ = ["CONNECTION_KEYS", "RotatingCredentialsMixin", "is_authentication_failure", "references",
           "resolve"]

_log = logging.getLogger("helium_secrets.django")

#: The settings of a database that may be secrets.
CONNECTION_KEYS = ("NAME", "USER", "PASSWORD", "HOST", "PORT")

# What PostgreSQL (28P01/28000) and MySQL (1045) say when they refuse credentials. A failed
# connection carries no SQLSTATE in psycopg, so the server's message is what tells.
_AUTH_FAILURE = re.compile(r"authentication failed|access denied for user", re.IGNORECASE)


def is_authentication_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (from a driver's connect) means the server refused the credentials."""
    sqlstate = getattr(exc, "sqlstate", None)
    return (isinstance(sqlstate, str) and sqlstate.startswith("28")) or bool(
        _AUTH_FAILURE.search(str(exc)))


def references(settings_dict: dict[str, Any]) -> dict[str, Reference]:
    """The connection settings of ``settings_dict`` that are secrets or leases, by key."""
    return {key: value for key in CONNECTION_KEYS
            if isinstance(value := settings_dict.get(key), (SecretSetting, LeaseSetting))}


def resolve(settings_dict: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A copy of ``settings_dict`` with its secrets read (through the store's cache) and its
    leases' current credentials, and the versions read (:attr:`key` -> version or lease id)."""
    values: dict[str, Any] = {}
    versions: dict[str, str] = {}
    leases: dict[tuple[int, str], Lease] = {}
    for key, ref in references(settings_dict).items():
        if isinstance(ref, LeaseSetting):
            # One grant for the whole connection: USER and PASSWORD never straddle a re-issue.
            slot = (id(ref.store), ref.path)
            current = leases[slot] = leases.get(slot) or ref.current()
            values[key], versions[ref.key] = ref.value_in(current), current.lease_id
        else:
            values[key], versions[ref.key] = ref.read()
    return {**settings_dict, **values}, versions


class RotatingCredentialsMixin:
    """Reads the current credentials for every new connection; see the module's docs."""

    settings_dict: dict[str, Any]
    #: The secret versions the open connection was made with (name -> version).
    helium_versions: dict[str, str]

    def get_connection_params(self) -> dict[str, Any]:
        refs = references(self.settings_dict)
        if not refs:
            self.helium_versions = {}
            return super().get_connection_params()  # type: ignore[misc,no-any-return]
        if self.settings_dict.get("OPTIONS", {}).get("pool"):
            raise ImproperlyConfigured(
                "helium-secrets database engines do not support OPTIONS['pool']: a pool fixes "
                "the credentials when it is created, so a rotated password would break it")
        resolved, versions = resolve(self.settings_dict)
        # Django's own code builds the driver's parameters from the resolved settings; this
        # wrapper belongs to one thread, so swapping its settings for the call is safe.
        original = self.settings_dict
        self.settings_dict = resolved
        try:
            params: dict[str, Any] = super().get_connection_params()  # type: ignore[misc]
        finally:
            self.settings_dict = original
        self.helium_versions = versions
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        try:
            return super().get_new_connection(conn_params)  # type: ignore[misc]
        except Exception as exc:
            if not self.helium_versions or not is_authentication_failure(exc):
                raise
            tried = self.helium_versions
            refs = references(self.settings_dict)
            rotated = sorted({str(ref) for ref in refs.values()
                              if ref.refreshed_version() != tried.get(ref.key)})
            if not rotated:
                raise  # no newer credentials: they were not the problem
            _log.info("database %r refused the credentials; retrying with the rotated "
                      "credentials of %s", self.settings_dict.get("NAME"), ", ".join(rotated))
        return super().get_new_connection(self.get_connection_params())  # type: ignore[misc]

    def close_if_unusable_or_obsolete(self) -> None:
        super().close_if_unusable_or_obsolete()  # type: ignore[misc]
        if getattr(self, "connection", None) is None or not self.helium_versions:
            return
        if getattr(self, "in_atomic_block", False):
            return  # never pull a connection out from under a transaction
        if self._credentials_rotated():
            _log.info("closing a persistent connection to %r: its credentials were rotated",
                      self.settings_dict.get("NAME"))
            self.close()  # type: ignore[attr-defined]

    def _credentials_rotated(self) -> bool:
        for ref in references(self.settings_dict).values():
            try:
                version = ref.current_version()  # a cache hit while fresh; no call for a lease
            except HeliumError:
                return False  # the store is unwell: keep the connection that works
            if version != self.helium_versions.get(ref.key):
                return True
        return False
