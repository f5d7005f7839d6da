"""Layered stores: one :class:`~helium_secrets.SecretStore` over an ordered list of stores.

A read takes the first layer that has the name: "not found" falls through to the next layer,
any other error is raised (unless ``fall_through`` names its code), saying which layer. Writes
go to the one layer ``write`` designates; ``list`` merges every layer's names; ``versions`` and
``current_version`` come from the layer that has the name. Typical: environment variables over
Vault, a ``.env`` file over AWS::

    store = layered(open_store("env://?prefix=APP_"), open_store("vault://..."), write=1)
    store = open_store("layered://?layer=dotenv://.env&layer=awsssm://eu-west-1&write=1")

This is composition, not a service: it sits above the store, where the layers are, and
presents them to one outer :class:`~helium_secrets.SecretStore` through the backend protocol,
so that the outer store's cache, retry, guard, listeners and audit events work once for the
whole stack (docs/backends/layered.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NoReturn, TypeAlias, TypeVar
from urllib.parse import SplitResult, parse_qsl, urlencode

from helium_secrets._options import Options, build, option, parse, query_of
from helium_secrets._registry import open_store
from helium_secrets._store import SecretStore
from helium_secrets._values import Secret, VersionInfo
from helium_secrets.backends._base import BackendBase, Capabilities, NameRules, RawSecret
from helium_secrets.errors import (
    ErrorCode,
    HeliumError,
    InvalidNameError,
    ReadOnlyError,
    SecretNotFoundError,
    UnsupportedError,
)
from helium_secrets.layers.guard import GuardPolicy
from helium_secrets.layers.retry import RetryPolicy

__all__ = ["Layer", "LayeredBackend", "LayeredOptions", "layered"]

T = TypeVar("T")
#: A layer: a store, or the URL of one.
Layer: TypeAlias = "SecretStore | str"

#: How the layers a URL names are opened: the outer store is the one that caches, retries and
#: guards, so that attempts never multiply and a value is cached once.
LAYER_OPTIONS: Mapping[str, Any] = {"cache": None, "retry": RetryPolicy.never(),
                                    "guard": GuardPolicy(threshold=0)}
#: The largest batch the outer store sends at once (each layer's own store splits it further).
_BATCH = 1000
_CODES = {code.value for code in ErrorCode}


def _codes(text: str) -> tuple[str, ...]:
    return tuple(code.strip() for code in text.split(",") if code.strip())


def _codes_problem(codes: tuple[str, ...]) -> str | None:
    unknown = [c for c in codes if c not in _CODES]
    if unknown or "not_found" in codes:
        return ("error codes other than not_found (which always falls through): "
                + ", ".join(sorted(_CODES - {"not_found"})))
    return None


@dataclass(frozen=True, kw_only=True)
class LayeredOptions(Options):
    """The options of :class:`LayeredBackend` (the table in docs/backends/layered.md).

    :param layers: the stores, first layer first: :class:`~helium_secrets.SecretStore`
        objects, or URLs opened with :func:`~helium_secrets.open_store` (without their own
        cache, retries or guard: the layered store's are the ones).
    :param write: the index of the layer writes go to (``None``: the store is read-only).
    :param fall_through: error codes that, besides not found, make a read try the next layer
        (``("unavailable", "permission_denied")``).
    """

    scheme: ClassVar[str] = "layered"

    layers: tuple[Layer, ...] = option((), url="repeated `?layer=`")
    write: int | None = option(None, query=True, ge=0)
    fall_through: tuple[str, ...] = option((), query=True, parse=_codes, check=_codes_problem)


class LayeredBackend(BackendBase):
    """Ordered layers of stores, presented to an outer store as one backend.

    Closing it closes its layers.

    :param options: a ready :class:`LayeredOptions`, or pass its fields as keywords.
    :raises ValueError: no layers, or ``write`` is not the index of one.
    """

    name: ClassVar[str] = "layered"

    def __init__(self, *, options: LayeredOptions | None = None, **keywords: Any) -> None:
        self._options = opts = build(LayeredOptions, options, keywords)
        if not opts.layers:
            raise ValueError("layered:// needs at least one layer")
        if opts.write is not None and opts.write >= len(opts.layers):
            raise ValueError(f"layered:// option write must be the index of a layer (0 to "
                             f"{len(opts.layers) - 1}), not {opts.write}")
        stores: list[SecretStore] = []
        try:
            for layer in opts.layers:
                stores.append(layer if isinstance(layer, SecretStore)
                              else open_store(layer, **LAYER_OPTIONS))
        except BaseException:
            for store in stores:
                store.close()
            raise
        #: The layers' stores, first layer first.
        self.layers: tuple[SecretStore, ...] = tuple(stores)
        self.write_layer = None if opts.write is None else self.layers[opts.write]
        if self.write_layer is not None and self.write_layer.backend.capabilities.read_only:
            self.close()
            raise ValueError(f"layered:// option write names {self._label(opts.write or 0)}, "
                             "which is read-only")
        self._fall_through = frozenset(ErrorCode(code) for code in opts.fall_through)
        self.capabilities = self._capabilities()

    def __repr__(self) -> str:
        layers = ", ".join(self._label(i) for i in range(len(self.layers)))
        return f"LayeredBackend([{layers}], write={self._options.write!r})"

    @property
    def options(self) -> LayeredOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls, url: SplitResult, **keywords: Any) -> LayeredBackend:
        """Build from ``layered://?layer=URL&layer=URL[&write=N][&fall_through=CODES]``.

        Each ``layer=`` is one layer's URL, first layer first; percent-encode the ``&``, ``+``,
        ``#`` and ``%`` inside it.
        """
        if url.netloc or url.path not in ("", "/"):
            raise ValueError("layered:// URLs take no host or path: name the layers with "
                             "?layer=URL&layer=URL")
        pairs = parse_qsl(url.query, keep_blank_values=True)
        layers = tuple(value for key, value in pairs if key == "layer")
        query = query_of(url._replace(query=urlencode([p for p in pairs if p[0] != "layer"])))
        derived = {"layers": layers} if layers else {}
        return cls(options=parse(LayeredOptions, keywords=keywords, query=query, url=derived))

    def _capabilities(self) -> Capabilities:
        caps = [layer.backend.capabilities for layer in self.layers]
        target = self.write_layer.backend.capabilities if self.write_layer is not None else None

        def check(name: str) -> str | None:
            problems = [self._problem(layer, name) for layer in self.layers]
            return None if None in problems else f"no layer takes it: {problems[0]}"

        return Capabilities(
            binary=target.binary if target is not None else any(c.binary for c in caps),
            versions=any(c.versions for c in caps),
            labels=target.labels if target is not None else any(c.labels for c in caps),
            read_only=target is None,
            max_value_bytes=target.max_value_bytes if target is not None else None,
            name_rules=NameRules(max_length=max(c.name_rules.max_length for c in caps),
                                 description="a name one of the layers takes", check=check),
            version_probe=True,
            batch_get=_BATCH,
            # Each write is the write layer's store's put, which gives every attempt its own
            # request token: a plain put is not retried here (the layer's store may retry it).
            idempotent_put=False,
            # The write layer's store honours expected_version (natively or by its own check):
            # as atomic as that layer is.
            check_and_set=True,
            max_metadata_keys=target.max_metadata_keys if target is not None else None,
            max_metadata_key_bytes=target.max_metadata_key_bytes if target is not None else None,
            max_metadata_value_bytes=(target.max_metadata_value_bytes if target is not None
                                      else None),
        )

    # -- which layer -----------------------------------------------------------------------

    def _label(self, index: int) -> str:
        return f"layer {index} ({self.layers[index].backend.name})"

    @staticmethod
    def _problem(layer: SecretStore, name: str) -> str | None:
        try:
            layer.check_name(name)
        except InvalidNameError as exc:
            return exc.message
        return None

    def _raise(self, index: int, exc: HeliumError) -> NoReturn:
        """Raise ``exc`` again as an error of this store that says which layer raised it."""
        error = type(exc)(f"{self._label(index)}: {exc.message}", name=exc.name,
                          version=exc.version, transient=exc.transient,
                          retry_after=exc.retry_after)
        raise error from exc

    def _falls_through(self, exc: HeliumError) -> bool:
        return type(exc) is SecretNotFoundError or exc.code in self._fall_through

    def _first(self, name: str, read: Callable[[SecretStore], T]) -> T:
        """``read(layer)`` on the first layer that has ``name``."""
        for index, layer in enumerate(self.layers):
            if self._problem(layer, name) is not None:
                continue  # no such name can be in this layer
            try:
                return read(layer)
            except HeliumError as exc:
                if self._falls_through(exc):
                    continue
                self._raise(index, exc)
        raise SecretNotFoundError(f"no layer has it ({len(self.layers)} layers)")

    def _writer(self) -> tuple[int, SecretStore]:
        if self.write_layer is None:
            raise ReadOnlyError("the layered store has no write layer")
        return self.layers.index(self.write_layer), self.write_layer

    # -- reads -----------------------------------------------------------------------------

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        def read(layer: SecretStore) -> Secret:
            try:
                return layer.get(name, version, label=label)
            except UnsupportedError:
                # A layer without labels answers for a label only if it has the name.
                layer.current_version(name)
                raise

        return _raw(self._first(name, read))

    def current_version(self, name: str) -> str:
        return self._first(name, lambda layer: layer.current_version(name))

    def list_versions(self, name: str) -> list[VersionInfo]:
        return self._first(name, lambda layer: layer.versions(name))

    def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        out: dict[str, RawSecret | BaseException] = {}
        for index, layer in enumerate(self.layers):
            wanted = [n for n in names if n not in out and self._problem(layer, n) is None]
            if not wanted:
                continue
            try:
                found = layer.get_many(wanted, ignore_missing=True)
            except HeliumError as exc:
                if self._falls_through(exc):
                    continue
                self._raise(index, exc)
            out.update((n, _raw(secret)) for n, secret in found.items())
        for name in names:
            out.setdefault(name, SecretNotFoundError(f"no layer has it ({len(self.layers)} "
                                                     "layers)"))
        return out

    def list_names(self, prefix: str = "") -> Iterator[str]:
        names: set[str] = set()
        for index, layer in enumerate(self.layers):
            try:
                names.update(layer.list(prefix))
            except HeliumError as exc:
                if exc.code not in self._fall_through:
                    self._raise(index, exc)
        return iter(sorted(names))

    # -- writes: the write layer -----------------------------------------------------------

    def put(
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
        index, layer = self._writer()
        try:
            written = layer.put(name, value, expected_version=expected_version,
                                create_only=create_only, metadata=metadata, labels=labels)
        except HeliumError as exc:
            self._raise(index, exc)
        return VersionInfo(version=written.version, labels=written.labels,
                           created_at=written.created_at)

    def delete(self, name: str, *, purge: bool = False) -> None:
        index, layer = self._writer()
        try:
            layer.delete(name, purge=purge)
        except HeliumError as exc:
            self._raise(index, exc)

    def set_label(self, name: str, label: str, version: str | None) -> None:
        index, layer = self._writer()
        try:
            layer.set_label(name, label, version)
        except HeliumError as exc:
            self._raise(index, exc)

    def close(self) -> None:
        for layer in self.layers:
            layer.close()


def _raw(secret: Secret) -> RawSecret:
    value = secret.value
    return RawSecret(name=secret.name,
                     value=value.reveal_bytes() if value.is_binary else value.reveal(),
                     version=secret.version, labels=secret.labels,
                     created_at=secret.created_at, metadata=secret.metadata)


def layered(
    *layers: Layer,
    write: int | None = None,
    fall_through: Sequence[str] = (),
    **store_options: Any,
) -> SecretStore:
    """A :class:`~helium_secrets.SecretStore` over ``layers``, first layer first.

    :param layers: stores, or URLs to open (see :class:`LayeredOptions`).
    :param write: the index of the layer writes go to (``None``: read-only).
    :param fall_through: error codes that, besides not found, make a read try the next layer.
    :param store_options: the outer store's options (``cache``, ``retry``, ...).
    """
    backend = LayeredBackend(layers=tuple(layers), write=write,
                             fall_through=tuple(fall_through))
    return SecretStore(backend, **store_options)

