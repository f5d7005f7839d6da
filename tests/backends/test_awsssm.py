"""AWS SSM Parameter Store: the conformance suite and the SSM specifics, against moto's server.

boto3 talks real HTTP to moto (through the fault-injecting proxy in ``motoserver.py``, the one
the Secrets Manager tests use); nothing in the SDK is mocked. One server serves the whole
session: every test uses its own names.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore.config import Config

from helium_secrets import GuardPolicy, RetryPolicy, SecretStore, open_store
from helium_secrets.backends.awsssm import AWSSSMBackend
from helium_secrets.errors import (
    ConflictError,
    HeliumError,
    InvalidArgumentError,
    InvalidNameError,
    PermissionDeniedError,
    SecretNotFoundError,
    ThrottledError,
    TooLargeError,
    UnauthenticatedError,
    UnavailableError,
    VersionNotFoundError,
)
from helium_secrets.testing import BackendHarness
from helium_secrets.testing.conformance import CANARY, BackendConformance
from tests.backends.aws_shared import (
    MotoHarness,
    moto_per_test,  # noqa: F401 (the server fixture)
)
from tests.backends.motoserver import MotoServer

NO_GUARD = GuardPolicy(threshold=0)


def make_backend(server: MotoServer, **options: Any) -> AWSSSMBackend:
    return AWSSSMBackend(session=server.session(), endpoint_url=server.endpoint_url, **options)


def ssm_client(server: MotoServer) -> Any:
    """A raw ``ssm`` client on the proxy, as another application would hold."""
    return server.session().client("ssm", endpoint_url=server.endpoint_url,
                                   config=Config(retries={"total_max_attempts": 1}))


def _open(server: MotoServer, url: str = "awsssm://", **options: Any) -> SecretStore:
    options.setdefault("session", server.session())
    options.setdefault("endpoint_url", server.endpoint_url)
    options.setdefault("retry", RetryPolicy.never())
    return open_store(url, cache=None, guard=NO_GUARD, **options)


@pytest.fixture
def store(server: MotoServer) -> Iterator[SecretStore]:
    with _open(server) as store:
        yield store


@pytest.fixture
def prefix() -> str:
    return f"params/t{uuid.uuid4().hex[:12]}"


class SSMHarness(MotoHarness):
    """moto behind the proxy: every fault happens on the wire, and a lost answer is a request
    moto performed whose answer the proxy dropped."""

    missing_version = "987654"
    REQUESTS = {"get": ["GetParameter"], "put": ["PutParameter"], "delete": ["DeleteParameter"]}

    def make_backend(self) -> AWSSSMBackend:
        return make_backend(self.server, **self.backend_options)


class TestSSMConformance(BackendConformance):
    @pytest.fixture
    def harness(self, moto: MotoServer) -> Iterator[SSMHarness]:
        with SSMHarness(moto) as harness:
            yield harness


class TestSSMConformanceStringUnderAPath(BackendConformance):
    """The same contract for String parameters under a root path."""

    @pytest.fixture
    def harness(self, moto: MotoServer) -> Iterator[SSMHarness]:
        with SSMHarness(moto, path="/helium/root", parameter_type="String") as harness:
            yield harness


# -- documented behaviour (docs/backends/awsssm.md, checked black-box through the public API) --


def test_doc_url_forms(server: MotoServer, prefix: str) -> None:
    with _open(server, "awsssm://eu-west-1/myapp/prod?parameter_type=String&tier=Advanced") as store:
        backend = store.backend
        assert isinstance(backend, AWSSSMBackend)
        assert backend.client.meta.region_name == "eu-west-1"
        assert (backend.options.path, backend.options.parameter_type,
                backend.options.tier) == ("/myapp/prod", "String", "Advanced")
        store.put(f"{prefix}/db", "v")
        described = backend.client.get_parameter(Name=f"/myapp/prod/{prefix}/db")["Parameter"]
    assert (described["Type"], described["Value"]) == ("String", "v")
    with _open(server, "awsssm://?region=ap-south-1&kms_key_id=alias/k") as store:
        assert store.backend.client.meta.region_name == "ap-south-1"  # type: ignore[attr-defined]
        assert store.backend.options.kms_key_id == "alias/k"  # type: ignore[attr-defined]
    with _open(server, "awsssm://eu-west-1", region="us-west-2") as store:  # keyword wins
        assert store.backend.client.meta.region_name == "us-west-2"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="not both"):
        _open(server, "awsssm://eu-west-1?region=ap-south-1")
    with pytest.raises(ValueError, match="tier"):
        _open(server, "awsssm://?tier=Huge")
    with pytest.raises(ValueError, match="kms_key_id applies to SecureString"):
        _open(server, "awsssm://?parameter_type=String&kms_key_id=alias/k")
    for bad in ("awsssm://us-east-1/aws/x", "awsssm://us-east-1/a b", "awsssm://us-east-1/" + "/".join("a" * 15)):
        with pytest.raises(ValueError, match="path"):
            _open(server, bad)


def test_doc_names_are_parameters_under_the_root_path(server: MotoServer, prefix: str) -> None:
    client = ssm_client(server)
    with _open(server, "awsssm:///apps") as store:
        store.put(f"{prefix}/app/db", "one")
        assert client.get_parameter(Name=f"/apps/{prefix}/app/db")["Parameter"]["Version"] == 1
        # Another application's parameter under the path is a portable name too.
        client.put_parameter(Name=f"/apps/{prefix}/app/api-key", Value="k", Type="SecureString")
        client.put_parameter(Name=f"/other/{prefix}/x", Value="k", Type="String")
        assert list(store.list(f"{prefix}/")) == [f"{prefix}/app/api-key", f"{prefix}/app/db"]
        assert list(store.list(f"{prefix}/app/d")) == [f"{prefix}/app/db"]
        assert store.get(f"{prefix}/app/api-key").value.reveal() == "k"


@pytest.mark.parametrize("bad", ["aws-thing", "SSM/x", "a+b", "a=b", "a@b", "/".join("a" * 16)])
def test_doc_name_rules_refused_before_any_call(
    store: SecretStore, server: MotoServer, bad: str
) -> None:
    with pytest.raises(InvalidNameError) as info:
        store.put(bad, CANARY)
    assert CANARY not in str(info.value)
    with pytest.raises(InvalidNameError):
        store.get(bad)
    assert sum(server.requests.values()) == 0


def test_doc_long_names_count_the_root_path(server: MotoServer) -> None:
    with _open(server, "awsssm:///" + "r" * 100) as store:
        assert store.backend.capabilities.name_rules.max_length == 1011 - 102
        with pytest.raises(InvalidNameError):
            store.get("n" * 910)
    assert sum(server.requests.values()) == 0


@pytest.mark.parametrize(("tier", "limit"), [("Standard", 4096), ("Advanced", 8192),
                                             ("Intelligent-Tiering", 8192)])
def test_doc_value_limits_by_tier_before_any_call(
    server: MotoServer, prefix: str, tier: str, limit: int
) -> None:
    with _open(server, tier=tier) as store:
        name = f"{prefix}/large-{tier}"
        for too_large in ("x" * (limit + 1), "\u00e9" * (limit // 2 + 1)):
            with pytest.raises(TooLargeError) as info:
                store.put(name, too_large)
            assert (info.value.backend, info.value.name) == ("awsssm", name)
        with pytest.raises(InvalidArgumentError):
            store.put(name, "")  # SSM stores no empty value
        with pytest.raises(InvalidArgumentError):
            store.put(name, b"bytes")  # text only
        assert sum(server.requests.values()) == 0
        store.put(name, "y" * limit)
        assert store.get(name).value.reveal() == "y" * limit


def test_doc_labels_and_tags_refused_before_any_call(store: SecretStore, server: MotoServer,
                                                     prefix: str) -> None:
    name = f"{prefix}/labels-refused"
    for labels in (["1st"], ["aws-x"], ["SSMx"], ["a b"], ["x" * 101], [f"l{i}" for i in range(11)]):
        with pytest.raises(InvalidArgumentError):
            store.put(name, "v", labels=labels)
    for metadata in ({f"k{i}": "v" for i in range(51)}, {"aws:k": "v"}, {"k": "v" * 257},
                     {"k" * 129: "v"}, {"k": "a|b"}):
        with pytest.raises(InvalidArgumentError):
            store.put(name, "v", metadata=metadata)
    assert sum(server.requests.values()) == 0
    with pytest.raises(ValueError, match="tags="):
        make_backend(server, tags={"aws:reserved": "x"})


def test_doc_versions_labels_and_history(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/history"
    first = store.put(name, "one", labels=["blue"])
    second = store.put(name, "two", labels=["blue", "green"])
    assert (first.version, second.version) == ("1", "2")
    assert [(v.version, v.labels) for v in store.versions(name)] == [
        ("1", frozenset()), ("2", frozenset({"blue", "green"}))]
    assert store.get(name, label="blue").value.reveal() == "two"
    store.set_label(name, "blue", "1")  # moves it
    assert store.get(name, label="blue").value.reveal() == "one"
    store.set_label(name, "green", None)  # removes it
    with pytest.raises(VersionNotFoundError):
        store.get(name, label="green")
    with pytest.raises(VersionNotFoundError):
        store.get(name, "v3")  # not a number: no call needed
    with pytest.raises(VersionNotFoundError):
        store.set_label(name, "blue", "99")
    assert store.backend.get(name, "1", "blue").value == "one"
    with pytest.raises(VersionNotFoundError):
        store.backend.get(name, "2", "blue")
    assert store.current_version(name) == "2"
    assert store.previous(name).value.reveal() == "one"  # type: ignore[union-attr]


def test_doc_secure_string_is_the_default_and_reads_decrypt(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/secure"
    store.put(name, CANARY)
    raw = ssm_client(server).get_parameter(Name=f"/{name}")["Parameter"]
    assert raw["Type"] == "SecureString" and raw["Value"] != CANARY  # encrypted at rest
    assert store.get(name).value.reveal() == CANARY


def test_doc_the_probe_does_not_decrypt(store: SecretStore, server: MotoServer, prefix: str) -> None:
    name = f"{prefix}/probe"
    store.put(name, "v")
    server.reset_counts()
    assert store.current_version(name) == "1"
    assert dict(server.requests) == {"GetParameter": 1}


def test_doc_batches_of_ten(store: SecretStore, server: MotoServer, prefix: str) -> None:
    names = [f"{prefix}/batch/{i}" for i in range(25)]
    for i, name in enumerate(names):
        store.put(name, f"v{i}")
    server.reset_counts()
    got = store.get_many([*names, f"{prefix}/batch/missing"], ignore_missing=True)
    assert [s.value.reveal() for s in got.values()] == [f"v{i}" for i in range(25)]
    assert dict(server.requests) == {"GetParameters": 3}  # 26 names: 10 + 10 + 6


def test_doc_a_retried_put_finds_its_own_version(server: MotoServer, prefix: str) -> None:
    name = f"{prefix}/lost"
    with _open(server, retry=RetryPolicy(max_attempts=3, initial_backoff=0.0,
                                         max_backoff=0.0)) as store:
        store.put(name, "zero")
        server.fail_next(1, "lost", operations=["PutParameter"])
        written = store.put(name, "one")
        assert written.version == "2"
        assert [v.version for v in store.versions(name)] == ["1", "2"]
        assert store.get(name).value.reveal() == "one"


def test_doc_check_and_set_is_a_read_then_a_write(
    store: SecretStore, server: MotoServer, prefix: str
) -> None:
    name = f"{prefix}/cas"
    first = store.put(name, "one")
    server.reset_counts()
    store.put(name, "two", expected_version=first.version)
    assert dict(server.requests) == {"GetParameter": 1, "PutParameter": 1}
    with pytest.raises(ConflictError):
        store.put(name, "three", expected_version=first.version)
    with pytest.raises(ConflictError):
        store.put(name, "four", create_only=True)


def test_doc_metadata_becomes_tags(store: SecretStore, server: MotoServer, prefix: str) -> None:
    name = f"{prefix}/tags"
    with _open(server, tags={"team": "core"}) as tagged:
        tagged.put(name, "one", metadata={"owner": "me"})
        tagged.put(name, "two", metadata={"owner": "you"})
    listed = ssm_client(server).list_tags_for_resource(ResourceType="Parameter",
                                                       ResourceId=f"/{name}")["TagList"]
    assert {t["Key"]: t["Value"] for t in listed} == {"team": "core", "owner": "you"}
    assert dict(store.get(name).metadata) == {}  # reads do not return tags


def test_doc_delete_is_final(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/deleted"
    store.put(name, "v")
    store.delete(name)
    with pytest.raises(SecretNotFoundError):
        store.get(name)
    with pytest.raises(SecretNotFoundError):
        store.delete(name)
    assert store.put(name, "again").version == "1"  # the name is free at once, versions restart


@pytest.mark.slow
def test_doc_the_100_version_limit_is_the_services(store: SecretStore, prefix: str) -> None:
    name = f"{prefix}/hundred"
    for i in range(100):
        store.put(name, f"v{i}", labels=["first"] if i == 0 else ())
    with pytest.raises(ConflictError) as info:
        store.put(name, "v100")  # the oldest carries a label: SSM can't drop it
    assert "label" in str(info.value) and not info.value.transient
    store.set_label(name, "first", None)
    assert store.put(name, "v100").version == "101"
    assert store.versions(name)[0].version == "2"  # SSM dropped the oldest


# The IAM table: each store call touches only the actions its row names.
IAM = {
    "get": {"GetParameter"},
    "get_many": {"GetParameters"},
    "current_version": {"GetParameter"},
    "list": {"GetParametersByPath"},
    "versions": {"GetParameterHistory"},
    "put": {"PutParameter", "AddTagsToResource"},
    "put-labels": {"PutParameter", "LabelParameterVersion"},
    "put-cas": {"GetParameter", "PutParameter"},
    "set_label": {"LabelParameterVersion", "UnlabelParameterVersion", "GetParameterHistory"},
    "delete": {"DeleteParameter"},
}


def test_doc_iam_table_names_every_action_a_call_makes(server: MotoServer, prefix: str) -> None:
    name = f"{prefix}/iam"
    with _open(server) as store:

        def check(row: str, call: Any) -> None:
            server.reset_counts()
            call()
            assert set(server.requests) <= IAM[row], (row, dict(server.requests))
            assert server.requests, row

        check("put", lambda: store.put(name, "one", metadata={"owner": "me"}))
        check("put-labels", lambda: store.put(name, "two", labels=["blue"]))
        check("put-cas", lambda: store.put(name, "three", expected_version="2"))
        check("put-cas", lambda: store.put(f"{name}-c", "v", create_only=True))
        check("get", lambda: store.get(name))
        check("get", lambda: store.get(name, "1"))
        check("get", lambda: store.get(name, label="blue"))
        check("get_many", lambda: store.get_many([name, f"{name}-c"]))
        check("current_version", lambda: store.current_version(name))
        check("list", lambda: list(store.list(prefix)))
        check("versions", lambda: store.versions(name))
        check("set_label", lambda: store.set_label(name, "green", "1"))
        check("set_label", lambda: store.set_label(name, "green", None))
        check("delete", lambda: store.delete(f"{name}-c"))


@pytest.mark.parametrize(
    ("kind", "error", "transient"),
    [
        ("denied", PermissionDeniedError, False),
        ("unrecognized", UnauthenticatedError, False),
        ("validation", InvalidArgumentError, False),
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
        assert (getattr(exc, "backend", None), getattr(exc, "name", None)) == ("awsssm", name)
        assert isinstance(exc.__cause__, botocore.exceptions.ClientError)
        assert CANARY not in str(exc) and CANARY not in repr(exc)
        assert "AWS SSM Parameter Store GetParameter" in str(exc)


@pytest.mark.parametrize(("code", "error", "transient"), [
    ("ParameterNotFound", SecretNotFoundError, False),
    ("ParameterVersionNotFound", VersionNotFoundError, False),
    ("ParameterAlreadyExists", ConflictError, False),
    ("ParameterMaxVersionLimitExceeded", ConflictError, False),
    ("ParameterLimitExceeded", ThrottledError, False),
    ("TooManyUpdates", ThrottledError, True),
    ("HierarchyLevelLimitExceededException", InvalidArgumentError, False),
    ("InvalidKeyId", InvalidArgumentError, False),
])
def test_ssm_codes(code: str, error: type[HeliumError], transient: bool) -> None:
    from helium_secrets.backends.awsssm import classify
    from helium_secrets.errors import error_for_code

    exc = botocore.exceptions.ClientError({"Error": {"Code": code, "Message": CANARY}},
                                          "PutParameter")
    verdict = classify(exc)
    assert verdict is not None
    assert error_for_code(verdict.code) is error
    assert error(verdict.message or "", transient=verdict.transient).transient is transient
    assert CANARY not in (verdict.message or "")


def test_the_client_is_built_by_the_shared_aws_function(server: MotoServer) -> None:
    import warnings

    retrying = server.session().client("ssm", endpoint_url=server.endpoint_url,
                                       config=Config(retries={"mode": "standard", "max_attempts": 3}))
    with pytest.warns(RuntimeWarning, match="injected ssm client retries"):
        AWSSSMBackend(client=retrying)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backend = make_backend(server)
    assert backend.client.meta.config.retries["total_max_attempts"] == 1
    assert backend.client.meta.service_model.service_name == "ssm"
    with pytest.raises(ValueError, match="not both"):
        AWSSSMBackend(client=ssm_client(server), region="eu-west-1")


def test_list_under_a_segment_that_only_starts_a_name_with_aws(store: SecretStore,
                                                               prefix: str) -> None:
    # Only a name's first segment is reserved: /params/.../awsx/k is an ordinary parameter.
    store.put(f"{prefix}/awsx/k", "v")
    assert list(store.list(f"{prefix}/awsx/")) == [f"{prefix}/awsx/k"]
    assert list(store.list(f"{prefix}/aws")) == [f"{prefix}/awsx/k"]


def test_a_retried_first_put_still_tags_the_parameter(server: MotoServer, prefix: str) -> None:
    name = f"{prefix}/lost-tags"
    with _open(server, tags={"team": "core"}, retry=RetryPolicy(
            max_attempts=3, initial_backoff=0.0, max_backoff=0.0)) as store:
        server.fail_next(1, "lost", operations=["PutParameter"])
        assert store.put(name, "one", metadata={"owner": "me"}).version == "1"
    listed = ssm_client(server).list_tags_for_resource(ResourceType="Parameter",
                                                       ResourceId=f"/{name}")["TagList"]
    assert {t["Key"]: t["Value"] for t in listed} == {"team": "core", "owner": "me"}


LIVE_REGION = os.environ.get("HELIUM_SECRETS_AWS_LIVE_REGION", "")


class SSMLiveHarness(BackendHarness):
    missing_version = "987654"

    def make_backend(self) -> AWSSSMBackend:
        return AWSSSMBackend(region=LIVE_REGION, path="/helium-live")


@pytest.mark.live
@pytest.mark.skipif(not LIVE_REGION, reason="set HELIUM_SECRETS_AWS_LIVE_REGION to run on AWS")
class TestSSMLive(BackendConformance):
    """The conformance suite on real SSM (credentials from boto3's usual chain), under
    /helium-live; every parameter a test creates is deleted afterwards."""

    @pytest.fixture
    def harness(self) -> Iterator[SSMLiveHarness]:
        with SSMLiveHarness() as harness:
            yield harness

    @pytest.fixture
    def prefix(self) -> Iterator[str]:
        prefix = f"t{uuid.uuid4().hex[:12]}"
        yield prefix
        backend = SSMLiveHarness().make_backend()
        for name in list(backend.list_names(prefix)):
            backend.delete(name)
        backend.close()


def test_the_kms_key_and_tier_are_sent_with_each_write(server: MotoServer, prefix: str) -> None:
    name = f"{prefix}/kms"
    with _open(server, kms_key_id="alias/helium-test", tier="Advanced") as store:
        store.put(name, "v")
    described = ssm_client(server).describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [f"/{name}"]}])["Parameters"]
    assert [(p["KeyId"], p["Tier"], p["Type"]) for p in described] == [
        ("alias/helium-test", "Advanced", "SecureString")]
