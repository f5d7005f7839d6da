# Generated from helium_secrets/_async/_leases.py by scripts/unasync.py: do not edit.
# Change the async source and run the script (CI checks that they agree).
"""Dynamic secrets: the leases a store issued, kept alive until it closes.

:meth:`SecretStore.lease` hands out an :class:`LeasedCredentials` per path (one
lease per path and store, however many callers ask). The :class:`LeaseKeeper` renews each lease when its
policy says (``layers/leases.py``), issues new credentials before the old ones can no longer
be extended, tells the path's listeners ``(old, new)``, and revokes what it issued on close.
Every call to the service goes through the store's call pipeline, so each issue, renewal,
re-issue and revocation is retried, guarded and audited like any other operation.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from helium_secrets._pipeline import CallPipeline
from helium_secrets._synchronization import (
    Event,
    Lock,
    ThreadRLock,
    is_alive,
    join,
    resolve,
    spawn,
)
from helium_secrets._values import Lease, SecretValue
from helium_secrets.backends._base import LeaseGrant
from helium_secrets.errors import (
    HeliumError,
    InvalidArgumentError,
    StoreClosedError,
    UnavailableError,
)
from helium_secrets.layers.leases import LeasePolicy, next_action, retry_delay
from helium_secrets.layers.retry import Clock, RetryPolicy
from helium_secrets.redaction import redactor

__all__ = ["LeaseCallback", "LeaseKeeper", "LeasedCredentials", "check_lease_path"]

#: ``callback(old, new)``; on the async twin a coroutine function too.
LeaseCallback = Callable[[Lease, Lease], object]
_log = logging.getLogger("helium_secrets.leases")

#: Seconds closing the keeper waits for its thread: a renewal stuck in the service delays
#: closing the store by this much, not for good.
STOP_WAIT = 10.0


def _remember(lease: Lease) -> None:
    if redactor.filters:
        for value in lease.credentials.values():
            redactor.add(value.reveal())


def _forget(*leases: Lease) -> None:
    if redactor.filters:
        for lease in leases:
            for value in lease.credentials.values():
                redactor.discard(value.reveal())


def check_lease_path(path: object, backend: str) -> str:
    """A service path that issues leases (``database/creds/ROLE``), checked before any call."""
    if not isinstance(path, str):
        raise TypeError(f"a lease path is a str, not {type(path).__name__}")
    if not path or path != path.strip() or path.startswith("/") or "//" in path:
        raise InvalidArgumentError(
            "a lease path is the service's path without a leading '/', such as "
            "'database/creds/ROLE'", backend=backend, name=path or None)
    if any(part in (".", "..") for part in path.split("/")) or not path.isprintable():
        raise InvalidArgumentError("a lease path has no '.' or '..' segments and no control "
                                   "characters", backend=backend)
    return path


@dataclass(eq=False)
class _Held:
    """One path's lease and its upkeep (changed only under the keeper's lock)."""

    path: str
    lease: Lease
    first_duration: float
    granted_at: float  # monotonic
    expires: float  # monotonic; inf: never
    action: str = "renew"
    due: float = float("inf")
    failures: int = 0
    last_error: HeliumError | None = None
    callbacks: list[LeaseCallback] = field(default_factory=list)
    #: Earlier leases of this path, valid until their expiry (monotonic): for close(), and
    #: masked by the redactor until then.
    superseded: list[tuple[Lease, float]] = field(default_factory=list)
    released: bool = False
    #: The process that issued it: a forked child never revokes its parent's leases.
    pid: int = field(default_factory=os.getpid)


class LeasedCredentials:
    """The live credentials of one leased path: read :attr:`current` each time you need them
    (a new connection, say), since the store replaces them before they expire."""

    def __init__(self, keeper: LeaseKeeper, path: str) -> None:
        self._keeper = keeper
        self.path = path

    def __repr__(self) -> str:
        return f"<LeasedCredentials {self.path!r}>"

    @property
    def current(self) -> Lease:
        """The credentials to use now.

        :raises UnavailableError: they expired and none could be issued since; the message
            says when they expired and why they could not be renewed.
        :raises InvalidArgumentError: the lease was revoked with :meth:`revoke`.
        """
        return self._keeper.current(self.path)

    def on_reissue(self, callback: LeaseCallback) -> None:
        """Call ``callback(old, new)`` each time new credentials replace the old ones (in the
        keeper's thread, one at a time; a failing callback is logged and never stops the
        others). The old credentials stay valid for the overlap (see docs/dynamic-secrets.md)."""
        self._keeper.add_callback(self.path, callback)

    def revoke(self) -> None:
        """Revoke this path's leases now and stop keeping them; :meth:`SecretStore.lease`
        issues new credentials when asked again."""
        self._keeper.release(self.path)


class LeaseKeeper:
    """The leases of one store: issue, renewal, re-issue before the end, revocation."""

    def __init__(
        self,
        pipeline: CallPipeline,
        *,
        policy: LeasePolicy,
        clock: Clock,
        retry: Callable[[], RetryPolicy],
    ) -> None:
        self._pipeline = pipeline
        self._backend = pipeline.backend
        self.policy = policy
        self._clock = clock
        self._retry = retry
        self._rng = random.Random()
        self._lock = ThreadRLock()
        self._held: dict[str, _Held] = {}
        self._issuing: dict[str, Lock] = {}
        self._wake = Event()
        self._thread: Any = None
        self._stopped = False
        #: When the backend's own upkeep (Vault: the token the leases hang on) is due again
        #: after a failed attempt (monotonic); until then, as the backend says.
        self._upkeep_retry = 0.0
        self._upkeep_failures = 0
        #: Callbacks that raised.
        self.callback_errors = 0
        redactor.watch(self)  # the credentials are masked in logs while a filter is installed

    # -- the handles' side -----------------------------------------------------------------

    def hold(self, path: str) -> LeasedCredentials:
        """Issue credentials at ``path`` unless this store already holds a lease there."""
        with self._lock:
            issuing = self._issuing.setdefault(path, Lock())
        with issuing:  # two first callers make one lease, not two
            if path not in self._held:
                grant, started = self._call("lease_issue", path,
                                            lambda: self._backend.issue_lease(path))
                with self._lock:
                    self._held[path] = self._adopt(path, grant, started, None)
        self._ensure_thread()
        return LeasedCredentials(self, path)

    def current(self, path: str) -> Lease:
        if self._stopped:
            raise StoreClosedError("the store is closed (its leases were revoked)",
                                   backend=self._pipeline.backend_name, name=path)
        held = self._held.get(path)
        if held is None or held.released:
            raise InvalidArgumentError(
                "this lease was revoked: ask the store for the lease again for new credentials",
                backend=self._pipeline.backend_name, name=path)
        if self._clock.monotonic() >= held.expires:
            expired = held.lease.expires_at
            when = expired.isoformat(timespec="seconds") if expired else "?"
            why = (f"; the last attempt failed: {held.last_error.code.value}"
                   if held.last_error is not None else "")
            raise UnavailableError(
                f"the leased credentials expired at {when} and no new ones could be issued"
                f"{why}", backend=self._pipeline.backend_name, name=path)
        return held.lease

    def add_callback(self, path: str, callback: LeaseCallback) -> None:
        with self._lock:
            held = self._held.get(path)
            if held is None or held.released:
                raise InvalidArgumentError("this lease was revoked",
                                           backend=self._pipeline.backend_name, name=path)
            held.callbacks.append(callback)

    def release(self, path: str) -> None:
        with self._lock:
            held = self._held.pop(path, None)
            if held is None:
                return
            held.released = True
        self._revoke_all(held)

    # -- upkeep ----------------------------------------------------------------------------

    def tick(self) -> float:
        """Do the work that is due now; return when the next is due (monotonic)."""
        now = self._clock.monotonic()
        with self._lock:
            due = [held for held in self._held.values() if held.due <= now]
        for held in due:
            if self._stopped:
                break
            if held.released:
                continue
            if held.action == "renew":
                self._renew(held)
            else:
                self._reissue(held)
        # What the leases depend on (Vault: the token that issued them) is kept alive by this
        # one schedule: the calls above renew it on the way when it is due; if they did not,
        # it is done here, so no other thread keeps a schedule for it.
        upkeep = self._upkeep(now) if self._held and not self._stopped else float("inf")
        with self._lock:
            return min([upkeep, *(held.due for held in self._held.values())])

    def _upkeep(self, now: float) -> float:
        """Do the backend's upkeep if it is due; return when it is due next (monotonic)."""
        if now < self._upkeep_retry:
            return self._upkeep_retry
        if self._backend.lease_upkeep_due() <= 0:
            try:
                self._pipeline.call("lease_upkeep", None, self._backend.lease_upkeep,
                                    self._retry())
                self._upkeep_failures = 0
            except HeliumError as exc:
                self._upkeep_failures += 1
                self._upkeep_retry = now + retry_delay(self.policy, self._upkeep_failures, 0.0)
                _log.warning("the backend's upkeep for its leases failed (%s, attempt %d)",
                             exc.code.value, self._upkeep_failures)
                return self._upkeep_retry
        return self._clock.monotonic() + self._backend.lease_upkeep_due()

    def _renew(self, held: _Held) -> None:
        requested = self.policy.increment or held.first_duration
        lease_id = held.lease.lease_id
        try:
            grant, started = self._call(
                "lease_renew", held.path, lambda: self._backend.renew_lease(lease_id, requested))
        except HeliumError as exc:
            if exc.transient:
                self._failed(held, exc)
            else:  # revoked, expired or past its maximum: only new credentials will do
                with self._lock:
                    held.last_error, held.action, held.due = exc, "reissue", 0.0
                self._reissue(held)
            return
        # Less than asked for: the maximum TTL is near, so new credentials are needed.
        extendable = grant.renewable and grant.duration >= requested
        with self._lock:
            lease = held.lease
            expires_at = (datetime.now(timezone.utc) + timedelta(seconds=grant.duration)
                          if grant.duration > 0 else None)
            held.lease = Lease(path=lease.path, lease_id=lease.lease_id,
                               credentials=lease.credentials, duration=grant.duration,
                               renewable=grant.renewable, issued_at=lease.issued_at,
                               expires_at=expires_at)
            self._schedule(held, started, grant.duration, extendable)

    def _reissue(self, held: _Held) -> None:
        try:
            grant, started = self._call(
                "lease_reissue", held.path, lambda: self._backend.issue_lease(held.path))
        except HeliumError as exc:
            self._failed(held, exc)
            return
        with self._lock:
            unwanted = held.released or self._stopped
            old = held.lease
            if not unwanted:
                gone = [lease for lease, end in held.superseded if end <= started]
                held.superseded = [(lease, end) for lease, end in held.superseded
                                   if end > started] + [(old, held.expires)]
                self._adopt(held.path, grant, started, held)
                _forget(*gone)
        if unwanted:  # released or closed meanwhile: nobody will use these
            self._revoke(held.path, grant.lease_id)
            return
        for callback in list(held.callbacks):
            try:
                resolve(callback(old, held.lease))
            except Exception as exc:  # one listener never stops the others
                self.callback_errors += 1
                _log.warning("lease listener %r of %r failed: %s", callback, held.path,
                             type(exc).__name__)

    def _adopt(self, path: str, grant: LeaseGrant, started: float, held: _Held | None) -> _Held:
        """Take a fresh grant of credentials into ``held`` (or a new record)."""
        issued = datetime.now(timezone.utc)
        lease = Lease(
            path=path, lease_id=grant.lease_id,
            credentials={key: SecretValue(value) for key, value in grant.data.items()},
            duration=grant.duration, renewable=grant.renewable, issued_at=issued,
            expires_at=issued + timedelta(seconds=grant.duration) if grant.duration > 0 else None,
        )
        _remember(lease)
        if held is None:
            held = _Held(path=path, lease=lease, first_duration=grant.duration,
                         granted_at=started, expires=float("inf"))
        else:
            held.lease, held.first_duration = lease, grant.duration
        self._schedule(held, started, grant.duration, grant.renewable)
        return held

    def _schedule(self, held: _Held, started: float, duration: float, extendable: bool) -> None:
        held.granted_at, held.failures, held.last_error = started, 0, None
        # Measured from the call's start: the grant cannot have begun before the request.
        held.expires = started + duration if duration > 0 else float("inf")
        held.action, held.due = next_action(self.policy, granted_at=started, duration=duration,
                                            normal=held.first_duration, extendable=extendable,
                                            rng=self._rng)
        self._wake.set()

    def _failed(self, held: _Held, exc: HeliumError) -> None:
        now = self._clock.monotonic()
        with self._lock:
            held.failures += 1
            held.last_error = exc
            remaining = held.expires - now
            held.due = now + retry_delay(self.policy, held.failures, remaining)
        expires = held.lease.expires_at
        _log.warning(
            "keeping the lease of %r alive failed (%s, attempt %d); %s", held.path,
            exc.code.value, held.failures,
            f"its credentials expire at {expires.isoformat(timespec='seconds')}"
            if expires is not None and remaining > 0 else "its credentials have expired")

    def _call(self, operation: str, path: str,
              fn: Callable[[], LeaseGrant]) -> tuple[LeaseGrant, float]:
        started = self._clock.monotonic()
        return self._pipeline.call(operation, path, fn, self._retry()), started

    # -- revocation and the thread ---------------------------------------------------------

    def _revoke(self, path: str, lease_id: str) -> None:
        try:
            self._pipeline.call("lease_revoke", path,
                                lambda: self._backend.revoke_lease(lease_id), self._retry())
        except HeliumError as exc:
            _log.warning("revoking a lease of %r failed: %s", path, exc.code.value)

    def _revoke_all(self, held: _Held, *, revoke: bool = True) -> None:
        """Revoke (as asked) what ``held`` issued that is still valid, and let go of it."""
        leases = [*held.superseded, (held.lease, held.expires)]
        _forget(*(lease for lease, _ in leases))
        if not revoke or held.pid != os.getpid():
            return
        now = self._clock.monotonic()
        for lease, end in leases:
            if end > now:
                self._revoke(held.path, lease.lease_id)

    def secret_values(self) -> Iterator[str]:
        """The credentials held now (for :mod:`helium_secrets.redaction`)."""
        with self._lock:
            held = list(self._held.values())
        for each in held:
            for lease in [each.lease, *(old for old, _ in each.superseded)]:
                yield from (value.reveal() for value in lease.credentials.values())

    def _ensure_thread(self) -> None:
        if not self.policy.background or self._stopped:
            return
        with self._lock:
            if not is_alive(self._thread):
                self._thread = spawn(self._run,
                                     f"helium-lease-keeper[{self._pipeline.backend_name}]")

    def _run(self) -> None:
        while not self._stopped:
            self._wake.clear()  # before the work, so that a lease added meanwhile wakes us
            due = self.tick()
            wait = min(due - self._clock.monotonic(), 60.0)
            if wait > 0:
                self._wake.wait(wait)

    def after_fork_in_child(self) -> None:
        """The keeper's thread does not survive a fork: a child keeps the leases alive with
        its own (the parent's leases are never revoked by the child)."""
        self._lock = ThreadRLock()
        self._issuing = {}
        self._wake = Event()
        self._thread = None
        if self._held:
            self._ensure_thread()

    def close(self) -> None:
        """Stop the upkeep and, as the policy says, revoke every lease still valid."""
        self._stopped = True
        self._wake.set()
        join(self._thread, STOP_WAIT)
        with self._lock:
            held, self._held = list(self._held.values()), {}
        for each in held:
            each.released = True
            self._revoke_all(each, revoke=self.policy.revoke_on_close)
