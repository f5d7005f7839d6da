"""The token's upkeep: log in, renew before expiry, log in again when renewal can no longer
extend the token, and retry a request once after a rejected token was replaced."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import requests
import requests.adapters

from helium_secrets.backends._hints import retry_after_from_headers
from helium_secrets.backends.hashivault.auth import TokenAuth, VaultAuth, auth_block
from helium_secrets.backends.hashivault.classify import status_of
from helium_secrets.errors import (
    UnauthenticatedError,
)

__all__ = ["RENEW_AT_FRACTION", "TokenSession"]

T = TypeVar("T")
_log = logging.getLogger("helium_secrets.vault")

#: Renew a token once this fraction of its TTL has passed (as Vault Agent does).
RENEW_AT_FRACTION = 2 / 3


class TokenSession:
    """One client's token, kept alive; :meth:`run` sends a request with a live token.

    Thread-safe: the upkeep state changes only under one lock, and the status of the last
    failed response is noted per thread (hvac's exceptions carry neither status nor headers).
    """

    def __init__(self, client: hvac.Client, auth: VaultAuth) -> None:
        self._client = client
        self.auth = auth
        self._local = threading.local()
        self._auth_lock = threading.Lock()
        self._token: str | None = None
        self._generation = 0
        self._renew_at = 0.0
        self._expires_at = 0.0
        self._lease = 0.0
        self._renewable = False
        self._capped = False
        #: Successful logins (a plain token counts once per time it is (re)loaded).
        self.logins = 0
        #: Successful token renewals.
        self.renewals = 0


    def on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # hvac's exceptions carry neither the status nor the headers: note them per thread.
        if response.status_code >= 400:
            self._local.status = response.status_code
            self._local.retry_after = retry_after_from_headers(response.headers)

    def _ensure_token(self) -> None:
        """Log in, renew or log in again, as the token's age requires. Thread-safe.

        While the token is valid, a renewal or login that fails does not fail the call: the
        token is used until it expires, and its upkeep is tried again later.
        """
        if self._token is not None and time.monotonic() < self._renew_at:
            return  # the common case, without the lock
        with self._auth_lock:
            now = time.monotonic()
            if self._token is None:
                self._login_locked()
                return
            if now < self._renew_at:
                return  # another thread renewed meanwhile
            try:
                if now < self._expires_at:
                    self._maintain_locked()
                elif self._can_replace():
                    self._login_locked()
                else:
                    self._renew_at = float("inf")  # nothing to do; Vault will say if it expired
            except (hvac.exceptions.VaultError, requests.RequestException,
                    UnauthenticatedError) as exc:
                if now >= self._expires_at:
                    raise  # expired: nothing to fall back on
                remaining = self._expires_at - now
                self._renew_at = now + min(remaining, max(1.0, remaining / 2))
                _log.warning("Vault token upkeep (%s auth) failed with %s; the current token "
                             "stays in use until it expires in %.0f s", self.auth.method,
                             type(exc).__name__, remaining)

    def upkeep_due(self) -> float:
        """Seconds until the token needs renewing (or replacing); ``inf``: it never does, or
        no token was loaded yet. No I/O."""
        if self._token is None:
            return float("inf")
        return max(0.0, self._renew_at - time.monotonic())

    def keep_alive(self) -> None:
        """Renew (or replace) the token now if it is due, without sending a request of its
        own otherwise: what :meth:`run` does before each request."""
        self._ensure_token()

    def _maintain_locked(self) -> None:
        """Renew the valid token, or replace it once renewing can no longer extend it."""
        if self._renewable and not self._capped:
            try:
                self._renew_locked()
                return
            except (hvac.exceptions.VaultError, requests.RequestException) as exc:
                # Near its maximum TTL Vault answers 500 ("past the max TTL"), and 403 once
                # the token is revoked: either way a new login is the way on, if there is one.
                if not self._can_replace():
                    raise
                _log.warning("renewing the Vault token failed with %s; logging in again (%s)",
                             type(exc).__name__, self.auth.method)
        if self._can_replace():
            self._login_locked()
        else:
            self._renew_at = self._expires_at  # cannot be extended: used as it is until then

    def _can_replace(self) -> bool:
        """Whether a new token can be had: a login, or a token file another process renews."""
        if isinstance(self.auth, TokenAuth):
            return self.auth.token_file is not None
        return self.auth.can_login

    def _login_locked(self) -> None:
        # No local holds the token (error reporters capture frames' locals): the client does.
        if isinstance(self.auth, TokenAuth):
            self._client.token = self.auth.current()
            remaining, lease, renewable = self._lookup_ttl()
        else:
            try:
                auth = self.auth.login(self._client)
            except hvac.exceptions.VaultError as exc:
                status = status_of(exc)
                if status is not None and status < 500 and status != 429:
                    raise UnauthenticatedError(
                        f"Vault {self.auth.method} login failed (HTTP {status})"
                    ) from exc
                raise
            self._client.token = str(auth["client_token"])
            duration, renewable = auth.get("lease_duration"), bool(auth.get("renewable"))
            del auth  # it holds the token too
            remaining = lease = float(duration or 0)
        self._token = self._client.token
        self._set_lease(remaining, renewable)
        self._capped = False
        self._lease = lease
        self._generation += 1
        self.logins += 1

    def _lookup_ttl(self) -> tuple[float, float, bool]:
        """A given token's remaining TTL, its TTL when created, and whether it is renewable
        (TTLs of 0: it never expires, or we may not look it up and leave it to Vault)."""
        try:
            data = self._client.auth.token.lookup_self()["data"]
        except hvac.exceptions.Forbidden:
            return 0.0, 0.0, False  # invalid, or no lookup-self permission: calls will tell
        remaining = float(data.get("ttl") or 0)
        lease = float(data.get("period") or data.get("creation_ttl") or remaining)
        return remaining, lease, bool(data.get("renewable"))

    def _set_lease(self, ttl: float, renewable: bool) -> None:
        now = time.monotonic()
        self._renewable = renewable
        if ttl <= 0:
            self._expires_at = self._renew_at = float("inf")
        else:
            self._expires_at = now + ttl
            self._renew_at = now + ttl * RENEW_AT_FRACTION

    def _renew_locked(self) -> None:
        increment = max(1, int(self._lease)) if self._lease > 0 else None
        response = self._client.auth.token.renew_self(increment=increment)
        auth = auth_block(response)
        granted = float(auth.get("lease_duration") or 0)
        self.renewals += 1
        if granted > 0:
            self._set_lease(granted, bool(auth.get("renewable")))
        # Near its maximum TTL Vault grants less than asked for, with a warning: renewing
        # again cannot extend the token, so the next upkeep replaces it (or stops renewing).
        warnings = response.get("warnings") if isinstance(response, Mapping) else None
        self._capped = granted <= 0 or (increment is not None and granted < increment) or any(
            "max_ttl" in str(warning) for warning in warnings or ())

    def _token_rejected(self) -> bool:
        """After a 403: is the token itself invalid (rather than the policy saying no)?"""
        try:
            self._client.auth.token.lookup_self()
        except hvac.exceptions.Forbidden:
            return True
        except (hvac.exceptions.VaultError, requests.RequestException):
            return False
        return False

    def _relogin(self, generation: int) -> bool:
        """Log in again unless another thread already did; ``False`` if impossible."""
        with self._auth_lock:
            if self._generation != generation:
                return True
            if isinstance(self.auth, TokenAuth) and (
                self.auth.token_file is None or self.auth.current() == self._token
            ):
                return False
            self._login_locked()
            return True

    def _send(self, fn: Callable[[], T]) -> T:
        self._local.status = None
        self._local.retry_after = None
        try:
            return fn()
        except hvac.exceptions.VaultError as exc:
            exc.helium_status = self._local.status
            exc.helium_retry_after = self._local.retry_after
            raise

    def run(self, fn: Callable[[], T]) -> T:
        """Run one request with a live token; after a rejected token, log in and retry once."""
        self._ensure_token()
        generation = self._generation
        try:
            return self._send(fn)
        except hvac.exceptions.Forbidden as exc:
            if not self._token_was_rejected(generation):
                raise  # the policy denies it
            if not self._relogin(generation):
                raise UnauthenticatedError("the Vault token is invalid or expired") from exc
        try:
            return self._send(fn)
        except hvac.exceptions.Forbidden as exc:
            if self._token_rejected():
                raise UnauthenticatedError("the Vault token is invalid or expired") from exc
            raise

    def _token_was_rejected(self, generation: int) -> bool:
        """After a 403: was it the token (rather than the policy)? A token replaced by another
        thread meanwhile counts as rejected, so the call is retried with the new one."""
        rejected = self._token_rejected()
        return rejected or self._generation != generation

