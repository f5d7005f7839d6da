"""FastAPI and Starlette: a lifespan that owns an :class:`~helium_secrets.AsyncSecretStore`,
and dependencies that look secrets up per request, so a rotation reaches handlers without a
restart and no handler ever blocks the event loop::

    secrets = HeliumSecrets("vault://...")            # or HELIUM_SECRETS_URL, or store=...
    app = FastAPI(lifespan=secrets.lifespan)

    @app.get("/orders")
    async def orders(api_key: SecretValue = Depends(secret("app/api-key")),
                     store: AsyncSecretStore = Depends(store)):
        ...

:func:`store` is the one dependency every other builds on, so a test swaps the fake in with
one line: ``app.dependency_overrides[store] = lambda: fake`` (an async fake, such as
``open_async_store("mem://")``).

A secret that cannot be read becomes an :class:`~fastapi.HTTPException` whose detail names
the error code only (never a name or a value): 503 with ``Retry-After`` for a transient
failure (the backend is down or throttling), 500 otherwise (a missing secret is the server's
configuration, not the client's fault).

Install ``helium-secrets[fastapi]``.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, HTTPException, Request

from helium_secrets._async._store import AsyncSecretStore
from helium_secrets._registry import open_async_store
from helium_secrets._values import SecretValue, json_field
from helium_secrets.errors import HeliumError
from helium_secrets.integrations._refs import SecretRef

__all__ = ["STATE", "HeliumSecrets", "secret", "store"]

#: The attribute of ``app.state`` that holds the store while the lifespan runs.
STATE = "helium_secrets"


class HeliumSecrets:
    """Opens the store when the app starts and closes it when the app stops.

    :param url: the URL to open (default: ``HELIUM_SECRETS_URL`` in the environment, as
        :func:`~helium_secrets.open_async_store`).
    :param store: a store to use instead (left open at shutdown: its owner closes it).
    :param options: the store's options (``cache=``, ``retry=``, ...) for a store opened
        from the URL.
    """

    def __init__(self, url: str | None = None, *, store: AsyncSecretStore | None = None,
                 **options: Any) -> None:
        if store is not None and not isinstance(store, AsyncSecretStore):
            raise TypeError(f"store must be an AsyncSecretStore, not {type(store).__name__}")
        if store is not None and (url is not None or options):
            raise TypeError("give either store or a URL and options, not both")
        self._url = url
        self._store = store
        self._options = options

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """The app's lifespan (``FastAPI(lifespan=secrets.lifespan)``), or a part of yours
        (``async with secrets.lifespan(app): yield``)."""
        given = self._store
        opened = given if given is not None else open_async_store(self._url, **self._options)
        setattr(app.state, STATE, opened)
        try:
            yield
        finally:
            delattr(app.state, STATE)
            if given is None:
                await opened.aclose()

    def __repr__(self) -> str:
        return ("<HeliumSecrets (by URL)>" if self._store is None
                else f"<HeliumSecrets {self._store!r}>")


def store(request: Request) -> AsyncSecretStore:
    """The dependency for the app's store (override it to swap in the fake).

    :raises RuntimeError: the app's lifespan has not opened a store.
    """
    found = getattr(request.app.state, STATE, None)
    if found is None:
        raise RuntimeError("no helium-secrets store on this app: pass lifespan=secrets.lifespan "
                           "to FastAPI (or override the store dependency)")
    return found  # type: ignore[no-any-return]


def secret(name: str, field: str | None = None) -> Callable[..., Awaitable[SecretValue]]:
    """A dependency for the current value of ``name`` (or of one ``field`` of its JSON value;
    a node that is not text as its JSON text), read per request through the store's cache.

    The value is a :class:`~helium_secrets.SecretValue`: masked in reprs and logs, read with
    ``.reveal()``.
    """
    ref = SecretRef(name, field)  # checked now, when the route is declared

    async def dependency(found: AsyncSecretStore = Depends(store)) -> SecretValue:  # noqa: B008
        try:
            read = await found.get(ref.name)
            if ref.field is None:
                return read.value
            node = json_field(read, ref.field, backend=found.backend.name)
        except HeliumError as exc:
            raise _http_error(exc) from exc
        return SecretValue(node if isinstance(node, str) else json.dumps(node))

    return dependency


def _http_error(exc: HeliumError) -> HTTPException:
    """503 (with ``Retry-After`` when known) for a transient failure, else 500; the detail
    names the error code only."""
    headers = None
    if exc.transient and exc.retry_after is not None:
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
    return HTTPException(503 if exc.transient else 500, f"secret unavailable: {exc.code.value}",
                         headers=headers)
