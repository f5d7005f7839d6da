"""The async Vault / OpenBao backend: the KV operations of :mod:`.core` and the token upkeep
of :class:`~.tokens.TokenState`, sent with ``httpx.AsyncClient`` to Vault's HTTP API (hvac
has no async client).

It has the sync backend's methods, awaited, with the same answers and errors: a failed answer
raises the hvac exception class for its status (with the status and Retry-After the
classification reads), so :mod:`.classify` and :mod:`.diagnose` serve both; httpx's own
connection errors are classified into the same verdicts. Redirects are followed by hand, and
only within the server's origin (:func:`~helium_secrets.backends._transport.check_redirect`).
Credential files (token, AppRole secret id, JWT, password) are read off the event loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urljoin

import certifi
import httpx
import hvac.exceptions

from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import AsyncBackendBase, Classified, LeaseGrant, RawSecret, extra_operation
from helium_secrets.backends._hints import retry_after_from_headers
from helium_secrets.backends._steps import Steps, adrive
from helium_secrets.backends._transport import check_redirect, origin
from helium_secrets.backends.hashivault import leases
from helium_secrets.backends.hashivault.auth import TokenAuth, VaultAuth, auth_block
from helium_secrets.backends.hashivault.classify import transport_verdict
from helium_secrets.backends.hashivault.common import VaultBackendBase
from helium_secrets.backends.hashivault.core import Call
from helium_secrets.backends.hashivault.options import VaultOptions, checked_address, tls_settings
from helium_secrets.backends.hashivault.tokens import (
    LOOKUP_SELF,
    TokenState,
    Upkeep,
    login_refused,
    lookup_ttl,
    renew_call,
)
from helium_secrets.errors import UnauthenticatedError
from helium_secrets.lifecycle import Lifecycle

__all__ = ["TRANSPORT_OPTIONS", "AsyncVaultBackend", "AsyncVaultOptions"]

T = TypeVar("T")
#: As many redirects as requests follows before it gives up.
MAX_REDIRECTS = 30


#: The options that configure the transport a ready ``httpx.AsyncClient`` brings instead.
TRANSPORT_OPTIONS = ("ca_cert", "ca_path", "client_cert", "client_key", "tls_skip_verify",
                     "timeout")


@dataclass(frozen=True, kw_only=True)
class AsyncVaultOptions(VaultOptions):
    """The options of :class:`AsyncVaultBackend`: those of
    :class:`~helium_secrets.backends.hashivault.VaultOptions`, except that ``client`` is a
    ready ``httpx.AsyncClient``.

    The client brings the transport: TLS verification and a client certificate, proxies,
    limits, timeout, a transport of its own, so the :data:`TRANSPORT_OPTIONS` cannot be given
    with it (by keyword or in the URL). ``address`` and ``namespace`` are still these options:
    every request goes to the address (a client whose ``base_url`` names another origin is
    refused), and obeys the plain-http rule; redirects are followed by the backend, only
    within the address's origin, whatever the client's ``follow_redirects``. The backend never
    closes a client it was given (``aclose()`` leaves it open).
    """

    # httpx's client, not the sync options' hvac one.
    client: httpx.AsyncClient | None = None


def _ssl_context(opts: VaultOptions) -> ssl.SSLContext | bool:
    """The sync backend's TLS settings (:func:`tls_settings`) as an SSL context for httpx."""
    verify, cert = tls_settings(opts)
    if verify is False and cert is None:
        return False
    if isinstance(verify, str) and verify == opts.ca_cert:
        context = ssl.create_default_context(cafile=verify)
    elif isinstance(verify, str):
        context = ssl.create_default_context(capath=verify)
    else:  # the CA bundle requests verifies with (and httpx by default)
        context = ssl.create_default_context(cafile=certifi.where())
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if isinstance(cert, tuple):
        context.load_cert_chain(*cert)
    elif cert is not None:
        context.load_cert_chain(cert)
    return context


def _timeout(opts: VaultOptions) -> httpx.Timeout:
    timeout = opts.timeout
    if isinstance(timeout, tuple):
        connect, read = timeout
        return httpx.Timeout(read, connect=connect)
    return httpx.Timeout(timeout)


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _vault_error(response: httpx.Response, method: str, url: str) -> hvac.exceptions.VaultError:
    """The hvac exception for a failed answer, as hvac's adapter builds it, with the status
    and Retry-After its exceptions otherwise lack (the sync token session notes them)."""
    body: Any = None
    errors = None
    if response.headers.get("content-type") == "application/json":
        with contextlib.suppress(ValueError):
            body = response.json()
            errors = body.get("errors") if isinstance(body, Mapping) else None
    text = response.text
    exc = hvac.exceptions.VaultError.from_status(
        response.status_code, text if errors is None else None, errors=errors, method=method,
        url=url, text=text, json=body)
    exc.helium_status = response.status_code
    exc.helium_retry_after = retry_after_from_headers(response.headers)
    return exc


def _check_ready_client(client: httpx.AsyncClient, opts: VaultOptions) -> None:
    """Refuse what a given client would silently override or contradict: the transport
    options (the client has its own TLS and timeout) and a ``base_url`` elsewhere than the
    address (every request is sent to the address).

    :raises ValueError: saying what to change.
    """
    given = [name for name in TRANSPORT_OPTIONS if opts.source(name) in ("keyword", "url")]
    if given:
        raise ValueError(f"{', '.join(given)} cannot be given with client=: configure the "
                         "httpx.AsyncClient itself (verify=, cert=, timeout=)")
    base = str(client.base_url)
    if base and origin(base) != origin(opts.address):
        raise ValueError(f"the client's base_url ({origin(base)}) is not the Vault address "
                         f"({origin(opts.address)}): pass address= (requests go there)")


class _NameLocks:
    """One asyncio lock per name, kept only while a task holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: collections.Counter[str] = collections.Counter()

    @contextlib.asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(name, asyncio.Lock())
        self._users[name] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[name] -= 1
            if not self._users[name]:
                del self._users[name], self._locks[name]


class _AsyncTokenSession:
    """One httpx client's token, kept alive by :class:`TokenState`'s decisions; tasks share
    it (the upkeep runs under one asyncio lock)."""

    def __init__(self, send: Callable[[Call], Coroutine[Any, Any, Any]],
                 auth: VaultAuth) -> None:
        self._send = send
        self.auth = auth
        self.state = TokenState(auth, (httpx.HTTPError,))
        self._lock = asyncio.Lock()

    async def keep_alive(self) -> None:
        """Renew (or replace) the token now if it is due: what :meth:`run` does first."""
        await self._ensure_token()

    async def _ensure_token(self) -> None:
        if self.state.fresh():
            return
        async with self._lock:
            await adrive(self.state.upkeep(), self._upkeep_step)

    async def _upkeep_step(self, step: Upkeep) -> None:
        if step == "login":
            await self._login()
        else:
            increment = self.state.renew_increment()
            self.state.renewed(await self._send(renew_call(increment)), increment)

    async def _login(self) -> None:
        # No local holds the token or a credential (error reporters capture frames' locals):
        # the state keeps the token (as the sync session's client does), the files are read
        # off the loop, and the login's answer goes straight on.
        if isinstance(self.auth, TokenAuth):
            self.state.token = await asyncio.to_thread(self.auth.current)
            try:
                ttl, lease, renewable = lookup_ttl(await self._send(LOOKUP_SELF))
            except hvac.exceptions.Forbidden:
                ttl, lease, renewable = 0.0, 0.0, False  # calls will tell
            self.state.logged_in(self.state.token, ttl, lease, renewable)
            return
        try:
            block = auth_block(await self._send(await asyncio.to_thread(self.auth.login_call)))
        except hvac.exceptions.VaultError as exc:
            refused = login_refused(exc, self.auth.method)
            if refused is not None:
                raise refused from exc
            raise
        self.state.logged_in(str(block["client_token"]), *self.state.login_answer(block))

    async def _token_rejected(self) -> bool:
        """After a 403: is the token itself invalid (rather than the policy saying no)?"""
        try:
            await self._send(LOOKUP_SELF)
        except hvac.exceptions.Forbidden:
            return True
        except (hvac.exceptions.VaultError, httpx.HTTPError):
            return False
        return False

    async def _relogin(self, generation: int) -> bool:
        async with self._lock:
            possible = await asyncio.to_thread(self.state.can_relogin, generation)
            if possible:
                await self._login()
            return possible is not False

    async def run(self, call: Call) -> Any:
        """Send ``call`` with a live token; after a rejected token, log in and retry once."""
        await self._ensure_token()
        generation = self.state.generation
        try:
            return await self._send(call)
        except hvac.exceptions.Forbidden as exc:
            # A token replaced by another task meanwhile counts as rejected: retry with it.
            if not await self._token_rejected() and self.state.generation == generation:
                raise  # the policy denies it
            if not await self._relogin(generation):
                raise UnauthenticatedError("the Vault token is invalid or expired") from exc
        try:
            return await self._send(call)
        except hvac.exceptions.Forbidden as exc:
            if await self._token_rejected():
                raise UnauthenticatedError("the Vault token is invalid or expired") from exc
            raise


class AsyncVaultBackend(VaultBackendBase, AsyncBackendBase):
    """Secrets in a Vault / OpenBao KV mount, over ``httpx.AsyncClient``: the methods of
    :class:`~helium_secrets.backends.hashivault.VaultBackend`, awaited, and ``aclose()``.

    :param address: the server (see :class:`VaultOptions`).
    :param options: a ready :class:`AsyncVaultOptions`, or pass its fields as keywords. Its
        ``client`` may be a ready ``httpx.AsyncClient`` (proxies, a transport of its own,
        mTLS); the backend does not close it.
    """

    options_class = AsyncVaultOptions

    def _open(self, opts: VaultOptions) -> tuple[str, str | None]:
        given = opts.client  # an httpx.AsyncClient: the options' parser checked its type
        if given is not None:
            _check_ready_client(given, opts)
        address = checked_address(opts)
        tls_settings(opts)  # its errors now, before any call
        #: Made at the first request (see _client), as its SSL context reads files; or the
        #: client given, which is the caller's to close.
        self._http: httpx.AsyncClient | None = given
        self._owns_http = given is None
        self._session = _AsyncTokenSession(self._send, self.auth)
        self._name_locks = _NameLocks()
        return address, opts.namespace or None

    def _headers(self) -> dict[str, str]:
        headers = {"X-Vault-Request": "true"}
        token = self._session.state.token  # the client's token, as hvac's adapter sends it
        if token:
            headers["X-Vault-Token"] = token
        if self.namespace:
            headers["X-Vault-Namespace"] = self.namespace
        return headers

    async def _client(self) -> httpx.AsyncClient:
        """The HTTP client, made at the first request: its SSL context (the CA bundle, a
        client certificate) is read in a thread, not on the event loop."""
        if self._http is None:
            context = await asyncio.to_thread(_ssl_context, self._options)
            if self._http is None:  # another task may have made it meanwhile
                self._http = httpx.AsyncClient(
                    verify=context, timeout=_timeout(self._options),
                    follow_redirects=False,  # followed by hand, within the origin (_send)
                )
        return self._http

    async def _send(self, call: Call) -> Any:
        """One request and its redirects within the origin; the answer's JSON, or ``None``.

        No local holds the body (a value) or the token: an error reporter would capture it.
        """
        path = "/v1/" + call.path
        while "//" in path:
            path = path.replace("//", "/")  # as hvac (and the vault CLI) send it
        url, method, params, with_body = self.address + path, call.method, call.params, True
        for _ in range(MAX_REDIRECTS):
            response = await (await self._client()).request(
                method, url, params=params, json=call.body if with_body else None,
                headers=self._headers(),
                follow_redirects=False)  # a given client's setting too: followed by hand
            location = response.headers.get("location")
            if not (response.is_redirect and location):
                break
            check_redirect(str(response.request.url), location)  # before anything goes there
            url, params = urljoin(str(response.request.url), location), None
            if response.status_code in (301, 302, 303) and method != "GET":
                method, with_body = "GET", False  # as requests follows them
        else:
            raise httpx.TooManyRedirects("too many redirects", request=response.request)
        if response.status_code >= 400:
            raise _vault_error(response, method, url)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    async def _perform(self, call: Call) -> Any:
        if call.direct:
            return await self._send(call)
        return await self._session.run(call)

    async def _run(self, steps: Steps[Call, T]) -> T:
        return await adrive(steps, self._perform)

    # -- the protocol ----------------------------------------------------------------------

    async def get(self, name: str, version: str | None = None,
                  label: str | None = None) -> RawSecret:
        return await self._run(self._kv.get(name, version, label))

    async def put(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_version: str | None = None,
        create_only: bool = False,
        request_token: str | None = None,
        metadata: Mapping[str, str] | None = None,
        labels: Sequence[str] = (),
    ) -> VersionInfo:
        async with self._name_locks.hold(name):
            return await self._run(self._kv.put(
                name, value, expected_version=expected_version, create_only=create_only,
                request_token=request_token, metadata=metadata, labels=labels))

    async def delete(self, name: str, *, purge: bool = False) -> None:
        await self._run(self._kv.delete(name))

    async def list_names(self, prefix: str = "") -> Iterator[str]:
        return iter(await self._run(self._kv.list_names(prefix)))

    async def list_versions(self, name: str) -> list[VersionInfo]:
        return await self._run(self._kv.list_versions(name))

    async def current_version(self, name: str) -> str | VersionInfo:
        return await self._run(self._kv.current_version(name))

    @property
    def logins(self) -> int:
        """Successful logins (a plain token counts once per time it is (re)loaded)."""
        return self._session.state.logins

    @property
    def renewals(self) -> int:
        """Successful token renewals."""
        return self._session.state.renewals

    async def staging_companion(self, name: str) -> str:
        return self._kv.staging_companion(name)

    async def issue_lease(self, path: str) -> LeaseGrant:
        return await self._run(leases.issue(path))

    async def renew_lease(self, lease_id: str, increment: float | None) -> LeaseGrant:
        return await self._run(leases.renew(lease_id, increment))

    def lease_upkeep_due(self) -> float:
        # The leases are the token's children: they die with it (see hashivault/leases.py).
        return self._session.state.upkeep_due()

    async def lease_upkeep(self) -> None:
        await self._session.keep_alive()

    async def revoke_lease(self, lease_id: str) -> None:
        await self._run(leases.revoke(lease_id))

    def classify(self, exc: BaseException) -> Classified | None:
        if isinstance(exc, ssl.SSLError):  # httpcore lets one raised while reading through
            return transport_verdict("tls", self.address, str(exc))
        if isinstance(exc, httpx.TimeoutException):
            return transport_verdict("timeout", self.address)
        if isinstance(exc, httpx.ConnectError):
            tls = _tls_failure(exc)
            if tls is not None:
                return transport_verdict("tls", self.address, str(tls))
            return transport_verdict("connect", self.address)
        if isinstance(exc, httpx.HTTPError):
            return transport_verdict("http", self.address, type(exc).__name__)
        return super().classify(exc)

    async def aclose(self) -> None:
        """Close the connections (of the client the backend made: one given is left open)."""
        if self._http is not None and self._owns_http:
            await self._http.aclose()

    # -- Vault specifics (not in the protocol) ---------------------------------------------

    @extra_operation(writes=True)
    async def delete_latest_version(self, name: str) -> None:
        """Soft-delete only the current version (KV v2); :meth:`undelete_versions` undoes it."""
        await self._run(self._kv.delete_latest_version(name))

    @extra_operation(writes=True)
    async def undelete_versions(self, name: str, versions: Sequence[str]) -> None:
        """Restore soft-deleted versions (KV v2)."""
        await self._run(self._kv.undelete_versions(name, versions))

    @extra_operation(writes=True)
    async def destroy_versions(self, name: str, versions: Sequence[str]) -> None:
        """Destroy versions for good: their data is removed, the metadata stays (KV v2)."""
        await self._run(self._kv.destroy_versions(name, versions))

    @extra_operation(writes=False)
    async def describe(self, name: str) -> Lifecycle:
        """The secret's lifecycle from its KV v2 metadata (see ``VaultBackend.describe``)."""
        return await self._run(self._kv.describe(name))
