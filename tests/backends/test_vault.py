"""Vault / OpenBao: the conformance suite and the Vault specifics, against a real OpenBao server.

hvac talks HTTP(S) to ``bao server`` processes started by the harness in ``openbao.py``;
nothing in the SDK is mocked. One dev server serves most of the module (every test uses its own
names); the restart and seal tests get a persistent, file-backed server of their own.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import hvac
import hvac.exceptions
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from helium_secrets import GuardPolicy, RetryPolicy, Secret, SecretStore, VersionInfo, open_store
from helium_secrets.backends import hashivault
from helium_secrets.backends._base import AsyncBackend
from helium_secrets.backends.hashivault import (
    AppRoleAuth,
    JWTAuth,
    TokenAuth,
    UserpassAuth,
    VaultBackend,
)
from helium_secrets.errors import (
    ConflictError,
    ErrorCode,
    InvalidArgumentError,
    PermissionDeniedError,
    SecretNotFoundError,
    ThrottledError,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedError,
    VersionNotFoundError,
    error_for_code,
)
from helium_secrets.testing import BackendHarness
from helium_secrets.testing.conformance import CANARY, BackendConformance, plaintext_in_frames
from tests.backends.faultproxy import FaultProxy
from tests.backends.openbao import DevServer, PersistentServer, TLSFiles

FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0, deadline=60.0)
NO_GUARD = GuardPolicy(threshold=0)
POLL_BOUND = 120.0  # seconds: the most any poll loop below waits for its condition

READ_WRITE_POLICY = 'path "*" { capabilities = ["create", "read", "update", "delete", "list"] }'
READ_ONLY_POLICY = """
path "secret/data/ro/*" { capabilities = ["read"] }
path "secret/metadata/ro/*" { capabilities = ["read", "list"] }
"""


# -- servers and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin(bao: DevServer) -> Iterator[hvac.Client]:
    client = hvac.Client(bao.address, token=bao.root_token)
    yield client
    client.adapter.close()


@pytest.fixture
def prefix() -> str:
    return f"vault/t{uuid.uuid4().hex[:12]}"


def make_store(backend: VaultBackend, **options: Any) -> SecretStore:
    options.setdefault("retry", FAST_RETRY)
    options.setdefault("guard", NO_GUARD)
    return SecretStore(backend, **options)


@pytest.fixture
def store(bao: DevServer) -> Iterator[SecretStore]:
    with make_store(VaultBackend(bao.address, token=bao.root_token)) as store:
        yield store


def wait_until(condition: Any, what: str, bound: float = POLL_BOUND) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.05)


def unique(stem: str) -> str:
    return f"{stem}{uuid.uuid4().hex[:8]}"


def wait_for_kv(client: hvac.Client, mount: str) -> None:
    """Wait until a new KV v2 mount serves (it answers 400 "Upgrading ..." for a moment)."""
    def ready() -> bool:
        try:
            client.secrets.kv.v2.list_secrets("", mount_point=mount)
        except hvac.exceptions.InvalidPath:
            return True  # empty, and serving
        except hvac.exceptions.InvalidRequest:
            return False
        return True

    wait_until(ready, f"the KV mount {mount} serves")


def approle(admin: hvac.Client, policies: list[str], **role: Any) -> tuple[str, str]:
    """A fresh AppRole with ``policies``; returns its role id and a secret id."""
    admin.sys.create_or_update_policy("helium-rw", READ_WRITE_POLICY)
    if "approle/" not in admin.sys.list_auth_methods()["data"]:
        admin.sys.enable_auth_method("approle")
    name = unique("role")
    admin.auth.approle.create_or_update_approle(name, token_policies=policies, **role)
    role_id = admin.auth.approle.read_role_id(name)["data"]["role_id"]
    secret_id = admin.auth.approle.generate_secret_id(name)["data"]["secret_id"]
    return role_id, secret_id


# -- the conformance suite -------------------------------------------------------------------


class VaultHarness(BackendHarness):
    """The shared dev server; answers are lost at the driver boundary (no proxy in front of
    OpenBao), so ``unavailable`` and ``throttled`` are not injected."""

    def __init__(self, server: DevServer, **backend_options: Any) -> None:
        super().__init__()
        self.server = server
        self.backend_options = backend_options

    def make_backend(self) -> VaultBackend:
        return VaultBackend(self.server.address, token=self.server.root_token,
                            **self.backend_options)

    def make_store(self, **store_options: Any) -> SecretStore:
        return super().make_store(**{"retry": FAST_RETRY, "guard": NO_GUARD, **store_options})


class TestVaultConformance(BackendConformance):
    """KV version 2 at ``secret/``, the dev server's default mount."""

    @pytest.fixture
    def harness(self, bao: DevServer) -> Iterator[VaultHarness]:
        with VaultHarness(bao) as harness:
            yield harness


class TestVaultKV1Conformance(BackendConformance):
    """A KV version 1 mount: no versions and no check-and-set, the rest the same."""

    @pytest.fixture
    def harness(self, bao: DevServer, admin: hvac.Client) -> Iterator[VaultHarness]:
        if "kv1/" not in admin.sys.list_mounted_secrets_engines()["data"]:
            admin.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
        with VaultHarness(bao, mount="kv1", kv_version=1) as harness:
            yield harness

    def test_retried_write_does_not_duplicate(self, store: SecretStore, prefix: str) -> None:
        # The suite counts versions; KV v1 keeps none. A v1 put is a plain overwrite, so a
        # retried one leaves the same state: check that instead.
        name = f"{prefix}/idempotent"
        first = store.backend.put(name, "one", request_token="t")
        again = store.backend.put(name, "one", request_token="t")
        assert again.version == first.version
        assert [v.version for v in store.versions(name)] == [first.version]

    def test_rotate_is_check_and_set(self, store: SecretStore, prefix: str) -> None:
        # KV v1 has no conditional write: the store compares the current version (a content
        # digest) before writing, so a rotation works and a stale one is refused.
        name = f"{prefix}/rotate"
        first = store.put(name, "one")
        rotated = store.rotate(name, lambda: "two")
        assert rotated.version != first.version
        with pytest.raises(ConflictError, match="current version changed"):
            store.put(name, "three", expected_version=first.version)
        store.clear_cache()
        assert store.get(name).value.reveal() == "two"


# -- the value mapping -------------------------------------------------------------------------


def test_put_writes_a_value_map_and_bytes_as_base64(store: SecretStore, admin: hvac.Client,
                                                   prefix: str) -> None:
    store.put(f"{prefix}/text", "hunter2")
    store.put(f"{prefix}/bin", b"\x00\xff")
    text = admin.secrets.kv.v2.read_secret_version(f"{prefix}/text", raise_on_deleted_version=True)
    binary = admin.secrets.kv.v2.read_secret_version(f"{prefix}/bin", raise_on_deleted_version=True)
    assert text["data"]["data"] == {"value": "hunter2"}
    assert binary["data"]["data"] == {"value": base64.b64encode(b"\x00\xff").decode(),
                                      "encoding": "base64"}


def test_maps_written_elsewhere_read_as_json(store: SecretStore, admin: hvac.Client,
                                             prefix: str) -> None:
    document = {"username": "app", "password": "pw", "port": 5432}
    admin.secrets.kv.v2.create_or_update_secret(f"{prefix}/map", secret=document)
    admin.secrets.kv.v2.create_or_update_secret(f"{prefix}/single", secret={"value": "plain"})
    assert store.get_json(f"{prefix}/map") == document
    assert store.get_json(f"{prefix}/map", "password") == "pw"
    assert store.get(f"{prefix}/single").value.reveal() == "plain"


def test_custom_metadata_merges(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/meta"
    store.put(name, "v1", metadata={"owner": "team-a"})
    store.put(name, "v2", metadata={"tier": "gold"})
    store.clear_cache()
    assert dict(store.get(name).metadata) == {"owner": "team-a", "tier": "gold"}


# -- versions, delete, list, probe -------------------------------------------------------------


def test_delete_latest_version_then_whole_secret(store: SecretStore, admin: hvac.Client,
                                                 prefix: str) -> None:
    backend = store.backend
    assert isinstance(backend, VaultBackend)
    name = f"{prefix}/del"
    first = store.put(name, "one")
    second = store.put(name, "two")
    store.extras.delete_latest_version(name)
    store.clear_cache()
    with pytest.raises(SecretNotFoundError, match="current version is deleted"):
        store.get(name)
    states = {v.version: v.state for v in store.versions(name)}
    assert states == {first.version: "enabled", second.version: "deleted"}
    assert store.get(name, first.version).value.reveal() == "one"
    with pytest.raises(VersionNotFoundError):
        store.get(name, second.version)
    store.extras.undelete_versions(name, [second.version])
    store.clear_cache()
    assert store.get(name).value.reveal() == "two"
    store.extras.destroy_versions(name, [first.version])
    assert {v.version: v.state for v in store.versions(name)}[first.version] == "destroyed"
    store.delete(name)  # the whole secret and its history
    with pytest.raises(hvac.exceptions.InvalidPath):
        admin.secrets.kv.v2.read_secret_metadata(name)
    with pytest.raises(SecretNotFoundError):
        store.extras.delete_latest_version(name)


def test_list_is_recursive_and_prefix_is_a_string_prefix(store: SecretStore,
                                                         prefix: str) -> None:
    for name in ("app/db", "app/dir/x", "app/dir/deep/y", "app/other", "apple"):
        store.put(f"{prefix}/{name}", "v")
    assert list(store.list(f"{prefix}/app/d")) == [
        f"{prefix}/app/db", f"{prefix}/app/dir/deep/y", f"{prefix}/app/dir/x"]
    assert list(store.list(f"{prefix}/app")) == [
        f"{prefix}/app/db", f"{prefix}/app/dir/deep/y", f"{prefix}/app/dir/x",
        f"{prefix}/app/other", f"{prefix}/apple"]
    assert list(store.list(f"{prefix}/nothing/")) == []


def test_current_version_probe_reads_only_metadata(store: SecretStore, prefix: str) -> None:
    backend = store.backend
    assert isinstance(backend, VaultBackend)
    name = f"{prefix}/probe"
    store.put(name, "one")
    written = store.put(name, "two")
    paths: list[str] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        paths.append(urlsplit(str(response.request.url)).path)

    backend._client.adapter.session.hooks["response"].append(record)
    assert store.current_version(name) == written.version
    assert paths == [f"/v1/secret/metadata/{name}"]


def test_rotation_by_another_writer_is_noticed(store: SecretStore, admin: hvac.Client,
                                               prefix: str) -> None:
    name = f"{prefix}/rotating"
    store.put(name, "old")
    seen: list[tuple[str | None, str]] = []
    store.on_rotation(name, lambda old, new: seen.append(
        (old.value.reveal() if old else None, new.value.reveal())))
    admin.secrets.kv.v2.create_or_update_secret(name, secret={"value": "new"})
    store.rotation.poll_once()
    assert seen == [("old", "new")]
    assert store.get(name).value.reveal() == "new"


def test_concurrent_plain_puts_each_make_a_version(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/race"
    store.put(name, "start")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        barrier.wait()
        try:
            store.put(name, f"w{i}")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=POLL_BOUND)
    assert errors == []
    assert len(store.versions(name)) == 5


def test_check_and_set_conflict_names_no_value(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/cas"
    store.put(name, "one")
    with pytest.raises(ConflictError) as info:
        store.put(name, CANARY, expected_version="2")
    assert CANARY not in str(info.value)
    with pytest.raises(ConflictError, match="check-and-set"):
        store.put(name, CANARY, expected_version="not-a-number")


def test_staged_value_waits_beside_the_secret(store: SecretStore, admin: hvac.Client,
                                              bao: DevServer, prefix: str) -> None:
    backend = store.backend
    assert isinstance(backend, VaultBackend)
    caps = backend.capabilities
    assert (caps.staging, caps.staging_companion, caps.sequential_versions) == (False, True, True)
    name = f"{prefix}/staged"
    store.put(name, "one")
    seen: list[Any] = []

    def test(pending: Secret) -> bool:
        seen.append(pending.version)  # the version it will become
        seen.append(store.refresh(name).value.reveal())  # readers do not see it
        seen.append(list(store.list(f"{prefix}/")))  # nor does listing
        companion = admin.secrets.kv.v2.read_secret_version(f"{name}~staged",
                                                            raise_on_deleted_version=True)
        seen.append(companion["data"]["data"])
        seen.append(companion["data"]["metadata"]["custom_metadata"]["helium-staged-for"])
        with make_store(VaultBackend(bao.address, token=bao.root_token)) as other, \
                pytest.raises(ConflictError, match="another rotation is staged"):
            other.rotate_staged(name, lambda: "rival-value", lambda p: True)
        return True

    promoted = store.rotate_staged(name, lambda: "two", test)
    assert seen == ["2", "one", [name], {"value": "two"}, "1"]
    assert (promoted.version, promoted.value.reveal()) == ("2", "two")
    with pytest.raises(hvac.exceptions.InvalidPath):  # removed once promoted
        admin.secrets.kv.v2.read_secret_metadata(f"{name}~staged")

    def interrupted(pending: Secret) -> bool:
        store.put(name, "someone else")  # a writer gets in first: the promotion must not win
        return True

    with pytest.raises(ConflictError):
        store.rotate_staged(name, lambda: "lost", interrupted)
    assert store.refresh(name).value.reveal() == "someone else"
    # The leftover staged value belongs to an older version: a new rotation replaces it.
    admin.secrets.kv.v2.read_secret_version(f"{name}~staged", raise_on_deleted_version=True)
    promoted = store.rotate_staged(name, lambda: "four", lambda candidate: True)
    assert (promoted.version, promoted.value.reveal()) == ("4", "four")

    def abandon(pending: Secret) -> bool:
        store.delete(name)  # takes the staged value with it
        return True

    with pytest.raises(ConflictError):
        store.rotate_staged(name, lambda: "five", abandon)
    with pytest.raises(hvac.exceptions.InvalidPath):
        admin.secrets.kv.v2.read_secret_metadata(f"{name}~staged")


def test_a_promotion_whose_answer_was_lost_succeeds(proxied: SecretStore, proxy: FaultProxy,
                                                    admin: hvac.Client, prefix: str) -> None:
    name = f"{prefix}/lost-promotion"
    proxied.put(name, "one")

    def test(pending: Secret) -> bool:
        # The value write of the promotion lands; its answer never comes back.
        proxy.fail_next(kind="lost", method="POST", path=f"/v1/secret/data/{name}")
        return True

    promoted = proxied.rotate_staged(name, lambda: "two", test)
    assert (promoted.version, promoted.value.reveal()) == ("2", "two")
    assert proxy.pending() == 0, "the fault was used"
    assert version_count(admin, name) == 2, "written once"
    with pytest.raises(hvac.exceptions.InvalidPath):
        admin.secrets.kv.v2.read_secret_metadata(f"{name}~staged")


def test_labels_are_unsupported(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/labels"
    store.put(name, "v")
    with pytest.raises(UnsupportedError):
        store.get(name, label="AWSCURRENT")


# -- KV version 1 specifics --------------------------------------------------------------------


def test_kv1_check_and_set_is_the_stores_read_compare_write(bao: DevServer, admin: hvac.Client, prefix: str) -> None:
    if "kv1/" not in admin.sys.list_mounted_secrets_engines()["data"]:
        admin.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    backend = VaultBackend(bao.address, token=bao.root_token, mount="kv1", kv_version=1)
    assert not backend.capabilities.versions
    assert not backend.capabilities.check_and_set
    with make_store(backend) as store:
        first = store.put(f"{prefix}/v1", "one")
        second = store.put(f"{prefix}/v1", "two")
        assert first.version != second.version  # a content digest: rotations stay visible
        assert admin.secrets.kv.v1.read_secret(f"{prefix}/v1", mount_point="kv1")["data"] == {
            "value": "two"}
        # Check-and-set is the store's read-compare-write there (not atomic: see the docs).
        with pytest.raises(ConflictError):
            store.put(f"{prefix}/v1", "three", expected_version=first.version)
        assert store.put(f"{prefix}/v1", "three", expected_version=second.version).version


# -- authentication and token lifecycle ---------------------------------------------------------


def test_approle_least_privilege(bao: DevServer, admin: hvac.Client, tmp_path: Path) -> None:
    admin.sys.create_or_update_policy("helium-ro", READ_ONLY_POLICY)
    role_id, secret_id = approle(admin, ["helium-ro"])
    secret_file = tmp_path / "secret-id"
    secret_file.write_text(secret_id + "\n")
    name = f"ro/{uuid.uuid4().hex[:8]}/db"
    admin.secrets.kv.v2.create_or_update_secret(name, secret={"value": "readable"})
    backend = VaultBackend(bao.address, auth=AppRoleAuth(role_id=role_id,
                                                         secret_id_file=str(secret_file)))
    with make_store(backend, cache=None) as store:
        assert store.get(name).value.reveal() == "readable"
        assert list(store.list(name.rsplit("/", 1)[0] + "/")) == [name]
        with pytest.raises(PermissionDeniedError) as denied:
            store.put(name, CANARY)
        assert CANARY not in str(denied.value)
        with pytest.raises(PermissionDeniedError):
            store.delete(name)
        with pytest.raises(PermissionDeniedError):
            store.get("elsewhere/db")
    assert backend.logins == 1  # a policy "no" is not mistaken for an expired token
    assert secret_id not in repr(backend.auth)


def test_short_ttl_token_is_renewed_then_recreated(bao: DevServer, admin: hvac.Client,
                                                   prefix: str) -> None:
    admin.secrets.kv.v2.create_or_update_secret(f"{prefix}/db", secret={"value": "pw"})
    role_id, secret_id = approle(admin, ["helium-rw"], token_ttl="3s",
                                 token_max_ttl="8s")
    backend = VaultBackend(bao.address, auth=AppRoleAuth(role_id=role_id, secret_id=secret_id))
    with make_store(backend, cache=None) as store:
        # Keep reading until the token has been renewed and then replaced across its max TTL
        # twice; every read in between must work.
        def read_ok() -> bool:
            assert store.get(f"{prefix}/db").value.reveal() == "pw"
            return backend.renewals >= 1 and backend.logins >= 3

        wait_until(read_ok, "the token was renewed and re-created")


def test_non_renewable_token_is_replaced_by_a_new_login(bao: DevServer, admin: hvac.Client,
                                                         prefix: str) -> None:
    admin.secrets.kv.v2.create_or_update_secret(f"{prefix}/db", secret={"value": "pw"})
    role_id, secret_id = approle(admin, ["helium-rw"], token_type="batch", token_ttl="3s")
    backend = VaultBackend(bao.address, auth=AppRoleAuth(role_id=role_id, secret_id=secret_id))
    with make_store(backend, cache=None) as store:
        def read_ok() -> bool:
            assert store.get(f"{prefix}/db").value.reveal() == "pw"
            return backend.logins >= 3

        wait_until(read_ok, "the batch token was replaced twice")
    assert backend.renewals == 0  # batch tokens cannot be renewed: no attempt was made


def test_short_ttl_plain_token_is_renewed(bao: DevServer, admin: hvac.Client,
                                          prefix: str) -> None:
    admin.sys.create_or_update_policy("helium-rw", READ_WRITE_POLICY)
    admin.secrets.kv.v2.create_or_update_secret(f"{prefix}/db", secret={"value": "pw"})
    token = admin.auth.token.create(policies=["helium-rw"], ttl="3s", renewable=True,
                                    explicit_max_ttl="1h")["auth"]["client_token"]
    backend = VaultBackend(bao.address, token=token)
    with make_store(backend, cache=None) as store:
        def read_ok() -> bool:
            assert store.get(f"{prefix}/db").value.reveal() == "pw"
            return backend.renewals >= 3  # alive well past the 3 s it was created with

        wait_until(read_ok, "the token was renewed three times")
    assert backend.logins == 1


def test_revoked_token_is_replaced_once_for_many_threads(bao: DevServer, admin: hvac.Client,
                                                         prefix: str) -> None:
    admin.secrets.kv.v2.create_or_update_secret(f"{prefix}/db", secret={"value": "pw"})
    role_id, secret_id = approle(admin, ["helium-rw"])
    backend = VaultBackend(bao.address, auth=AppRoleAuth(role_id=role_id, secret_id=secret_id))
    with make_store(backend, cache=None) as store:
        assert store.get(f"{prefix}/db").value.reveal() == "pw"
        assert backend.logins == 1
        admin.auth.token.revoke(backend._client.token)
        barrier = threading.Barrier(8)
        results: list[str] = []
        failures: list[BaseException] = []

        def reader() -> None:
            barrier.wait()
            try:
                results.append(store.get(f"{prefix}/db").value.reveal())
            except BaseException as exc:  # asserted below
                failures.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=POLL_BOUND)
        assert failures == []
        assert results == ["pw"] * 8
        assert backend.logins == 2


def test_revoked_plain_token_is_unauthenticated(bao: DevServer, admin: hvac.Client,
                                                prefix: str) -> None:
    token = admin.auth.token.create(policies=["root"], ttl="1h")["auth"]["client_token"]
    with make_store(VaultBackend(bao.address, token=token), cache=None) as store:
        store.put(f"{prefix}/x", "v")
        admin.auth.token.revoke(token)
        with pytest.raises(UnauthenticatedError) as info:
            store.get(f"{prefix}/x")
    assert token not in str(info.value)


def test_token_file_is_reread_when_its_token_is_revoked(bao: DevServer, admin: hvac.Client,
                                                         tmp_path: Path, prefix: str) -> None:
    def new_token() -> str:
        created = admin.auth.token.create(policies=["root"], ttl="1h")
        return str(created["auth"]["client_token"])

    token_file = tmp_path / "vault-token"
    old = new_token()
    token_file.write_text(old)
    backend = VaultBackend(bao.address, auth=TokenAuth(token_file=str(token_file)))
    with make_store(backend, cache=None) as store:
        store.put(f"{prefix}/x", "v")
        token_file.write_text(new_token())  # as Vault Agent would
        admin.auth.token.revoke(old)
        assert store.get(f"{prefix}/x").value.reveal() == "v"
    assert backend.logins == 2


def test_bad_approle_secret_is_unauthenticated(bao: DevServer, admin: hvac.Client) -> None:
    role_id, _ = approle(admin, ["default"])
    backend = VaultBackend(bao.address, auth=AppRoleAuth(role_id=role_id, secret_id=CANARY))
    with make_store(backend) as store, pytest.raises(UnauthenticatedError) as info:
        store.get("anything")
    assert "approle login failed" in str(info.value)
    assert CANARY not in str(info.value)


def test_userpass_login(bao: DevServer, admin: hvac.Client, prefix: str,
                        tmp_path: Path) -> None:
    if "userpass/" not in admin.sys.list_auth_methods()["data"]:
        admin.sys.enable_auth_method("userpass")
    user = unique("user")
    admin.sys.create_or_update_policy("helium-rw", READ_WRITE_POLICY)
    admin.auth.userpass.create_or_update_user(user, password="pw-" + user, policies=["helium-rw"])
    password_file = tmp_path / "password"
    password_file.write_text("pw-" + user)
    url = f"vault://127.0.0.1:{bao.port}/secret?tls=false&auth=userpass&username={user}" \
          f"&password_file={password_file}"
    with open_store(url, retry=FAST_RETRY) as store:
        store.put(f"{prefix}/u", "v")
        assert store.get(f"{prefix}/u").value.reveal() == "v"
    with open_store(url.split("?")[0] + "?tls=false", retry=FAST_RETRY,
                    auth=UserpassAuth(username=user, password="wrong")) as store, \
            pytest.raises(UnauthenticatedError):
        store.get(f"{prefix}/u")


def make_ca(common_name: str) -> tuple[str, ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A self-signed CA: its PEM, key and certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key, cert


def make_tls_files(directory: Path) -> TLSFiles:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    ca_pem, ca_key, ca_cert = make_ca("helium test CA")
    paths: dict[str, str] = {"ca": str(directory / "ca.pem")}
    (directory / "ca.pem").write_text(ca_pem)
    now = datetime.datetime.now(datetime.timezone.utc)
    for role, usage in (("server", ExtendedKeyUsageOID.SERVER_AUTH),
                        ("client", ExtendedKeyUsageOID.CLIENT_AUTH)):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, role)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if role == "server":
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        (directory / f"{role}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{role}-key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        paths[role] = str(directory / f"{role}.pem")
        paths[f"{role}-key"] = str(directory / f"{role}-key.pem")
    return TLSFiles(ca_file=paths["ca"], cert_file=paths["server"], key_file=paths["server-key"],
                    client_cert_file=paths["client"], client_key_file=paths["client-key"])


def _es256_jwt(key: ec.EllipticCurvePrivateKey, claims: dict[str, Any]) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims).encode())
    der = key.sign(f"{header}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{header}.{payload}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def test_jwt_login_from_a_file(bao: DevServer, admin: hvac.Client, prefix: str,
                               tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    mount = unique("jwt")
    admin.sys.create_or_update_policy("helium-rw", READ_WRITE_POLICY)
    admin.sys.enable_auth_method("jwt", path=mount)
    admin.write_data(f"auth/{mount}/config", data={"jwt_validation_pubkeys": [public_pem]})
    admin.write_data(f"auth/{mount}/role/app", data={
        "role_type": "jwt", "user_claim": "sub", "bound_audiences": ["helium"],
        "token_policies": ["helium-rw"], "token_ttl": "1h"})
    now = int(time.time())
    jwt_file = tmp_path / "token.jwt"
    jwt_file.write_text(_es256_jwt(key, {"sub": "workload", "aud": "helium", "iat": now,
                                         "nbf": now - 60, "exp": now + 3600}))
    backend = VaultBackend(bao.address, auth=JWTAuth(role="app", jwt_file=str(jwt_file),
                                                     mount=mount))
    with make_store(backend) as store:
        store.put(f"{prefix}/j", "v")
        assert store.get(f"{prefix}/j").value.reveal() == "v"
    assert backend.logins == 1


class _TokenReviewHandler(BaseHTTPRequestHandler):
    """The one Kubernetes API call Vault's kubernetes auth makes: a TokenReview."""

    accepted: ClassVar[dict[str, str]] = {}  # service-account JWT -> "namespace:name"
    reviews: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        token = body["spec"]["token"]
        self.reviews.append(self.path)
        who = self.accepted.get(token)
        status: dict[str, Any] = {"authenticated": False}
        if who is not None:
            status = {"authenticated": True, "user": {
                "username": f"system:serviceaccount:{who}", "uid": "uid-1",
                "groups": ["system:serviceaccounts"]}}
        answer = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                             "status": status}).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_kubernetes_login_with_a_token_review(bao: DevServer, admin: hvac.Client, prefix: str,
                                              tmp_path: Path) -> None:
    api = ThreadingHTTPServer(("127.0.0.1", 0), _TokenReviewHandler)
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    try:
        key = ec.generate_private_key(ec.SECP256R1())
        jwt = _es256_jwt(key, {
            "iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:default:app",
            "kubernetes.io/serviceaccount/namespace": "default",
            "kubernetes.io/serviceaccount/service-account.name": "app",
            "kubernetes.io/serviceaccount/service-account.uid": "uid-1"})
        _TokenReviewHandler.accepted[jwt] = "default:app"
        mount = unique("k8s")
        admin.sys.create_or_update_policy("helium-rw", READ_WRITE_POLICY)
        admin.sys.enable_auth_method("kubernetes", path=mount)
        admin.write_data(f"auth/{mount}/config", data={
            "kubernetes_host": f"http://127.0.0.1:{api.server_address[1]}",
            "disable_local_ca_jwt": True, "kubernetes_ca_cert": make_ca("k8s")[0]})
        admin.write_data(f"auth/{mount}/role/app", data={
            "bound_service_account_names": ["app"], "bound_service_account_namespaces":
            ["default"], "token_policies": ["helium-rw"], "token_ttl": "1h"})
        jwt_file = tmp_path / "token"
        jwt_file.write_text(jwt)
        url = (f"vault://127.0.0.1:{bao.port}/secret?tls=false&auth=kubernetes&role=app"
               f"&jwt_file={jwt_file}&auth_mount={mount}")
        with open_store(url, retry=FAST_RETRY) as store:
            store.put(f"{prefix}/k", "v")
            assert store.get(f"{prefix}/k").value.reveal() == "v"
            backend = store.backend
            assert isinstance(backend, VaultBackend)
            assert backend.logins == 1
        assert _TokenReviewHandler.reviews == ["/apis/authentication.k8s.io/v1/tokenreviews"]
    finally:
        api.shutdown()
        api.server_close()
        thread.join(timeout=30)


# -- namespaces, configuration, TLS ------------------------------------------------------------


def test_namespace_isolates_secrets(bao: DevServer, admin: hvac.Client, prefix: str) -> None:
    namespace = unique("team")
    bao.cli("namespace", "create", namespace)
    bao.cli("secrets", "enable", "-path=secret", "kv-v2", namespace=namespace)
    inner = hvac.Client(bao.address, token=bao.root_token, namespace=namespace)
    wait_for_kv(inner, "secret")
    backend = VaultBackend(bao.address, token=bao.root_token, namespace=namespace)
    with make_store(backend) as store:
        store.put(f"{prefix}/ns", "inside")
        assert store.get(f"{prefix}/ns").value.reveal() == "inside"
        assert list(store.list(f"{prefix}/")) == [f"{prefix}/ns"]
    with make_store(VaultBackend(bao.address, token=bao.root_token)) as root, \
            pytest.raises(SecretNotFoundError):
        root.get(f"{prefix}/ns")
    assert inner.secrets.kv.v2.read_secret_version(
        f"{prefix}/ns", raise_on_deleted_version=True)["data"]["data"] == {"value": "inside"}


def test_environment_variables_like_the_cli(bao: DevServer, monkeypatch: pytest.MonkeyPatch,
                                            prefix: str) -> None:
    monkeypatch.setenv("VAULT_ADDR", bao.address)
    monkeypatch.setenv("VAULT_TOKEN", bao.root_token)
    with open_store("vault:///secret", retry=FAST_RETRY) as store:
        store.put(f"{prefix}/env", "v")
        assert store.get(f"{prefix}/env").value.reveal() == "v"
        assert isinstance(store.backend, VaultBackend)
        assert store.backend.address == bao.address


def test_a_ready_hvac_client(bao: DevServer, prefix: str) -> None:
    client = hvac.Client(bao.address, token=bao.root_token)
    backend = VaultBackend(client=client)
    assert backend.auth == TokenAuth(token=bao.root_token)  # its token is used and managed
    with make_store(backend) as store:
        store.put(f"{prefix}/client", "v")
        assert store.get(f"{prefix}/client").value.reveal() == "v"
    assert bao.root_token not in repr(backend)
    # The application's client outlives the store: not closed (its connection pool is still
    # there), and the backend's token hook is off its session.
    assert client.adapter.session.get_adapter(bao.address).poolmanager.pools
    assert backend._session.on_response not in client.adapter.session.hooks["response"]
    assert client.sys.read_health_status(method="GET")["initialized"] is True


def test_a_client_the_backend_made_is_closed_with_it(bao: DevServer, prefix: str) -> None:
    backend = VaultBackend(bao.address, token=bao.root_token)
    with make_store(backend) as store:
        store.put(f"{prefix}/made", "v")
        session = backend._client.adapter.session
        assert session.get_adapter(bao.address).poolmanager.pools
    assert not session.get_adapter(bao.address).poolmanager.pools


def test_token_from_the_cli_token_file(bao: DevServer, monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path, prefix: str) -> None:
    for var in ("VAULT_TOKEN", "BAO_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".vault-token").write_text(bao.root_token)
    backend = VaultBackend(bao.address)
    assert backend.auth == TokenAuth(token_file=str(tmp_path / ".vault-token"))
    with make_store(backend) as store:
        store.put(f"{prefix}/cli", "v")


def test_url_and_address_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("VAULT_ADDR", "BAO_ADDR", "VAULT_NAMESPACE", "BAO_NAMESPACE"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValueError, match="plain http"):
        VaultBackend("http://10.1.2.3:8200", token="t")
    with pytest.raises(ValueError, match="plain http"):
        open_store("vault://vault.example:8200/secret?tls=false", token="t")
    assert VaultBackend("http://10.1.2.3:8200", token="t",
                        allow_insecure_http=True).address == "http://10.1.2.3:8200"
    with pytest.raises(ValueError, match="credentials do not belong"):
        open_store("vault://vault.example/secret?token=abc")
    with open_store("vault://vault.example/team/kv?namespace=a/b&kv_version=1",
                    token="t") as store:
        backend = store.backend
        assert isinstance(backend, VaultBackend)
        assert (backend.address, backend.mount, backend.kv_version, backend.namespace) == (
            "https://vault.example:8200", "team/kv", 1, "a/b")
    with pytest.raises(ValueError, match="unknown vault:// URL option"):
        open_store("vault://vault.example/secret?colour=red", token="t")
    with open_store("vault://vault.example/secret?auth=approle&role_id=r1"
                    "&secret_id_file=/run/sid&auth_mount=apps") as store:
        assert isinstance(store.backend, VaultBackend)
        assert store.backend.auth == AppRoleAuth(role_id="r1", secret_id_file="/run/sid",
                                                 mount="apps")
    monkeypatch.setenv("BAO_ADDR", "http://127.0.0.1:1")  # OpenBao's spelling works too
    monkeypatch.setenv("BAO_NAMESPACE", "team-b")
    backend = VaultBackend(token="t")
    assert (backend.address, backend.namespace) == ("http://127.0.0.1:1", "team-b")


def test_tls_with_a_ca_bundle(tmp_path_factory: pytest.TempPathFactory,
                              monkeypatch: pytest.MonkeyPatch, prefix: str) -> None:
    with DevServer(tmp_path_factory.mktemp("bao-tls"), tls=True) as server:
        assert isinstance(server.verify, str)
        backend = VaultBackend(server.address, token=server.root_token, ca_cert=server.verify)
        with make_store(backend) as store:
            store.put(f"{prefix}/tls", "v")
            assert store.get(f"{prefix}/tls").value.reveal() == "v"
        with monkeypatch.context() as env:
            env.setenv("VAULT_ADDR", server.address)
            env.setenv("VAULT_TOKEN", server.root_token)
            env.setenv("VAULT_CACERT", server.verify)
            with open_store("vault://", retry=FAST_RETRY) as store:
                assert store.get(f"{prefix}/tls").value.reveal() == "v"
        untrusted = VaultBackend(server.address, token=server.root_token)
        with make_store(untrusted) as store, pytest.raises(UnavailableError) as info:
            store.get(f"{prefix}/tls")
        assert not info.value.transient  # a certificate problem does not heal by retrying
        assert "TLS" in str(info.value)


@pytest.mark.slow
def test_tls_client_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                prefix: str) -> None:
    (tmp_path / "pki").mkdir()
    tls = make_tls_files(tmp_path / "pki")
    with PersistentServer(tmp_path / "bao-mtls", tls=tls) as server:
        server.enable_kv("secret")
        url = (f"vault://127.0.0.1:{server.port}/secret?ca_cert={tls.ca_file}"
               f"&client_cert={tls.client_cert_file}&client_key={tls.client_key_file}")
        with open_store(url, token=server.root_token, retry=FAST_RETRY) as store:
            store.put(f"{prefix}/mtls", "v")
            assert store.get(f"{prefix}/mtls").value.reveal() == "v"
        with monkeypatch.context() as env:  # the CLI's variables do the same
            env.setenv("VAULT_CACERT", tls.ca_file)
            env.setenv("VAULT_CLIENT_CERT", tls.client_cert_file)
            env.setenv("VAULT_CLIENT_KEY", tls.client_key_file)
            from_env = VaultBackend(server.address, token=server.root_token)
            with make_store(from_env) as store:
                assert store.get(f"{prefix}/mtls").value.reveal() == "v"
        without = VaultBackend(server.address, token=server.root_token, ca_cert=tls.ca_file)
        with make_store(without, retry=RetryPolicy.never()) as store, \
                pytest.raises(UnavailableError):
            store.get(f"{prefix}/mtls")  # the server wants a client certificate


# -- errors and faults -------------------------------------------------------------------------


def test_rate_limit_quota_is_throttled(bao: DevServer, admin: hvac.Client, prefix: str) -> None:
    mount = unique("limited")
    admin.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    wait_for_kv(admin, mount)  # before the quota: these probes would count against it
    # Vault sends Retry-After only with the rate-limit response headers switched on.
    admin.write_data("sys/quotas/config", data={"enable_rate_limit_response_headers": True})
    admin.write_data(f"sys/quotas/rate-limit/{mount}",
                     data={"path": f"{mount}/", "rate": 1, "interval": "1h"})
    backend = VaultBackend(bao.address, token=bao.root_token, mount=mount)
    with make_store(backend, cache=None, retry=RetryPolicy.never()) as store:
        store.list(f"{prefix}/")  # the quota allows one request per hour on this mount
        with pytest.raises(ThrottledError) as info:
            store.list(f"{prefix}/")
        assert info.value.transient
        assert info.value.retry_after is not None and info.value.retry_after > 0


def test_server_that_never_answers_times_out(prefix: str) -> None:
    # A listening socket that nobody accepts from: the TCP handshake completes, no answer comes.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        address = f"http://127.0.0.1:{silent.getsockname()[1]}"
        backend = VaultBackend(address, token="t", timeout=(5.0, 0.5))
        with make_store(backend, retry=RetryPolicy.never()) as store, \
                pytest.raises(UnavailableError, match="did not answer in time") as info:
            store.get(f"{prefix}/x")
    assert info.value.transient


@pytest.mark.parametrize(("exc", "code", "transient"), [
    (hvac.exceptions.InvalidPath(errors=[CANARY]), ErrorCode.NOT_FOUND, False),
    (hvac.exceptions.Forbidden(errors=[CANARY]), ErrorCode.PERMISSION_DENIED, False),
    (hvac.exceptions.Unauthorized(errors=[CANARY]), ErrorCode.UNAUTHENTICATED, False),
    (hvac.exceptions.InvalidRequest(errors=["check-and-set parameter did not match"]),
     ErrorCode.CONFLICT, False),
    (hvac.exceptions.InvalidRequest(errors=[CANARY]), ErrorCode.INVALID_ARGUMENT, False),
    (hvac.exceptions.InvalidRequest(errors=["Upgrading from non-versioned to versioned data. "
                                            "This backend will be unavailable for a brief period"]),
     ErrorCode.UNAVAILABLE, True),
    (hvac.exceptions.RateLimitExceeded(errors=[CANARY]), ErrorCode.THROTTLED, True),
    (hvac.exceptions.InternalServerError(errors=[CANARY]), ErrorCode.UNAVAILABLE, True),
    (hvac.exceptions.BadGateway(errors=[CANARY]), ErrorCode.UNAVAILABLE, True),
    (hvac.exceptions.VaultDown(errors=[CANARY]), ErrorCode.UNAVAILABLE, True),
    (hvac.exceptions.PreconditionFailed(errors=[CANARY]), ErrorCode.UNAVAILABLE, True),
    (requests.exceptions.ConnectionError(CANARY), ErrorCode.UNAVAILABLE, True),
    (requests.exceptions.ReadTimeout(CANARY), ErrorCode.UNAVAILABLE, True),
    (requests.exceptions.SSLError(CANARY), ErrorCode.UNAVAILABLE, False),
])
def test_classification_uses_no_server_text(exc: Exception, code: ErrorCode,
                                            transient: bool) -> None:
    # The exceptions hvac raises for each status, carrying text that must not be quoted.
    verdict = VaultBackend("http://127.0.0.1:1", token="t").classify(exc)
    assert verdict is not None
    assert verdict.code is code
    default = error_for_code(code).default_transient
    assert (default if verdict.transient is None else verdict.transient) is transient
    assert verdict.message and CANARY not in verdict.message


@pytest.fixture
def persistent(tmp_path: Path) -> Iterator[PersistentServer]:
    with PersistentServer(tmp_path / "bao-file") as server:
        server.enable_kv("secret")
        yield server


@pytest.mark.slow
def test_server_down_then_restarted(persistent: PersistentServer, prefix: str) -> None:
    backend = VaultBackend(persistent.address, token=persistent.root_token)
    policy = RetryPolicy(max_attempts=3, initial_backoff=0.05, max_backoff=0.2, deadline=20.0)
    with make_store(backend, cache=None, retry=policy) as store:
        store.put(f"{prefix}/db", "before")
        persistent.stop()
        started = time.monotonic()
        with pytest.raises(UnavailableError) as info:
            store.get(f"{prefix}/db")
        assert time.monotonic() - started < 60  # bounded by the deadline, not hung  # bounded, not hung
        assert info.value.transient
        persistent.start()  # same port and storage, unsealed again
        assert store.get(f"{prefix}/db").value.reveal() == "before"
        store.put(f"{prefix}/db", "after")
        assert store.get(f"{prefix}/db").value.reveal() == "after"


@pytest.mark.slow
def test_sealed_server_is_unavailable(persistent: PersistentServer, prefix: str) -> None:
    backend = VaultBackend(persistent.address, token=persistent.root_token)
    with make_store(backend, cache=None, retry=RetryPolicy.never()) as store:
        store.put(f"{prefix}/db", "v")
        persistent.seal()
        with pytest.raises(UnavailableError, match="sealed"):
            store.get(f"{prefix}/db")
        persistent.unseal()
        assert store.get(f"{prefix}/db").value.reveal() == "v"


def test_cached_value_is_served_while_the_server_is_down(persistent: PersistentServer,
                                                        prefix: str) -> None:
    backend = VaultBackend(persistent.address, token=persistent.root_token)
    with make_store(backend, retry=RetryPolicy.never()) as store:
        store.put(f"{prefix}/db", "cached")
        assert store.get(f"{prefix}/db").value.reveal() == "cached"  # now cached
        persistent.stop()
        assert store.get(f"{prefix}/db").value.reveal() == "cached"
        with pytest.raises(UnavailableError):
            store.get(f"{prefix}/other")


# -- issue 11: deletion is portable ----------------------------------------------------------


def test_reads_after_delete_are_not_found(store: SecretStore, prefix: str) -> None:
    from tests.backends.deletion import assert_reads_after_delete_are_not_found

    assert_reads_after_delete_are_not_found(store, f"{prefix}/deleted")


def test_version_operations_are_extras_through_the_store(store: SecretStore, prefix: str) -> None:
    from helium_secrets.errors import StoreClosedError

    name = f"{prefix}/extras"
    store.put(name, "one")
    store.put(name, "two")
    assert store.get(name).value.reveal() == "two"  # now cached
    assert {"delete_latest_version", "undelete_versions", "destroy_versions"} <= set(
        dir(store.extras))
    store.extras.delete_latest_version(name)
    with pytest.raises(SecretNotFoundError):  # the store forgot what it cached
        store.get(name)
    store.extras.undelete_versions(name, ["2"])
    assert store.get(name).value.reveal() == "two"
    store.extras.destroy_versions(name, ["1"])
    with pytest.raises(VersionNotFoundError):
        store.get(name, "1")
    store.close()
    with pytest.raises(StoreClosedError):
        store.extras.destroy_versions(name, ["2"])


# -- a put with custom metadata: whole or not at all (issue 11) --------------------------------

VAULT_503 = json.dumps({"errors": ["injected by the test proxy"]}).encode()


@pytest.fixture
def proxy(bao: DevServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the module's dev server."""
    with FaultProxy(bao.port) as proxy:
        yield proxy


@pytest.fixture
def proxied(proxy: FaultProxy, bao: DevServer) -> Iterator[SecretStore]:
    """A store whose backend talks to the dev server through :func:`proxy`."""
    with make_store(VaultBackend(proxy.url, token=bao.root_token), cache=None) as store:
        yield store


def custom_metadata(admin: hvac.Client, name: str) -> dict[str, str]:
    return dict(admin.secrets.kv.v2.read_secret_metadata(name)["data"]["custom_metadata"] or {})


def version_count(admin: hvac.Client, name: str) -> int:
    """How many versions were ever written (KV v2 prunes old ones past ``max_versions``)."""
    return int(admin.secrets.kv.v2.read_secret_metadata(name)["data"]["current_version"])


def current_value(admin: hvac.Client, name: str) -> str:
    response = admin.secrets.kv.v2.read_secret_version(name, raise_on_deleted_version=True)
    return str(response["data"]["data"]["value"])


def data_writes(proxy: FaultProxy, name: str) -> int:
    return proxy.requests.count(("POST", f"/v1/secret/data/{name}"))


@pytest.mark.parametrize("path", ["metadata", "data"])
def test_put_with_metadata_survives_a_transient_failure(
        proxied: SecretStore, proxy: FaultProxy, admin: hvac.Client, prefix: str,
        path: str) -> None:
    # One of the two writes fails with a 503: the store retries the whole put, which must end
    # with one new version and the metadata both on the server.
    name = f"{prefix}/meta-503-{path}"
    proxied.put(name, "one", metadata={"owner": "team-a"})
    proxy.fail_next(method="POST", path=f"/v1/secret/{path}/{name}", status=503, body=VAULT_503)
    written = proxied.put(name, "two", metadata={"tier": "gold"})
    assert proxy.pending() == 0
    assert written.version == "2"
    assert current_value(admin, name) == "two"
    assert version_count(admin, name) == 2
    assert custom_metadata(admin, name) == {"owner": "team-a", "tier": "gold"}


@pytest.mark.parametrize("path", ["metadata", "data"])
def test_put_with_metadata_whose_answer_was_lost(proxied: SecretStore, proxy: FaultProxy,
                                                 admin: hvac.Client, prefix: str,
                                                 path: str) -> None:
    # A write lands but its answer never arrives: the retry finds the metadata there, or
    # recognises its own version, and ends with both on the server, once.
    name = f"{prefix}/meta-lost-{path}"
    proxied.put(name, "one")
    proxy.fail_next(kind="lost", method="POST", path=f"/v1/secret/{path}/{name}")
    written = proxied.put(name, "two", metadata={"tier": "gold"})
    assert proxy.pending() == 0
    assert written.version == "2"
    assert version_count(admin, name) == 2
    assert custom_metadata(admin, name) == {"tier": "gold"}


@pytest.mark.parametrize(("metadata", "named"), [
    # Past the limits the backend declares (64 keys, 128-byte keys, 512-byte values): the store
    # refuses these before any call; Vault refuses them too, before the value is written.
    ({f"k{i}": "v" for i in range(65)}, None),
    ({"k" * 129: "v"}, None),
    ({"long": CANARY * 21}, None),  # 525 bytes
    # Vault's own rules, which the backend checks before any call.
    ({"empty": ""}, "empty"),
    ({"ctl\x01": "v"}, "ctl"),
    ({"unprintable": CANARY + "\n"}, "unprintable"),
    ({"surrogate": CANARY + "\ud800"}, "surrogate"),  # Vault would store U+FFFD instead
])
def test_metadata_vault_refuses_leaves_the_secret_as_it_was(
        proxied: SecretStore, proxy: FaultProxy, admin: hvac.Client, prefix: str,
        metadata: dict[str, str], named: str | None) -> None:
    name = f"{prefix}/meta-bad"
    proxied.put(name, "one", metadata={"owner": "team-a"})
    writes = data_writes(proxy, name)
    with pytest.raises(InvalidArgumentError) as info:
        proxied.put(name, CANARY, metadata=metadata)
    assert data_writes(proxy, name) == writes  # refused before the value was sent
    assert current_value(admin, name) == "one"
    assert version_count(admin, name) == 1
    assert custom_metadata(admin, name) == {"owner": "team-a"}
    assert named is None or named in str(info.value)
    assert CANARY not in str(info.value)


def test_metadata_merged_past_vaults_key_limit_is_refused(proxied: SecretStore,
                                                          proxy: FaultProxy, admin: hvac.Client,
                                                          prefix: str) -> None:
    name = f"{prefix}/meta-many"
    existing = {f"old{i}": "v" for i in range(60)}
    proxied.put(name, "one", metadata=existing)
    with pytest.raises(InvalidArgumentError, match="64") as info:
        proxied.put(name, CANARY, metadata={f"new{i}": CANARY for i in range(5)})
    assert CANARY not in str(info.value)
    assert data_writes(proxy, name) == 1
    assert version_count(admin, name) == 1
    assert custom_metadata(admin, name) == existing


def policy_token(admin: hvac.Client, policy: str) -> str:
    name = unique("policy")
    admin.sys.create_or_update_policy(name, policy)
    return str(admin.auth.token.create(policies=[name], ttl="1h")["auth"]["client_token"])


def test_metadata_denied_by_policy_writes_no_version(bao: DevServer, admin: hvac.Client,
                                                     prefix: str) -> None:
    # The token may write values but not metadata: a put with metadata is refused whole.
    name = f"{prefix}/meta-denied"
    admin.secrets.kv.v2.create_or_update_secret(name, secret={"value": "one"})
    token = policy_token(admin, f"""
        path "secret/data/{prefix}/*" {{ capabilities = ["create", "read", "update"] }}
        path "secret/metadata/{prefix}/*" {{ capabilities = ["read"] }}
    """)
    with make_store(VaultBackend(bao.address, token=token), cache=None) as store:
        with pytest.raises(PermissionDeniedError):
            store.put(name, CANARY, metadata={"tier": "gold"})
        assert current_value(admin, name) == "one"
        assert version_count(admin, name) == 1
        store.put(name, "two")  # without metadata the same token may write
    assert current_value(admin, name) == "two"


def test_value_refused_after_the_metadata_was_written_puts_it_back(
        bao: DevServer, admin: hvac.Client, prefix: str) -> None:
    # The token may write metadata but not values: the metadata written first is put back.
    name = f"{prefix}/meta-restored"
    admin.secrets.kv.v2.create_or_update_secret(name, secret={"value": "one"})
    admin.secrets.kv.v2.update_metadata(name, custom_metadata={"owner": "team-a"})
    token = policy_token(admin, f"""
        path "secret/data/{prefix}/*" {{ capabilities = ["read"] }}
        path "secret/metadata/{prefix}/*" {{ capabilities = ["create", "read", "update",
                                                              "delete"] }}
    """)
    with make_store(VaultBackend(bao.address, token=token), cache=None) as store:
        with pytest.raises(PermissionDeniedError):
            store.put(name, CANARY, metadata={"owner": "team-b", "tier": "gold"})
        with pytest.raises(PermissionDeniedError):
            store.put(f"{prefix}/new", CANARY, metadata={"tier": "gold"})
    assert current_value(admin, name) == "one"
    assert custom_metadata(admin, name) == {"owner": "team-a"}
    # A new secret whose value was refused leaves no metadata-only entry behind.
    assert admin.secrets.kv.v2.list_secrets(prefix)["data"]["keys"] == ["meta-restored"]


def test_value_refused_by_the_server_puts_the_metadata_back(
        proxied: SecretStore, proxy: FaultProxy, admin: hvac.Client, prefix: str) -> None:
    name = f"{prefix}/meta-400"
    proxied.put(name, "one", metadata={"owner": "team-a"})
    proxy.fail_next(method="POST", path=f"/v1/secret/data/{name}", status=400,
                    body=json.dumps({"errors": ["injected"]}).encode())
    with pytest.raises(InvalidArgumentError):
        proxied.put(name, CANARY, metadata={"owner": "team-b"})
    assert custom_metadata(admin, name) == {"owner": "team-a"}
    assert version_count(admin, name) == 1


def test_check_and_set_conflict_with_metadata_writes_nothing(
        proxied: SecretStore, proxy: FaultProxy, admin: hvac.Client, prefix: str) -> None:
    name = f"{prefix}/meta-cas"
    proxied.put(name, "one", metadata={"owner": "team-a"})
    proxied.put(name, "two")
    with pytest.raises(ConflictError):
        proxied.put(name, CANARY, expected_version="1", metadata={"owner": "team-b"})
    with pytest.raises(ConflictError):
        proxied.put(name, CANARY, create_only=True, metadata={"owner": "team-b"})
    assert proxy.requests.count(("POST", f"/v1/secret/metadata/{name}")) == 1  # the first put
    assert custom_metadata(admin, name) == {"owner": "team-a"}
    assert current_value(admin, name) == "two"


def test_put_with_metadata_keeps_the_secrets_other_settings(store: SecretStore,
                                                            admin: hvac.Client,
                                                            prefix: str) -> None:
    # hvac's update_metadata sends delete_version_after="0s" unless told otherwise, which
    # would clear the operator's setting at every put with metadata.
    name = f"{prefix}/meta-settings"
    store.put(name, "one")
    admin.secrets.kv.v2.update_metadata(name, max_versions=7, delete_version_after="2h")
    store.put(name, "two", metadata={"tier": "gold"})
    settings = admin.secrets.kv.v2.read_secret_metadata(name)["data"]
    assert (settings["max_versions"], settings["delete_version_after"]) == (7, "2h0m0s")
    assert settings["custom_metadata"] == {"tier": "gold"}


@pytest.mark.parametrize("path", ["metadata", "data"])
def test_put_that_fails_for_good_leaves_the_secret_as_it_was(
        bao: DevServer, proxy: FaultProxy, admin: hvac.Client, prefix: str, path: str) -> None:
    # No retry: the error is final, so neither write may be left behind.
    name = f"{prefix}/meta-final-{path}"
    backend = VaultBackend(proxy.url, token=bao.root_token)
    with make_store(backend, cache=None, retry=RetryPolicy.never()) as store:
        store.put(name, "one", metadata={"owner": "team-a"})
        proxy.fail_next(method="POST", path=f"/v1/secret/{path}/{name}", status=503,
                        body=VAULT_503)
        with pytest.raises(UnavailableError):
            store.put(name, CANARY, metadata={"owner": "team-b"})
    assert current_value(admin, name) == "one"
    assert version_count(admin, name) == 1
    assert custom_metadata(admin, name) == {"owner": "team-a"}


# -- plain puts under contention (issue 11) ------------------------------------------------------


def put_concurrently(stores: list[SecretStore], name: str, threads: int,
                     puts: int) -> list[BaseException]:
    """``threads`` threads (spread over ``stores``) each put ``puts`` values to ``name``."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        store = stores[i % len(stores)]
        barrier.wait()
        for j in range(puts):
            try:
                store.put(name, f"w{i}-{j}")
            except BaseException as exc:  # collected and asserted by the caller
                errors.append(exc)

    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=POLL_BOUND)
    return errors


def test_plain_puts_under_contention_never_conflict(store: SecretStore, admin: hvac.Client,
                                                    prefix: str) -> None:
    name = f"{prefix}/contended"
    store.put(name, "start")
    errors = put_concurrently([store], name, threads=32, puts=3)
    assert [type(e).__name__ for e in errors] == []
    assert version_count(admin, name) == 1 + 32 * 3


def test_plain_puts_from_several_processes_never_conflict(bao: DevServer, admin: hvac.Client,
                                                          prefix: str) -> None:
    # Separate backends stand for separate processes: they share nothing but the server.
    name = f"{prefix}/contended-processes"
    admin.secrets.kv.v2.create_or_update_secret(name, secret={"value": "start"})
    stores = [make_store(VaultBackend(bao.address, token=bao.root_token), cache=None)
              for _ in range(4)]
    try:
        errors = put_concurrently(stores, name, threads=16, puts=3)
    finally:
        for each in stores:
            each.close()
    assert [type(e).__name__ for e in errors] == []
    assert version_count(admin, name) == 1 + 16 * 3


def test_retried_plain_put_makes_one_version(proxied: SecretStore, proxy: FaultProxy,
                                             admin: hvac.Client, prefix: str) -> None:
    name = f"{prefix}/lost-plain"
    proxied.put(name, "one")
    for _ in range(2):  # the answer is lost twice: the third attempt finds the value landed
        proxy.fail_next(kind="lost", method="POST", path=f"/v1/secret/data/{name}")
    written = proxied.put(name, "two")
    assert proxy.pending() == 0
    assert written.version == "2"
    assert version_count(admin, name) == 2
    assert current_value(admin, name) == "two"


# -- token renewal near the maximum TTL (issue 11) -------------------------------------------

PAST_MAX_TTL = json.dumps({"errors": ["past the max TTL, cannot renew"]}).encode()


@pytest.fixture
def renew_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend renews its token before every call (its threshold at 0 % of the TTL)."""
    monkeypatch.setattr(hashivault.tokens, "RENEW_AT_FRACTION", 0.0)


def vault_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == "helium_secrets.vault" and record.levelno >= logging.WARNING]


@pytest.mark.usefixtures("renew_every_call")
def test_plain_token_is_used_until_it_really_expires(bao: DevServer, admin: hvac.Client,
                                                     prefix: str) -> None:
    # Renewing at every call drives the token past the point where renewal can extend it (a
    # shorter TTL and a warning, then HTTP 500 "past the max TTL" while the token still works
    # for a moment). No call may fail until the token is really gone.
    admin.sys.create_or_update_policy("helium-rw", READ_WRITE_POLICY)
    admin.secrets.kv.v2.create_or_update_secret(f"{prefix}/db", secret={"value": "pw"})
    token = admin.auth.token.create(policies=["helium-rw"], ttl="2s", explicit_max_ttl="3s",
                                    renewable=True)["auth"]["client_token"]
    backend = VaultBackend(bao.address, token=token)
    reads = 0

    def read_until_refused(store: SecretStore) -> None:
        nonlocal reads
        deadline = time.monotonic() + POLL_BOUND
        while time.monotonic() < deadline:
            assert store.get(f"{prefix}/db").value.reveal() == "pw"
            reads += 1
            time.sleep(0.05)

    with make_store(backend, cache=None) as store, \
            pytest.raises(UnauthenticatedError) as info:
        read_until_refused(store)
    assert reads >= 2 and backend.renewals >= 1
    with pytest.raises(hvac.exceptions.Forbidden):  # and it is gone indeed
        hvac.Client(bao.address, token=token).auth.token.lookup_self()
    assert token not in str(info.value)


@pytest.mark.usefixtures("renew_every_call")
def test_failed_renewal_of_a_valid_plain_token_does_not_fail_the_call(
        bao: DevServer, admin: hvac.Client, proxy: FaultProxy, prefix: str,
        caplog: pytest.LogCaptureFixture) -> None:
    admin.sys.create_or_update_policy("helium-rw", READ_WRITE_POLICY)
    admin.secrets.kv.v2.create_or_update_secret(f"{prefix}/db", secret={"value": "pw"})
    token = admin.auth.token.create(policies=["helium-rw"], ttl="1h",
                                    renewable=True)["auth"]["client_token"]
    backend = VaultBackend(proxy.url, token=token)
    proxy.fail_next(3, method="POST", path="/v1/auth/token/renew-self", body=PAST_MAX_TTL)
    with caplog.at_level(logging.WARNING, logger="helium_secrets.vault"), \
            make_store(backend, cache=None) as store:
        assert store.get(f"{prefix}/db").value.reveal() == "pw"  # logs in (looks the token up)
        assert store.get(f"{prefix}/db").value.reveal() == "pw"  # renewal refused: token used
    assert backend.renewals == 0
    assert vault_warnings(caplog)
    assert not any(token in message for message in vault_warnings(caplog))


@pytest.mark.usefixtures("renew_every_call")
def test_failed_renewal_logs_in_again_and_a_failed_login_keeps_the_token(
        bao: DevServer, admin: hvac.Client, proxy: FaultProxy, prefix: str,
        caplog: pytest.LogCaptureFixture) -> None:
    admin.secrets.kv.v2.create_or_update_secret(f"{prefix}/db", secret={"value": "pw"})
    role_id, secret_id = approle(admin, ["helium-rw"], token_ttl="1h")
    backend = VaultBackend(proxy.url, auth=AppRoleAuth(role_id=role_id, secret_id=secret_id))
    with caplog.at_level(logging.WARNING, logger="helium_secrets.vault"), \
            make_store(backend, cache=None) as store:
        assert store.get(f"{prefix}/db").value.reveal() == "pw"
        first = backend._client.token
        # Renewal refused: a new login replaces the token.
        proxy.fail_next(3, method="POST", path="/v1/auth/token/renew-self", body=PAST_MAX_TTL)
        assert store.get(f"{prefix}/db").value.reveal() == "pw"
        assert backend.logins == 2
        proxy.clear()
        # Renewal and login both refused: the still-valid token stays in use.
        proxy.fail_next(3, method="POST", path="/v1/auth/token/renew-self", body=PAST_MAX_TTL)
        proxy.fail_next(3, method="POST", path="/v1/auth/approle/login", status=503,
                        body=VAULT_503)
        assert store.get(f"{prefix}/db").value.reveal() == "pw"
        assert backend.logins == 2
    warnings = vault_warnings(caplog)
    assert len(warnings) >= 2
    assert not any(token in message for message in warnings
                   for token in (first, backend._client.token, secret_id))


def test_version_extras_refuse_version_ids_that_are_not_numbers(store: SecretStore,
                                                                 prefix: str) -> None:
    name = f"{prefix}/extras-ids"
    store.put(name, "one")
    for bad in (["v1"], "1"):
        with pytest.raises(InvalidArgumentError, match="whole numbers|not one string") as info:
            store.extras.destroy_versions(name, bad)
        assert (info.value.backend, info.value.name) == ("vault", name)
    assert store.get(name, "1").value.reveal() == "one"


def test_the_poller_sees_a_secret_deleted_and_created_again_at_version_1(
        store: SecretStore, admin: hvac.Client, prefix: str) -> None:
    name = f"{prefix}/recreated"
    first = store.put(name, "one")
    probed = store.backend.current_version(name)
    assert isinstance(probed, VersionInfo)
    assert (probed.version, probed.created_at) == (first.version, store.get(name).created_at)
    seen: list[str] = []
    store.on_rotation(name, lambda old, new: seen.append(new.value.reveal()))
    store.rotation.poll_once()
    assert seen == [], "the probe matches what the store knows: no refresh, no rotation"
    admin.secrets.kv.v2.delete_metadata_and_all_versions(name)
    time.sleep(0.01)  # a later creation time
    admin.secrets.kv.v2.create_or_update_secret(name, secret={"value": "two"})
    store.rotation.poll_once()
    assert seen == ["two"]


# -- "no such version" or "no such secret", decided by the store (issue 11) ----------------


def test_a_missing_version_is_told_from_a_missing_secret_by_the_store(
    store: SecretStore, prefix: str
) -> None:
    # Vault answers both with the same bare 404: the store's probe (a metadata read) decides.
    name = f"{prefix}/which-missing"
    store.put(name, "one")
    store.put(name, "two")
    with pytest.raises(VersionNotFoundError, match="no such version") as info:
        store.get(name, "99")
    assert isinstance(info.value.__cause__, SecretNotFoundError)
    with pytest.raises(SecretNotFoundError) as missing:
        store.get(f"{prefix}/never", "1")
    assert type(missing.value) is SecretNotFoundError
    # With its current version soft-deleted the secret still exists (version 1 reads).
    store.extras.delete_latest_version(name)
    with pytest.raises(VersionNotFoundError, match="current version is deleted"):
        store.current_version(name)
    with pytest.raises(VersionNotFoundError, match="no such version"):
        store.get(name, "99")
    assert store.get(name, "1").value.reveal() == "one"


def test_credentials_are_in_no_local_of_a_failed_login(bao: DevServer, admin: hvac.Client,
                                                      tmp_path: Path) -> None:
    """An error reporter captures the frames' locals: a rejected token or secret id (and a
    good one, on a later failure) is in none of ours."""
    role_id, secret_id = approle(admin, ["helium-ro"])
    secret_file = tmp_path / "secret-id"
    secret_file.write_text(CANARY + "-secret-id\n")
    for auth in (AppRoleAuth(role_id=role_id, secret_id=CANARY + "-secret-id"),
                 AppRoleAuth(role_id=role_id, secret_id_file=str(secret_file)),
                 TokenAuth(token=CANARY + "-token")):
        with make_store(VaultBackend(bao.address, auth=auth), cache=None) as store, \
                pytest.raises(UnauthenticatedError) as failed:
            store.get("any/name")
        assert plaintext_in_frames(failed.value, CANARY) == [], type(auth).__name__
    admin.sys.create_or_update_policy("helium-ro", READ_ONLY_POLICY)
    backend = VaultBackend(bao.address, auth=AppRoleAuth(role_id=role_id, secret_id=secret_id))
    with make_store(backend, cache=None) as store, pytest.raises(PermissionDeniedError) as denied:
        store.put("ro/x", "value")
    token = backend._client.token  # the token the login gave
    assert token and secret_id
    assert plaintext_in_frames(denied.value, token) == []
    assert plaintext_in_frames(denied.value, secret_id) == []


# -- the async twin ----------------------------------------------------------------------------


class AsyncVaultHarness(VaultHarness):
    """The same server for the async twin, through the native async backend (httpx)."""

    def __init__(self, server: DevServer, **backend_options: Any) -> None:
        super().__init__(server, **backend_options)
        self.twin = "async"

    def make_async_backend(self) -> AsyncBackend:
        from helium_secrets.backends.hashivault.aio import AsyncVaultBackend

        return AsyncVaultBackend(self.server.address, token=self.server.root_token,
                                 **self.backend_options)


class TestVaultAsyncTwinConformance(BackendConformance):
    """Every conformance case on the async twin, KV version 2."""

    @pytest.fixture
    def harness(self, bao: DevServer) -> Iterator[VaultHarness]:
        pytest.importorskip("httpx")
        with AsyncVaultHarness(bao) as harness:
            yield harness
