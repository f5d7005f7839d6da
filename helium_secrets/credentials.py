"""Credentials that survive a rotation.

:class:`RotatingCredential` runs an operation with a secret's current value. When the operation
fails with what the caller says is an authentication error, the secret was probably rotated
underneath the application: the credential re-reads it (once, bypassing the cache) and, if a new
version appeared, retries the operation with it. :meth:`RotatingCredential.accepted` returns the
current and the previous value, for servers that must accept both during a grace period.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from helium_secrets._store import SecretStore
from helium_secrets._values import Secret

__all__ = ["RotatingCredential"]

T = TypeVar("T")


class RotatingCredential:
    """A named secret used as a credential, refreshed when it stops working.

    :param store: the store that holds the secret.
    :param name: the secret's name.
    :param is_auth_error: says whether an exception from the operation means "these
        credentials were refused" (an HTTP 401, a database's authentication failure, ...).
    """

    def __init__(
        self,
        store: SecretStore,
        name: str,
        *,
        is_auth_error: Callable[[BaseException], bool],
    ) -> None:
        self.store = store
        self.name = name
        self.is_auth_error = is_auth_error
        self._lock = threading.Lock()
        self._previous: tuple[str, Secret | None] | None = None  # (for current version, previous)
        self.refreshes = 0

    def current(self) -> Secret:
        """The current secret (served from the store's cache while fresh)."""
        return self.store.get(self.name)

    def run(self, operation: Callable[[Secret], T]) -> T:
        """Call ``operation(secret)``; on an authentication error, refresh once and retry.

        The retry happens only if the refresh found a newer version; otherwise the original
        error is re-raised, since new credentials were not the problem.
        """
        secret = self.current()
        try:
            return operation(secret)
        except Exception as exc:
            if not self.is_auth_error(exc):
                raise
            fresh = self.store.refresh(self.name)
            self.refreshes += 1
            if fresh.version == secret.version:
                raise
        return operation(fresh)

    def accepted(self) -> list[Secret]:
        """The current secret, then the previous one if there is one: the values a server
        accepts during a rotation's grace period (e.g. a token signed with either key)."""
        current = self.current()
        with self._lock:
            cached = self._previous
        if cached is None or cached[0] != current.version:
            previous = self.store.previous(self.name)
            with self._lock:
                self._previous = cached = (current.version, previous)
        previous = cached[1]
        return [current] if previous is None else [current, previous]
