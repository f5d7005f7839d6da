"""Django: secrets in ``settings.py`` that follow their rotation.

``secret("app/db", field="password")`` is a reference, resolved through a
:class:`~helium_secrets.SecretStore` (its cache, retries and audit events) when it is used,
never copied into the settings: the database backends of this package read it for every new
connection (see :mod:`helium_secrets.integrations.django.db`), and
:meth:`SecretSetting.reveal` reads it for anything else. Its ``repr`` names the secret, never
the value, so Django's debug pages and ``diffsettings`` show no value either.
``lease("database/creds/app", field="password")`` is the same for credentials a service issues
under a lease (:meth:`~helium_secrets.SecretStore.lease`, dynamic secrets): each new connection
uses the lease's current credentials.

Install ``helium-secrets[django]``; add ``"helium_secrets.integrations.django"`` to
``INSTALLED_APPS`` for the system check and the rotation watch (:mod:`.apps`).
"""

from __future__ import annotations

import threading
from typing import Any

from helium_secrets._registry import open_store
from helium_secrets._store import SecretStore
from helium_secrets._values import Lease
from helium_secrets.errors import InvalidArgumentError
from helium_secrets.integrations._refs import SecretRef

__all__ = ["LeaseSetting", "Reference", "SecretSetting", "default_store", "lease", "secret",
           "use_store"]

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


def _checked_store(store: SecretStore | None) -> SecretStore | None:
    if store is not None and not isinstance(store, SecretStore):
        raise TypeError(f"store must be a SecretStore, not {type(store).__name__}")
    return store


class _Setting:
    """What both kinds of reference share: their store, and copies that are themselves."""

    __slots__ = ("_store",)

    def __init__(self, store: SecretStore | None) -> None:
        self._store = _checked_store(store)

    @property
    def store(self) -> SecretStore:
        """The store this setting reads from."""
        return self._store if self._store is not None else default_store()

    def read(self) -> tuple[Any, str]:  # pragma: no cover - each kind has its own
        raise NotImplementedError

    def reveal(self) -> Any:
        """The current value (or field), for settings Django reads once (``SECRET_KEY``)."""
        return self.read()[0]

    def refreshed_version(self) -> str:  # pragma: no cover - each kind has its own
        """The version to compare after the server refused the credentials."""
        raise NotImplementedError

    # A reference is immutable and its store is shared: copies (Django's test runner and
    # override_settings copy settings) are the reference itself.
    def __copy__(self) -> _Setting:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> _Setting:
        return self


class SecretSetting(_Setting):
    """A setting whose value lives in a secret store (made by :func:`secret`)."""

    __slots__ = ("ref",)

    def __init__(self, ref: SecretRef, store: SecretStore | None = None) -> None:
        super().__init__(store)
        self.ref = ref

    @property
    def name(self) -> str:
        """The secret's name."""
        return self.ref.name

    @property
    def key(self) -> str:
        """What the versions a connection was made with are keyed by: the secret's name."""
        return self.ref.name

    def read(self) -> tuple[Any, str]:
        """The current value (or JSON field) and its version, through the store's cache."""
        return self.ref.read(self.store)

    def current_version(self) -> str:
        """The current version (a cache hit while fresh)."""
        return self.store.get(self.ref.name).version

    def refreshed_version(self) -> str:
        """The current version, bypassing the cache."""
        return self.store.refresh(self.ref.name).version

    def __repr__(self) -> str:
        field = "" if self.ref.field is None else f", field={self.ref.field!r}"
        return f"secret({self.ref.name!r}{field})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SecretSetting) and other.ref == self.ref
                and other._store is self._store)

    def __hash__(self) -> int:
        return hash(self.ref)


class LeaseSetting(_Setting):
    """A setting whose value is one field of leased credentials (made by :func:`lease`); its
    version is the lease's id, which changes each time the store issues new credentials."""

    __slots__ = ("field", "path")

    def __init__(self, path: str, field: str, store: SecretStore | None = None) -> None:
        for argument, value in (("path", path), ("field", field)):
            if not isinstance(value, str) or not value:
                raise TypeError(f"the lease {argument} must be a non-empty str, not {value!r}")
        super().__init__(store)
        self.path, self.field = path, field

    @property
    def key(self) -> str:
        """What the versions a connection was made with are keyed by: ``lease:PATH``."""
        return f"lease:{self.path}"

    def current(self) -> Lease:
        """The lease's current credentials (issued on first use; kept alive by the store)."""
        return self.store.lease(self.path).current

    def value_in(self, lease: Lease) -> str:
        """This setting's field of ``lease`` (one lease feeds every field of a connection, so
        that a username and a password never come from two different grants)."""
        if self.field not in lease.credentials:
            raise InvalidArgumentError(
                f"the lease has no field {self.field!r} (it has {', '.join(sorted(lease.credentials))})",
                backend=self.store.backend.name, name=self.path)
        return lease[self.field].reveal()

    def read(self) -> tuple[str, str]:
        """The field's current value and the lease id it came from."""
        current = self.current()
        return self.value_in(current), current.lease_id

    def current_version(self) -> str:
        """The current lease's id (no call to the service)."""
        return self.current().lease_id

    refreshed_version = current_version  # new credentials come from the store's keeper

    def __repr__(self) -> str:
        return f"lease({self.path!r}, field={self.field!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, LeaseSetting) and (other.path, other.field) == (
            self.path, self.field) and other._store is self._store)

    def __hash__(self) -> int:
        return hash((self.path, self.field))


#: A connection setting that the store resolves.
Reference = SecretSetting | LeaseSetting


def secret(name: str, *, field: str | None = None, store: SecretStore | None = None) -> SecretSetting:
    """A reference to the secret ``name`` (or one ``field`` of its JSON value), for settings.py.

    :param name: the secret's portable name.
    :param field: a dotted path into its JSON value (``"password"``).
    :param store: the store to read from (default: :func:`default_store`).
    """
    return SecretSetting(SecretRef(name, field), store)


def lease(path: str, *, field: str, store: SecretStore | None = None) -> LeaseSetting:
    """A reference to one ``field`` (``"username"``, ``"password"``) of the credentials a
    service issues under a lease at ``path`` (Vault's ``database/creds/ROLE``), for settings.py.

    :param path: the service's path that issues the credentials.
    :param field: the credential's field.
    :param store: the store that issues and keeps the lease (default: :func:`default_store`).
    """
    return LeaseSetting(path, field, store)
