"""Django: secrets in ``settings.py`` that follow their rotation.

``secret("app/db", field="password")`` is a reference, resolved through a
:class:`~helium_secrets.SecretStore` (its cache, retries and audit events) when it is used,
never copied into the settings: the database backends of this package read it for every new
connection (see :mod:`helium_secrets.integrations.django.db`), and
:meth:`SecretSetting.reveal` reads it for anything else. Its ``repr`` names the secret, never
the value, so Django's debug pages and ``diffsettings`` show no value either.

Install ``helium-secrets[django]``; add ``"helium_secrets.integrations.django"`` to
``INSTALLED_APPS`` for the system check and the rotation watch (:mod:`.apps`).
"""

from __future__ import annotations

import threading
from typing import Any

from helium_secrets._registry import open_store
from helium_secrets._store import SecretStore
from helium_secrets.integrations._refs import SecretRef

__all__ = ["SecretSetting", "default_store", "secret", "use_store"]

_lock = threading.Lock()
_default: SecretStore | None = None


def use_store(store: SecretStore | None) -> None:
    """Make ``store`` the one that references without their own ``store`` read from
    (``None`` forgets it; the next use opens the default store again)."""
    global _default
    if store is not None and not isinstance(store, SecretStore):
        raise TypeError(f"store must be a SecretStore, not {type(store).__name__}")
    with _lock:
        _default = store


def default_store() -> SecretStore:
    """The store set by :func:`use_store`, else :func:`~helium_secrets.open_store`'s default
    (``HELIUM_SECRETS_URL``), opened once on first use."""
    global _default
    with _lock:
        if _default is None:
            _default = open_store()
        return _default


class SecretSetting:
    """A setting whose value lives in a secret store (made by :func:`secret`)."""

    __slots__ = ("_store", "ref")

    def __init__(self, ref: SecretRef, store: SecretStore | None = None) -> None:
        if store is not None and not isinstance(store, SecretStore):
            raise TypeError(f"store must be a SecretStore, not {type(store).__name__}")
        self.ref = ref
        self._store = store

    @property
    def store(self) -> SecretStore:
        """The store this setting reads from."""
        return self._store if self._store is not None else default_store()

    @property
    def name(self) -> str:
        """The secret's name."""
        return self.ref.name

    def read(self) -> tuple[Any, str]:
        """The current value (or JSON field) and its version, through the store's cache."""
        return self.ref.read(self.store)

    def reveal(self) -> Any:
        """The current value (or JSON field), for settings Django reads once (``SECRET_KEY``)."""
        return self.read()[0]

    def __repr__(self) -> str:
        field = "" if self.ref.field is None else f", field={self.ref.field!r}"
        return f"secret({self.ref.name!r}{field})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SecretSetting) and other.ref == self.ref
                and other._store is self._store)

    def __hash__(self) -> int:
        return hash(self.ref)

    # A reference is immutable and its store is shared: copies (Django's test runner and
    # override_settings copy settings) are the reference itself.
    def __copy__(self) -> SecretSetting:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> SecretSetting:
        return self


def secret(name: str, *, field: str | None = None, store: SecretStore | None = None) -> SecretSetting:
    """A reference to the secret ``name`` (or one ``field`` of its JSON value), for settings.py.

    :param name: the secret's portable name.
    :param field: a dotted path into its JSON value (``"password"``).
    :param store: the store to read from (default: :func:`default_store`).
    """
    return SecretSetting(SecretRef(name, field), store)
