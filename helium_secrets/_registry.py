"""URL schemes -> backends, imported lazily; and :func:`open_store` and :func:`open_async_store`.

Nothing here imports a cloud SDK: a scheme maps to a ``"module:Class"`` string that is imported
only when a store for it is opened. A missing SDK becomes an ImportError naming the exact extra to
install. Third-party backends register the same way through the ``helium_secrets.backends``
entry-point group (name = scheme, value = ``"package.module:BackendClass"``), and name their
async class, where they have one, in the ``helium_secrets.async_backends`` group.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from helium_secrets._store import SecretStore
from helium_secrets.backends._base import Backend

if TYPE_CHECKING:
    from urllib.parse import SplitResult

    from helium_secrets._async._store import AsyncSecretStore
    from helium_secrets.backends._base import AsyncBackend

__all__ = [
    "ASYNC_ENTRY_POINT_GROUP",
    "ENTRY_POINT_GROUP",
    "URL_ENV_VAR",
    "default_url",
    "open_async_store",
    "open_store",
    "register_backend",
    "registered_schemes",
]

ENTRY_POINT_GROUP = "helium_secrets.backends"
ASYNC_ENTRY_POINT_GROUP = "helium_secrets.async_backends"
URL_ENV_VAR = "HELIUM_SECRETS_URL"

#: Options that configure the store itself; every other keyword goes to the backend.
_STORE_OPTIONS = frozenset(SecretStore.OPTIONS)


#: The PyPI distributions each built-in extra installs, named in a missing-extra error (the
#: missing module's name, ``azure`` or ``google_crc32c``, is not what ``pip`` installs).
_EXTRA_PACKAGES = {
    "vault": "hvac",
    "aws": "boto3",
    "azure": "azure-keyvault-secrets and azure-identity",
    "gcp": "google-cloud-secret-manager and google-crc32c",
    "vault-async": "hvac and httpx",
    "aws-async": "aiobotocore (with the boto3 it pins)",
    "azure-async": "azure-keyvault-secrets, azure-identity and aiohttp",
}
#: Other spellings of a built-in scheme: the same backend under the name its users know.
_ALIASES = {"openbao": "vault"}
#: What people type for a scheme, and the scheme they mean ("did you mean").
_SUGGESTIONS = {
    "aws": "awssecretsmanager", "secretsmanager": "awssecretsmanager",
    "awssm": "awssecretsmanager", "azure": "azurekeyvault", "keyvault": "azurekeyvault",
    "akv": "azurekeyvault", "gcp": "gcpsecretmanager", "gcpsm": "gcpsecretmanager",
    "secretmanager": "gcpsecretmanager", "google": "gcpsecretmanager",
    "memory": "mem", "inmemory": "mem", "fake": "mem", "local": "file", "localfile": "file",
    "environ": "env", "environment": "env", "hashicorp": "vault", "hvac": "vault",
    "bao": "vault", "http": "vault", "https": "vault",
}


@dataclass(frozen=True)
class _Registration:
    target: str | Callable[..., Backend]  # "module:attr" or the class/factory itself
    extra: str | None = None  # the pip extra that provides the SDK
    #: The backend's async class ("module:attr" or the class); ``None``: the sync one, in threads.
    async_target: str | Callable[..., AsyncBackend] | None = None
    #: The pip extra of the async class's SDK (``None``: ``extra``).
    async_extra: str | None = None

    def load(self, scheme: str, target: str | Callable[..., Any] | None = None) -> Callable[..., Any]:
        extra = self.extra
        if target is None:
            target = self.target
        elif self.async_extra is not None:
            extra = self.async_extra
        if not isinstance(target, str):
            return target
        module_name, _, attr = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if extra is None or (exc.name or "").startswith("helium_secrets"):
                raise
            packages = _EXTRA_PACKAGES.get(extra, f"the {exc.name!r} module")
            raise ImportError(
                f"the {scheme}:// backend needs {packages} (the {exc.name!r} module is not "
                f"installed): pip install 'helium-secrets[{extra}]'"
            ) from exc
        factory: Callable[..., Any] = getattr(module, attr)
        return factory


_BUILTIN: dict[str, _Registration] = {
    "mem": _Registration("helium_secrets.backends.memory:MemoryBackend",
                         async_target="helium_secrets.backends.aio:AsyncMemoryBackend"),
    "file": _Registration("helium_secrets.backends.localfile:LocalFileBackend",
                          async_target="helium_secrets.backends.aio:AsyncLocalFileBackend"),
    "env": _Registration("helium_secrets.backends.environ:EnvironBackend",
                         async_target="helium_secrets.backends.aio:AsyncEnvironBackend"),
    "vault": _Registration("helium_secrets.backends.hashivault:VaultBackend", "vault",
                           async_target="helium_secrets.backends.hashivault.aio:AsyncVaultBackend",
                           async_extra="vault-async"),
    "awssecretsmanager": _Registration(
        "helium_secrets.backends.awssecretsmanager:AWSSecretsManagerBackend", "aws",
        async_target="helium_secrets.backends.awssecretsmanager.aio:AsyncAWSSecretsManagerBackend",
        async_extra="aws-async",
    ),
    "azurekeyvault": _Registration(
        "helium_secrets.backends.azurekeyvault:AzureKeyVaultBackend", "azure",
        async_target="helium_secrets.backends.azurekeyvault.aio:AsyncAzureKeyVaultBackend",
        async_extra="azure-async",
    ),
    "gcpsecretmanager": _Registration(
        "helium_secrets.backends.gcpsecretmanager:GCPSecretManagerBackend", "gcp",
        async_target="helium_secrets.backends.gcpsecretmanager.aio:AsyncGCPSecretManagerBackend",
    ),
    "awsssm": _Registration("helium_secrets.backends.awsssm:AWSSSMBackend", "aws",
                            async_target="helium_secrets.backends.awsssm.aio:AsyncAWSSSMBackend",
                            async_extra="aws-async"),
    "dotenv": _Registration("helium_secrets.backends.dotenv:DotenvBackend", "dotenv"),
    "layered": _Registration("helium_secrets.layered:LayeredBackend"),
}

_registry: dict[str, _Registration] = dict(_BUILTIN)
_entry_points_loaded = False
_lock = threading.Lock()


def register_backend(
    scheme: str,
    target: str | Callable[..., Backend],
    *,
    extra: str | None = None,
    replace: bool = False,
    async_target: str | Callable[..., AsyncBackend] | None = None,
) -> None:
    """Register a backend for ``scheme://`` URLs.

    :param scheme: the URL scheme, lower case (``"myvault"``).
    :param target: the backend class (with a ``from_url`` classmethod), or ``"module:Class"``
        to import it lazily.
    :param extra: the ``helium-secrets`` extra to suggest when the import fails.
    :param async_target: the backend's :class:`~helium_secrets.backends.AsyncBackend` class
        (or ``"module:Class"``), which :func:`open_async_store` uses; without one, it runs
        ``target``'s backend in worker threads.
    :param replace: allow replacing an existing registration; without it a clash is an error,
        never a silent replacement.
    :raises ValueError: the scheme is invalid or already registered.
    """
    if not scheme or not scheme.isascii() or scheme != scheme.lower() or ":" in scheme:
        raise ValueError(f"invalid URL scheme {scheme!r}: use lower-case ASCII without ':'")
    with _lock:
        if scheme in _registry and not replace:
            raise ValueError(
                f"the scheme {scheme!r} is already registered; pass replace=True to replace it"
            )
        _registry[scheme] = _Registration(target, extra, async_target)


def _load_entry_points() -> None:
    global _entry_points_loaded
    from importlib.metadata import entry_points  # ~20 ms: only when a third-party scheme is needed

    with _lock:
        if _entry_points_loaded:
            return
        _entry_points_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in _registry:
                warnings.warn(
                    f"entry point {ep.value!r} tries to register the {ep.name!r} scheme, which is "
                    "already registered; it is ignored",
                    RuntimeWarning,
                    stacklevel=3,
                )
                continue
            _registry[ep.name] = _Registration(ep.value)
        for ep in entry_points(group=ASYNC_ENTRY_POINT_GROUP):
            known = _registry.get(ep.name)
            if known is not None and known.async_target is None:
                _registry[ep.name] = _Registration(known.target, known.extra, ep.value)


def registered_schemes() -> list[str]:
    """The URL schemes that :func:`open_store` accepts, built-in and from entry points."""
    _load_entry_points()
    return sorted(_registry)


def _unknown_scheme(scheme: str) -> str:
    """The error for an unknown scheme: what it may have meant, and what is known."""
    import difflib

    known = registered_schemes()
    guess = _SUGGESTIONS.get(scheme.replace("-", "").replace("_", ""))
    if guess is None:
        close = difflib.get_close_matches(scheme, [*known, *_ALIASES], n=1, cutoff=0.6)
        guess = close[0] if close else None
    hint = f": did you mean {guess}://?" if guess is not None else ""
    return (f"unknown store URL scheme {scheme!r}{hint} "
            f"(known: {', '.join(s + '://' for s in [*known, *_ALIASES])})")


def default_url() -> str:
    """The URL of the default store: ``$HELIUM_SECRETS_URL``, else the local encrypted file store."""
    url = os.environ.get(URL_ENV_VAR, "").strip()
    if url:
        return url
    from helium_secrets.backends.localfile import default_url as file_default

    return str(file_default())


def open_store(url: str | None = None, **options: Any) -> SecretStore:
    """Open a :class:`SecretStore` from a URL such as ``"vault://vault.internal:8200/secret"``.

    :param url: the store's URL; ``None`` opens the default store (see :func:`default_url`).
    :param options: store options (``cache``, ``retry``, ``guard``, ``poll``, ``lease``,
        ``audit``, ``clock``, ``executor``: :attr:`SecretStore.OPTIONS`) and backend options
        (credentials, clients, timeouts, ...: the backend's options class, such as
        ``VaultOptions``), by keyword. A keyword beats the URL, which beats the environment.
    :raises ValueError: the URL's scheme is unknown, the URL is malformed, or an option's value
        is (see docs/concepts.md, "Options").
    :raises TypeError: an option the backend does not know, or a keyword of the wrong type.
    :raises ImportError: the backend's SDK is not installed (the message names the extra).
    """
    registration, scheme, parts, store_options = _resolve(url, options)
    return SecretStore(_build(registration.load(scheme), parts, options), **store_options)


def open_async_store(url: str | None = None, **options: Any) -> AsyncSecretStore:
    """Open an :class:`~helium_secrets.AsyncSecretStore`: :func:`open_store`'s URLs, options,
    default and errors, for the async twin (``async with open_async_store(url) as store``).

    A backend with an async class of its own uses it; any other runs in worker threads
    (:class:`~helium_secrets.backends.aio.ThreadedBackend`), so the event loop never blocks.
    """
    from helium_secrets._async._store import AsyncSecretStore
    from helium_secrets.backends.aio import offloaded

    registration, scheme, parts, store_options = _resolve(url, options)
    if registration.async_target is not None:
        backend: AsyncBackend = _build(registration.load(scheme, registration.async_target),
                                       parts, options)
    else:
        backend = offloaded(_build(registration.load(scheme), parts, options))
    return AsyncSecretStore(backend, **store_options)


def _resolve(url: str | None,
             options: dict[str, Any]) -> tuple[_Registration, str, SplitResult, dict[str, Any]]:
    """The registration, scheme and parts of ``url``; the store's options (popped)."""
    if url is None:
        url = default_url()
    from urllib.parse import urlsplit  # here, not at import (it loads ipaddress)

    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not scheme:
        raise ValueError(f"not a store URL (no scheme): {url!r}")
    registration = _registry.get(scheme)
    if registration is None:
        _load_entry_points()
        registration = _registry.get(scheme)
    if registration is None and scheme in _ALIASES:
        registration = _registry.get(_ALIASES[scheme])
    if registration is None:
        raise ValueError(_unknown_scheme(scheme))
    store_options = {k: options.pop(k) for k in list(options) if k in _STORE_OPTIONS}
    return registration, scheme, parts, store_options


def _build(factory: Callable[..., Any], parts: SplitResult, options: dict[str, Any]) -> Any:
    from_url = getattr(factory, "from_url", None)
    return from_url(parts, **options) if from_url is not None else factory(parts, **options)
