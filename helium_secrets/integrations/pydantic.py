"""pydantic-settings: a settings source over a :class:`~helium_secrets.SecretStore`, and
settings that follow the rotation of their secrets.

:class:`SecretStoreSource` fills fields from the store (so it gets the store's cache,
coalescing, retries and audit events), in one :meth:`~helium_secrets.SecretStore.get_many`:

* a field annotated with a :class:`SecretRef` (``Annotated[SecretStr, SecretRef("app/db",
  field="password")]``) reads that secret, or one field of its JSON value, at any depth of
  nested models;
* with ``json_secret=``, the other fields come from one JSON secret, whose keys match field
  names (or aliases) case-insensitively, nested as objects or flattened with
  ``nested_delimiter`` (``{"DB__HOST": ...}``);
* with ``prefix=``, the remaining fields come from one secret each, named ``prefix`` plus the
  field's path joined with ``nested_delimiter`` (``app/db/host``), in the configured ``case``.

A field that a source before this one already filled (``init_settings``, the environment, ...)
is not read at all. :class:`LiveSettings` holds a settings object and builds a new one when a
secret it was built from rotates, swapping the reference atomically.

Install ``helium-secrets[pydantic]``.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from helium_secrets._store import SecretStore
from helium_secrets._values import Secret
from helium_secrets.errors import HeliumError
from helium_secrets.integrations._refs import SecretRef

__all__ = ["LiveSettings", "SecretRef", "SecretStoreSource"]

_log = logging.getLogger("helium_secrets.pydantic")
S = TypeVar("S", bound=BaseSettings)

# The (store, name) pairs the sources read while a LiveSettings builds its object.
_recording: contextvars.ContextVar[dict[tuple[int, str], tuple[SecretStore, str]] | None] = (
    contextvars.ContextVar("helium_secrets_pydantic_recording", default=None))


@dataclass(frozen=True)
class _Leaf:
    """One field to fill: its keys from the settings root, and where its value comes from."""

    keys: tuple[str, ...]  # the output keys (alias or name), root first
    names: tuple[str, ...]  # the field names, root first (for secret names)
    field: FieldInfo
    ref: SecretRef | None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model class of a field's annotation (``Model`` or ``Model | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = [arg for arg in typing.get_args(annotation)
              if isinstance(arg, type) and issubclass(arg, BaseModel)]
    return models[0] if len(models) == 1 else None


def _leaves(model: type[BaseModel], keys: tuple[str, ...] = (),
            names: tuple[str, ...] = ()) -> Iterator[_Leaf]:
    for name, field in model.model_fields.items():
        key = field.alias or name
        ref = next((m for m in field.metadata if isinstance(m, SecretRef)), None)
        nested = _model_of(field.annotation)
        if ref is None and nested is not None:
            yield from _leaves(nested, (*keys, key), (*names, name))
        else:
            yield _Leaf((*keys, key), (*names, name), field, ref)


def _lookup(document: Any, keys: tuple[str, ...], case_sensitive: bool) -> tuple[bool, Any]:
    """``document[k1][k2]...``, matching keys case-insensitively unless told otherwise."""
    node = document
    for key in keys:
        if not isinstance(node, Mapping):
            return False, None
        if key in node:
            node = node[key]
            continue
        if case_sensitive:
            return False, None
        match = next((k for k in node if isinstance(k, str) and k.lower() == key.lower()), None)
        if match is None:
            return False, None
        node = node[match]
    return True, node


class SecretStoreSource(PydanticBaseSettingsSource):
    """A pydantic-settings source that reads fields from a secret store (see the module's docs).

    Return it from ``settings_customise_sources``, after the sources that take precedence.

    :param settings_cls: the settings class.
    :param store: the store to read from.
    :param prefix: fill every field without a :class:`SecretRef` from the secret ``prefix +
        path`` (``None``: only referenced fields, and ``json_secret``).
    :param json_secret: a secret whose JSON object fills fields by name.
    :param nested_delimiter: joins a nested field's path, in secret names (default ``"/"``)
        and in flattened keys of ``json_secret``.
    :param case: the case of generated secret names: ``"lower"``, ``"upper"`` or
        ``"preserve"`` (the field names as written).
    :param case_sensitive: match ``json_secret``'s keys case-sensitively.
    """

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        store: SecretStore,
        *,
        prefix: str | None = None,
        json_secret: str | None = None,
        nested_delimiter: str = "/",
        case: Literal["lower", "upper", "preserve"] = "lower",
        case_sensitive: bool = False,
    ) -> None:
        super().__init__(settings_cls)
        if not isinstance(store, SecretStore):
            raise TypeError(f"store must be a SecretStore, not {type(store).__name__}")
        if case not in ("lower", "upper", "preserve"):
            raise ValueError(f"case must be 'lower', 'upper' or 'preserve', not {case!r}")
        if not isinstance(nested_delimiter, str) or not nested_delimiter:
            raise ValueError("nested_delimiter must be a non-empty str")
        self.store = store
        self.prefix = prefix
        self.json_secret = json_secret
        self.nested_delimiter = nested_delimiter
        self.case = case
        self.case_sensitive = case_sensitive
        self.leaves = list(_leaves(settings_cls))
        if json_secret is not None:
            store.check_name(json_secret)

    def secret_name(self, leaf: _Leaf) -> str | None:
        """The secret that fills ``leaf`` (its reference, else the ``prefix`` mapping)."""
        if leaf.ref is not None:
            return leaf.ref.name
        if self.prefix is None:
            return None
        name = self.nested_delimiter.join(leaf.names)
        name = name.lower() if self.case == "lower" else name.upper() if self.case == "upper" else name
        return self.prefix + name

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ reads every field at once, in one get_many.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        wanted = [leaf for leaf in self.leaves if not self._filled(leaf.keys)]
        names = {n for leaf in wanted if (n := self.secret_name(leaf)) is not None}
        if self.json_secret is not None and wanted:
            names.add(self.json_secret)
        if not names:
            return {}
        found = self.store.get_many(sorted(names), ignore_missing=True)
        self._record(found)
        document: Any = None
        if self.json_secret in found:
            document = found[self.json_secret].value.reveal_json()
        result: dict[str, Any] = {}
        for leaf in wanted:
            present, value = self._value(leaf, found, document)
            if present:
                node = result
                for key in leaf.keys[:-1]:
                    node = node.setdefault(key, {})
                node[leaf.keys[-1]] = value
        return result

    def _value(self, leaf: _Leaf, found: Mapping[str, Secret], document: Any) -> tuple[bool, Any]:
        if leaf.ref is not None:
            secret = found.get(leaf.ref.name)
            return (False, None) if secret is None else (True, leaf.ref.select(secret, self.store))
        if document is not None:
            for keys in (leaf.keys, (self.nested_delimiter.join(leaf.keys),)):
                present, value = _lookup(document, keys, self.case_sensitive)
                if present:
                    return True, value
        name = self.secret_name(leaf)
        secret = found.get(name) if name is not None else None
        if secret is None:
            return False, None
        text = secret.value.reveal()
        return True, self.prepare_field_value(leaf.keys[-1], leaf.field, text, False)

    def _filled(self, keys: tuple[str, ...]) -> bool:
        return _lookup(self.current_state, keys, True)[0]

    def _record(self, found: Mapping[str, Secret]) -> None:
        seen = _recording.get()
        if seen is not None:
            for name in found:
                seen[(id(self.store), name)] = (self.store, name)

    def __repr__(self) -> str:
        return (f"SecretStoreSource(store={self.store!r}, prefix={self.prefix!r}, "
                f"json_secret={self.json_secret!r})")


class LiveSettings(Generic[S]):
    """A settings object that is rebuilt when a secret it was built from rotates.

    ``live.current`` is the newest settings object: hold ``live``, not the object, and read
    ``live.current`` where a setting is used. A rebuild makes a whole new object and swaps the
    reference at once, so a reader sees the old settings or the new ones, never a mix. A
    rebuild that fails (a rotated secret that no longer validates) keeps the old object and
    logs the error's type.

    The rotation listener only notes the rotation and starts a rebuild on a short-lived thread:
    building settings reads secrets, which must not happen inside the store's delivery of a
    rotation. ``current`` finishes a pending rebuild itself, so a reader never sees settings
    older than a rotation the store has announced.

    :param factory: builds the settings (the settings class itself, usually).
    :param on_change: called with ``(old, new)`` after each swap (an exception it raises is
        logged by type and ignored).
    """

    def __init__(self, factory: Callable[[], S], *,
                 on_change: Callable[[S, S], object] | None = None) -> None:
        self._factory = factory
        self._on_change = on_change
        self._lock = threading.RLock()  # held while building
        # Never held while building: the listener takes it inside the store's delivery, which
        # a build in progress may be waiting for.
        self._count_lock = threading.Lock()
        self._watched: dict[tuple[int, str], tuple[SecretStore, str]] = {}
        self._rotations = 0  # rotations announced ...
        self._built = 0  # ... and the number the current settings were built after
        self._current = self._build()

    @property
    def current(self) -> S:
        """The newest settings. Each access reads the watched secrets through the store's cache
        (hits while fresh), so a rotation reaches it within the cache TTL at the latest; a
        store without a cache is not read here (its poller and :meth:`refresh` tell)."""
        for store, name in list(self._watched.values()):
            if store.cache_policy is None:
                continue  # every read would reach the backend: the poller and refresh() tell
            # An expired entry is re-read and a new version announced; on an error the
            # settings in hand stay valid (the store counts it and emits its audit event).
            with contextlib.suppress(HeliumError):
                store.get(name)
        if self._built != self._rotations:
            self._catch_up()
        return self._current

    @property
    def watched(self) -> list[str]:
        """The names of the secrets the settings were built from."""
        return sorted({name for _, name in self._watched.values()})

    def refresh(self) -> S:
        """Re-read every watched secret, bypassing the cache; return the (possibly new) settings."""
        for store, name in list(self._watched.values()):
            store.refresh(name)  # a new version is announced to the listener
        if self._built != self._rotations:
            self._catch_up()
        return self._current

    def rebuild(self) -> S:
        """Build new settings now and swap them in; return them.

        :raises Exception: whatever building the settings raised (the old ones are kept).
        """
        with self._lock:
            seen = self._rotations
            old = self._current
            new = self._current = self._build()
            self._built = seen
        self._changed(old, new)
        return new

    def close(self) -> None:
        """Stop following the secrets' rotation."""
        with self._lock:
            for store, name in self._watched.values():
                store.remove_rotation_listener(name, self._rotated)
            self._watched = {}

    def _build(self) -> S:
        seen: dict[tuple[int, str], tuple[SecretStore, str]] = {}
        token = _recording.set(seen)
        try:
            settings = self._factory()
        finally:
            _recording.reset(token)
        for key, (store, name) in seen.items():
            if key not in self._watched:
                store.on_rotation(name, self._rotated)
        self._watched.update(seen)
        return settings

    def _rotated(self, old: Secret | None, new: Secret) -> None:
        with self._count_lock:
            self._rotations += 1
        threading.Thread(target=self._catch_up, name="helium-live-settings", daemon=True).start()

    def _catch_up(self) -> None:
        """Rebuild unless the settings already follow every announced rotation."""
        with self._lock:
            seen = self._rotations
            if self._built == seen:
                return
            old = self._current
            try:
                new = self._current = self._build()
            except Exception as exc:  # the old settings keep working; never log the message
                _log.warning("rebuilding the settings after a rotation failed (%s); keeping the "
                             "previous settings", type(exc).__name__)
                return
            finally:
                self._built = seen  # a broken secret is not rebuilt on every access
        self._changed(old, new)

    def _changed(self, old: S, new: S) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(old, new)
        except Exception as exc:
            _log.warning("the on_change callback of LiveSettings failed (%s)", type(exc).__name__)

    def __repr__(self) -> str:
        return f"<LiveSettings of {type(self._current).__name__} watching {self.watched}>"
