"""The Vault / OpenBao backend on hvac: the KV operations of :mod:`.core`, sent through an hvac
client and its :class:`~.tokens.TokenSession`."""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

import hvac

from helium_secrets._values import VersionInfo
from helium_secrets.access import AccessReview
from helium_secrets.backends._base import BackendBase, LeaseGrant, RawSecret, extra_operation
from helium_secrets.backends._steps import Steps, drive
from helium_secrets.backends._transport import refuse_cross_origin_redirects
from helium_secrets.backends.hashivault import leases, policies
from helium_secrets.backends.hashivault.auth import send
from helium_secrets.backends.hashivault.common import VaultBackendBase
from helium_secrets.backends.hashivault.core import (
    MAX_METADATA_KEY_BYTES,
    MAX_METADATA_KEYS,
    MAX_METADATA_VALUE_BYTES,
    PLAIN_PUT_ROUNDS,
    STAGED_SUFFIX,
    Call,
)
from helium_secrets.backends.hashivault.options import VaultOptions, build_client, check_address
from helium_secrets.backends.hashivault.tokens import TokenSession
from helium_secrets.lifecycle import Lifecycle

__all__ = ["MAX_METADATA_KEYS", "MAX_METADATA_KEY_BYTES", "MAX_METADATA_VALUE_BYTES",
           "PLAIN_PUT_ROUNDS", "STAGED_SUFFIX", "VaultBackend"]

T = TypeVar("T")


class _NameLocks:
    """One lock per name, kept only while a thread holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._users: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
            self._users[name] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                self._users[name] -= 1
                if not self._users[name]:
                    del self._users[name], self._locks[name]


class VaultBackend(VaultBackendBase, BackendBase):
    """Secrets in a Vault / OpenBao KV mount.

    :param address: the server (see :class:`VaultOptions`).
    :param options: a ready :class:`VaultOptions`, or pass its fields as keywords.
    """

    def _open(self, opts: VaultOptions) -> tuple[str, str | None]:
        client = opts.client
        #: A client the application gave stays open when the backend closes (its own, to close).
        self._owns_client = client is None
        if client is None:
            client = build_client(opts)
        else:
            check_address(client.url, opts)
        # requests would follow a redirect anywhere, X-Vault-Token and body included.
        refuse_cross_origin_redirects(client.adapter.session)
        self._session = TokenSession(client, self.auth)
        client.adapter.session.hooks["response"].append(self._session.on_response)
        self._client: hvac.Client = client
        # One writer per name in this process: plain puts from many threads queue rather
        # than race each other's check-and-set (other processes are handled in core.py).
        self._name_locks = _NameLocks()
        return client.url, client.adapter.namespace

    def _perform(self, call: Call) -> Any:
        if call.direct:
            return send(self._client, call)
        return self._session.run(lambda: send(self._client, call))

    def _run(self, steps: Steps[Call, T]) -> T:
        return drive(steps, self._perform)

    # -- the protocol ----------------------------------------------------------------------

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        return self._run(self._kv.get(name, version, label))

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
        with self._name_locks.hold(name):
            return self._run(self._kv.put(
                name, value, expected_version=expected_version, create_only=create_only,
                request_token=request_token, metadata=metadata, labels=labels))

    def delete(self, name: str, *, purge: bool = False) -> None:
        self._run(self._kv.delete(name))

    def list_names(self, prefix: str = "") -> Iterator[str]:
        return iter(self._run(self._kv.list_names(prefix)))

    def list_versions(self, name: str) -> list[VersionInfo]:
        return self._run(self._kv.list_versions(name))

    def current_version(self, name: str) -> str | VersionInfo:
        return self._run(self._kv.current_version(name))

    def staging_companion(self, name: str) -> str:
        return self._kv.staging_companion(name)

    @property
    def logins(self) -> int:
        """Successful logins (a plain token counts once per time it is (re)loaded)."""
        return self._session.logins

    @property
    def renewals(self) -> int:
        """Successful token renewals."""
        return self._session.renewals

    def issue_lease(self, path: str) -> LeaseGrant:
        return self._run(leases.issue(path))

    def renew_lease(self, lease_id: str, increment: float | None) -> LeaseGrant:
        return self._run(leases.renew(lease_id, increment))

    def revoke_lease(self, lease_id: str) -> None:
        self._run(leases.revoke(lease_id))

    def lease_upkeep_due(self) -> float:
        # The leases are the token's children: they die with it (see hashivault/leases.py).
        return self._session.upkeep_due()

    def lease_upkeep(self) -> None:
        self._session.keep_alive()

    def close(self) -> None:
        """Close the client this backend made; a given ``client`` stays open (without this
        backend's token hook on its session)."""
        if self._owns_client:
            self._client.adapter.close()
            return
        hooks = self._client.adapter.session.hooks["response"]
        if self._session.on_response in hooks:
            hooks.remove(self._session.on_response)

    # -- Vault specifics (not in the protocol) ---------------------------------------------

    @extra_operation(writes=True)
    def delete_latest_version(self, name: str) -> None:
        """Soft-delete only the current version (KV v2); :meth:`undelete_versions` undoes it.

        ``SecretStore.delete`` removes the whole secret and its history instead.
        """
        self._run(self._kv.delete_latest_version(name))

    @extra_operation(writes=True)
    def undelete_versions(self, name: str, versions: Sequence[str]) -> None:
        """Restore soft-deleted versions (KV v2)."""
        self._run(self._kv.undelete_versions(name, versions))

    @extra_operation(writes=True)
    def destroy_versions(self, name: str, versions: Sequence[str]) -> None:
        """Destroy versions for good: their data is removed, the metadata stays (KV v2)."""
        self._run(self._kv.destroy_versions(name, versions))

    @extra_operation(writes=False)
    def describe(self, name: str) -> Lifecycle:
        """The secret's lifecycle from its KV v2 metadata (no value read): ``created_time``,
        the current version's ``created_time`` (when the value last changed),
        ``current_version``, the versions kept, and the expiry ``delete_version_after`` sets
        on the current version. Vault tracks no rotations and no reads."""
        return self._run(self._kv.describe(name))

    @extra_operation(writes=False)
    def access(self, name: str) -> AccessReview:
        """Who can read the secret: the ACL policies (``sys/policy``) whose rules give
        ``read`` on its data path (``MOUNT/data/NAME`` on KV v2), ``deny`` ones too, and
        ``root``. Reading policies needs a token allowed to ``read`` and ``list``
        ``sys/policy``."""
        path = f"{self.mount}/data/{name}" if self.kv_version == 2 else f"{self.mount}/{name}"
        return self._run(policies.access(name, path))
