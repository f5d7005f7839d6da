"""AWS Secrets Manager: the conformance suite and the AWS specifics, against moto's server.

boto3 talks real HTTP to moto (through the fault-injecting proxy in ``motoserver.py``); nothing
in the SDK is mocked. One server serves the whole module: every test uses its own names.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore.config import Config

from helium_secrets import GuardPolicy, RetryPolicy, SecretStore, open_store
from helium_secrets.backends._base import AsyncBackend
from helium_secrets.backends.awssecretsmanager import AWSSecretsManagerBackend
from helium_secrets.errors import (
    ConflictError,
    InvalidArgumentError,
    InvalidNameError,
    PermissionDeniedError,
    RotationTestFailed,
    SecretNotFoundError,
    ThrottledError,
    UnauthenticatedError,
    UnavailableError,
    VersionNotFoundError,
)
from helium_secrets.testing import BackendHarness
from helium_secrets.testing.conformance import CANARY, BackendConformance, debug_logs
from tests.backends.aws_shared import (
    MotoHarness,
    moto_per_test,  # noqa: F401 (the server fixture)
)
from tests.backends.motoserver import MotoServer

LIVE_REGION = os.environ.get("HELIUM_SECRETS_AWS_LIVE_REGION", "")
FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0, deadline=60.0)
NO_GUARD = GuardPolicy(threshold=0)


def make_backend(server: MotoServer, **options: Any) -> AWSSecretsManagerBackend:
    return AWSSecretsManagerBackend(session=server.session(), endpoint_url=server.endpoint_url,
                                    **options)


@pytest.fixture
def backend(server: MotoServer) -> Iterator[AWSSecretsManagerBackend]:
    backend = make_backend(server)
    yield backend
    backend.close()


@pytest.fixture
def store(backend: AWSSecretsManagerBackend) -> Iterator[SecretStore]:
    with SecretStore(backend, retry=FAST_RETRY, guard=NO_GUARD) as store:
        yield store


@pytest.fixture
def prefix() -> str:
    return f"aws/t{uuid.uuid4().hex[:12]}"


class AWSHarness(MotoHarness):
    """moto behind the proxy of ``motoserver.py``: every fault happens on the wire, and a lost
    answer is a request moto performed whose answer the proxy dropped."""

    missing_version = "0" * 32  # well-formed for AWS (32-64 characters), never issued
    REQUESTS = {"get": ["GetSecretValue"], "put": ["CreateSecret", "PutSecretValue"],
                "delete": ["DeleteSecret"]}

    def make_backend(self) -> AWSSecretsManagerBackend:
        return make_backend(self.server, **self.backend_options)


class TestAWSConformance(BackendConformance):
    @pytest.fixture
    def harness(self, moto: MotoServer) -> Iterator[AWSHarness]:
        with AWSHarness(moto) as harness:
            yield harness


class AWSLiveHarness(BackendHarness):
    missing_version = "0" * 32

    def make_backend(self) -> AWSSecretsManagerBackend:
        return AWSSecretsManagerBackend(region=LIVE_REGION)


@pytest.mark.live
@pytest.mark.skipif(not LIVE_REGION, reason="set HELIUM_SECRETS_AWS_LIVE_REGION to run on AWS")
class TestAWSLive(BackendConformance):
    """The conformance suite on real AWS (credentials from boto3's usual chain). Every secret
    a test creates is purged afterwards; each costs a few seconds of a secret's price."""

    @pytest.fixture
    def harness(self) -> Iterator[AWSLiveHarness]:
        with AWSLiveHarness() as harness:
            yield harness

    @pytest.fixture
    def prefix(self, store: SecretStore) -> Iterator[str]:
        prefix = f"helium-live/t{uuid.uuid4().hex[:12]}"
        yield prefix
        backend = AWSSecretsManagerBackend(region=LIVE_REGION)
        for name in list(backend.list_names(prefix)):
            backend.delete(name, purge=True)
        backend.close()


class TestAWSConformanceDescribeCAS(BackendConformance):
    """The same contract with the DescribeSecret-then-write check for ``expected_version``."""

    @pytest.fixture
    def harness(self, moto: MotoServer) -> Iterator[AWSHarness]:
        with AWSHarness(moto, atomic_check_and_set=False) as harness:
            yield harness


# -- stages and versions -----------------------------------------------------------------


def test_stages_current_and_previous(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/stages"
    first = store.put(name, "one")
    second = store.put(name, "two")
    assert store.get(name).labels == {"AWSCURRENT"}
    previous = store.get(name, label="AWSPREVIOUS")
    assert previous.version == first.version
    assert previous.value.reveal() == "one"
    assert store.get(name, label="AWSCURRENT").version == second.version
    assert store.current_version(name) == second.version
    by_version = {v.version: v.labels for v in store.versions(name)}
    assert by_version == {first.version: {"AWSPREVIOUS"}, second.version: {"AWSCURRENT"}}


def test_version_and_label_must_agree(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/agree"
    first = store.put(name, "one")
    store.put(name, "two")
    # Both at once, at the backend (callers that bypass the store; the store may refuse it).
    backend = store.backend
    assert backend.get(name, first.version, "AWSPREVIOUS").value == "one"
    with pytest.raises(VersionNotFoundError):
        backend.get(name, first.version, "AWSCURRENT")
    with pytest.raises(VersionNotFoundError):
        store.get(name, label="no-such-stage")
    with pytest.raises(VersionNotFoundError):
        store.get(name, "short-id")  # not an AWS version id: no call needed
    with pytest.raises(SecretNotFoundError) as missing:
        store.get(f"{prefix}/nothing", label="AWSPREVIOUS")
    assert type(missing.value) is SecretNotFoundError


def test_custom_label_moves_and_is_removed(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/custom"
    first = store.put(name, "one", labels=["blue"])
    second = store.put(name, "two")
    store.set_label(name, "blue", second.version)
    assert store.get(name, label="blue").version == second.version
    store.set_label(name, "blue", first.version)
    assert store.get(name, label="blue").version == first.version
    store.set_label(name, "blue", None)
    with pytest.raises(VersionNotFoundError):
        store.get(name, label="blue")
    with pytest.raises(VersionNotFoundError):
        store.set_label(name, "blue", "f" * 32)


def test_binary_secret(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/binary"
    data = b"\x00\xff" * 100
    store.put(name, data)
    store.clear_cache()
    secret = store.get(name)
    assert secret.value.is_binary
    assert secret.value.reveal_bytes() == data


# -- writes ------------------------------------------------------------------------------


@pytest.mark.parametrize("empty", ["", b""])
def test_empty_value_refused_before_any_call(
    store: SecretStore, server: MotoServer, prefix: str, empty: str | bytes
) -> None:
    with pytest.raises(InvalidArgumentError, match="empty"):
        store.put(f"{prefix}/empty", empty)
    assert sum(server.requests.values()) == 0


def test_lost_answer_put_is_retried_without_a_second_version(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/lost"
    store.put(name, "zero")
    server.fail_next(1, "lost", operations=["PutSecretValue"])
    written = store.put(name, "one")
    assert server.requests["PutSecretValue"] == 3  # zero, one (answer lost), one again
    assert [v.version for v in store.versions(name)][-1] == written.version
    assert len(store.versions(name)) == 2
    assert store.refresh(name).value.reveal() == "one"


def test_lost_answer_create_is_retried_without_a_conflict(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/lost-create"
    server.fail_next(1, "lost", operations=["CreateSecret"])
    written = store.put(name, "one", create_only=True)
    assert server.requests["CreateSecret"] == 2
    assert [v.version for v in store.versions(name)] == [written.version]


def test_lost_create_with_labels_still_labels_on_retry(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/lost-labels"
    server.fail_next(1, "drop", operations=["UpdateSecretVersionStage"])
    written = store.put(name, "one", labels=["blue"])
    # The retry's PutSecretValue is ignored (same token, same value), stages included.
    assert server.requests["PutSecretValue"] == 2
    assert server.requests["CreateSecret"] == 1
    assert store.get(name, label="blue").version == written.version
    assert len(store.versions(name)) == 1


def test_request_token_is_the_version_id(backend: AWSSecretsManagerBackend, prefix: str) -> None:
    name = f"{prefix}/token"
    token = uuid.uuid4().hex
    assert backend.put(name, "one", request_token=token).version == token
    short = backend.put(name, "two", request_token="short")  # derived, deterministic
    again = backend.put(name, "two", request_token="short")
    assert short.version == again.version
    assert 32 <= len(short.version) <= 64


@pytest.mark.parametrize("atomic", [False, True])
def test_expected_version(server: MotoServer, prefix: str, atomic: bool) -> None:
    with SecretStore(make_backend(server, atomic_check_and_set=atomic), retry=FAST_RETRY,
                     guard=NO_GUARD) as store:
        name = f"{prefix}/cas"
        first = store.put(name, "one")
        second = store.put(name, "two", expected_version=first.version)
        with pytest.raises(ConflictError):
            store.put(name, CANARY, expected_version=first.version)
        with pytest.raises(ConflictError):
            store.put(f"{prefix}/cas-missing", "x", expected_version=first.version)
        store.clear_cache()
        current = store.get(name)
        assert (current.version, current.value.reveal()) == (second.version, "two")
        assert store.get(name, label="AWSPREVIOUS").version == first.version
        if atomic:
            # A refused compare-and-swap leaves an unlabelled ("deprecated") version behind,
            # never a second AWSCURRENT, and no private label.
            for info in store.versions(name):
                assert not any(label.startswith("helium-") for label in info.labels)
            currents = [v for v in store.versions(name) if "AWSCURRENT" in v.labels]
            assert [v.version for v in currents] == [second.version]


def test_atomic_cas_keeps_one_current_version_for_later_writes(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/cas-then-put"
    first = store.put(name, "one")
    second = store.put(name, "two", expected_version=first.version)
    third = store.put(name, "three")
    store.clear_cache()
    assert store.get_many([name])[name].version == third.version
    stages = {v.version: v.labels for v in store.versions(name)}
    assert stages == {first.version: frozenset(), second.version: {"AWSPREVIOUS"},
                      third.version: {"AWSCURRENT"}}
    states = {v.version: v.state for v in store.versions(name)}
    assert states[first.version] == "disabled"  # AWS's "deprecated": no stage left
    assert store.previous(name) is not None
    assert store.previous(name).version == second.version  # type: ignore[union-attr]


def test_atomic_cas_retried_after_lost_answer(server: MotoServer, prefix: str) -> None:
    with SecretStore(make_backend(server, atomic_check_and_set=True), retry=FAST_RETRY,
                     guard=NO_GUARD) as store:
        name = f"{prefix}/cas-lost"
        first = store.put(name, "one")
        server.fail_next(1, "lost", operations=["UpdateSecretVersionStage"])
        second = store.put(name, "two", expected_version=first.version)
        assert store.current_version(name) == second.version
        assert store.refresh(name).value.reveal() == "two"


@pytest.mark.parametrize("atomic", [False, True])
def test_malformed_expected_version_is_a_conflict_without_a_write(
    server: MotoServer, prefix: str, atomic: bool
) -> None:
    with SecretStore(make_backend(server, atomic_check_and_set=atomic), retry=FAST_RETRY,
                     guard=NO_GUARD) as store:
        name = f"{prefix}/cas-short"
        store.put(name, "one")
        server.reset_counts()
        with pytest.raises(ConflictError):
            store.put(name, "two", expected_version="3")
        # Atomic: refused before any call; otherwise after the store's one read to compare.
        assert sum(server.requests.values()) == (0 if atomic else 1)
        assert "PutSecretValue" not in server.requests
        assert len(store.versions(name)) == 1


def test_list_prefix_outside_the_aws_alphabet_matches_nothing(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    store.put(f"{prefix}/x", "v")
    server.reset_counts()
    assert list(store.list(f"{prefix}/#")) == []
    assert list(store.list("*")) == []
    assert sum(server.requests.values()) == 0
    assert list(store.list(f"{prefix.upper()}/")) == []  # AWS's filter ignores case; we do not
    assert list(store.list(f"{prefix}/")) == [f"{prefix}/x"]


def test_create_options_and_metadata_become_tags(server: MotoServer, prefix: str) -> None:
    backend = make_backend(server, kms_key_id="alias/app", description="app db",
                           tags={"team": "core"})
    name = f"{prefix}/tagged"
    with SecretStore(backend) as store:
        store.put(name, "one", metadata={"owner": "me"})
        store.put(name, "two", metadata={"env": "prod"})
    described = server.client().describe_secret(SecretId=name)
    tags = {t["Key"]: t["Value"] for t in described["Tags"]}
    assert tags == {"team": "core", "owner": "me", "env": "prod"}
    assert described["Description"] == "app db"
    assert described["KmsKeyId"] == "alias/app"


# -- rotation ----------------------------------------------------------------------------


def test_rotate_staged_uses_awspending(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/staged"
    old = store.put(name, "old")
    seen: list[tuple[str, frozenset[str], str]] = []

    def check(pending: Any) -> bool:
        # While tested, the pending version carries AWSPENDING and readers still get "old".
        seen.append((pending.value.reveal(), store.get(name, pending.version).labels,
                     store.refresh(name).value.reveal()))
        return True

    new = store.rotate_staged(name, lambda: "new", check)
    assert seen == [("new", frozenset({"AWSPENDING"}), "old")]
    assert new.value.reveal() == "new"
    assert store.current_version(name) == new.version
    stages = {v.version: v.labels for v in store.versions(name)}
    assert stages == {old.version: {"AWSPREVIOUS"}, new.version: {"AWSCURRENT"}}


def test_rotate_staged_failed_test_discards(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/staged-fail"
    old = store.put(name, "old")
    with pytest.raises(RotationTestFailed) as info:
        store.rotate_staged(name, lambda: CANARY, lambda pending: False)
    assert CANARY not in str(info.value)
    assert store.refresh(name).version == old.version
    by_version = {v.version: v for v in store.versions(name)}
    discarded = by_version[info.value.version]
    assert discarded.labels == frozenset()
    assert not discarded.enabled
    assert by_version[old.version].labels == {"AWSCURRENT"}


def test_rotate_staged_conflicts_with_a_concurrent_writer(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/staged-race"
    store.put(name, "old")
    client = server.client()

    def someone_else_writes(pending: Any) -> bool:
        client.put_secret_value(SecretId=name, SecretString="theirs")
        return True

    with pytest.raises(ConflictError):
        store.rotate_staged(name, lambda: "mine", someone_else_writes)
    assert store.refresh(name).value.reveal() == "theirs"


def test_rotate_is_check_and_set(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/rotate"
    created = store.rotate(name, lambda: "first")
    rotated = store.rotate(name, lambda: "second")
    assert rotated.version != created.version
    assert store.get(name, label="AWSPREVIOUS").version == created.version


# -- deletion and restore ----------------------------------------------------------------


def test_deleted_secret_reads_as_not_found_says_how_to_restore_and_can_be_restored(
    store: SecretStore, prefix: str
) -> None:
    name = f"{prefix}/deleted"
    first = store.put(name, CANARY)
    store.delete(name)  # a recovery window, not a purge
    reads: dict[str, Any] = {
        "get": lambda: store.get(name),
        "get-version": lambda: store.get(name, first.version),
        "get-label": lambda: store.get(name, label="AWSCURRENT"),
        "refresh": lambda: store.refresh(name),
        "versions": lambda: store.versions(name),
        "current_version": lambda: store.current_version(name),
        "get_many": lambda: store.get_many([name]),
        "delete": lambda: store.delete(name),  # deleting it again: nothing left to delete
    }
    for what, read in reads.items():
        with pytest.raises(SecretNotFoundError) as info:
            read()
        assert type(info.value) is SecretNotFoundError, what
        message = str(info.value)
        assert "scheduled for deletion" in message, what
        assert "store.extras.restore(name)" in message and "recovery window" in message, what
        assert CANARY not in message
        assert (info.value.backend, info.value.name) == ("aws", name)
    assert store.get_many([name], ignore_missing=True) == {}
    assert name not in list(store.list(prefix))
    store.extras.restore(name)
    assert store.get(name).value.reveal() == CANARY
    assert name in list(store.list(prefix))


def test_purge_deletes_at_once_and_the_name_is_free(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/purged"
    store.put(name, "one")
    store.delete(name, purge=True)
    with pytest.raises(SecretNotFoundError):
        store.get(name)
    assert store.put(name, "again", create_only=True).value.reveal() == "again"


def test_list_follows_pages(store: SecretStore, server: MotoServer, prefix: str) -> None:
    client = server.client()
    names = sorted(f"{prefix}/paged/{i:03d}" for i in range(130))
    for name in names:
        client.create_secret(Name=name, SecretString="v")
    server.reset_counts()
    assert list(store.list(f"{prefix}/paged/")) == names
    assert server.requests == {"ListSecrets": 2}  # 100 a page


# -- get_many ----------------------------------------------------------------------------


def test_get_many_chunks_100_ids_by_20(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    client = server.client()
    names = [f"{prefix}/batch/{i:03d}" for i in range(100)]
    for i, name in enumerate(names):
        client.create_secret(Name=name, SecretString=f"value-{i}")
    server.reset_counts()
    got = store.get_many(names)
    assert list(got) == names
    assert [s.value.reveal() for s in got.values()] == [f"value-{i}" for i in range(100)]
    assert server.requests == {"BatchGetSecretValue": 5}
    # Now cached: no call at all.
    store.get_many(names)
    assert server.requests == {"BatchGetSecretValue": 5}


def test_get_many_per_item_errors(store: SecretStore, server: MotoServer, prefix: str) -> None:
    names = [f"{prefix}/items/{i}" for i in range(3)]
    for name in names:
        store.put(name, "v")
    store.clear_cache()
    server.reset_counts()
    wanted = [names[0], f"{prefix}/items/missing", *names[1:]]
    assert list(store.get_many(wanted, ignore_missing=True)) == names
    assert server.requests == {"BatchGetSecretValue": 1}
    store.delete(names[1])
    store.clear_cache()
    with pytest.raises(SecretNotFoundError, match="scheduled for deletion"):
        store.get_many(names)


def test_get_many_falls_back_to_single_reads_when_batch_is_denied(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    names = [f"{prefix}/denied/{i}" for i in range(25)]
    client = server.client()
    for name in names:
        client.create_secret(Name=name, SecretString=name)
    server.deny("BatchGetSecretValue")
    server.reset_counts()
    got = store.get_many(names)
    assert {n: s.value.reveal() for n, s in got.items()} == {n: n for n in names}
    assert server.requests == {"BatchGetSecretValue": 1, "GetSecretValue": 25}
    store.clear_cache()
    store.get_many(names[:3])  # the backend remembers: no batch call is wasted
    assert server.requests["BatchGetSecretValue"] == 1
    assert server.requests["GetSecretValue"] == 28


def test_get_many_single_read_denied_per_item(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/denied-item"
    store.put(name, "v")
    store.clear_cache()
    server.deny("BatchGetSecretValue", "GetSecretValue")
    with pytest.raises(PermissionDeniedError):
        store.get_many([name])


# -- errors and retries ------------------------------------------------------------------


def test_throttling_is_retried_once_per_attempt(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/throttled"
    store.put(name, "v")
    server.reset_counts()
    server.fail_next(2, "throttle", operations=["GetSecretValue"])
    assert store.refresh(name).value.reveal() == "v"
    # Exactly one retry layer: 3 attempts on the wire, 2 of them retries by the store.
    assert server.requests == {"GetSecretValue": 3}
    assert store.stats().retries == 2


@pytest.mark.parametrize("kind", ["internal", "unavailable", "drop"])
def test_server_errors_are_retried_then_surfaced(
    store: SecretStore, server: MotoServer, prefix: str, kind: str
) -> None:
    name = f"{prefix}/5xx-{kind}"
    server.fail_next(10, kind, operations=["GetSecretValue"])
    with pytest.raises(UnavailableError) as info:
        store.get(name)
    assert info.value.transient
    assert info.value.name == name
    assert server.requests["GetSecretValue"] == 3
    assert info.value.__cause__ is not None
    assert isinstance(info.value.__cause__, botocore.exceptions.BotoCoreError | botocore.exceptions.ClientError)


def test_retry_after_hint_is_passed_on(store: SecretStore, server: MotoServer, prefix: str) -> None:
    server.fail_next(10, "throttle", retry_after=0.05, message=f"slow down {CANARY}")
    with pytest.raises(ThrottledError) as info:
        store.get(f"{prefix}/hinted", retry=RetryPolicy.never())
    assert info.value.retry_after == pytest.approx(0.05)
    assert CANARY not in str(info.value)
    assert CANARY not in repr(info.value)


@pytest.mark.parametrize(
    ("kind", "error", "transient"),
    [
        ("denied", PermissionDeniedError, False),
        ("decryption", PermissionDeniedError, False),
        ("expired", UnauthenticatedError, False),
        ("limit", ThrottledError, False),
    ],
)
def test_error_codes_are_classified(
    store: SecretStore, server: MotoServer, prefix: str, kind: str,
    error: type[Exception], transient: bool,
) -> None:
    server.fail_next(1, kind, message=f"echo {CANARY}")
    with pytest.raises(error) as info:
        store.put(f"{prefix}/{kind}", CANARY)
    assert type(info.value) is error
    assert getattr(info.value, "transient", None) is transient
    assert CANARY not in str(info.value)


def test_names_checked_before_any_call(store: SecretStore, server: MotoServer) -> None:
    for bad in ("a/b#c", "a/b:c", "x" * 513):
        with pytest.raises(InvalidNameError):
            store.get(bad)
    assert sum(server.requests.values()) == 0
    assert store.backend.capabilities.name_rules.problem("a/b_c+d=e.f@g-h") is None


def test_cold_reads_from_32_threads_make_one_call(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/cold"
    server.client().create_secret(Name=name, SecretString="v")
    server.reset_counts()
    barrier = threading.Barrier(32)
    values: list[str] = []

    def read() -> None:
        barrier.wait()
        values.append(store.get(name).value.reveal())

    threads = [threading.Thread(target=read) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert values == ["v"] * 32
    assert server.requests == {"GetSecretValue": 1}


# -- construction ------------------------------------------------------------------------


def test_open_store_url(server: MotoServer, prefix: str) -> None:
    url = f"awssecretsmanager://us-east-1?endpoint_url={server.endpoint_url}"
    with open_store(url, session=server.session(), recovery_window_days=7) as store:
        assert isinstance(store.backend, AWSSecretsManagerBackend)
        assert store.backend.recovery_window_days == 7
        store.put(f"{prefix}/url", "v")
        assert store.get(f"{prefix}/url").value.reveal() == "v"
    with pytest.raises(ValueError, match="unknown"):
        open_store("awssecretsmanager://?colour=blue", session=server.session())
    with pytest.raises(ValueError, match="path"):
        open_store("awssecretsmanager://us-east-1/app", session=server.session())
    with pytest.raises(ValueError, match="7 and 30"):
        open_store("awssecretsmanager://?recovery_window_days=3", session=server.session())


def test_client_retries_are_off(backend: AWSSecretsManagerBackend, server: MotoServer) -> None:
    assert backend.client.meta.config.retries["total_max_attempts"] == 1
    assert backend.client.meta.config.read_timeout == 30
    tuned = make_backend(server, config=Config(read_timeout=5, retries={"max_attempts": 9}))
    assert tuned.client.meta.config.read_timeout == 5
    assert tuned.client.meta.config.retries["total_max_attempts"] == 1
    tuned.close()
    with pytest.raises(ValueError, match="not both"):
        AWSSecretsManagerBackend(client=server.client(), endpoint_url=server.endpoint_url)


def test_injected_client_that_retries_is_warned_about(server: MotoServer) -> None:
    retrying = server.session().client(
        "secretsmanager", endpoint_url=server.endpoint_url,
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )
    with pytest.warns(RuntimeWarning, match="attempts multiply"):
        AWSSecretsManagerBackend(client=retrying)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AWSSecretsManagerBackend(client=server.client())


def test_import_loads_no_sdk() -> None:
    code = "import sys, helium_secrets; print(any(m.startswith(('boto', 'botocore')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- documented behaviour (docs/backends/aws.md, checked black-box through the public API) -----


def _open(server: MotoServer, url: str = "awssecretsmanager://", **options: Any) -> SecretStore:
    options.setdefault("session", server.session())
    options.setdefault("endpoint_url", server.endpoint_url)
    return open_store(url, cache=None, retry=RetryPolicy.never(), guard=NO_GUARD, **options)


def test_doc_url_forms(server: MotoServer, prefix: str) -> None:
    with _open(server, "awssecretsmanager://eu-west-1") as store:
        assert store.backend.client.meta.region_name == "eu-west-1"  # type: ignore[attr-defined]
        store.put(f"{prefix}/url-host", "v")  # moto takes any region: the client works
    with _open(server, "awssecretsmanager://?region=ap-south-1") as store:
        assert store.backend.client.meta.region_name == "ap-south-1"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="not both"):
        _open(server, "awssecretsmanager://eu-west-1?region=ap-south-1")
    url = "awssecretsmanager://?kms_key_id=alias/k&atomic_check_and_set=false&recovery_window_days=8"
    with _open(server, url) as store:
        backend = store.backend
        assert isinstance(backend, AWSSecretsManagerBackend)
        assert backend.kms_key_id == "alias/k"
        assert backend.atomic_check_and_set is False
        assert backend.recovery_window_days == 8
    # Keyword options win over the URL's.
    with _open(server, url, recovery_window_days=9, atomic_check_and_set=True,
               kms_key_id="alias/kw") as store:
        backend = store.backend
        assert isinstance(backend, AWSSecretsManagerBackend)
        assert (backend.recovery_window_days, backend.atomic_check_and_set,
                backend.kms_key_id) == (9, True, "alias/kw")
    with _open(server, "awssecretsmanager://eu-west-1", region="us-west-2") as store:
        assert store.backend.client.meta.region_name == "us-west-2"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="atomic_check_and_set"):
        _open(server, "awssecretsmanager://?atomic_check_and_set=maybe")
    # endpoint_url in the URL, as the options table says.
    with open_store(f"awssecretsmanager://us-east-1?endpoint_url={server.endpoint_url}",
                    session=server.session()) as store:
        store.put(f"{prefix}/url-endpoint", "v")
        assert store.get(f"{prefix}/url-endpoint").value.reveal() == "v"


def _isolated_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No credentials or config from this machine, and no instance metadata lookups."""
    for variable in list(os.environ):
        if variable.startswith("AWS_"):
            monkeypatch.delenv(variable)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_doc_profile_and_region_from_the_usual_chain(
    server: MotoServer, prefix: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    _isolated_aws_environment(monkeypatch, tmp_path)
    (tmp_path / "config").write_text("[profile prod]\nregion = eu-central-1\n")
    (tmp_path / "credentials").write_text(
        "[prod]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    url = f"awssecretsmanager://?profile=prod&recovery_window_days=7&endpoint_url={server.endpoint_url}"
    with open_store(url) as store:
        assert store.backend.client.meta.region_name == "eu-central-1"  # type: ignore[attr-defined]
        store.put(f"{prefix}/profile", "v")
        assert store.get(f"{prefix}/profile").value.reveal() == "v"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "sa-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    backend = AWSSecretsManagerBackend(endpoint_url=server.endpoint_url)
    assert backend.client.meta.region_name == "sa-east-1"
    backend.close()


def test_doc_no_credentials_is_unauthenticated_before_any_request(
    server: MotoServer, prefix: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    _isolated_aws_environment(monkeypatch, tmp_path)
    backend = AWSSecretsManagerBackend(region="us-east-1", endpoint_url=server.endpoint_url)
    with SecretStore(backend, retry=RetryPolicy.never(), guard=NO_GUARD) as store:
        with pytest.raises(UnauthenticatedError) as info:
            store.get(f"{prefix}/no-credentials")
        assert (info.value.backend, info.value.name) == ("aws", f"{prefix}/no-credentials")
    assert sum(server.requests.values()) == 0


def test_doc_injected_client_is_used_as_is(server: MotoServer, prefix: str) -> None:
    client = server.client()
    with open_store("awssecretsmanager://", client=client) as store:
        assert store.backend.client is client  # type: ignore[attr-defined]
        store.put(f"{prefix}/client", "v")
    assert server.requests["PutSecretValue"] + server.requests["CreateSecret"] >= 1
    # The backend did not close a client it does not own.
    assert client.describe_secret(SecretId=f"{prefix}/client")["Name"] == f"{prefix}/client"


def test_doc_names_map_unchanged_and_arn_like_suffixes_work(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    names = [f"{prefix}/app/db/password", f"{prefix}/db-abcdef", f"{prefix}/a_b+c=d.e@f-g"]
    for name in names:
        store.put(name, "v")
    client = server.client()
    for name in names:
        assert client.describe_secret(SecretId=name)["Name"] == name
        store.clear_cache()
        assert store.get(name).value.reveal() == "v"
    assert list(store.list(f"{prefix}/")) == sorted(names)


def test_doc_value_limit_is_65536_bytes_checked_before_any_call(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    from helium_secrets.errors import TooLargeError

    name = f"{prefix}/large"
    for too_large in ("x" * 65537, "\u00e9" * 32769, b"x" * 65537):
        with pytest.raises(TooLargeError) as info:
            store.put(name, too_large)
        assert (info.value.backend, info.value.name) == ("aws", name)
    assert sum(server.requests.values()) == 0
    store.put(name, "x" * 65536)
    store.put(name, b"y" * 65536)
    store.clear_cache()
    assert store.get(name).value.reveal_bytes() == b"y" * 65536


def test_doc_awscurrent_can_be_moved_back_never_removed(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/rollback"
    first = store.put(name, "one")
    second = store.put(name, "two")
    store.set_label(name, "AWSCURRENT", first.version)  # a rollback
    assert store.get(name).version == first.version
    assert store.current_version(name) == first.version
    with pytest.raises(InvalidArgumentError) as info:
        store.set_label(name, "AWSCURRENT", None)
    assert (info.value.backend, info.value.name) == ("aws", name)
    assert store.current_version(name) == first.version
    assert second.version in {v.version for v in store.versions(name)}


def test_doc_deprecated_versions_are_listed_disabled_and_readable_by_id(
    store: SecretStore, prefix: str
) -> None:
    name = f"{prefix}/deprecated"
    written = [store.put(name, f"v{i}") for i in range(3)]
    versions = store.versions(name)
    assert [v.version for v in versions] == [w.version for w in written], "oldest first"
    assert [(v.labels, v.state) for v in versions] == [
        (frozenset(), "disabled"),
        (frozenset({"AWSPREVIOUS"}), "enabled"),
        (frozenset({"AWSCURRENT"}), "enabled"),
    ]
    assert store.get(name, written[0].version).value.reveal() == "v0"


def test_doc_reads_do_not_return_tags(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/tags-not-read"
    store.put(name, "v", metadata={"owner": "me"})
    store.clear_cache()
    assert dict(store.get(name).metadata) == {}


def test_doc_deleted_secret_name_is_not_reused_and_can_still_be_purged(
    store: SecretStore, prefix: str
) -> None:
    name = f"{prefix}/scheduled"
    store.put(name, "v")
    store.delete(name)
    with pytest.raises(ConflictError) as info:
        store.put(name, "again", create_only=True)
    assert (info.value.backend, info.value.name) == ("aws", name)
    store.delete(name, purge=True)
    with pytest.raises(SecretNotFoundError):
        store.get(name)
    store.put(name, "new", create_only=True)
    assert store.get(name).value.reveal() == "new"


@pytest.mark.parametrize("purge", [False, True])
def test_doc_deleting_a_missing_secret_is_not_found(
    store: SecretStore, prefix: str, purge: bool
) -> None:
    name = f"{prefix}/never-there"
    with pytest.raises(SecretNotFoundError) as info:
        store.delete(name, purge=purge)
    assert (info.value.backend, info.value.name) == ("aws", name)


def test_doc_create_only_is_create_secret_alone(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/create-only"
    store.put(name, "one", create_only=True)
    assert server.requests == {"CreateSecret": 1}
    server.reset_counts()
    with pytest.raises(ConflictError):
        store.put(name, "two", create_only=True)
    assert set(server.requests) == {"CreateSecret", "DescribeSecret"}


@pytest.mark.parametrize(("atomic", "calls"), [
    (True, {"PutSecretValue": 1, "UpdateSecretVersionStage": 2}),
    (False, {"DescribeSecret": 1, "PutSecretValue": 1}),
])
def test_doc_check_and_set_call_counts(
    server: MotoServer, prefix: str, atomic: bool, calls: dict[str, int]
) -> None:
    with _open(server, atomic_check_and_set=atomic) as store:
        name = f"{prefix}/cas-calls"
        first = store.put(name, "one")
        server.reset_counts()
        store.put(name, "two", expected_version=first.version)
        assert dict(server.requests) == calls


# The IAM table: each store call touches only the actions its row names.
IAM = {
    "get": {"GetSecretValue"},
    "get-missing-version": {"GetSecretValue", "DescribeSecret"},
    "get_many": {"BatchGetSecretValue", "GetSecretValue"},
    "current_version": {"DescribeSecret"},
    "list": {"ListSecrets"},
    "versions": {"ListSecretVersionIds", "DescribeSecret"},
    "put": {"PutSecretValue", "CreateSecret", "TagResource"},
    "put-cas": {"PutSecretValue", "CreateSecret", "TagResource", "UpdateSecretVersionStage",
                "DescribeSecret"},
    "put-labels": {"PutSecretValue", "CreateSecret", "UpdateSecretVersionStage",
                   "DescribeSecret"},
    "set_label": {"UpdateSecretVersionStage", "DescribeSecret"},
    "create_only": {"CreateSecret", "DescribeSecret"},
    "delete": {"DeleteSecret"},
    "purge": {"DeleteSecret", "DescribeSecret"},
    "restore": {"RestoreSecret"},
}


def test_doc_iam_table_names_every_action_a_call_makes(
    server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/iam"
    with _open(server) as store:
        backend = store.backend
        assert isinstance(backend, AWSSecretsManagerBackend)
        first: Any = None

        def check(row: str, call: Any, raises: type[Exception] | None = None) -> Any:
            server.reset_counts()
            if raises is None:
                result = call()
            else:
                with pytest.raises(raises):
                    call()
                result = None
            assert set(server.requests) <= IAM[row], (row, dict(server.requests))
            assert server.requests, row
            return result

        first = check("put", lambda: store.put(name, "one", metadata={"owner": "me"}))
        check("put", lambda: store.put(name, "two", metadata={"owner": "you"}))
        check("put-labels", lambda: store.put(name, "two-b", labels=["blue"]))
        check("put-labels", lambda: store.put(f"{name}-new", "one", labels=["blue"]))
        check("put-cas", lambda: store.put(name, "three",
                                           expected_version=store.current_version(name)))
        check("get", lambda: store.get(name))
        check("get", lambda: store.refresh(name))
        check("get-missing-version", lambda: store.get(name, "0" * 32), VersionNotFoundError)
        check("get_many", lambda: store.get_many([name, f"{name}-new"]))
        check("current_version", lambda: store.current_version(name))
        check("list", lambda: list(store.list(prefix)))
        check("versions", lambda: store.versions(name))
        check("set_label", lambda: store.set_label(name, "green", first.version))
        check("create_only", lambda: store.put(f"{name}-c", "v", create_only=True))
        check("create_only", lambda: store.put(f"{name}-c", "v", create_only=True),
              ConflictError)
        check("delete", lambda: store.delete(f"{name}-c"))
        check("restore", lambda: store.extras.restore(f"{name}-c"))
        check("purge", lambda: store.delete(f"{name}-c", purge=True))


@pytest.mark.parametrize(
    ("kind", "error", "transient"),
    [
        ("encryption", PermissionDeniedError, False),
        ("unrecognized", UnauthenticatedError, False),
        ("validation", InvalidArgumentError, False),
        ("invalid-parameter", InvalidArgumentError, False),
        ("invalid-request", InvalidArgumentError, False),
        ("exists", ConflictError, False),
        ("throttle", ThrottledError, True),
        ("http-429", ThrottledError, True),
        ("internal", UnavailableError, True),
        ("http-502", UnavailableError, True),
    ],
)
def test_doc_error_table(
    server: MotoServer, prefix: str, kind: str, error: type[Exception], transient: bool
) -> None:
    name = f"{prefix}/err-{kind}"
    with _open(server) as store:
        server.fail_next(1, kind, message=f"echo {CANARY}")
        with pytest.raises(error) as info:
            store.get(name)
        exc = info.value
        assert type(exc) is error
        assert getattr(exc, "transient", None) is transient
        assert (getattr(exc, "backend", None), getattr(exc, "name", None)) == ("aws", name)
        assert isinstance(exc.__cause__, botocore.exceptions.ClientError)
        assert CANARY not in str(exc) and CANARY not in repr(exc)


def test_doc_read_timeout_is_deadline_exceeded(prefix: str) -> None:
    import socket

    from helium_secrets.errors import DeadlineExceededError

    # A server that accepts and never answers.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        backend = AWSSecretsManagerBackend(
            session=MotoServer().session(), endpoint_url=f"http://127.0.0.1:{port}",
            config=Config(read_timeout=0.5, connect_timeout=5),
        )
        with SecretStore(backend, retry=RetryPolicy.never(), guard=NO_GUARD) as store:
            with pytest.raises(DeadlineExceededError) as info:
                store.get(f"{prefix}/slow")
            assert info.value.transient
            assert (info.value.backend, info.value.name) == ("aws", f"{prefix}/slow")
    finally:
        stop.set()
        thread.join(10)
        for conn in held:
            conn.close()
        listener.close()


def test_doc_connection_refused_is_unavailable(prefix: str) -> None:
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    backend = AWSSecretsManagerBackend(session=MotoServer().session(),
                                       endpoint_url=f"http://127.0.0.1:{port}")
    with SecretStore(backend, retry=RetryPolicy.never(), guard=NO_GUARD) as store:
        with pytest.raises(UnavailableError) as info:
            store.get(f"{prefix}/refused")
        assert info.value.transient
        assert (info.value.backend, info.value.name) == ("aws", f"{prefix}/refused")


def test_doc_an_empty_or_overlong_stage_is_no_stage_and_makes_no_call(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/empty-stage"
    store.put(name, "v")
    server.reset_counts()
    for label in ("", "x" * 257):
        with pytest.raises(VersionNotFoundError) as info:
            store.get(name, label=label)
        assert (info.value.backend, info.value.name) == ("aws", name)
    assert sum(server.requests.values()) == 0


def test_doc_a_client_excludes_the_options_that_build_one(server: MotoServer) -> None:
    for url, options in [
        ("awssecretsmanager://eu-west-1", {}),
        ("awssecretsmanager://?profile=prod", {}),
        (f"awssecretsmanager://?endpoint_url={server.endpoint_url}", {}),
        ("awssecretsmanager://", {"config": Config(read_timeout=5)}),
        ("awssecretsmanager://", {"session": server.session()}),
    ]:
        with pytest.raises(ValueError, match="not both"):
            open_store(url, client=server.client(), **options)
    with pytest.raises(ValueError, match="not both"):
        open_store("awssecretsmanager://?profile=prod", session=server.session())


def test_doc_no_region_anywhere_is_a_clear_value_error(
    server: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    _isolated_aws_environment(monkeypatch, tmp_path)
    with pytest.raises(ValueError, match="no AWS region"):
        open_store("awssecretsmanager://", endpoint_url=server.endpoint_url)
    assert sum(server.requests.values()) == 0


@pytest.mark.parametrize("query", ["recovery_window_days=week", "recovery_window_days=31",
                                   "recovery_window_days=-7"])
def test_doc_recovery_window_outside_7_to_30_days_is_refused(
    server: MotoServer, query: str
) -> None:
    with pytest.raises(ValueError, match="7"):
        open_store(f"awssecretsmanager://?{query}", session=server.session())


def test_doc_put_with_labels_moves_them_to_the_new_version(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/put-moves"
    first = store.put(name, "one", labels=["blue"])
    second = store.put(name, "two", labels=["blue", "green"])
    assert store.get(name, label="blue").version == second.version
    assert store.get(name, label="green").version == second.version
    labels = {v.version: v.labels for v in store.versions(name)}
    assert labels == {first.version: {"AWSPREVIOUS"},
                      second.version: {"AWSCURRENT", "blue", "green"}}
    assert second.labels == {"AWSCURRENT", "blue", "green"}


@pytest.mark.parametrize(("message", "deleted"), [
    ("You can't perform this operation on the secret because it was marked for deletion.", True),
    ("You tried to perform the operation on a secret that's currently marked deleted.", True),
    ("You can't create this secret because a secret with this name is already scheduled for "
     "deletion.", True),
    ("You can't delete secret x that still has replica regions [eu-west-1]", False),
    ("You can't perform this operation on a secret that is being rotated", False),
])
@pytest.mark.parametrize("operation", ["get", "put"])
def test_doc_invalid_request_for_a_deleted_secret_is_not_found_to_reads_a_conflict_to_writes(
    server: MotoServer, prefix: str, message: str, deleted: bool, operation: str
) -> None:
    name = f"{prefix}/invalid-request"
    with _open(server) as store:
        if operation == "put":
            store.put(name, "v")
        server.fail_next(1, "invalid-request", message=message,
                         operations=["GetSecretValue", "PutSecretValue"])
        error: type[Exception] = InvalidArgumentError
        if deleted:
            error = SecretNotFoundError if operation == "get" else ConflictError
        with pytest.raises(error) as info:
            store.get(name) if operation == "get" else store.put(name, "w")
        assert type(info.value) is error
        assert ("scheduled for deletion" in str(info.value)) is deleted
        if deleted:
            assert "store.extras.restore(name)" in str(info.value)


@pytest.mark.parametrize("metadata", [
    {"k" * 129: "v"}, {"owner": "v" * 257}, {"": "v"}, {"aws:owner": "me"},
    {"owner": "semi;colon"}, {f"k{i}": "v" for i in range(51)},
])
def test_doc_metadata_aws_refuses_as_tags_is_refused_before_any_call(
    store: SecretStore, server: MotoServer, prefix: str, metadata: dict[str, str]
) -> None:
    name = f"{prefix}/bad-tags"
    store.put(name, "one")
    server.reset_counts()
    with pytest.raises(InvalidArgumentError, match="tags") as info:
        store.put(name, "two", metadata=metadata)
    assert (info.value.backend, info.value.name) == ("aws", name)
    assert sum(server.requests.values()) == 0
    assert len(store.versions(name)) == 1, "no version was written"
    with pytest.raises(ValueError, match="tags="):
        make_backend(server, tags=metadata)


def test_doc_metadata_within_aws_tag_rules_is_accepted(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/good-tags"
    tags = {"owner": "Team A", "cost-centre/id": "x_1.2:3=4+5@6", "k" * 128: "v" * 256}
    store.put(name, "one", metadata=tags)
    described = server.client().describe_secret(SecretId=name)
    assert {t["Key"]: t["Value"] for t in described["Tags"]} == tags


# -- issue 11: deletion is portable --------------------------------------------------------


@pytest.mark.parametrize("purge", [False, True])
def test_a_delete_whose_answer_was_lost_is_retried_and_succeeds(
    store: SecretStore, server: MotoServer, prefix: str, purge: bool
) -> None:
    name = f"{prefix}/lost-delete"
    store.put(name, "v")
    server.reset_counts()
    server.fail_next(1, "lost", operations=["DeleteSecret"])  # done, but the answer never came
    store.delete(name, purge=purge)
    # Tried again: a plain delete finds the secret scheduled, a purge finds nothing left.
    assert server.requests["DeleteSecret"] == (1 if purge else 2)
    with pytest.raises(SecretNotFoundError):
        store.get(name)
    # A delete of what is already gone, on a first attempt, is still "not found".
    with pytest.raises(SecretNotFoundError):
        store.delete(name, purge=purge)


def test_writes_to_a_deleted_but_recoverable_secret_are_conflicts_that_say_how_to_restore(
    server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/deleted-write"
    with _open(server) as store:
        first = store.put(name, CANARY)
        store.delete(name)
        writes: dict[str, Any] = {
            "put": lambda: store.put(name, "new"),
            "put-labels": lambda: store.put(name, "new", labels=["blue"]),
            "put-cas": lambda: store.put(name, "new", expected_version=first.version),
            "create_only": lambda: store.put(name, "new", create_only=True),
            "rotate": lambda: store.rotate(name, lambda: "new"),
            "set_label": lambda: store.set_label(name, "blue", first.version),
        }
        for what, write in writes.items():
            with pytest.raises(ConflictError) as info:
                write()
            message = str(info.value)
            assert "scheduled for deletion" in message, what
            assert "store.extras.restore(name)" in message, what
            assert CANARY not in message
        store.extras.restore(name)
        assert store.get(name).value.reveal() == CANARY
        assert [v.version for v in store.versions(name)] == [first.version], "nothing written"
    with _open(server, atomic_check_and_set=False) as store:
        store.delete(name)
        with pytest.raises(ConflictError, match=r"store\.extras\.restore\(name\)"):
            store.put(name, "new", expected_version=first.version)


def test_restore_is_an_extra_operation_through_the_call_pipeline(
    server: MotoServer, prefix: str
) -> None:
    from helium_secrets.errors import StoreClosedError

    name = f"{prefix}/extras"
    events: list[Any] = []
    with _open(server, audit=[events.append]) as store:
        assert "restore" in dir(store.extras)
        store.put(name, "v")
        store.delete(name)
        store.extras.restore(name)
        assert events[-1].operation == "restore" and events[-1].name == name
        with pytest.raises(SecretNotFoundError):  # translated, with backend and name
            store.extras.restore(f"{prefix}/never-there")
        with pytest.raises(InvalidNameError):
            store.extras.restore("bad name")
    with pytest.raises(StoreClosedError):
        store.extras.restore(name)


# -- "no such version" or "no such secret", decided by the store (issue 11) ----------------


def test_a_missing_version_or_stage_costs_one_describe_secret(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/which-missing"
    first = store.put(name, "one")
    server.reset_counts()
    with pytest.raises(VersionNotFoundError, match="no such version") as info:
        store.get(name, "0" * 32)
    assert isinstance(info.value.__cause__, SecretNotFoundError)
    with pytest.raises(VersionNotFoundError, match="no such label"):
        store.get(name, label="no-such-stage")
    with pytest.raises(SecretNotFoundError) as missing:
        store.get(f"{prefix}/nothing", first.version)
    assert type(missing.value) is SecretNotFoundError
    assert server.requests == {"GetSecretValue": 3, "DescribeSecret": 3}
    server.reset_counts()
    # AWS says itself that the version exists without the stage: no DescribeSecret.
    with pytest.raises(VersionNotFoundError, match="does not carry that label"):
        store.backend.get(name, first.version, "AWSPREVIOUS")
    assert server.requests == {"GetSecretValue": 1}


def test_botocore_debug_logs_show_values_without_the_filter(
    store: SecretStore, prefix: str
) -> None:
    """The defect the redaction filter fixes: botocore logs request and response bodies at
    DEBUG, values included (the conformance suite shows none with the filter installed)."""
    name = f"{prefix}/unfiltered"
    with debug_logs(redact=False) as texts:
        store.put(name, CANARY)
        store.clear_cache()
        store.get(name)
    leaks = [text for text in texts if CANARY in text]
    assert any(text.startswith("botocore.endpoint") for text in leaks)  # the request body
    assert any(text.startswith("botocore.parsers") for text in leaks)  # the response body
    with debug_logs() as texts:
        store.put(name, CANARY + "-2")
        store.clear_cache()
        store.get(name)
    assert sum(CANARY in text for text in texts) == 0


# -- the async twin ----------------------------------------------------------------------------


class AsyncAWSHarness(AWSHarness):
    """The same moto server (and its fault proxy) for the async twin, through aiobotocore."""

    def __init__(self, server: MotoServer, **backend_options: Any) -> None:
        super().__init__(server, **backend_options)
        self.twin = "async"

    def make_async_backend(self) -> AsyncBackend:
        from helium_secrets.backends.awssecretsmanager.aio import AsyncAWSSecretsManagerBackend

        return AsyncAWSSecretsManagerBackend(session=self.server.aio_session(),
                                             endpoint_url=self.server.endpoint_url,
                                             **self.backend_options)


class TestAWSAsyncTwinConformance(BackendConformance):
    """Every conformance case on the async twin, against moto's server."""

    @pytest.fixture
    def harness(self, moto: MotoServer) -> Iterator[AWSHarness]:
        pytest.importorskip("aiobotocore")
        with AsyncAWSHarness(moto) as harness:
            yield harness
