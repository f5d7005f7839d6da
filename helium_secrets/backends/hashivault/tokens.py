"""The token's upkeep: log in, renew before expiry, log in again when renewal can no longer
extend the token, and retry a request once after a rejected token was replaced.

:class:`TokenState` decides (when to renew, to log in again, or to keep the token as it is;
what a login or renewal answer means), without I/O, for both twins: :class:`TokenSession`
here (hvac, threads) and the async session in :mod:`.aio` (httpx, tasks) only send the
requests it asks for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

import hvac
import hvac.exceptions
import requests
import requests.adapters

from helium_secrets.backends._hints import retry_after_from_headers
from helium_secrets.backends._steps import Steps, drive
from helium_secrets.backends.hashivault.auth import TokenAuth, VaultAuth, auth_block, send
from helium_secrets.backends.hashivault.classify import status_of
from helium_secrets.backends.hashivault.core import Call
from helium_secrets.errors import (
    UnauthenticatedError,
)

__all__ = ["LOOKUP_SELF", "RENEW_AT_FRACTION", "TokenSession", "TokenState", "Upkeep"]

T = TypeVar("T")
_log = logging.getLogger("helium_secrets.vault")

#: Renew a token once this fraction of its TTL has passed (as Vault Agent does).
RENEW_AT_FRACTION = 2 / 3
#: What the token says of itself (its TTL; a 403 if it is invalid).
LOOKUP_SELF = Call("GET", "auth/token/lookup-self")
#: The steps of the upkeep: a login (or a token file read again), or a renewal.
Upkeep = Literal["login", "renew"]


def renew_call(increment: int | None) -> Call:
    """The renewal of the token itself, by ``increment`` seconds (``None``: its default)."""
    return Call("POST", "auth/token/renew-self",
                body={"increment": increment} if increment is not None else {})


def login_refused(exc: hvac.exceptions.VaultError, method: str) -> UnauthenticatedError | None:
    """A login answered with a 4xx (not 429) is refused credentials, not a passing failure."""
    status = status_of(exc)
    if status is not None and status < 500 and status != 429:
        return UnauthenticatedError(f"Vault {method} login failed (HTTP {status})")
    return None


def lookup_ttl(answer: Any) -> tuple[float, float, bool]:
    """A token's remaining TTL, its TTL when created, and whether it is renewable, from its
    lookup-self answer."""
    data = answer["data"]
    remaining = float(data.get("ttl") or 0)
    lease = float(data.get("period") or data.get("creation_ttl") or remaining)
    return remaining, lease, bool(data.get("renewable"))


class TokenState:
    """The token's lifetime and what its upkeep should do next. I/O-free: a session performs
    the steps :meth:`upkeep` yields and reports what came of them.

    :param transport_errors: the session's connection errors (requests' or httpx's), which,
        like Vault's errors, fail an upkeep step without failing a call while the token lasts.
    """

    def __init__(self, auth: VaultAuth, transport_errors: tuple[type[Exception], ...]) -> None:
        self.auth = auth
        self._failures: tuple[type[Exception], ...] = (hvac.exceptions.VaultError,
                                                       *transport_errors)
        self._upkeep_failures: tuple[type[Exception], ...] = (*self._failures,
                                                              UnauthenticatedError)
        self.token: str | None = None
        self.generation = 0
        self._renew_at = 0.0
        self._expires_at = 0.0
        self._lease = 0.0
        self._renewable = False
        self._capped = False
        #: Successful logins (a plain token counts once per time it is (re)loaded).
        self.logins = 0
        #: Successful token renewals.
        self.renewals = 0

    def fresh(self) -> bool:
        """Whether the token needs no upkeep now (the common case, decided without a lock)."""
        return self.token is not None and time.monotonic() < self._renew_at

    def upkeep(self) -> Steps[Upkeep, None]:
        """Log in, renew or log in again, as the token's age requires (run under the
        session's lock).

        While the token is valid, a renewal or login that fails does not fail the call: the
        token is used until it expires, and its upkeep is tried again later.
        """
        now = time.monotonic()
        if self.token is None:
            yield "login"
            return
        if now < self._renew_at:
            return  # another caller renewed meanwhile
        try:
            if now < self._expires_at:
                yield from self._maintain()
            elif self.can_replace():
                yield "login"
            else:
                self._renew_at = float("inf")  # nothing to do; Vault will say if it expired
        except self._upkeep_failures as exc:
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
        if self.token is None:
            return float("inf")
        return max(0.0, self._renew_at - time.monotonic())

    def _maintain(self) -> Steps[Upkeep, None]:
        """Renew the valid token, or replace it once renewing can no longer extend it."""
        if self._renewable and not self._capped:
            try:
                yield "renew"
                return
            except self._failures as exc:
                # Near its maximum TTL Vault answers 500 ("past the max TTL"), and 403 once
                # the token is revoked: either way a new login is the way on, if there is one.
                if not self.can_replace():
                    raise
                _log.warning("renewing the Vault token failed with %s; logging in again (%s)",
                             type(exc).__name__, self.auth.method)
        if self.can_replace():
            yield "login"
        else:
            self._renew_at = self._expires_at  # cannot be extended: used as it is until then

    def can_replace(self) -> bool:
        """Whether a new token can be had: a login, or a token file another process renews."""
        if isinstance(self.auth, TokenAuth):
            return self.auth.token_file is not None
        return self.auth.can_login

    def can_relogin(self, generation: int) -> bool | None:
        """After a rejected token: ``None`` if another caller replaced it meanwhile (retry
        with the new one), else whether a login can replace it (a token file must hold
        another token by now)."""
        if self.generation != generation:
            return None
        if isinstance(self.auth, TokenAuth):
            return self.auth.token_file is not None and self.auth.current() != self.token
        return True

    def logged_in(self, token: str, ttl: float, lease: float, renewable: bool) -> None:
        """A login (or a token loaded) gave ``token``, valid for ``ttl`` seconds."""
        self.token = token
        self._set_lease(ttl, renewable)
        self._capped = False
        self._lease = lease
        self.generation += 1
        self.logins += 1

    def login_answer(self, auth: Mapping[str, Any]) -> tuple[float, float, bool]:
        """The TTL, lease and renewability of a login's ``auth`` block."""
        duration = float(auth.get("lease_duration") or 0)
        return duration, duration, bool(auth.get("renewable"))

    def _set_lease(self, ttl: float, renewable: bool) -> None:
        now = time.monotonic()
        self._renewable = renewable
        if ttl <= 0:
            self._expires_at = self._renew_at = float("inf")
        else:
            self._expires_at = now + ttl
            self._renew_at = now + ttl * RENEW_AT_FRACTION

    def renew_increment(self) -> int | None:
        """What to ask a renewal for: the token's own lease again."""
        return max(1, int(self._lease)) if self._lease > 0 else None

    def renewed(self, response: Any, increment: int | None) -> None:
        """A renewal asked for ``increment`` answered ``response``."""
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


class TokenSession:
    """One hvac client's token, kept alive; :meth:`run` sends a request with a live token.

    Thread-safe: the upkeep state changes only under one lock, and the status of the last
    failed response is noted per thread (hvac's exceptions carry neither status nor headers).
    """

    def __init__(self, client: hvac.Client, auth: VaultAuth) -> None:
        self._client = client
        self.auth = auth
        self.state = TokenState(auth, (requests.RequestException,))
        self._local = threading.local()
        self._auth_lock = threading.Lock()

    @property
    def logins(self) -> int:
        return self.state.logins

    @property
    def renewals(self) -> int:
        return self.state.renewals

    def on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # hvac's exceptions carry neither the status nor the headers: note them per thread.
        if response.status_code >= 400:
            self._local.status = response.status_code
            self._local.retry_after = retry_after_from_headers(response.headers)

    def upkeep_due(self) -> float:
        """Seconds until the token needs renewing (or replacing); no I/O."""
        return self.state.upkeep_due()

    def keep_alive(self) -> None:
        """Renew (or replace) the token now if it is due, without sending a request of its
        own otherwise: what :meth:`run` does before each request."""
        self._ensure_token()

    def _ensure_token(self) -> None:
        if self.state.fresh():
            return
        with self._auth_lock:
            drive(self.state.upkeep(), self._upkeep_step)

    def _upkeep_step(self, step: Upkeep) -> None:
        if step == "login":
            self._login_locked()
        else:
            increment = self.state.renew_increment()
            self.state.renewed(send(self._client, renew_call(increment)), increment)

    def _login_locked(self) -> None:
        # No local holds the token (error reporters capture frames' locals): the client does.
        if isinstance(self.auth, TokenAuth):
            self._client.token = self.auth.current()
            ttl, lease, renewable = self._lookup_ttl()
        else:
            try:
                ttl, lease, renewable = self.state.login_answer(self._login())
            except hvac.exceptions.VaultError as exc:
                refused = login_refused(exc, self.auth.method)
                if refused is not None:
                    raise refused from exc
                raise
        self.state.logged_in(self._client.token, ttl, lease, renewable)

    def _login(self) -> Mapping[str, Any]:
        auth = self.auth.login(self._client)
        self._client.token = str(auth["client_token"])
        return auth

    def _lookup_ttl(self) -> tuple[float, float, bool]:
        """(TTLs of 0: it never expires, or we may not look it up and leave it to Vault.)"""
        try:
            return lookup_ttl(send(self._client, LOOKUP_SELF))
        except hvac.exceptions.Forbidden:
            return 0.0, 0.0, False  # invalid, or no lookup-self permission: calls will tell

    def _token_rejected(self) -> bool:
        """After a 403: is the token itself invalid (rather than the policy saying no)?"""
        try:
            send(self._client, LOOKUP_SELF)
        except hvac.exceptions.Forbidden:
            return True
        except (hvac.exceptions.VaultError, requests.RequestException):
            return False
        return False

    def _relogin(self, generation: int) -> bool:
        """Log in again unless another thread already did; ``False`` if impossible."""
        with self._auth_lock:
            possible = self.state.can_relogin(generation)
            if possible:
                self._login_locked()
            return possible is not False

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
        generation = self.state.generation
        try:
            return self._send(fn)
        except hvac.exceptions.Forbidden as exc:
            # A token replaced by another thread meanwhile counts as rejected: retry with it.
            if not self._token_rejected() and self.state.generation == generation:
                raise  # the policy denies it
            if not self._relogin(generation):
                raise UnauthenticatedError("the Vault token is invalid or expired") from exc
        try:
            return self._send(fn)
        except hvac.exceptions.Forbidden as exc:
            if self._token_rejected():
                raise UnauthenticatedError("the Vault token is invalid or expired") from exc
            raise
