"""GCP Secret Manager: the conformance suite and the GCP specifics, against the gRPC emulator.

The real ``SecretManagerServiceClient`` talks gRPC to ``tests/emulators/secretmanager.py`` on
loopback; nothing in the SDK is mocked. One emulator serves the whole module: every test uses
its own names. The live test at the end is skipped unless GCP credentials are configured.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud.secretmanager_v1 import SecretManagerServiceClient

from helium_secrets import GuardPolicy, PollPolicy, RetryPolicy, Secret, SecretStore, open_store
from helium_secrets.backends._base import AsyncBackend
from helium_secrets.backends.gcpsecretmanager import (
    GCPSecretManagerBackend,
    crc32c,
    decode_name,
    encode_name,
)
from helium_secrets.errors import (
    ConflictError,
    DeadlineExceededError,
    HeliumError,
    IntegrityError,
    InvalidArgumentError,
    InvalidNameError,
    PermissionDeniedError,
    RotationTestFailed,
    SecretNotFoundError,
    ThrottledError,
    TooLargeError,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedError,
    VersionNotFoundError,
)
from helium_secrets.testing import BackendHarness
from helium_secrets.testing.conformance import CANARY, BackendConformance, plaintext_in_frames
from tests.emulators import secretmanager as emulator_module
from tests.emulators.secretmanager import SecretManagerEmulator

PROJECT = "helium-test"
FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0, deadline=60.0)
NO_GUARD = GuardPolicy(threshold=0)
NO_POLL = PollPolicy(interval=None)


@pytest.fixture(scope="module")
def emulator() -> Iterator[SecretManagerEmulator]:
    with SecretManagerEmulator() as server:
        yield server


@pytest.fixture
def server(emulator: SecretManagerEmulator) -> Iterator[SecretManagerEmulator]:
    """The shared emulator with clean switches and counters for one test."""
    emulator.reset_switches()
    page_size = emulator.max_page_size
    yield emulator
    emulator.reset_switches()
    emulator.max_page_size = page_size


def make_backend(server: SecretManagerEmulator, **options: Any) -> GCPSecretManagerBackend:
    options.setdefault("timeout", 20.0)
    return GCPSecretManagerBackend(PROJECT, client=server.client(), **options)


@pytest.fixture
def backend(server: SecretManagerEmulator) -> Iterator[GCPSecretManagerBackend]:
    backend = make_backend(server)
    yield backend
    backend.close()


@pytest.fixture
def store(backend: GCPSecretManagerBackend) -> Iterator[SecretStore]:
    with SecretStore(backend, retry=FAST_RETRY, guard=NO_GUARD, poll=NO_POLL) as store:
        yield store


@pytest.fixture
def client(server: SecretManagerEmulator) -> SecretManagerServiceClient:
    """A second, independent client: "another application" writing to the same project."""
    return server.client()


@pytest.fixture
def prefix() -> str:
    return f"gcp/t{uuid.uuid4().hex[:12]}"


def path(name: str, location: str | None = None) -> str:
    parent = f"projects/{PROJECT}" + (f"/locations/{location}" if location else "")
    return f"{parent}/secrets/{encode_name(name)}"


def create_empty(client: SecretManagerServiceClient, secret_id: str) -> None:
    """Create a secret without versions, as another tool would."""
    client.create_secret(request={
        "parent": f"projects/{PROJECT}",
        "secret_id": secret_id,
        "secret": {"replication": {"automatic": {}}},
    })


def add_version(client: SecretManagerServiceClient, name: str, data: bytes) -> None:
    """Add a version from outside the store (a rotation); the service computes its CRC32C."""
    client.add_secret_version(request={"parent": path(name), "payload": {"data": data}})


class GCPHarness(BackendHarness):
    """The module's emulator: faults are status codes on the wire; a lost answer is a call the
    emulator carried out and then ended with UNAVAILABLE."""

    faults = frozenset({"unavailable", "throttled", "lost_answer"})
    _CODES = {"unavailable": grpc.StatusCode.UNAVAILABLE,
              "throttled": grpc.StatusCode.RESOURCE_EXHAUSTED,
              "lost_answer": grpc.StatusCode.UNAVAILABLE}
    _METHODS = {"get": ["AccessSecretVersion"], "put": ["CreateSecret", "AddSecretVersion"],
                "delete": ["DeleteSecret"]}

    def __init__(self, emulator: SecretManagerEmulator, **backend_options: Any) -> None:
        super().__init__()
        emulator.reset_switches()
        self.emulator = emulator
        self.backend_options = backend_options

    def make_backend(self) -> GCPSecretManagerBackend:
        return make_backend(self.emulator, **self.backend_options)

    def make_store(self, **store_options: Any) -> SecretStore:
        return super().make_store(**{"poll": NO_POLL, **store_options})

    def inject_fault(self, kind: str, operation: str, count: int = 1) -> None:
        self.emulator.fail_next(self._CODES[kind], count, methods=self._METHODS[operation],
                                after=kind == "lost_answer")

    def clear_faults(self) -> int:
        return self.emulator.clear_faults()


class TestGCPConformance(BackendConformance):
    @pytest.fixture
    def harness(self, emulator: SecretManagerEmulator) -> Iterator[GCPHarness]:
        with GCPHarness(emulator) as harness:
            yield harness


class TestGCPConformanceRegional(BackendConformance):
    """The same contract on regional secrets (``projects/P/locations/L/secrets/S``)."""

    @pytest.fixture
    def harness(self, emulator: SecretManagerEmulator) -> Iterator[GCPHarness]:
        with GCPHarness(emulator, location="us-east1") as harness:
            yield harness


class TestGCPConformanceAliasMode(BackendConformance):
    """Alias mode: the current version is an alias; atomic check-and-set and staged rotation."""

    @pytest.fixture
    def harness(self, emulator: SecretManagerEmulator) -> Iterator[GCPHarness]:
        with GCPHarness(emulator, current_alias="current") as harness:
            yield harness


# -- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("portable", "secret_id"),
    [
        ("db_password", "db_password"),
        ("app/db", "app_Sdb"),
        ("app/db.url", "app_Sdb_Durl"),
        ("a+b=c@d", "a_Pb_Ec_Ad"),
        ("x_y/z", "x_y_Sz"),
        ("x_/z", "x___Sz"),
        ("a__b", "a___b"),
        ("snake_Case", "snake_Case"),
        ("snake_Sun", "snake__Sun"),
        ("kebab-case-9", "kebab-case-9"),
    ],
)
def test_name_mapping_examples(portable: str, secret_id: str) -> None:
    assert encode_name(portable) == secret_id
    assert decode_name(secret_id) == portable


def test_name_mapping_is_injective_and_reversible() -> None:
    alphabet = "aZ9._+=@-_/SDPEA"
    rng = random.Random(8)  # deterministic
    seen: dict[str, str] = {}
    for _ in range(20000):
        segments = [
            "".join(rng.choice(alphabet.replace("/", "")) for _ in range(rng.randint(1, 5)))
            for _ in range(rng.randint(1, 3))
        ]
        name = "/".join(segments)
        if any(s in (".", "..") for s in segments):
            continue
        secret_id = encode_name(name)
        assert all(c.isalnum() or c in "_-" for c in secret_id)
        assert decode_name(secret_id) == name
        assert seen.setdefault(secret_id, name) == name, "two names map to one secret id"


@pytest.mark.parametrize("foreign", ["a__b", "_S", "x_Sy_S", "a_S_Sb", "a_S_D"])
def test_ids_no_portable_name_maps_to_decode_to_none(foreign: str) -> None:
    assert decode_name(foreign) is None


def test_mapped_name_too_long_is_rejected_before_any_call(
    store: SecretStore, server: SecretManagerEmulator
) -> None:
    name = "a/" * 100 + "b"  # 201 characters, 301 once mapped
    with pytest.raises(InvalidNameError, match="255"):
        store.get(name)
    with pytest.raises(InvalidNameError):
        store.put(name, CANARY)
    assert store.stats().backend_calls == 0
    assert sum(server.calls.values()) == 0
    store.put("b" * 255, "fits")  # the limit itself is accepted


def test_raw_names(server: SecretManagerEmulator, client: SecretManagerServiceClient) -> None:
    secret_id = f"raw_{uuid.uuid4().hex[:8]}"
    with SecretStore(make_backend(server, raw_names=True), retry=FAST_RETRY) as store:
        store.put(secret_id, "v")
        assert client.get_secret(name=f"projects/{PROJECT}/secrets/{secret_id}").name.endswith(
            f"/secrets/{secret_id}"
        )
        assert secret_id in list(store.list("raw_"))
        with pytest.raises(InvalidNameError):
            store.get("app/db")
        with pytest.raises(InvalidNameError):
            store.get("a.b")


def test_list_skips_ids_no_name_maps_to(
    store: SecretStore, client: SecretManagerServiceClient, prefix: str
) -> None:
    base = encode_name(prefix)
    for secret_id in (f"{base}_Sdb_password", f"{base}_Sx__y"):
        create_empty(client, secret_id)
    assert list(store.list(prefix)) == [f"{prefix}/db_password"]


def test_list_follows_pages(
    store: SecretStore, server: SecretManagerEmulator, prefix: str
) -> None:
    names = [f"{prefix}/p{i}" for i in range(5)]
    for name in names:
        store.put(name, "v")
    server.max_page_size = 2
    server.calls.clear()
    assert list(store.list(prefix)) == names
    assert server.calls["ListSecrets"] >= 3


# -- checksums and integrity -------------------------------------------------------------


def test_crc32c_known_answers() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(b"") == 0
    data = bytes(range(256)) * 4
    assert crc32c(data) == emulator_module.crc32c(data)


def test_put_sends_the_checksum_and_the_service_verifies_it(
    store: SecretStore, client: SecretManagerServiceClient, prefix: str
) -> None:
    name = f"{prefix}/crc"
    written = store.put(name, "checked")
    version = client.get_secret_version(name=f"{path(name)}/versions/{written.version}")
    assert version.client_specified_payload_checksum
    with pytest.raises(Exception, match="Checksum mismatch"):  # the emulator checks like GCP
        client.add_secret_version(
            request={"parent": path(name), "payload": {"data": b"x", "data_crc32c": crc32c(b"y")}}
        )


def test_corrupted_checksum_is_an_integrity_error_never_a_value(
    store: SecretStore, server: SecretManagerEmulator, prefix: str
) -> None:
    name = f"{prefix}/corrupt"
    store.put(name, CANARY)
    store.clear_cache()
    server.corrupt_checksums = True
    with pytest.raises(IntegrityError) as info:
        store.get(name)
    assert not info.value.transient
    assert info.value.name == name
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)
    assert plaintext_in_frames(info.value, CANARY) == []  # not in a local an error reporter sees
    with pytest.raises(IntegrityError) as info:
        store.get(name, "1")
    assert plaintext_in_frames(info.value, CANARY) == []
    server.corrupt_checksums = False
    assert store.get(name).value.reveal() == CANARY  # nothing damaged was cached


def test_binary_value_round_trips_as_bytes(store: SecretStore, prefix: str) -> None:
    data = b"\xff\xfe\x00binary"
    store.put(f"{prefix}/bin", data)
    store.clear_cache()
    secret = store.get(f"{prefix}/bin")
    assert secret.value.is_binary
    assert secret.value.reveal_bytes() == data


def test_largest_value_is_accepted(store: SecretStore, prefix: str) -> None:
    value = b"x" * (64 * 1024)
    store.put(f"{prefix}/max", value)
    store.clear_cache()
    assert store.get(f"{prefix}/max").value.reveal_bytes() == value


# -- creation, replication, regions ------------------------------------------------------


def test_automatic_replication_by_default(
    store: SecretStore, server: SecretManagerEmulator, client: SecretManagerServiceClient,
    prefix: str,
) -> None:
    store.put(f"{prefix}/auto", "v")
    secret = client.get_secret(name=path(f"{prefix}/auto"))
    assert "automatic" in secret.replication
    # Names come back with the project number, as on GCP.
    number = server.project_number(PROJECT)
    assert secret.name == f"projects/{number}/secrets/{encode_name(prefix + '/auto')}"


def test_user_managed_replication_on_request(
    server: SecretManagerEmulator, client: SecretManagerServiceClient, prefix: str
) -> None:
    backend = make_backend(server, replica_locations=["europe-west1", "europe-west4"])
    with SecretStore(backend) as store:
        store.put(f"{prefix}/um", "v")
    replicas = client.get_secret(name=path(f"{prefix}/um")).replication.user_managed.replicas
    assert [r.location for r in replicas] == ["europe-west1", "europe-west4"]


def test_regional_secrets_live_under_the_location(
    server: SecretManagerEmulator, client: SecretManagerServiceClient, prefix: str
) -> None:
    with SecretStore(make_backend(server, location="us-east1"), retry=FAST_RETRY) as store:
        store.put(f"{prefix}/reg", "regional")
        store.clear_cache()
        assert store.get(f"{prefix}/reg").value.reveal() == "regional"
        assert list(store.list(prefix)) == [f"{prefix}/reg"]
    secret = client.get_secret(name=path(f"{prefix}/reg", "us-east1"))
    assert "/locations/us-east1/" in secret.name
    assert "replication" not in secret  # regional secrets take none
    with SecretStore(make_backend(server)) as global_store:
        assert list(global_store.list(prefix)) == []


def test_endpoints_global_regional_and_explicit() -> None:
    anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
    mine = ClientOptions()
    backends = [
        GCPSecretManagerBackend("p", credentials=anonymous),
        GCPSecretManagerBackend("p", credentials=anonymous, location="europe-west1",
                                client_options=mine),
        GCPSecretManagerBackend("p", credentials=anonymous, endpoint_url="sm.internal:443"),
    ]
    try:
        # Channels connect lazily: nothing here touches the network.
        assert [b._client.api_endpoint for b in backends] == [
            "secretmanager.googleapis.com",
            "secretmanager.europe-west1.rep.googleapis.com",
            "sm.internal:443",
        ]
        assert mine.api_endpoint is None  # the caller's options are not changed
    finally:
        for backend in backends:
            backend.close()


def test_open_store_url(server: SecretManagerEmulator, prefix: str) -> None:
    url = f"gcpsecretmanager://{PROJECT}?endpoint_url={server.address}&insecure=true&timeout=15"
    with open_store(url, retry=FAST_RETRY) as store:
        assert isinstance(store.backend, GCPSecretManagerBackend)
        assert store.backend.project == PROJECT
        store.put(f"{prefix}/url", "via url")
        store.clear_cache()
        assert store.get(f"{prefix}/url").value.reveal() == "via url"
    with pytest.raises(ValueError, match="unknown"):
        open_store(f"gcpsecretmanager://{PROJECT}?colour=blue")
    with pytest.raises(ValueError, match="loopback"):
        open_store(f"gcpsecretmanager://{PROJECT}?endpoint_url=secretmanager.example:443&insecure=1")
    with pytest.raises(ValueError, match="path"):
        open_store(f"gcpsecretmanager://{PROJECT}/us-east1")


def test_project_from_application_default_credentials(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An authorized-user file is enough for google.auth.default(); nothing is fetched.
    adc = tmp_path / "adc.json"
    adc.write_text(
        '{"type": "authorized_user", "client_id": "x", "client_secret": "y", '
        '"refresh_token": "z"}'
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    backend = GCPSecretManagerBackend()
    try:
        assert backend.project == "from-env"
    finally:
        backend.close()
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT")
    with pytest.raises(ValueError, match="no GCP project"):
        GCPSecretManagerBackend()


def test_importing_the_package_imports_no_sdk() -> None:
    code = (
        "import sys, helium_secrets; "
        "assert not [m for m in sys.modules if m.startswith(('google', 'grpc'))], "
        "[m for m in sys.modules if m.startswith(('google', 'grpc'))]"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# -- versions, states, aliases, metadata -------------------------------------------------


def test_version_states_and_rollback_by_disabling(
    store: SecretStore, backend: GCPSecretManagerBackend, prefix: str
) -> None:
    name = f"{prefix}/states"
    for value in ("one", "two", "three"):
        store.put(name, value)
    assert backend.disable_version(name, "3").state == "disabled"
    store.refresh(name)
    # The latest version is disabled: the newest enabled one is current.
    assert store.get(name).value.reveal() == "two"
    assert store.current_version(name) == "2"
    with pytest.raises(VersionNotFoundError):
        store.get(name, "3")
    assert backend.destroy_version(name, "1").state == "destroyed"
    states = {v.version: v.state for v in store.versions(name)}
    assert states == {"1": "destroyed", "2": "enabled", "3": "disabled"}
    assert not store.versions(name)[0].enabled
    with pytest.raises(VersionNotFoundError):
        store.get(name, "1")
    with pytest.raises(ConflictError):  # a destroyed version stays destroyed
        store.extras.enable_version(name, "1")
    assert backend.enable_version(name, "3").state == "enabled"
    assert store.refresh(name).value.reveal() == "three"
    backend.disable_version(name, "2")
    backend.disable_version(name, "3")
    with pytest.raises(VersionNotFoundError):
        store.refresh(name)


def test_accessor_only_identity_gets_version_errors(
    store: SecretStore, backend: GCPSecretManagerBackend, server: SecretManagerEmulator,
    prefix: str,
) -> None:
    # roles/secretmanager.secretAccessor may access versions but not get or list: telling a
    # missing version from a missing secret needs no metadata read (the probe is an access).
    name = f"{prefix}/accessor"
    store.put(name, "one")
    store.put(name, "two")
    server.calls.clear()
    with pytest.raises(VersionNotFoundError):
        store.get(name, "99")
    assert "GetSecret" not in server.calls
    backend.disable_version(name, "2")
    server.fail_next(grpc.StatusCode.PERMISSION_DENIED, methods=["ListSecretVersions"])
    with pytest.raises(VersionNotFoundError, match="denied"):
        store.refresh(name)
    assert store.refresh(name).value.reveal() == "one"


def test_state_changes_map_errors_and_check_etags(
    store: SecretStore, client: SecretManagerServiceClient, prefix: str,
) -> None:
    name = f"{prefix}/etag"
    store.put(name, "v")
    with pytest.raises(ConflictError) as info:
        store.extras.disable_version(name, "1", etag='"stale"')
    assert info.value.backend == "gcp" and info.value.name == name
    etag = client.get_secret_version(name=f"{path(name)}/versions/1").etag
    assert store.extras.disable_version(name, "1", etag=etag).state == "disabled"
    with pytest.raises(VersionNotFoundError):
        store.extras.enable_version(name, "7")
    with pytest.raises(SecretNotFoundError) as missing:
        store.extras.enable_version(f"{prefix}/nope", "1")
    assert type(missing.value) is SecretNotFoundError


def test_aliases_are_labels(
    store: SecretStore, client: SecretManagerServiceClient, prefix: str
) -> None:
    name = f"{prefix}/aliases"
    first = store.put(name, "one", labels=["prod"])
    second = store.put(name, "two", labels=["canary"])
    assert dict(client.get_secret(name=path(name)).version_aliases) == {"prod": 1, "canary": 2}
    assert store.get(name, label="prod").labels == {"prod"}
    store.set_label(name, "prod", second.version)
    assert store.get(name, label="prod").value.reveal() == "two"
    store.set_label(name, "canary", None)
    with pytest.raises(VersionNotFoundError):
        store.get(name, label="canary")
    labels = {v.version: v.labels for v in store.versions(name)}
    assert labels == {first.version: frozenset(), second.version: frozenset({"prod"})}
    with pytest.raises(VersionNotFoundError):
        store.set_label(name, "prod", "99")
    with pytest.raises(SecretNotFoundError):
        store.set_label(f"{prefix}/nope", "prod", "1")


@pytest.mark.parametrize("bad", ["latest", "New", "9lives", "has.dot", "x" * 64])
def test_invalid_alias_rejected_before_any_rpc(
    store: SecretStore, server: SecretManagerEmulator, prefix: str, bad: str
) -> None:
    with pytest.raises(InvalidArgumentError):
        store.put(f"{prefix}/a", CANARY, labels=[bad])
    assert sum(server.calls.values()) == 0


def test_metadata_is_annotations_merged_with_labels(
    server: SecretManagerEmulator, client: SecretManagerServiceClient, prefix: str
) -> None:
    name = f"{prefix}/meta"
    with SecretStore(make_backend(server, read_metadata=True), cache=None) as store:
        store.put(name, "v1", metadata={"owner": "team-a", "tier": "gold"})
        store.put(name, "v2", metadata={"owner": "team-b"}, labels=["stable"])
        secret = client.get_secret(name=path(name))
        assert dict(secret.annotations) == {"owner": "team-b", "tier": "gold"}
        client.update_secret(
            request={
                "secret": {"name": secret.name, "labels": {"env": "prod"}},
                "update_mask": {"paths": ["labels"]},
            }
        )
        got = store.get(name)
        assert dict(got.metadata) == {"owner": "team-b", "tier": "gold", "env": "prod"}
        assert got.labels == {"stable"}
        with pytest.raises(InvalidArgumentError):
            store.put(name, "v3", metadata={"-bad key": "x"})


def test_plain_get_reads_only_the_access_quota(
    store: SecretStore, server: SecretManagerEmulator, prefix: str
) -> None:
    name = f"{prefix}/quota"
    store.put(name, "v")
    store.clear_cache()
    server.calls.clear()
    secret = store.get(name)
    assert secret.metadata == {} and secret.labels == frozenset()
    assert store.current_version(name) == secret.version
    assert set(server.calls) == {"AccessSecretVersion"}


def test_rotation_poll_uses_access_calls_only(
    store: SecretStore, server: SecretManagerEmulator,
    client: SecretManagerServiceClient, prefix: str,
) -> None:
    name = f"{prefix}/rotating"
    store.put(name, "old")
    seen: list[tuple[Secret | None, Secret]] = []
    store.on_rotation(name, lambda old, new: seen.append((old, new)))
    add_version(client, name, b"new")
    server.calls.clear()
    assert store.rotation.poll_once()
    assert [(old.version if old else None, new.version) for old, new in seen] == [("1", "2")]
    assert seen[0][1].value.reveal() == "new"
    assert set(server.calls) == {"AccessSecretVersion"}


def test_check_and_set_best_effort(
    store: SecretStore, client: SecretManagerServiceClient, prefix: str
) -> None:
    # The conformance suite skips this (capabilities.check_and_set is False: the compare and
    # the write are two calls); sequentially it behaves like check-and-set.
    name = f"{prefix}/cas"
    first = store.put(name, "one")
    second = store.put(name, "two", expected_version=first.version)
    with pytest.raises(ConflictError) as info:
        store.put(name, CANARY, expected_version=first.version)
    assert CANARY not in str(info.value)
    add_version(client, name, b"outside")
    with pytest.raises(ConflictError):
        store.put(name, "three", expected_version=second.version)
    with pytest.raises(ConflictError):
        store.put(f"{prefix}/absent", "x", expected_version="1")
    assert store.refresh(name).value.reveal() == "outside"


def test_create_only(store: SecretStore, client: SecretManagerServiceClient, prefix: str) -> None:
    name = f"{prefix}/create"
    assert store.put(name, "first", create_only=True).version == "1"
    with pytest.raises(ConflictError):
        store.put(name, "second", create_only=True)
    # A secret that exists without any version does not exist for the portable model.
    empty = f"{prefix}/empty"
    create_empty(client, encode_name(empty))
    with pytest.raises(SecretNotFoundError):
        store.get(empty)
    with pytest.raises(SecretNotFoundError):
        store.versions(empty)
    assert store.put(empty, "now", create_only=True).version == "1"


def test_put_to_a_secret_deleted_meanwhile_recreates_it(
    store: SecretStore, client: SecretManagerServiceClient, prefix: str
) -> None:
    name = f"{prefix}/recreate"
    store.put(name, "one")
    client.delete_secret(name=path(name))
    assert store.put(name, "again").version == "1"


# -- alias mode ---------------------------------------------------------------------------


@pytest.fixture
def alias_store(server: SecretManagerEmulator) -> Iterator[SecretStore]:
    backend = make_backend(server, current_alias="current")
    with SecretStore(backend, retry=FAST_RETRY, guard=NO_GUARD, poll=NO_POLL) as store:
        yield store


def test_alias_mode_concurrent_check_and_set_has_one_winner(
    server: SecretManagerEmulator, alias_store: SecretStore, prefix: str
) -> None:
    name = f"{prefix}/race"
    base = alias_store.put(name, "base").version
    writers = 6
    barrier = threading.Barrier(writers)
    outcomes: list[str] = []

    def write(index: int) -> None:
        with SecretStore(make_backend(server, current_alias="current"), cache=None,
                         retry=RetryPolicy.never()) as store:
            barrier.wait(timeout=60)
            try:
                outcomes.append(store.put(name, f"writer-{index}", expected_version=base).version)
            except ConflictError:
                outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    winners = [o for o in outcomes if o != "conflict"]
    assert len(outcomes) == writers and len(winners) == 1
    alias_store.clear_cache()
    assert alias_store.get(name).version == winners[0]
    states = {v.version: v.state for v in alias_store.versions(name)}
    losers = [v for v in states if v not in (base, winners[0])]
    assert len(losers) == writers - 1
    assert all(states[v] == "disabled" for v in losers)  # the losers' values are out of reach


def test_alias_mode_versions_from_other_tools_are_not_current(
    alias_store: SecretStore, client: SecretManagerServiceClient, prefix: str
) -> None:
    name = f"{prefix}/foreign"
    # A secret made by another tool has no alias yet: its latest version is current.
    create_empty(client, encode_name(name))
    add_version(client, name, b"from-gcloud")
    assert alias_store.get(name).value.reveal() == "from-gcloud"
    mine = alias_store.put(name, "from-helium", expected_version="1")
    assert mine.labels == {"current"}
    add_version(client, name, b"not-promoted")
    alias_store.clear_cache()
    assert alias_store.get(name).version == mine.version
    assert alias_store.current_version(name) == mine.version
    alias_store.set_label(name, "current", "3")  # promoting by hand
    assert alias_store.refresh(name).value.reveal() == "not-promoted"


def test_alias_mode_staged_rotation_discards_by_disabling(
    alias_store: SecretStore, prefix: str
) -> None:
    name = f"{prefix}/staged"
    alias_store.put(name, "one")
    with pytest.raises(RotationTestFailed):
        alias_store.rotate_staged(name, lambda: CANARY, lambda pending: False)
    assert {v.version: v.state for v in alias_store.versions(name)} == {
        "1": "enabled", "2": "disabled",
    }
    assert alias_store.refresh(name).value.reveal() == "one"


def test_latest_mode_has_no_staged_rotation(store: SecretStore, prefix: str) -> None:
    store.put(f"{prefix}/s", "one")
    with pytest.raises(UnsupportedError):
        store.rotate_staged(f"{prefix}/s", lambda: "two", lambda pending: True)


def test_alias_mode_from_url(server: SecretManagerEmulator, prefix: str) -> None:
    url = (f"gcpsecretmanager://{PROJECT}?endpoint_url={server.address}&insecure=true"
           "&current_alias=live")
    with open_store(url) as store:
        assert store.backend.capabilities.check_and_set
        store.put(f"{prefix}/u", "v")
        assert {v.version: v.labels for v in store.versions(f"{prefix}/u")} == {
            "1": frozenset({"live"})
        }
    with pytest.raises(ValueError, match="alias"):
        open_store(f"gcpsecretmanager://{PROJECT}?current_alias=latest")


# -- errors, retries, faults -------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error", "transient"),
    [
        (grpc.StatusCode.PERMISSION_DENIED, PermissionDeniedError, False),
        (grpc.StatusCode.UNAUTHENTICATED, UnauthenticatedError, False),
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidArgumentError, False),
        (grpc.StatusCode.FAILED_PRECONDITION, ConflictError, False),
        (grpc.StatusCode.ALREADY_EXISTS, ConflictError, False),
        (grpc.StatusCode.ABORTED, ConflictError, False),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, ThrottledError, True),
        (grpc.StatusCode.UNAVAILABLE, UnavailableError, True),
        (grpc.StatusCode.INTERNAL, UnavailableError, True),
        (grpc.StatusCode.DEADLINE_EXCEEDED, DeadlineExceededError, True),
    ],
)
def test_status_codes_are_classified(
    server: SecretManagerEmulator, prefix: str, code: grpc.StatusCode,
    error: type[HeliumError], transient: bool,
) -> None:
    name = f"{prefix}/codes"
    with SecretStore(make_backend(server), retry=RetryPolicy.never(), guard=NO_GUARD) as store:
        store.put(name, CANARY)
        store.clear_cache()
        server.calls.clear()
        server.fail_next(code, methods=["ListSecretVersions"])
        with pytest.raises(error) as info:
            store.versions(name)
    assert type(info.value) is error
    assert info.value.transient is transient
    assert info.value.backend == "gcp" and info.value.name == name
    assert code.name in str(info.value)
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)
    assert isinstance(info.value.__cause__, Exception)
    assert server.calls["ListSecretVersions"] == 1  # the SDK did not retry on its own


def test_transient_faults_are_retried_once_per_store_attempt(
    store: SecretStore, server: SecretManagerEmulator, prefix: str
) -> None:
    name = f"{prefix}/flaky"
    store.put(name, "steady")
    store.clear_cache()
    server.calls.clear()
    server.fail_next(grpc.StatusCode.UNAVAILABLE, 2, methods=["AccessSecretVersion"])
    assert store.get(name).value.reveal() == "steady"
    assert server.calls["AccessSecretVersion"] == 3
    assert store.stats().retries == 2


def test_persistent_faults_surface_after_the_store_attempts(
    store: SecretStore, server: SecretManagerEmulator, prefix: str
) -> None:
    name = f"{prefix}/down"
    store.put(name, "v")
    store.clear_cache()
    server.calls.clear()
    server.fail_next(grpc.StatusCode.UNAVAILABLE, 100, methods=["AccessSecretVersion"])
    with pytest.raises(UnavailableError):
        store.get(name)
    assert server.calls["AccessSecretVersion"] == FAST_RETRY.max_attempts


@pytest.mark.parametrize(("status", "error"), [
    (grpc.StatusCode.RESOURCE_EXHAUSTED, ThrottledError),
    (grpc.StatusCode.UNAVAILABLE, UnavailableError),  # the hint used to be dropped here
])
def test_throttling_hint_is_read(
    server: SecretManagerEmulator, prefix: str, status: grpc.StatusCode,
    error: type[HeliumError],
) -> None:
    name = f"{prefix}/throttled"
    with SecretStore(make_backend(server), retry=RetryPolicy.never(), guard=NO_GUARD) as store:
        store.put(name, "v")
        store.clear_cache()
        server.fail_next(status, retry_delay=1.5)
        with pytest.raises(error) as info:
            store.get(name)
    assert info.value.retry_after == pytest.approx(1.5)


def test_plain_put_is_not_retried(
    store: SecretStore, server: SecretManagerEmulator, prefix: str
) -> None:
    # AddSecretVersion has no idempotency token: a blind retry could write two versions.
    name = f"{prefix}/once"
    store.put(name, "v1")
    server.calls.clear()
    server.fail_next(grpc.StatusCode.UNAVAILABLE, methods=["AddSecretVersion"])
    with pytest.raises(UnavailableError):
        store.put(name, "v2")
    assert server.calls["AddSecretVersion"] == 1
    assert [v.version for v in store.versions(name)] == ["1"]


def test_slow_service_hits_the_call_timeout(
    server: SecretManagerEmulator, prefix: str
) -> None:
    name = f"{prefix}/slow"
    with SecretStore(make_backend(server, timeout=0.5), retry=RetryPolicy.never(),
                     guard=NO_GUARD) as store:
        store.put(name, "v")
        store.clear_cache()
        server.set_latency(5.0, methods=["AccessSecretVersion"])
        with pytest.raises(DeadlineExceededError) as info:
            store.get(name)
    assert info.value.transient


def test_classify_leaves_foreign_errors_alone(backend: GCPSecretManagerBackend) -> None:
    assert backend.classify(KeyError("x")) is None


# -- live --------------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.skipif(
    not (os.environ.get("GOOGLE_CLOUD_PROJECT") and os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")),
    reason="set GOOGLE_CLOUD_PROJECT and GOOGLE_APPLICATION_CREDENTIALS to run against GCP",
)
def test_live_round_trip() -> None:
    name = f"helium-live/t{uuid.uuid4().hex[:12]}"
    with open_store("gcpsecretmanager://", retry=FAST_RETRY) as store:
        try:
            first = store.put(name, "live-one", labels=["current"])
            second = store.put(name, "live-two", labels=["current"])
            store.clear_cache()
            assert store.get(name).value.reveal() == "live-two"
            assert store.get(name, first.version).value.reveal() == "live-one"
            assert store.get(name, label="current").version == second.version
            assert store.current_version(name) == second.version
            assert name in list(store.list("helium-live/"))
        finally:
            store.delete(name)
        with pytest.raises(SecretNotFoundError):
            store.refresh(name)



# == documented behaviour ====================================================================
# docs/backends/gcp.md checked claim by claim, black-box through the public API.


@pytest.mark.parametrize(
    ("portable", "secret_id"),
    [("app/db.url", "app_Sdb_Durl"), ("db_password", "db_password"),
     ("my-api-key", "my-api-key")],
)
def test_doc_name_examples_reach_the_service(
    store: SecretStore, client: SecretManagerServiceClient, prefix: str, portable: str,
    secret_id: str,
) -> None:
    name = f"{prefix}/{portable}"
    store.put(name, "v")
    full = f"projects/{PROJECT}/secrets/{encode_name(prefix)}_S{secret_id}"
    assert client.get_secret(name=full).name.endswith(f"_S{secret_id}")
    assert list(store.list(prefix + "/")) == [name]


def test_doc_id_from_another_tool_is_left_out(
    store: SecretStore, client: SecretManagerServiceClient, prefix: str
) -> None:
    base = encode_name(prefix)
    create_empty(client, f"{base}_Sa__b")  # would read back as a_b, which maps to a_b
    store.put(f"{prefix}/a_b", "mine")
    assert list(store.list(prefix + "/")) == [f"{prefix}/a_b"]


def test_doc_value_limit_checked_before_any_call(
    store: SecretStore, server: SecretManagerEmulator, prefix: str
) -> None:
    store.put(f"{prefix}/max", b"\xff" * 64 * 1024)
    server.calls.clear()
    with pytest.raises(TooLargeError) as info:
        store.put(f"{prefix}/max", b"\xff" * (64 * 1024 + 1))
    assert (info.value.backend, info.value.name) == ("gcp", f"{prefix}/max")
    with pytest.raises(TooLargeError):
        store.put(f"{prefix}/max", "é" * (32 * 1024 + 1))  # 2 bytes each in UTF-8
    assert sum(server.calls.values()) == 0


def test_doc_text_when_utf8_bytes_otherwise(store: SecretStore, prefix: str) -> None:
    store.put(f"{prefix}/utf8", "héllo".encode())
    store.put(f"{prefix}/raw", b"\xff\xfe")
    store.clear_cache()
    text = store.get(f"{prefix}/utf8").value
    assert not text.is_binary
    assert text.reveal() == "héllo"
    assert text.reveal_bytes() == "héllo".encode()
    raw = store.get(f"{prefix}/raw").value
    assert raw.is_binary
    assert raw.reveal_bytes() == b"\xff\xfe"


@pytest.mark.parametrize("bad", ["latest", "new", "9lives", "has.dot", "x" * 64, ""])
def test_doc_labels_checked_before_any_call_on_reads_too(
    store: SecretStore, server: SecretManagerEmulator, prefix: str, bad: str
) -> None:
    name = f"{prefix}/lab"
    store.put(name, "v")
    store.clear_cache()
    server.calls.clear()
    with pytest.raises(VersionNotFoundError) as info:
        store.get(name, label=bad)
    assert info.value.name == name
    with pytest.raises(InvalidArgumentError):
        store.set_label(name, bad, "1")
    assert sum(server.calls.values()) == 0


def test_doc_longest_alias_is_accepted(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/longalias"
    alias = "a" + "b-_" * 20 + "cd"  # 63 characters
    assert len(alias) == 63
    store.put(name, "v", labels=[alias])
    assert store.get(name, label=alias).value.reveal() == "v"


def test_doc_delete_is_immediate_and_purge_changes_nothing(
    store: SecretStore, client: SecretManagerServiceClient, prefix: str
) -> None:
    for purge in (False, True):
        name = f"{prefix}/gone{int(purge)}"
        store.put(name, "one")
        store.put(name, "two")
        store.delete(name, purge=purge)
        with pytest.raises(SecretNotFoundError):
            store.get(name, ttl=0)
        assert store.put(name, "again").version == "1"  # no recovery window holds the name
    with pytest.raises(SecretNotFoundError) as info:
        store.delete(f"{prefix}/never")
    assert info.value.name == f"{prefix}/never"


def test_doc_get_many_uses_access_calls_only(
    store: SecretStore, server: SecretManagerEmulator, prefix: str
) -> None:
    names = [f"{prefix}/m{i}" for i in range(3)]
    for name in names:
        store.put(name, name)
    store.clear_cache()
    server.calls.clear()
    got = store.get_many(names)
    assert {n: s.value.reveal() for n, s in got.items()} == {n: n for n in names}
    assert set(server.calls) == {"AccessSecretVersion"}


def test_doc_url_options_and_keyword_precedence(server: SecretManagerEmulator) -> None:
    base = f"gcpsecretmanager://{PROJECT}?endpoint_url={server.address}&insecure=true"
    url = (base + "&timeout=15&page_size=7&read_metadata=true&raw_names=true"
           "&replica_locations=us-east1,europe-west1&current_alias=live")
    with open_store(url) as store:
        backend = store.backend
        assert isinstance(backend, GCPSecretManagerBackend)
        options = backend.options
        assert (options.timeout, options.page_size) == (15.0, 7)
        assert options.read_metadata and options.raw_names
        assert options.replica_locations == ("us-east1", "europe-west1")
        assert options.current_alias == "live"
    with open_store(base + "&timeout=15&location=europe-west1", timeout=5.0,
                    location="us-east1") as store:
        backend = store.backend
        assert isinstance(backend, GCPSecretManagerBackend)
        assert backend.options.timeout == 5.0  # keyword options win over the URL's
        assert backend.location == "us-east1"
    for key in ("timeout", "page_size"):
        with pytest.raises(ValueError, match=key):
            open_store(f"{base}&{key}=soon")
        with pytest.raises(ValueError, match=key):
            open_store(f"{base}&{key}=0")
    with pytest.raises(ValueError, match="read_metadata"):
        open_store(f"{base}&read_metadata=maybe")
    with pytest.raises(ValueError, match="credentials"):
        open_store(f"gcpsecretmanager://user:pw@{PROJECT}")
    with pytest.raises(ValueError, match="replica_locations"):
        open_store(f"gcpsecretmanager://{PROJECT}?location=europe-west1"
                   "&replica_locations=us-east1")


def test_doc_regional_endpoint_from_the_url() -> None:
    anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
    with open_store("gcpsecretmanager://my-project?location=europe-west1",
                    credentials=anonymous) as store:
        backend = store.backend
        assert isinstance(backend, GCPSecretManagerBackend)
        assert backend.project == "my-project"
        assert backend._client.api_endpoint == "secretmanager.europe-west1.rep.googleapis.com"


@pytest.mark.parametrize(
    ("code", "error", "transient"),
    [
        (grpc.StatusCode.NOT_FOUND, SecretNotFoundError, False),
        (grpc.StatusCode.CANCELLED, UnavailableError, True),
        (grpc.StatusCode.OUT_OF_RANGE, InvalidArgumentError, False),
    ],
)
def test_doc_error_table_rest(
    server: SecretManagerEmulator, prefix: str, code: grpc.StatusCode,
    error: type[HeliumError], transient: bool,
) -> None:
    name = f"{prefix}/more-codes"
    with SecretStore(make_backend(server), retry=RetryPolicy.never(), guard=NO_GUARD) as store:
        store.put(name, CANARY)
        store.clear_cache()
        server.fail_next(code, methods=["AccessSecretVersion"])
        with pytest.raises(error) as info:
            store.get(name)
    assert type(info.value) is error
    assert info.value.transient is transient
    assert (info.value.backend, info.value.name) == ("gcp", name)
    assert code.name in str(info.value)
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)


def test_doc_failed_credential_refresh_is_unauthenticated(
    backend: GCPSecretManagerBackend,
) -> None:
    from google.auth import exceptions as auth_exceptions

    from helium_secrets.errors import ErrorCode

    refused = auth_exceptions.RefreshError(f"token {CANARY}")  # type: ignore[no-untyped-call]
    verdict = backend.classify(refused)
    assert verdict is not None
    assert verdict.code is ErrorCode.UNAUTHENTICATED
    assert CANARY not in (verdict.message or "")


def test_doc_reading_a_disabled_version_is_version_not_found(
    store: SecretStore, backend: GCPSecretManagerBackend, prefix: str
) -> None:
    name = f"{prefix}/off"
    store.put(name, "one")
    store.put(name, "two", labels=["prod"])
    backend.disable_version(name, "2")
    with pytest.raises(VersionNotFoundError) as info:
        store.get(name, label="prod")
    assert info.value.name == name
    with pytest.raises(VersionNotFoundError):
        store.get(name, version="2")
    assert store.get(name, ttl=0).value.reveal() == "one"


def test_doc_version_state_calls_check_names_before_any_call(
    store: SecretStore, server: SecretManagerEmulator
) -> None:
    server.calls.clear()
    extras = store.extras
    for bad in ("bad name!", "a/" * 100 + "b", "a//b"):
        for call in (extras.disable_version, extras.enable_version, extras.destroy_version):
            with pytest.raises(InvalidNameError) as info:
                call(bad, "1")
            assert (info.value.backend, info.value.name) == ("gcp", bad)
    assert sum(server.calls.values()) == 0


@pytest.mark.parametrize("bad", ["0", "01", "-1", "abc", "latest", ""])
def test_doc_version_ids_checked_before_any_call(
    store: SecretStore, server: SecretManagerEmulator, prefix: str, bad: str
) -> None:
    # Versions are "1", "2", ...: anything else names no version, and no call is made.
    name = f"{prefix}/vid"
    store.put(name, "v")
    server.calls.clear()
    with pytest.raises(VersionNotFoundError) as info:
        store.get(name, version=bad)
    assert (info.value.backend, info.value.name) == ("gcp", name)
    assert sum(server.calls.values()) == 0


def test_doc_client_and_transport_options(server: SecretManagerEmulator, prefix: str) -> None:
    # client=: yours, and close() leaves it open.
    mine = server.client()
    with open_store(f"gcpsecretmanager://{PROJECT}", client=mine) as store:
        store.put(f"{prefix}/c", "v")
    assert mine.access_secret_version(name=f"{path(prefix + '/c')}/versions/1").payload.data == b"v"
    # transport=: an instance carries its channel; a name picks the kind of client we build.
    with open_store(f"gcpsecretmanager://{PROJECT}", transport=server.transport()) as store:
        assert store.get(f"{prefix}/c").value.reveal() == "v"
    anonymous = AnonymousCredentials()  # type: ignore[no-untyped-call]
    for kind in ("grpc", "rest"):
        backend = GCPSecretManagerBackend("p", credentials=anonymous, transport=kind)
        try:
            assert type(backend._client.transport).__name__.lower().endswith(
                f"{kind}transport")
        finally:
            backend.close()


def test_doc_messages_carry_the_error_info_reason_never_service_text(
    server: SecretManagerEmulator, prefix: str
) -> None:
    name = f"{prefix}/reason"
    with SecretStore(make_backend(server), retry=RetryPolicy.never(), guard=NO_GUARD) as store:
        server.fail_next(grpc.StatusCode.PERMISSION_DENIED, reason="IAM_PERMISSION_DENIED")
        with pytest.raises(PermissionDeniedError) as info:
            store.get(name)
    assert "PERMISSION_DENIED" in str(info.value)
    assert "IAM_PERMISSION_DENIED" in str(info.value)
    assert "injected" not in str(info.value)  # the service's free text stays out


def test_doc_created_at_from_put_and_versions_not_get(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/created"
    written = store.put(name, "v")
    assert written.created_at is not None
    assert store.versions(name)[0].created_at == written.created_at
    assert store.get(name, ttl=0).created_at is None


def test_no_credentials_is_unauthenticated_when_opening(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # No ADC anywhere: google-auth's DefaultCredentialsError becomes the portable error.
    for var in ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "CLOUDSDK_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    # Never probe the GCE metadata server (google-auth reads NO_GCE_CHECK once, at import).
    monkeypatch.setattr("google.auth.compute_engine._metadata._NO_GCE_CHECK", True)
    for url in ("gcpsecretmanager://my-project", "gcpsecretmanager://"):
        with pytest.raises(UnauthenticatedError, match="no Google credentials") as info:
            open_store(url)
        assert info.value.backend == "gcp"


@pytest.mark.parametrize(("header", "expected"), [("7", 7.0), ("soon", None), ("-3", None)])
def test_rest_throttling_carries_retry_after(header: str, expected: float | None) -> None:
    # The REST transport's errors carry an HTTP response; its Retry-After goes through the one
    # parser every backend uses (the gRPC transport sends RetryInfo instead, tested above).
    import requests
    from google.api_core import exceptions as api_exceptions

    from helium_secrets.errors import ErrorCode

    response = requests.Response()
    response.status_code = 429
    response.headers["Retry-After"] = header
    backend = GCPSecretManagerBackend("p", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    try:
        throttled = api_exceptions.TooManyRequests("slow down", response=response)  # type: ignore[no-untyped-call]
        verdict = backend.classify(throttled)
    finally:
        backend.close()
    assert verdict is not None
    assert (verdict.code, verdict.retry_after) == (ErrorCode.THROTTLED, expected)


# -- issue 11: deletion is portable ----------------------------------------------------------


def test_reads_after_delete_are_not_found(store: SecretStore, prefix: str) -> None:
    from tests.backends.deletion import assert_reads_after_delete_are_not_found

    assert_reads_after_delete_are_not_found(store, f"{prefix}/deleted")


def test_version_states_are_extras_through_the_store(store: SecretStore, prefix: str) -> None:
    from helium_secrets.errors import StoreClosedError

    name = f"{prefix}/extras"
    first = store.put(name, "one")
    store.put(name, "two")
    assert store.get(name, first.version).value.reveal() == "one"  # now cached
    assert {"disable_version", "enable_version", "destroy_version"} <= set(dir(store.extras))
    assert store.extras.disable_version(name, first.version).state == "disabled"
    with pytest.raises(VersionNotFoundError):  # the store forgot what it cached
        store.get(name, first.version)
    assert store.extras.enable_version(name, first.version).state == "enabled"
    assert store.get(name, first.version).value.reveal() == "one"
    assert store.extras.destroy_version(name, first.version).state == "destroyed"
    with pytest.raises(VersionNotFoundError):
        store.get(name, first.version)
    store.close()
    with pytest.raises(StoreClosedError):
        store.extras.disable_version(name, "2")


# -- "no such version" or "no such secret", decided by the store (issue 11) ----------------


def test_a_missing_version_is_told_by_an_access_call_not_a_metadata_read(
    store: SecretStore, server: SecretManagerEmulator, prefix: str
) -> None:
    # The store's probe spends the 90,000/min access quota, not the 600/min read quota.
    name = f"{prefix}/quota"
    store.put(name, "one")
    server.calls.clear()
    with pytest.raises(VersionNotFoundError, match="no such version") as info:
        store.get(name, "99")
    assert isinstance(info.value.__cause__, SecretNotFoundError)
    with pytest.raises(VersionNotFoundError, match="no such label"):
        store.get(name, label="nope")
    with pytest.raises(SecretNotFoundError) as missing:
        store.get(f"{prefix}/nope", "1")
    assert type(missing.value) is SecretNotFoundError
    assert dict(server.calls) == {"AccessSecretVersion": 6}  # one read and one probe each


# -- the async twin ----------------------------------------------------------------------------


class AsyncGCPHarness(GCPHarness):
    """The same emulator for the async twin, through the SDK's grpc.aio client."""

    def __init__(self, emulator: SecretManagerEmulator, **backend_options: Any) -> None:
        super().__init__(emulator, **backend_options)
        self.twin = "async"

    def make_async_backend(self) -> AsyncBackend:
        from helium_secrets.backends.gcpsecretmanager.aio import AsyncGCPSecretManagerBackend

        return AsyncGCPSecretManagerBackend(
            PROJECT, endpoint_url=self.emulator.address, insecure=True, timeout=20.0,
            **self.backend_options)


class TestGCPAsyncTwinConformance(BackendConformance):
    """Every conformance case on the async twin, against the gRPC emulator."""

    @pytest.fixture
    def harness(self, emulator: SecretManagerEmulator) -> Iterator[GCPHarness]:
        with AsyncGCPHarness(emulator) as harness:
            yield harness
