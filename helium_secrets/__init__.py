"""helium-secrets: fetch, cache, write and rotate secrets through one interface.

>>> from helium_secrets import open_store
>>> with open_store("mem://") as store:
...     _ = store.put("app/db", "hunter2")
...     store.get("app/db").value.reveal()
'hunter2'

Importing this package imports no cloud SDK; each backend imports its own when opened. The
async twin (:class:`AsyncSecretStore`, :func:`open_async_store`) is loaded when first used.
"""

from typing import TYPE_CHECKING, Any

from helium_secrets import errors
from helium_secrets._leases import LeasedCredentials
from helium_secrets._registry import (
    default_url,
    open_async_store,
    open_store,
    register_backend,
    registered_schemes,
)
from helium_secrets._store import SecretStore, StoreStats
from helium_secrets._values import Lease, Secret, SecretValue, VersionInfo
from helium_secrets.layers.audit import AuditEvent, logging_hook
from helium_secrets.layers.cache import CachePolicy
from helium_secrets.layers.guard import GuardPolicy
from helium_secrets.layers.leases import LeasePolicy
from helium_secrets.layers.retry import RetryPolicy
from helium_secrets.layers.rotation import PollPolicy

if TYPE_CHECKING:  # loaded on first use (see __getattr__): it imports asyncio
    from helium_secrets._async._leases import AsyncLeasedCredentials
    from helium_secrets._async._store import AsyncSecretStore

__version__ = "0.1.0"

__all__ = [
    "AsyncLeasedCredentials",
    "AsyncSecretStore",
    "AuditEvent",
    "CachePolicy",
    "GuardPolicy",
    "Lease",
    "LeasePolicy",
    "LeasedCredentials",
    "PollPolicy",
    "RetryPolicy",
    "Secret",
    "SecretStore",
    "SecretValue",
    "StoreStats",
    "VersionInfo",
    "default_url",
    "errors",
    "logging_hook",
    "open_async_store",
    "open_store",
    "register_backend",
    "registered_schemes",
]


def __getattr__(name: str) -> Any:
    # The async twin imports asyncio: only for the applications that use it.
    if name == "AsyncSecretStore":
        from helium_secrets._async._store import AsyncSecretStore

        return AsyncSecretStore
    if name == "AsyncLeasedCredentials":
        from helium_secrets._async._leases import AsyncLeasedCredentials

        return AsyncLeasedCredentials
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
