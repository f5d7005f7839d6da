"""Azure Key Vault: the conformance suite and the Key Vault specifics, through the real
``SecretClient`` talking HTTPS to the wire-level emulator in ``tests/emulators/keyvault.py``.

TLS verification stays on: the client trusts the CA the emulator made at start-up. The one
concession is ``verify_challenge_resource=False``: the emulator's challenge names
``https://vault.azure.net`` (as a real vault's does) while it listens on 127.0.0.1, which is not
a subdomain of it; :func:`test_challenge_resource_is_verified_by_default` shows that the check is
real and on by default. One emulator serves the whole module: every test uses its own names.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import pytest
from azure.core.credentials import AccessToken
from azure.keyvault.secrets import SecretClient

from helium_secrets import GuardPolicy, RetryPolicy, Secret, SecretStore, open_store
from helium_secrets.backends._base import AsyncBackend
from helium_secrets.backends.azurekeyvault import (
    BINARY_CONTENT_TYPE,
    MAX_VALUE_BYTES,
    ORDER_TAG,
    STAGED_SUFFIX,
    AzureKeyVaultBackend,
    decode_name,
    encode_name,
)
from helium_secrets.errors import (
    ConflictError,
    DeadlineExceededError,
    IntegrityError,
    InvalidArgumentError,
    InvalidNameError,
    PermissionDeniedError,
    SecretNotFoundError,
    ThrottledError,
    TooLargeError,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedError,
    VersionNotFoundError,
)
from helium_secrets.testing import BackendHarness
from helium_secrets.testing.conformance import CANARY, BackendConformance
from tests.emulators.keyvault import KeyVaultEmulator

FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0, deadline=60.0)
NO_GUARD = GuardPolicy(threshold=0)


class StaticCredential:
    """A ``TokenCredential`` that hands out one fixed token and records what it was asked."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.requests: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.requests.append((scopes, kwargs))
        return AccessToken(self.token, int(time.time()) + 3600)


class FakeClock:
    """The store's clock: sleeps are recorded and advance time instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def emulator() -> Iterator[KeyVaultEmulator]:
    # Small pages so that listings page; one 404 before each deletion "completes".
    with KeyVaultEmulator(page_size=3, deletion_polls=1) as server:
        yield server


@pytest.fixture
def kv(emulator: KeyVaultEmulator) -> Iterator[KeyVaultEmulator]:
    """The shared emulator with its switches reset around one test."""
    emulator.clear_faults()
    yield emulator
    emulator.clear_faults()
    emulator.latency = 0.0
    emulator.soft_delete = True
    emulator.purge_protection = False
    emulator.enforce_dates = False


def make_backend(kv: KeyVaultEmulator, **options: Any) -> AzureKeyVaultBackend:
    options.setdefault("credential", StaticCredential(kv.token))
    options.setdefault("connection_verify", str(kv.ca_path))
    options.setdefault("verify_challenge_resource", False)
    options.setdefault("poll_interval", 0.01)
    return AzureKeyVaultBackend(kv.url, **options)


@pytest.fixture
def backend(kv: KeyVaultEmulator) -> Iterator[AzureKeyVaultBackend]:
    backend = make_backend(kv)
    yield backend
    backend.close()


@pytest.fixture
def store(backend: AzureKeyVaultBackend) -> Iterator[SecretStore]:
    with SecretStore(backend, retry=FAST_RETRY, guard=NO_GUARD) as store:
        yield store


@pytest.fixture
def raw(kv: KeyVaultEmulator) -> Iterator[SecretClient]:
    """A plain SecretClient: "another tool" writing to the same vault."""
    client = SecretClient(
        kv.url, StaticCredential(kv.token), connection_verify=str(kv.ca_path),
        verify_challenge_resource=False, retry_total=0,
    )
    yield client
    client.close()


@pytest.fixture
def prefix() -> str:
    return f"az/t{uuid.uuid4().hex[:12]}"


class AzureHarness(BackendHarness):
    """The module's emulator: faults are answered on the wire (503, 429, or a connection
    dropped after the emulator carried the request out)."""

    missing_version = "0" * 32  # a well-formed Key Vault version id, never issued
    faults = frozenset({"unavailable", "throttled", "lost_answer"})
    _STATUS = {"unavailable": 503, "throttled": 429, "lost_answer": None}
    _METHODS = {"get": ("GET",), "put": ("PUT",), "delete": ("DELETE",)}

    def __init__(self, kv: KeyVaultEmulator) -> None:
        super().__init__()
        self.kv = kv

    def make_backend(self) -> AzureKeyVaultBackend:
        return make_backend(self.kv)

    def make_store(self, **store_options: Any) -> SecretStore:
        return super().make_store(**{"retry": FAST_RETRY, "guard": NO_GUARD, **store_options})

    def inject_fault(self, kind: str, operation: str, count: int = 1) -> None:
        self.kv.fail_next(self._STATUS[kind], count, methods=self._METHODS[operation],
                          after=kind == "lost_answer")

    def clear_faults(self) -> int:
        return self.kv.clear_faults()


class TestAzureConformance(BackendConformance):
    @pytest.fixture
    def harness(self, kv: KeyVaultEmulator) -> Iterator[AzureHarness]:
        with AzureHarness(kv) as harness:
            yield harness


# -- the name mapping -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("portable", "mapped"),
    [
        ("db", "db"),
        ("app/db", "app--db"),
        ("App/DB_pass", "-41pp---44-42-5fpass"),
        ("my-app/x.y", "my-2dapp--x-2ey"),
        ("a+b=c@d", "a-2bb-3dc-40d"),
    ],
)
def test_name_mapping_examples(portable: str, mapped: str) -> None:
    assert encode_name(portable) == mapped
    assert decode_name(mapped) == portable
    assert decode_name(mapped.upper()) == portable  # Key Vault may hand names back in any case


def test_name_mapping_is_injective_under_case_folding() -> None:
    alphabet = "aZ0/-._"
    names = {""}
    for _ in range(4):
        names |= {n + c for n in names for c in alphabet}
    valid = [n for n in names if n and all(n.split("/"))]
    mapped = {n: encode_name(n) for n in valid}
    folded = {m.lower() for m in mapped.values()}
    assert len(folded) == len(valid)  # no two portable names share a Key Vault name
    for name, kv_name in mapped.items():
        assert kv_name == kv_name.lower()
        assert set(kv_name) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
        assert decode_name(kv_name) == name


@pytest.mark.parametrize("foreign", ["my-secret", "a-61", "a----b", "--a", "x-zz", "a-2f"])
def test_foreign_names_do_not_decode(foreign: str) -> None:
    assert decode_name(foreign) is None


def test_mapped_length_limit_checked_before_any_call(
    store: SecretStore, kv: KeyVaultEmulator
) -> None:
    before = len(kv.requests)
    calls = store.stats().backend_calls
    with pytest.raises(InvalidNameError, match="127"):
        store.get("A" * 43)  # 43 * 3 = 129 characters once mapped
    with pytest.raises(InvalidNameError):
        store.put("x" * 128, "v")
    assert store.stats().backend_calls == calls
    assert len(kv.requests) == before
    longest = "y" * 127
    store.put(longest, "v")
    assert store.get(longest).value.reveal() == "v"
    store.delete(longest, purge=True)


def test_list_skips_foreign_names_and_folds_case(
    store: SecretStore, raw: SecretClient, prefix: str
) -> None:
    mapped = encode_name(prefix)
    raw.set_secret(f"{mapped}--plain-name", "v")  # "-na" is not an escape: not ours
    raw.set_secret(f"{mapped.upper()}--SHOUTED", "loud")
    listed = list(store.list(prefix + "/"))
    assert listed == [f"{prefix}/shouted"]
    assert store.get(f"{prefix}/shouted").value.reveal() == "loud"  # names are case-insensitive


def test_verbatim_names(kv: KeyVaultEmulator, raw: SecretClient) -> None:
    name = f"Verbatim-{uuid.uuid4().hex[:8]}"
    raw.set_secret(name, "as-is")
    with SecretStore(make_backend(kv, names="verbatim"), retry=FAST_RETRY) as store:
        assert store.get(name).value.reveal() == "as-is"
        assert name in list(store.list("Verbatim-"))
        with pytest.raises(InvalidNameError):
            store.get("a/b")
        with pytest.raises(InvalidNameError):
            store.get("under_score")


# -- authentication and TLS -----------------------------------------------------------------


def test_bearer_challenge_then_token() -> None:
    # A vault of its own: the SDK caches challenges per host and port for the whole process.
    with KeyVaultEmulator() as fresh:
        credential = StaticCredential(fresh.token)
        with SecretStore(make_backend(fresh, credential=credential), cache=None) as store:
            store.put("auth/probe", "v")
            assert store.get("auth/probe").value.reveal() == "v"
        first, *rest = fresh.requests
    # The first request went without a token (and without its body) to elicit the challenge;
    # the SDK then asked the credential for the challenge's scope and tenant, once.
    assert (first.method, first.status, first.authenticated) == ("PUT", 401, False)
    assert [(r.method, r.status, r.authenticated) for r in rest] == [
        ("PUT", 200, True), ("GET", 200, True),
    ]
    assert len(credential.requests) == 1
    scopes, options = credential.requests[0]
    assert scopes == ("https://vault.azure.net/.default",)
    assert options.get("tenant_id") == fresh.tenant


def test_challenge_answer_shape(kv: KeyVaultEmulator) -> None:
    import requests

    response = requests.get(f"{kv.url}/secrets?api-version=7.4", verify=str(kv.ca_path),
                            timeout=30)
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'authorization="https://login.microsoftonline.com/{kv.tenant}"' in challenge
    assert 'resource="https://vault.azure.net"' in challenge
    assert response.json()["error"]["code"] == "Unauthorized"


def test_wrong_token_is_unauthenticated(kv: KeyVaultEmulator, prefix: str) -> None:
    backend = make_backend(kv, credential=StaticCredential("not-the-token"))
    with (
        SecretStore(backend, retry=FAST_RETRY, guard=NO_GUARD) as store,
        pytest.raises(UnauthenticatedError) as info,
    ):
        store.get(f"{prefix}/x")
    assert not info.value.transient
    assert "not-the-token" not in str(info.value)


def test_tls_is_verified(kv: KeyVaultEmulator, prefix: str) -> None:
    before = len(kv.requests)
    backend = make_backend(kv, connection_verify=True)  # the system CAs do not know ours
    with (
        SecretStore(backend, retry=FAST_RETRY, guard=NO_GUARD) as store,
        pytest.raises(UnavailableError, match="TLS") as info,
    ):
        store.get(f"{prefix}/x")
    assert not info.value.transient
    assert len(kv.requests) == before  # no HTTP request got through
    with pytest.raises(ValueError, match="cannot be turned off"):
        make_backend(kv, connection_verify=False)


def test_challenge_resource_is_verified_by_default(kv: KeyVaultEmulator, prefix: str) -> None:
    before = kv.count()
    backend = make_backend(kv, verify_challenge_resource=True)
    with (
        SecretStore(backend, retry=FAST_RETRY, guard=NO_GUARD) as store,
        pytest.raises(UnauthenticatedError, match="challenge"),
    ):
        store.get(f"{prefix}/x")
    assert kv.count() == before  # the token was never sent to 127.0.0.1


# -- values, metadata, versions -------------------------------------------------------------


def test_bytes_are_base64_with_a_content_type(
    store: SecretStore, raw: SecretClient, prefix: str
) -> None:
    data = b"\x00\xffbinary"
    store.put(f"{prefix}/bin", data)
    stored = raw.get_secret(encode_name(f"{prefix}/bin"))
    assert stored.properties.content_type == BINARY_CONTENT_TYPE
    assert stored.value == base64.b64encode(data).decode()
    store.clear_cache()
    got = store.get(f"{prefix}/bin")
    assert got.value.is_binary
    assert got.value.reveal_bytes() == data


def test_text_from_another_tool_and_bad_base64(
    store: SecretStore, raw: SecretClient, prefix: str
) -> None:
    raw.set_secret(encode_name(f"{prefix}/txt"), "plain", content_type="password")
    assert store.get(f"{prefix}/txt").value.reveal() == "plain"
    raw.set_secret(encode_name(f"{prefix}/bad"), CANARY, content_type=BINARY_CONTENT_TYPE)
    with pytest.raises(IntegrityError) as info:
        store.get(f"{prefix}/bad")
    assert CANARY not in str(info.value)
    assert CANARY not in repr(info.value)


def test_binary_size_counts_the_base64_form(store: SecretStore, kv: KeyVaultEmulator,
                                            prefix: str) -> None:
    puts = kv.count("PUT")
    data = b"x" * 20_000  # under the limit as bytes, over it once base64-encoded
    assert len(data) < MAX_VALUE_BYTES < len(base64.b64encode(data))
    with pytest.raises(TooLargeError, match="base64"):
        store.put(f"{prefix}/big", data)
    assert kv.count("PUT") == puts
    store.put(f"{prefix}/fits", b"x" * (MAX_VALUE_BYTES // 4 * 3))
    store.put(f"{prefix}/fits-text", "x" * MAX_VALUE_BYTES)


def test_metadata_is_tags(store: SecretStore, raw: SecretClient, prefix: str) -> None:
    name = f"{prefix}/tagged"
    store.put(name, "v", metadata={"owner": "team-a", "env": "prod"})
    store.clear_cache()
    assert dict(store.get(name).metadata) == {"owner": "team-a", "env": "prod"}
    tags = raw.get_secret(encode_name(name)).properties.tags or {}
    assert tags["owner"] == "team-a"
    assert ORDER_TAG in tags
    with pytest.raises(InvalidArgumentError, match="at most 14"):
        store.put(name, "v", metadata={f"k{i}": "v" for i in range(15)})


def test_versions_in_write_order_across_pages(store: SecretStore, kv: KeyVaultEmulator,
                                              prefix: str) -> None:
    name = f"{prefix}/many-versions"
    written = [store.put(name, f"v{i}").version for i in range(7)]
    pages_before = kv.count("GET", f"/secrets/{encode_name(name)}/versions")
    listed = store.versions(name)
    assert [v.version for v in listed] == written
    assert all(v.enabled for v in listed)
    # 7 versions in pages of 3: the client followed nextLink twice.
    assert kv.count("GET", f"/secrets/{encode_name(name)}/versions") - pages_before == 3
    assert store.get(name, written[2]).value.reveal() == "v2"
    with pytest.raises(SecretNotFoundError):
        store.versions(f"{prefix}/nothing")


def test_list_follows_next_link(store: SecretStore, kv: KeyVaultEmulator, prefix: str) -> None:
    names = [f"{prefix}/list/{i}" for i in range(5)]
    for name in names:
        store.put(name, "v")
    before = kv.count("GET", "/secrets")
    assert list(store.list(f"{prefix}/list/")) == names
    assert kv.count("GET", "/secrets") - before >= 2


def test_malformed_version_is_version_not_found(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/v"
    store.put(name, "v")
    with pytest.raises(VersionNotFoundError):
        store.get(name, "../other")
    with pytest.raises(SecretNotFoundError) as info:
        store.get(f"{prefix}/missing", "0" * 32)
    assert type(info.value) is SecretNotFoundError


# -- enabled flag and dates -----------------------------------------------------------------


def test_disabled_version_is_not_readable(store: SecretStore, raw: SecretClient,
                                          prefix: str) -> None:
    name = f"{prefix}/disabled"
    first = store.put(name, "one")
    second = store.put(name, "two")
    raw.update_secret_properties(encode_name(name), second.version, enabled=False)
    store.clear_cache()
    with pytest.raises(VersionNotFoundError, match="SecretDisabled"):
        store.get(name)
    assert store.get(name, first.version).value.reveal() == "one"
    states = {v.version: v.state for v in store.versions(name)}
    assert states == {first.version: "enabled", second.version: "disabled"}


def test_expiry_and_not_before_are_honoured(kv: KeyVaultEmulator, raw: SecretClient,
                                            prefix: str) -> None:
    now = datetime.now(timezone.utc)
    expired, future = encode_name(f"{prefix}/expired"), encode_name(f"{prefix}/future")
    raw.set_secret(expired, "old", expires_on=now - timedelta(hours=1))
    raw.set_secret(future, "new", not_before=now + timedelta(hours=1))
    assert raw.get_secret(expired).value == "old"  # the service itself returns it
    with SecretStore(make_backend(kv), retry=FAST_RETRY) as store:
        with pytest.raises(VersionNotFoundError, match="expired"):
            store.get(f"{prefix}/expired")
        with pytest.raises(VersionNotFoundError, match="not valid before"):
            store.get(f"{prefix}/future")
    with SecretStore(make_backend(kv, honour_dates=False), retry=FAST_RETRY) as store:
        assert store.get(f"{prefix}/expired").value.reveal() == "old"
        assert store.get(f"{prefix}/future").value.reveal() == "new"
    kv.enforce_dates = True  # a vault that refuses them itself: the same error
    with (
        SecretStore(make_backend(kv, honour_dates=False), retry=FAST_RETRY) as store,
        pytest.raises(VersionNotFoundError),
    ):
        store.get(f"{prefix}/expired")


# -- soft delete ----------------------------------------------------------------------------


def test_delete_waits_then_recover(store: SecretStore, backend: AzureKeyVaultBackend,
                                   kv: KeyVaultEmulator, prefix: str) -> None:
    name = f"{prefix}/soft"
    mapped = encode_name(name)
    store.put(name, "kept")
    polls = kv.count("GET", f"/deletedsecrets/{mapped}")
    store.delete(name)
    # The poller read the deleted secret until its deletion completed (one 404, then 200).
    assert kv.count("GET", f"/deletedsecrets/{mapped}") - polls == 2
    assert mapped in kv.deleted_names()
    assert name in list(backend.list_deleted(prefix))
    with pytest.raises(SecretNotFoundError):
        store.get(name)
    with pytest.raises(ConflictError, match="recover") as info:
        store.put(name, CANARY)
    assert not info.value.transient
    assert CANARY not in str(info.value)
    backend.recover(name)  # behind the store's back: its cache still says "not found"
    assert store.refresh(name).value.reveal() == "kept"
    store.delete(name, purge=True)
    assert mapped not in kv.deleted_names()
    store.put(name, "reborn")  # a purged name is free again
    assert store.get(name).value.reveal() == "reborn"


def test_recover_deleted_on_write(kv: KeyVaultEmulator, prefix: str) -> None:
    name = f"{prefix}/phoenix"
    with SecretStore(make_backend(kv, recover_deleted=True), retry=FAST_RETRY) as store:
        first = store.put(name, "one")
        store.delete(name)
        second = store.put(name, "two")
        assert store.get(name).value.reveal() == "two"
        assert [v.version for v in store.versions(name)] == [first.version, second.version]


def test_purge_protection_refuses_purge(store: SecretStore, kv: KeyVaultEmulator,
                                        prefix: str) -> None:
    name = f"{prefix}/protected"
    store.put(name, "v")
    kv.purge_protection = True
    with pytest.raises(PermissionDeniedError):
        store.delete(name, purge=True)
    assert encode_name(name) in kv.deleted_names()  # deleted, still recoverable


def test_vault_without_soft_delete(store: SecretStore, kv: KeyVaultEmulator,
                                   prefix: str) -> None:
    kv.soft_delete = False
    name = f"{prefix}/hard"
    store.put(name, "v")
    before = kv.count(path_prefix="/deletedsecrets")
    store.delete(name, purge=True)
    assert kv.count(path_prefix="/deletedsecrets") == before  # nothing to wait for or purge
    with pytest.raises(SecretNotFoundError):
        store.get(name)


# -- staged rotation ------------------------------------------------------------------------


def test_staged_value_is_hidden_until_promoted(store: SecretStore, raw: SecretClient,
                                               kv: KeyVaultEmulator, prefix: str) -> None:
    name = f"{prefix}/staged"
    mapped = encode_name(name)
    first = store.put(name, "one")
    seen: list[tuple[str, list[str], list[str]]] = []

    def test(pending: Secret) -> bool:
        seen.append((raw.get_secret(mapped).value or "", list(store.list(prefix + "/")),
                     kv.secret_names()))
        return pending.value.reveal() == "two"

    promoted = store.rotate_staged(name, lambda: "two", test)
    other_tools_saw, listed, stored = seen[0]
    assert other_tools_saw == "one"  # every reader, not only helium, kept the current value
    assert listed == [name]
    assert mapped + STAGED_SUFFIX in stored
    assert mapped + STAGED_SUFFIX not in kv.secret_names() + kv.deleted_names()  # purged
    assert promoted.value.reveal() == "two"
    assert dict(promoted.metadata) == {}  # internal tags stay internal
    assert [v.version for v in store.versions(name)] == [first.version, promoted.version]


def test_a_lost_promotion_succeeds_and_a_concurrent_rotation_conflicts(
    store: SecretStore, raw: SecretClient, kv: KeyVaultEmulator, prefix: str
) -> None:
    name = f"{prefix}/promote"
    mapped = encode_name(name)
    first = store.put(name, "one")
    staged: list[dict[str, str]] = []

    def lose_the_answer(pending: Secret) -> bool:
        staged.append(dict(raw.get_secret(mapped + STAGED_SUFFIX).properties.tags or {}))
        with SecretStore(make_backend(kv), retry=FAST_RETRY) as other, \
                pytest.raises(ConflictError, match="another rotation is staged"):
            other.rotate_staged(name, lambda: "rival-value", lambda p: True)
        kv.fail_next(None, methods=("PUT",), after=True)  # the promotion lands, unheard
        return True

    promoted = store.rotate_staged(name, lambda: "two", lose_the_answer)
    assert staged[0]["helium-staged-for"] == first.version
    assert kv.clear_faults() == 0, "the fault was used"
    assert promoted.value.reveal() == "two"
    assert len(store.versions(name)) == 2, "written once"
    assert mapped + STAGED_SUFFIX not in kv.secret_names() + kv.deleted_names()

    def interrupted(pending: Secret) -> bool:
        raw.set_secret(mapped, "someone else")  # a rotation by another tool meanwhile
        return True

    with pytest.raises(ConflictError):
        store.rotate_staged(name, lambda: "three", interrupted)
    store.clear_cache()
    assert store.get(name).value.reveal() == "someone else"
    # Its companion is a leftover now (staged against an older version): the next replaces it.
    assert store.rotate_staged(name, lambda: "four", lambda p: True).value.reveal() == "four"


def test_staging_under_purge_protection(store: SecretStore, kv: KeyVaultEmulator,
                                        prefix: str) -> None:
    kv.purge_protection = True
    name = f"{prefix}/protected-rotation"
    hidden = encode_name(name) + STAGED_SUFFIX
    store.put(name, "one")
    store.rotate_staged(name, lambda: "two", lambda pending: True)
    assert hidden in kv.deleted_names()  # could not be purged: left soft-deleted
    store.rotate_staged(name, lambda: "three", lambda pending: True)  # recovered and reused
    store.clear_cache()
    assert store.get(name).value.reveal() == "three"


def test_staging_limits(kv: KeyVaultEmulator) -> None:
    assert not make_backend(kv, names="verbatim").capabilities.staging_companion
    backend = make_backend(kv)
    caps = backend.capabilities
    assert (caps.staging, caps.staging_companion, caps.sequential_versions) == (False, True, False)
    assert backend.kv_name(backend.staging_companion("app/db")) == "app--db" + STAGED_SUFFIX
    with pytest.raises(InvalidNameError, match="staged rotation"):
        backend.staging_companion("z" * 125)


# -- faults, retries and error text ---------------------------------------------------------


def test_throttling_is_retried_with_retry_after(backend: AzureKeyVaultBackend,
                                                kv: KeyVaultEmulator, prefix: str) -> None:
    name = f"{prefix}/throttled"
    backend.put(name, "v")
    clock = FakeClock()
    retry = RetryPolicy(max_attempts=4, initial_backoff=0.0, max_backoff=0.0, deadline=60.0)
    with SecretStore(backend, cache=None, retry=retry, guard=NO_GUARD, clock=clock) as store:
        kv.fail_next(429, 2, retry_after=3)
        before = kv.count("GET")
        assert store.get(name).value.reveal() == "v"
        assert kv.count("GET") - before == 3  # azure-core did not retry on its own
        assert clock.sleeps == [3.0, 3.0]
        assert store.stats().retries == 2


def test_throttling_surfaces_when_it_persists(backend: AzureKeyVaultBackend,
                                              kv: KeyVaultEmulator, prefix: str) -> None:
    name = f"{prefix}/throttled"
    backend.put(name, "v")
    retry = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0, deadline=600.0)
    with SecretStore(backend, cache=None, retry=retry, guard=NO_GUARD,
                     clock=FakeClock()) as store:
        kv.fail_next(429, 10, retry_after=7)
        before = kv.count("GET")
        with pytest.raises(ThrottledError) as info:
            store.get(name)
        assert kv.count("GET") - before == 3
    assert info.value.transient
    assert info.value.retry_after == 7.0
    assert isinstance(info.value.__cause__, Exception)


def test_unavailable_and_dropped_connections(backend: AzureKeyVaultBackend,
                                             kv: KeyVaultEmulator, prefix: str) -> None:
    name = f"{prefix}/flaky"
    backend.put(name, "v")
    with SecretStore(backend, cache=None, retry=FAST_RETRY, guard=NO_GUARD) as store:
        kv.fail_next(503, 1)
        kv.fail_next(None, 1)  # then a dropped connection
        assert store.get(name).value.reveal() == "v"
        kv.fail_next(503, 5)
        with pytest.raises(UnavailableError) as info:
            store.get(name)
        assert info.value.transient
        kv.clear_faults()
        kv.fail_next(None, 5)
        with pytest.raises(UnavailableError, match="dropped"):
            store.get(name)


def test_stale_value_served_while_vault_is_down(store: SecretStore, kv: KeyVaultEmulator,
                                                prefix: str) -> None:
    name = f"{prefix}/stale"
    store.put(name, "v")
    assert store.get(name).value.reveal() == "v"  # cached by a read
    kv.fail_next(503, 5)
    # ttl=0 goes to the vault; on its failure get() falls back to the cached value.
    assert store.get(name, ttl=0).value.reveal() == "v"
    assert store.stats().stale_served == 1
    kv.fail_next(503, 5)
    with pytest.raises(UnavailableError):  # refresh() asks for the vault's answer: no fallback
        store.refresh(name)


def test_plain_put_is_not_retried(store: SecretStore, kv: KeyVaultEmulator, prefix: str) -> None:
    kv.fail_next(503, 1, methods=("PUT",))
    before = kv.count("PUT")
    with pytest.raises(UnavailableError):
        store.put(f"{prefix}/once", "v")
    assert kv.count("PUT") - before == 1  # no idempotency token: a retry could write twice


def test_read_timeout_is_deadline_exceeded(kv: KeyVaultEmulator, prefix: str) -> None:
    backend = make_backend(kv, read_timeout=0.2)
    name = f"{prefix}/slow"
    backend.put(name, "v")
    kv.latency = 3.0
    with (
        SecretStore(backend, retry=RetryPolicy.never(), guard=NO_GUARD) as store,
        pytest.raises(DeadlineExceededError),
    ):
        store.get(name)


def test_service_text_never_reaches_errors(store: SecretStore, kv: KeyVaultEmulator,
                                           prefix: str) -> None:
    kv.fail_next(400, 1, code="BadParameter", message=f"bad value {CANARY}")
    with pytest.raises(InvalidArgumentError) as info:
        store.put(f"{prefix}/echo", "x" + CANARY)
    assert "BadParameter" in str(info.value)
    assert CANARY not in str(info.value)
    assert CANARY not in repr(info.value)


def test_best_effort_create_only_and_expected_version(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/guarded"
    first = store.put(name, "one", create_only=True)
    with pytest.raises(ConflictError, match="already exists"):
        store.put(name, "two", create_only=True)
    second = store.put(name, "two", expected_version=first.version)
    with pytest.raises(ConflictError, match="check-and-set"):
        store.put(name, "three", expected_version=first.version)
    store.clear_cache()
    assert store.get(name).version == second.version


def test_rotation_is_noticed(store: SecretStore, raw: SecretClient, prefix: str) -> None:
    name = f"{prefix}/rotating"
    store.put(name, "old")
    seen: list[tuple[str | None, str]] = []
    store.on_rotation(name, lambda old, new: seen.append(
        (old.value.reveal() if old else None, new.value.reveal())))
    raw.set_secret(encode_name(name), "new", tags={ORDER_TAG: str(time.time_ns())})
    store.rotation.poll_once()
    assert seen[-1] == ("old", "new")


def test_classify_credential_and_server_errors() -> None:
    from azure.core.exceptions import ServiceRequestError
    from azure.identity import CredentialUnavailableError

    from helium_secrets.backends.azurekeyvault import classify
    from helium_secrets.errors import ErrorCode

    verdict = classify(CredentialUnavailableError(message=f"no credential {CANARY}"))
    assert verdict is not None
    assert verdict.code is ErrorCode.UNAUTHENTICATED
    assert CANARY not in (verdict.message or "")
    network = classify(ServiceRequestError("connection refused"))
    assert network is not None
    assert network.code is ErrorCode.UNAVAILABLE
    assert network.transient is None  # the code's default: transient
    assert classify(KeyError("x")) is None


# -- URLs -----------------------------------------------------------------------------------


def test_from_url_forms() -> None:
    credential = StaticCredential("t")
    short = AzureKeyVaultBackend.from_url(urlsplit("azurekeyvault://myvault"),
                                          credential=credential)
    assert short._client.vault_url == "https://myvault.vault.azure.net"
    full = AzureKeyVaultBackend.from_url(
        urlsplit("azurekeyvault://other.vault.azure.cn?recover_deleted=true&names=verbatim"),
        credential=credential,
    )
    assert full._client.vault_url == "https://other.vault.azure.cn"
    assert full.options.recover_deleted
    assert full.capabilities.name_rules.problem("a/b") is not None
    for bad in ("azurekeyvault://myvault?colour=blue", "azurekeyvault://myvault/path",
                "azurekeyvault://", "azurekeyvault://myvault?recover_deleted=maybe"):
        with pytest.raises(ValueError):  # noqa: PT011 - the messages differ per case
            AzureKeyVaultBackend.from_url(urlsplit(bad), credential=credential)


def test_open_store_against_the_emulator(kv: KeyVaultEmulator, prefix: str) -> None:
    url = f"azurekeyvault://127.0.0.1:{kv.port}?verify_challenge_resource=false"
    with open_store(url, credential=StaticCredential(kv.token),
                    connection_verify=str(kv.ca_path), retry=FAST_RETRY) as store:
        assert store.backend.name == "azure"
        store.put(f"{prefix}/url", "via-url")
        assert store.get(f"{prefix}/url").value.reveal() == "via-url"


# -- a real vault ---------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.skipif(not os.environ.get("AZURE_KEYVAULT_URL"),
                    reason="set AZURE_KEYVAULT_URL (and azure-identity credentials) to run")
def test_live_vault_round_trip() -> None:
    url = os.environ["AZURE_KEYVAULT_URL"]
    name = f"helium-live/t{uuid.uuid4().hex[:12]}"
    with SecretStore(AzureKeyVaultBackend(url, poll_interval=2.0)) as store:
        try:
            first = store.put(name, "one", metadata={"purpose": "helium-secrets live test"})
            second = store.put(name, b"\x00two")
            assert store.get(name).value.reveal_bytes() == b"\x00two"
            assert [v.version for v in store.versions(name)] == [first.version, second.version]
            assert name in list(store.list("helium-live/"))
        finally:
            store.delete(name, purge=True)


# == documented behaviour ====================================================================
# docs/backends/azure.md checked claim by claim, black-box through the public API.


def _no_requests_during(kv: KeyVaultEmulator) -> int:
    return len(kv.requests)


@pytest.mark.parametrize(
    ("portable", "mapped"),
    [("app/db", "app--db"), ("my-app/DB_PASS", "my-2dapp---44-42-5f-50-41-53-53"),
     ("prod/api.key", "prod--api-2ekey")],
)
def test_doc_name_mapping_examples_reach_the_vault(
    store: SecretStore, kv: KeyVaultEmulator, prefix: str, portable: str, mapped: str
) -> None:
    name = f"{prefix}/{portable}"
    store.put(name, "v")
    assert f"{encode_name(prefix)}--{mapped}" in kv.secret_names()
    assert list(store.list(prefix + "/")) == [name]


def test_doc_name_lengths(store: SecretStore, kv: KeyVaultEmulator, prefix: str) -> None:
    # Upper-case letters take three characters, "/" two: both limits are exact.
    fits = ["B" * 42, "b" * 62 + "/" + "c" * 63]
    for name in fits:
        assert len(encode_name(name)) <= 127
        store.put(name, "v")
        assert store.get(name).value.reveal() == "v"
        store.delete(name, purge=True)
    before = len(kv.requests)
    for name in ("B" * 43, "b" * 63 + "/" + "c" * 63):
        with pytest.raises(InvalidNameError) as info:
            store.put(name, "v")
        assert info.value.backend == "azure"
        assert info.value.name == name
    assert len(kv.requests) == before


def test_doc_verbatim_names_ignore_case(kv: KeyVaultEmulator) -> None:
    name = f"Db-{uuid.uuid4().hex[:8]}"
    with SecretStore(make_backend(kv, names="verbatim"), retry=FAST_RETRY) as store:
        store.put(name, "one")
        store.put(name.lower(), "two")
        store.clear_cache()
        assert store.get(name).value.reveal() == "two"
        assert len(store.versions(name)) == 2
        before = len(kv.requests)
        with pytest.raises(InvalidNameError):
            store.put("a/b", "v")
        assert len(kv.requests) == before


def test_doc_value_limits_checked_before_any_call(store: SecretStore, kv: KeyVaultEmulator,
                                                  prefix: str) -> None:
    store.put(f"{prefix}/text", "t" * 25 * 1024)
    store.put(f"{prefix}/bytes", b"\x01" * 19_200)
    store.clear_cache()
    assert store.get(f"{prefix}/bytes").value.reveal_bytes() == b"\x01" * 19_200
    before = len(kv.requests)
    with pytest.raises(TooLargeError) as info:
        store.put(f"{prefix}/text", "t" * (25 * 1024 + 1))
    assert info.value.name == f"{prefix}/text"
    with pytest.raises(TooLargeError):
        store.put(f"{prefix}/bytes", b"\x01" * 19_201)
    assert len(kv.requests) == before


def test_doc_metadata_limits_and_tags_per_version(
    store: SecretStore, raw: SecretClient, kv: KeyVaultEmulator, prefix: str
) -> None:
    name = f"{prefix}/tags"
    fourteen = {f"k{i}": "v" * 512 for i in range(13)} | {"x" * 512: "y"}
    store.put(name, "one", metadata=fourteen)
    store.clear_cache()
    assert dict(store.get(name).metadata) == fourteen  # without helium-written-ns
    assert ORDER_TAG in (raw.get_secret(encode_name(name)).properties.tags or {})
    # Tags belong to a version: a put without metadata writes a version without tags.
    store.put(name, "two")
    store.clear_cache()
    assert dict(store.get(name).metadata) == {}
    before = len(kv.requests)
    for bad in ({f"k{i}": "v" for i in range(15)}, {"k": "v" * 513}, {"k" * 513: "v"},
                {ORDER_TAG: "1"}, {"helium-promoted-from": "x"}):
        with pytest.raises(InvalidArgumentError) as info:
            store.put(name, "three", metadata=bad)
        assert info.value.backend == "azure"
        assert info.value.name == name
    assert len(kv.requests) == before


def test_doc_no_labels_refused_before_any_call(store: SecretStore, kv: KeyVaultEmulator,
                                               prefix: str) -> None:
    # "Labels are not supported": a label in a put, a get or set_label is refused alike, by
    # the store, before any call.
    name = f"{prefix}/nolabels"
    store.put(name, "v")
    assert not store.backend.capabilities.labels
    before = len(kv.requests)
    refusals = []
    for call in (lambda: store.put(name, "w", labels=["prod"]),
                 lambda: store.get(name, label="prod"),
                 lambda: store.set_label(name, "prod", None)):
        with pytest.raises((InvalidArgumentError, UnsupportedError)) as info:
            call()
        assert (info.value.backend, info.value.name) == ("azure", name)
        refusals.append(type(info.value))
    assert len(set(refusals)) == 1, refusals
    assert len(kv.requests) == before


def test_doc_get_many_reads_one_by_one(store: SecretStore, kv: KeyVaultEmulator,
                                       prefix: str) -> None:
    names = [f"{prefix}/many{i}" for i in range(3)]
    for name in names:
        store.put(name, name)
    store.clear_cache()
    gets = kv.count("GET")
    got = store.get_many(names)
    assert {n: s.value.reveal() for n, s in got.items()} == {n: n for n in names}
    assert kv.count("GET") - gets == 3


def test_doc_disabled_and_expired_messages_say_which(
    kv: KeyVaultEmulator, raw: SecretClient, prefix: str
) -> None:
    with SecretStore(make_backend(kv), retry=FAST_RETRY) as store:
        disabled = f"{prefix}/off"
        written = store.put(disabled, CANARY)
        raw.update_secret_properties(encode_name(disabled), written.version, enabled=False)
        store.clear_cache()
        with pytest.raises(VersionNotFoundError) as info:
            store.get(disabled)
        assert "disabled" in str(info.value).lower()
        assert info.value.name == disabled
        assert CANARY not in str(info.value)
        expired = f"{prefix}/old"
        written = store.put(expired, CANARY)
        raw.update_secret_properties(encode_name(expired), written.version,
                                     expires_on=datetime.now(timezone.utc) - timedelta(hours=1))
        store.clear_cache()
        with pytest.raises(VersionNotFoundError, match="expired"):
            store.get(expired)
        versions = store.versions(disabled)
        assert [v.state for v in versions] == ["disabled"]
    with SecretStore(make_backend(kv, honour_dates=False), retry=FAST_RETRY) as lenient:
        assert lenient.get(expired).value.reveal() == CANARY


def test_doc_soft_delete_conflict_recover_purge(store: SecretStore, kv: KeyVaultEmulator,
                                                prefix: str) -> None:
    name = f"{prefix}/soft"
    store.put(name, "one")
    store.delete(name)
    backend = store.backend
    assert isinstance(backend, AzureKeyVaultBackend)
    assert list(backend.list_deleted(prefix + "/")) == [name]
    with pytest.raises(ConflictError) as info:
        store.put(name, "two")
    assert "deleted" in str(info.value)
    assert info.value.name == name
    backend.recover(name)
    store.put(name, "two")
    assert len(store.versions(name)) == 2  # recovered with its old version
    store.delete(name)
    backend.purge(name)
    assert encode_name(name) not in kv.deleted_names()
    store.put(name, "fresh")
    assert len(store.versions(name)) == 1


@pytest.mark.parametrize(
    ("status", "code", "error", "transient"),
    [
        (401, "Unauthorized", UnauthenticatedError, False),
        (403, "ForbiddenByRbac", PermissionDeniedError, False),
        (409, "Conflict", ConflictError, False),
        (429, "Throttled", ThrottledError, True),
        (400, "BadParameter", InvalidArgumentError, False),
        (500, "InternalServerError", UnavailableError, True),
        (503, "ServiceUnavailable", UnavailableError, True),
        (408, "RequestTimeout", DeadlineExceededError, True),
        (504, "GatewayTimeout", DeadlineExceededError, True),
        (None, None, UnavailableError, True),
    ],
)
def test_doc_error_table(
    kv: KeyVaultEmulator, prefix: str, status: int | None, code: str | None,
    error: type[Exception], transient: bool,
) -> None:
    name = f"{prefix}/err"
    one_try = RetryPolicy(max_attempts=1, deadline=60.0)
    with SecretStore(make_backend(kv), retry=one_try, guard=NO_GUARD) as store:
        kv.fail_next(status, 1, code=code, retry_after=3 if status in (429, 503) else None,
                     message=f"echo {CANARY}")
        with pytest.raises(error) as info:
            store.get(name)
    exc = info.value
    assert isinstance(exc, error)
    assert exc.backend == "azure"  # type: ignore[attr-defined]
    assert exc.name == name  # type: ignore[attr-defined]
    assert exc.transient is transient  # type: ignore[attr-defined]
    assert CANARY not in str(exc)
    assert CANARY not in repr(exc)
    assert exc.__cause__ is not None
    if status in (429, 503):  # a hint on a 503 is kept too
        assert exc.retry_after == 3  # type: ignore[attr-defined]


def test_doc_not_found_then_version_not_found(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/nf"
    with pytest.raises(SecretNotFoundError) as info:
        store.get(name)
    assert (info.value.backend, info.value.name) == ("azure", name)
    store.put(name, "v")
    with pytest.raises(VersionNotFoundError):
        store.get(name, version="0" * 32)
    with pytest.raises(SecretNotFoundError):
        store.delete(f"{prefix}/never")


def test_doc_url_options() -> None:
    credential = StaticCredential("t")
    backend = AzureKeyVaultBackend.from_url(
        urlsplit("azurekeyvault://host.example:8443?verify_challenge_resource=false"
                 "&poll_interval=0.5&wait_timeout=30&honour_dates=false"),
        credential=credential,
    )
    assert backend._client.vault_url == "https://host.example:8443"
    assert (backend.options.poll_interval, backend.options.wait_timeout) == (0.5, 30.0)
    assert not backend.options.honour_dates
    for key in ("poll_interval", "wait_timeout"):
        with pytest.raises(ValueError, match=key):
            AzureKeyVaultBackend.from_url(urlsplit(f"azurekeyvault://myvault?{key}=soon"),
                                          credential=credential)
    for key in ("poll_interval", "wait_timeout", "connection_timeout", "read_timeout"):
        zero: dict[str, Any] = {key: 0}
        with pytest.raises(ValueError, match=key):
            AzureKeyVaultBackend("https://v.vault.azure.net", credential=credential,
                                 **zero)
    with pytest.raises(ValueError, match="names"):
        AzureKeyVaultBackend.from_url(urlsplit("azurekeyvault://myvault?names=upper"),
                                      credential=credential)
    with pytest.raises(ValueError, match="TLS"):
        AzureKeyVaultBackend("https://v.vault.azure.net", credential=credential,
                             connection_verify=False)


def test_doc_open_store_url_example_builds_the_vault_url() -> None:
    with open_store("azurekeyvault://myvault", credential=StaticCredential("t")) as store:
        assert store.backend._client.vault_url == "https://myvault.vault.azure.net"  # type: ignore[attr-defined]
    with open_store("azurekeyvault://myvault.vault.azure.cn?recover_deleted=true",
                    credential=StaticCredential("t")) as store:
        backend = store.backend
        assert isinstance(backend, AzureKeyVaultBackend)
        assert backend._client.vault_url == "https://myvault.vault.azure.cn"
        assert backend.options.recover_deleted


def test_doc_staging_name_room(kv: KeyVaultEmulator, prefix: str) -> None:
    with SecretStore(make_backend(kv), retry=FAST_RETRY) as store:
        name = "s" * 119  # the longest Key Vault name that leaves room for the suffix
        store.put(name, "old")
        store.rotate_staged(name, lambda: "new", lambda pending: True)
        assert store.get(name, ttl=0).value.reveal() == "new"
        assert not any(n.endswith(STAGED_SUFFIX) for n in kv.secret_names())
        store.delete(name, purge=True)


def test_doc_import_imports_no_azure_sdk() -> None:
    import subprocess
    import sys

    code = ("import sys, helium_secrets; "
            "print(sorted(m for m in sys.modules if m.startswith('azure')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_doc_backend_soft_delete_calls_raise_helium_errors(
    store: SecretStore, backend: AzureKeyVaultBackend, kv: KeyVaultEmulator, prefix: str
) -> None:
    # store.extras.recover/purge and store.backend.list_deleted are documented user calls: they
    # speak the library's error model, not azure-core's, and refuse bad names before any call.
    name = f"{prefix}/never-deleted"
    for call in (store.extras.purge, store.extras.recover):
        with pytest.raises(SecretNotFoundError) as info:
            call(name)
        assert (info.value.backend, info.value.name) == ("azure", name)
        assert info.value.__cause__ is not None
    before = len(kv.requests)
    for call in (store.extras.purge, store.extras.recover):
        with pytest.raises(InvalidNameError):
            call("bad name!")
    assert len(kv.requests) == before
    kv.fail_next(403, 1, code="Forbidden", message=f"no {CANARY}")
    with pytest.raises(PermissionDeniedError) as denied:
        list(backend.list_deleted(prefix))
    assert CANARY not in str(denied.value)



def test_doc_ready_client_is_not_closed(kv: KeyVaultEmulator, raw: SecretClient,
                                        prefix: str) -> None:
    with open_store(f"azurekeyvault://127.0.0.1:{kv.port}", client=raw,
                    retry=FAST_RETRY) as store:
        store.put(f"{prefix}/mine", "v")
    assert raw.get_secret(encode_name(f"{prefix}/mine")).value == "v"  # still open


@pytest.mark.parametrize("key", ["connection_verify", "retry_total", "retry_policy",
                                 "read_timeout", "verify_challenge_resource"])
def test_doc_client_options_cannot_undo_the_backend_options(key: str) -> None:
    # TLS verification cannot be turned off, and the store is the only retry layer: not even
    # through client_options.
    with pytest.raises(ValueError, match=key):
        AzureKeyVaultBackend("https://v.vault.azure.net", credential=StaticCredential("t"),
                             client_options={key: False})


def test_doc_client_options_reach_the_client(kv: KeyVaultEmulator, prefix: str) -> None:
    with SecretStore(make_backend(kv, client_options={"api_version": "7.4"}),
                     retry=FAST_RETRY) as store:
        assert store.backend._client.api_version == "7.4"  # type: ignore[attr-defined]
        store.put(f"{prefix}/api", "v")
        assert store.get(f"{prefix}/api", ttl=0).value.reveal() == "v"


def test_doc_no_token_from_the_credential_is_unauthenticated(kv: KeyVaultEmulator,
                                                             prefix: str) -> None:
    from azure.identity import CredentialUnavailableError

    class NoToken:
        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            raise CredentialUnavailableError(message=f"nothing configured {CANARY}")

    name = f"{prefix}/no-token"
    store = SecretStore(make_backend(kv, credential=NoToken()), retry=FAST_RETRY, guard=NO_GUARD)
    with store, pytest.raises(UnauthenticatedError) as info:
        store.get(name)
    assert (info.value.backend, info.value.name) == ("azure", name)
    assert not info.value.transient
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)


def test_doc_no_staged_rotation_with_verbatim_names(kv: KeyVaultEmulator) -> None:
    name = f"Verbatim-{uuid.uuid4().hex[:8]}"
    with SecretStore(make_backend(kv, names="verbatim"), retry=FAST_RETRY) as store:
        store.put(name, "old")
        before = len(kv.requests)
        with pytest.raises(UnsupportedError) as info:
            store.rotate_staged(name, lambda: CANARY, lambda pending: True)
        assert (info.value.backend, info.value.name) == ("azure", name)
        assert len(kv.requests) == before
        assert store.get(name, ttl=0).value.reveal() == "old"


# -- issue 11: deletion is portable ----------------------------------------------------------


def test_reads_after_a_soft_delete_are_not_found(store: SecretStore, prefix: str) -> None:
    from tests.backends.deletion import assert_reads_after_delete_are_not_found

    assert_reads_after_delete_are_not_found(store, f"{prefix}/deleted")


def test_a_write_to_a_deleted_but_recoverable_name_is_a_conflict_saying_how_to_recover(
    store: SecretStore, kv: KeyVaultEmulator, prefix: str
) -> None:
    name = f"{prefix}/recoverable"
    first = store.put(name, "kept")
    store.delete(name)
    writes: list[Any] = [lambda: store.put(name, CANARY),
                         lambda: store.put(name, CANARY, create_only=True),
                         lambda: store.rotate(name, lambda: CANARY)]
    for write in writes:
        with pytest.raises(ConflictError) as info:
            write()
        message = str(info.value)
        assert "store.extras.recover(name)" in message and "recover_deleted=True" in message
        assert "store.extras.purge(name)" in message
        assert CANARY not in message
    store.extras.recover(name)
    assert store.get(name).value.reveal() == "kept"
    assert [v.version for v in store.versions(name)] == [first.version], "nothing written"
    store.delete(name)
    store.extras.purge(name)
    assert encode_name(name) not in kv.deleted_names()
    with pytest.raises(SecretNotFoundError):
        store.extras.purge(name)  # through the pipeline: translated, with backend and name


# -- "no such version" or "no such secret", decided by the store (issue 11) ----------------


def test_a_missing_version_is_told_by_one_read_of_the_secret(
    store: SecretStore, raw: SecretClient, kv: KeyVaultEmulator, prefix: str
) -> None:
    name = f"{prefix}/which-missing"
    first = store.put(name, "one")
    secret_path = f"/secrets/{encode_name(name)}"
    before = kv.count("GET", secret_path)
    with pytest.raises(VersionNotFoundError, match="no such version") as info:
        store.get(name, "0" * 32)
    assert isinstance(info.value.__cause__, SecretNotFoundError)
    assert kv.count("GET", secret_path) - before == 2  # the read, and one of the current one
    # A secret whose current version is disabled (403 SecretDisabled) exists too.
    raw.update_secret_properties(encode_name(name), first.version, enabled=False)
    with pytest.raises(VersionNotFoundError, match="no such version"):
        store.get(name, "0" * 32)
    with pytest.raises(SecretNotFoundError) as missing:
        store.get(f"{prefix}/never", "0" * 32)
    assert type(missing.value) is SecretNotFoundError


# -- the async twin ----------------------------------------------------------------------------


class AsyncAzureHarness(AzureHarness):
    """The same emulator for the async twin, through the native aio backend."""

    def __init__(self, kv: KeyVaultEmulator) -> None:
        super().__init__(kv)
        self.twin = "async"

    def make_async_backend(self) -> AsyncBackend:
        from helium_secrets.backends.azurekeyvault.aio import AsyncAzureKeyVaultBackend
        from tests.backends.test_azure_async import AsyncStaticCredential

        return AsyncAzureKeyVaultBackend(
            self.kv.url, credential=AsyncStaticCredential(self.kv.token),
            connection_verify=str(self.kv.ca_path), verify_challenge_resource=False,
            poll_interval=0.01)


class TestAzureAsyncTwinConformance(BackendConformance):
    """Every conformance case on the async twin."""

    @pytest.fixture
    def harness(self, kv: KeyVaultEmulator) -> Iterator[AzureHarness]:
        pytest.importorskip("aiohttp")
        with AsyncAzureHarness(kv) as harness:
            yield harness
