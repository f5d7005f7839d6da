"""Flask: an extension that gives views live secrets, never copies of them in ``app.config``.

Flask's own guide says configuration must not change once the app is set up; a rotated secret
does. So the extension puts a :class:`~helium_secrets.SecretStore` in ``app.extensions``, and
views ask it for a secret when they need it (a cache hit while fresh), so a rotation reaches
them without a restart::

    secrets = HeliumSecrets()

    def create_app(config=None):
        app = Flask(__name__)
        app.config.from_mapping(config or {})
        secrets.init_app(app)
        return app

    @bp.get("/orders")
    def orders():
        key = secrets.get("app/api-key")          # or helium_secrets.integrations.flask.secret()

Configuration keys (read once, in :meth:`HeliumSecrets.init_app`):

* ``HELIUM_SECRETS_STORE``: a store object to use (tests pass the fake's store here);
* ``HELIUM_SECRETS_URL``: else the URL to open (default: ``HELIUM_SECRETS_URL`` in the
  environment, as :func:`~helium_secrets.open_store`);
* ``HELIUM_SECRETS_CACHE_TTL``: the cache TTL in seconds of a store opened from the URL.

Install ``helium-secrets[flask]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from helium_secrets._registry import open_store
from helium_secrets._store import SecretStore
from helium_secrets.integrations._refs import SecretRef
from helium_secrets.layers.cache import CachePolicy

__all__ = ["EXTENSION", "HeliumSecrets", "secret", "store"]

#: The key of the extension's state in ``app.extensions``.
EXTENSION = "helium_secrets"


@dataclass(frozen=True)
class _State:
    store: SecretStore
    owned: bool  # opened by the extension, so closed by it


class HeliumSecrets:
    """The Flask extension (one object for any number of apps).

    :param app: an app to initialise now (or call :meth:`init_app` later, app-factory style).
    :param store: the store to use for every app, whatever their configuration says.
    """

    def __init__(self, app: Flask | None = None, *, store: SecretStore | None = None) -> None:
        if store is not None and not isinstance(store, SecretStore):
            raise TypeError(f"store must be a SecretStore, not {type(store).__name__}")
        self._store = store
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Give ``app`` its store, from the extension's ``store`` or the app's configuration."""
        configured = self._store or app.config.get("HELIUM_SECRETS_STORE")
        if configured is not None:
            if not isinstance(configured, SecretStore):
                raise TypeError("HELIUM_SECRETS_STORE must be a SecretStore, not "
                                f"{type(configured).__name__}")
            app.extensions[EXTENSION] = _State(configured, owned=False)
            return
        ttl = app.config.get("HELIUM_SECRETS_CACHE_TTL")
        if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, (int, float))):
            raise TypeError(f"HELIUM_SECRETS_CACHE_TTL must be a number of seconds, not {ttl!r}")
        options: dict[str, Any] = {} if ttl is None else {"cache": CachePolicy(ttl=ttl)}
        app.extensions[EXTENSION] = _State(
            open_store(app.config.get("HELIUM_SECRETS_URL"), **options), owned=True)

    @staticmethod
    def store_for(app: Flask) -> SecretStore:
        """The store of ``app``.

        :raises RuntimeError: the extension was not initialised on ``app``.
        """
        state = app.extensions.get(EXTENSION)
        if state is None:
            raise RuntimeError("helium-secrets is not initialised on this app: call "
                               "HeliumSecrets().init_app(app)")
        return state.store  # type: ignore[no-any-return]

    @property
    def store(self) -> SecretStore:
        """The current app's store (inside an app or request context)."""
        return self.store_for(current_app)

    def get(self, name: str, field: str | None = None) -> Any:
        """The current value of ``name`` (or one ``field`` of its JSON value), looked up now."""
        return secret(name, field)

    def close(self, app: Flask) -> None:
        """Close the store the extension opened for ``app`` (a store it was given is left open)."""
        state = app.extensions.pop(EXTENSION, None)
        if state is not None and state.owned:
            state.store.close()


def store() -> SecretStore:
    """The current app's store (inside an app or request context)."""
    return HeliumSecrets.store_for(current_app)


def secret(name: str, field: str | None = None) -> Any:
    """The current value of ``name`` (or one ``field`` of its JSON value) in the current app's
    store, looked up now: a cache hit while fresh, the new value after a rotation."""
    ref = SecretRef(name, field)
    return ref.read(store())[0]
