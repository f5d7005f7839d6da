"""The async AWS Secrets Manager backend, through aiobotocore, against the moto server the sync
tests use (behind the same fault-injecting proxy): every method, and parity with the sync
backend (the same scripted sequence, the same answers and errors, the same classification).

Each test runs its coroutine with ``asyncio.run``: no pytest plugin is needed, and the
session-scoped moto fixture is the sync tests' own.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import botocore.exceptions
import pytest

pytest.importorskip("aiobotocore")

from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import RawSecret, extra_operations
from helium_secrets.backends.awssecretsmanager import BATCH_SIZE, AWSSecretsManagerBackend
from helium_secrets.backends.awssecretsmanager.aio import AsyncAWSSecretsManagerBackend
from helium_secrets.errors import ConflictError, HeliumError
from helium_secrets.lifecycle import Lifecycle
from helium_secrets.testing.conformance import CANARY
from tests.backends.aws_shared import moto_per_test  # noqa: F401 (the server fixture)
from tests.backends.motoserver import MotoServer
from tests.loopturns import Turns

T = TypeVar("T")
OFF_BOX = "192.0.2.10"  # TEST-NET-1: never routed, and the net guard refuses it anyway


def prefix() -> str:
    return f"aws-async/t{uuid.uuid4().hex[:12]}"


def make_sync(server: MotoServer, **options: Any) -> AWSSecretsManagerBackend:
    return AWSSecretsManagerBackend(session=server.session(), endpoint_url=server.endpoint_url,
                                    **options)


def make_async(server: MotoServer, **options: Any) -> AsyncAWSSecretsManagerBackend:
    return AsyncAWSSecretsManagerBackend(session=server.aio_session(),
                                         endpoint_url=server.endpoint_url, **options)


def run(scenario: Callable[[AsyncAWSSecretsManagerBackend], Awaitable[T]],
        backend: AsyncAWSSecretsManagerBackend) -> T:
    """``scenario(backend)`` in a fresh event loop, the backend closed after it."""

    async def main() -> T:
        try:
            return await scenario(backend)
        finally:
            await backend.aclose()

    return asyncio.run(main())


# -- the scripted sequence, on both backends ------------------------------------------------


class Recorder:
    """Runs backend methods (awaiting them when async) and records what each gave, in a form
    that does not depend on the run: version ids become ``v1``, ``v2`` ... in order of first
    appearance, the name prefix ``P``, times ``<time>``; an error its type, its
    classification and (for the backend's own errors) its message."""

    def __init__(self, backend: Any, prefix: str) -> None:
        self.backend, self.prefix = backend, prefix
        self.log: list[tuple[str, Any]] = []
        self._versions: dict[str, str] = {}

    async def do(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            result = getattr(self.backend, method)(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            self.log.append((method, self.error(exc)))
            return None
        if isinstance(result, Iterator):
            result = list(result)
        self.log.append((method, self.shape(result)))
        return result

    def error(self, exc: BaseException) -> tuple[Any, ...]:
        verdict = self.backend.classify(exc)
        if verdict is None:  # the backend's own error, or not the SDK's
            return ("raised", type(exc).__name__, str(exc) if isinstance(exc, HeliumError) else "")
        return ("classified", type(exc).__name__, verdict.code, verdict.message,
                verdict.transient, verdict.retry_after)

    def version(self, version: str) -> str:
        return self._versions.setdefault(version, f"v{len(self._versions) + 1}")

    def shape(self, value: Any) -> Any:
        if isinstance(value, RawSecret):
            return ("secret", self.shape(value.name), value.value, self.version(value.version),
                    sorted(value.labels), dict(value.metadata), value.created_at is not None)
        if isinstance(value, VersionInfo):
            return ("version", self.version(value.version), sorted(value.labels),
                    value.state, value.created_at is not None)
        if isinstance(value, Lifecycle):
            return ("lifecycle", sorted(value.fields), value.rotation_enabled,
                    self.version(value.current_version or ""), value.versions)
        if isinstance(value, BaseException):
            return self.error(value)
        if isinstance(value, dict):
            return sorted((self.shape(k), self.shape(v)) for k, v in value.items())
        if isinstance(value, list):
            return [self.shape(item) for item in value]
        if isinstance(value, str):
            if value.startswith(self.prefix):
                return "P" + value[len(self.prefix):]
            if 32 <= len(value) <= 64 and value.count("-") == 4:  # a version id
                return self.version(value)
        if isinstance(value, datetime):
            return "<time>"
        return value


async def script(r: Recorder) -> None:
    """Every method of the backend, in the situations the store puts it in."""
    p = r.prefix
    a, b, missing = f"{p}/a", f"{p}/b", f"{p}/missing"
    first = await r.do("put", a, "one")
    await r.do("get", a)
    token = uuid.uuid4().hex
    again = await r.do("put", a, "two", request_token=token)
    await r.do("put", a, "two", request_token=token)  # a retry: the same version
    await r.do("put", a, b"\x00three", labels=["blue"], metadata={"team": "platform"})
    await r.do("get", a, label="blue")
    await r.do("get", a, version=first.version)
    await r.do("get", a, version=first.version, label="blue")  # not carried: the version's
    await r.do("get", a, version="0" * 32)
    await r.do("get", a, label="")
    current = await r.do("current_version", a)
    await r.do("list_versions", a)
    await r.do("set_label", a, "blue", first.version)
    await r.do("set_label", a, "blue", None)
    await r.do("set_label", a, "AWSCURRENT", None)
    await r.do("set_label", a, "green", "1" * 32)
    await r.do("put", a, "four", expected_version=again.version)  # stale: a conflict
    await r.do("put", a, "four", expected_version="short")
    await r.do("put", a, "four", expected_version=current)
    await r.do("put", a, "five", create_only=True)
    await r.do("put", missing, "six", expected_version="0" * 32)
    await r.do("put", b, "bee", create_only=True, metadata={"k": "v"})
    await r.do("get_many", [a, missing, b])
    await r.do("get", missing)
    await r.do("current_version", missing)
    await r.do("list_versions", missing)
    current = await r.do("current_version", a)
    staged = await r.do("stage", a, "pending", expected_current=current)
    await r.do("stage", a, "other", expected_current="0" * 32)
    await r.do("get", a)  # still the current one
    await r.do("get", a, label="AWSPENDING")
    await r.do("promote", a, staged.version, expected_current="0" * 32)
    await r.do("promote", a, staged.version, expected_current=current)
    await r.do("get", a)
    staged = await r.do("stage", a, "dropped", expected_current=staged.version)
    await r.do("discard", a, staged.version)
    await r.do("discard", a, "2" * 32)
    await r.do("list_versions", a)
    await r.do("list_names", p)
    await r.do("list_names", f"{p}/b")
    await r.do("list_names", "no:such")
    await r.do("describe", a)
    await r.do("delete", b)
    await r.do("get", b)
    await r.do("describe", b)
    await r.do("put", b, "again")
    await r.do("restore", b)
    await r.do("get", b)
    await r.do("delete", b, purge=True)
    await r.do("get", b)
    await r.do("delete", missing, purge=True)
    await r.do("put", "arn:aws:secretsmanager:us-east-1:123456789012:secret:x-AbCdEf", "v")
    await r.do("put", a, "")
    await r.do("put", a, "v", metadata={"aws:reserved": "x"})
    await r.do("stage", a, "", expected_current=None)


def test_the_same_script_gives_the_same_answers_on_both(server: MotoServer) -> None:
    """The strongest single check: every method, sync and async, in one sequence against one
    server, with the same results and the same errors (type, code, message, transience)."""
    sync_backend = make_sync(server)
    expected = Recorder(sync_backend, prefix())
    asyncio.run(script(expected))
    sync_backend.close()

    async def scenario(backend: AsyncAWSSecretsManagerBackend) -> Recorder:
        recorder = Recorder(backend, prefix())
        await script(recorder)
        return recorder

    got = run(scenario, make_async(server))
    assert len(got.log) == len(expected.log) > 50
    for step, (mine, theirs) in enumerate(zip(got.log, expected.log, strict=True)):
        assert mine == theirs, f"step {step}"
    kinds = {entry[1][0] for entry in got.log if isinstance(entry[1], tuple)}
    assert {"classified", "raised", "secret", "version"} <= kinds  # the script covers them


# -- the server's answers, classified the same ---------------------------------------------


FAULTS = ["throttle", "internal", "unavailable", "denied", "decryption", "expired", "limit",
          "unrecognized", "validation", "invalid-request", "drop"]


@pytest.mark.parametrize("kind", FAULTS)
def test_a_fault_is_classified_as_the_sync_backend_classifies_it(
        server: MotoServer, kind: str) -> None:
    name = f"{prefix()}/fault"
    server.client().create_secret(Name=name, SecretString="value")
    sync_backend = make_sync(server)
    expected = Recorder(sync_backend, "")

    async def read(recorder: Recorder) -> None:
        server.fail_next(1, kind, operations=["GetSecretValue"], retry_after=2)
        await recorder.do("get", name)
        await recorder.do("get", name)  # and the next one works again

    asyncio.run(read(expected))
    sync_backend.close()

    async def scenario(backend: AsyncAWSSecretsManagerBackend) -> Recorder:
        recorder = Recorder(backend, "")
        await read(recorder)
        return recorder

    got = run(scenario, make_async(server))
    assert got.log == expected.log
    assert got.log[0][1][0] == "classified" and got.log[1][1][0] == "secret"


def test_the_batch_takes_20_ids_a_call_and_falls_back_when_denied(server: MotoServer) -> None:
    p = prefix()
    names = [f"{p}/n{i:02d}" for i in range(45)]
    client = server.client()
    for name in names:
        client.create_secret(Name=name, SecretString=f"value-{name[-2:]}")
    server.reset_counts()

    async def scenario(backend: AsyncAWSSecretsManagerBackend) -> None:
        assert backend.capabilities.batch_get == BATCH_SIZE == 20
        got = await backend.get_many(names)
        assert {n: s.value for n, s in got.items() if isinstance(s, RawSecret)} == {
            n: f"value-{n[-2:]}" for n in names}
        assert server.requests == {"BatchGetSecretValue": 3}  # 20 + 20 + 5, AWS's limit
        server.deny("BatchGetSecretValue")
        server.reset_counts()
        got = await backend.get_many(names[:3])
        assert all(isinstance(s, RawSecret) for s in got.values())
        await backend.get_many(names[:2])  # it remembers: no batch call wasted
        assert server.requests == {"BatchGetSecretValue": 1, "GetSecretValue": 5}

    run(scenario, make_async(server))


def test_idempotent_put_check_and_set_and_staging(server: MotoServer) -> None:
    name = f"{prefix()}/cas"

    async def scenario(backend: AsyncAWSSecretsManagerBackend) -> None:
        assert backend.capabilities.idempotent_put and backend.capabilities.check_and_set
        first = await backend.put(name, "one")
        token = "a-logical-write"  # not a ClientRequestToken: hashed to one, the same each time
        second = await backend.put(name, "two", request_token=token)
        retried = await backend.put(name, "two", request_token=token)
        assert retried.version == second.version
        assert [v.version for v in await backend.list_versions(name)] == [
            first.version, second.version]
        with pytest.raises(ConflictError, match="check-and-set failed"):
            await backend.put(name, "three", expected_version=first.version)
        third = await backend.put(name, "three", expected_version=second.version)
        assert (await backend.get(name)).value == "three"
        staged = await backend.stage(name, "four", expected_current=third.version)
        assert staged.labels == {"AWSPENDING"}
        assert await backend.current_version(name) == third.version
        await backend.promote(name, staged.version, expected_current=third.version)
        current = await backend.get(name)
        assert (current.version, current.value) == (staged.version, "four")
        assert "AWSPENDING" not in current.labels

    run(scenario, make_async(server))


# -- construction: options, endpoint rules, nothing that connects ---------------------------


def test_building_connects_nowhere_and_the_first_call_makes_the_client(
        server: MotoServer) -> None:
    backend = make_async(server)
    assert backend.client is None and server.requests == {}
    assert backend.endpoint == server.endpoint_url and backend.region == "us-east-1"
    assert repr(backend) == (f"<AsyncAWSSecretsManagerBackend region='us-east-1' "
                             f"endpoint={server.endpoint_url}>")

    async def scenario(backend: AsyncAWSSecretsManagerBackend) -> None:
        names = await asyncio.gather(*(backend.list_names(prefix()) for _ in range(5)))
        assert all(list(n) == [] for n in names)
        assert backend.client is not None  # one client for the five concurrent callers
        assert backend.client.meta.config.retries["total_max_attempts"] == 1  # the store retries
        assert backend.client.meta.config.warm_up_loader_caches  # models load off the loop
        assert backend.client.meta.endpoint_url == server.endpoint_url

    run(scenario, backend)
    assert backend.client is None  # closed


def test_from_url_and_the_options_are_the_sync_backends(server: MotoServer) -> None:
    url = urlsplit(f"awssecretsmanager://eu-west-2?recovery_window_days=7"
                   f"&endpoint_url={server.endpoint_url}&atomic_check_and_set=false")
    backend = AsyncAWSSecretsManagerBackend.from_url(url, session=server.aio_session())
    twin = AWSSecretsManagerBackend.from_url(url, session=server.session())
    assert backend.region == twin.region == "eu-west-2"
    assert backend.recovery_window_days == 7 and not backend.capabilities.check_and_set
    assert backend.capabilities == twin.capabilities
    assert set(extra_operations(backend)) == set(extra_operations(twin)) == {"access", "describe", "restore"}
    twin.close()
    for bad in ("awssecretsmanager://eu-west-1?recovery_window_days=3",
                "awssecretsmanager://eu-west-1/path", "awssecretsmanager://eu-west-1?nonsense=1",
                "awssecretsmanager://eu-west-1?atomic_check_and_set=maybe"):
        with pytest.raises((TypeError, ValueError)) as mine:
            AsyncAWSSecretsManagerBackend.from_url(urlsplit(bad), session=server.aio_session())
        with pytest.raises((TypeError, ValueError)) as theirs:
            AWSSecretsManagerBackend.from_url(urlsplit(bad), session=server.session())
        assert (type(mine.value), str(mine.value)) == (type(theirs.value), str(theirs.value))
    with pytest.raises(TypeError, match="session"):
        make_async(server, session=server.session())  # a boto3 session is not an AioSession
    with pytest.raises(ValueError, match="not both"):
        AsyncAWSSecretsManagerBackend(session=server.aio_session(), profile="x")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No endpoint or region from the machine's environment or config files; dummy
    credentials (the sync backend's client looks them up when it is built)."""
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_PROFILE",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
                "AWS_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def refusal(build: Callable[..., Any], **options: Any) -> str:
    with pytest.raises(ValueError, match=r"\S") as info:
        build(**options)
    return str(info.value)


@pytest.mark.parametrize("where", ["endpoint_url", "AWS_ENDPOINT_URL",
                                   "AWS_ENDPOINT_URL_SECRETS_MANAGER", "profile"])
def test_plain_http_off_loopback_is_refused_as_the_sync_backend_refuses_it(
        aws_env: pytest.MonkeyPatch, tmp_path: Path, where: str) -> None:
    endpoint = f"http://{OFF_BOX}:4566"
    options: dict[str, Any] = {"region": "eu-west-1"}
    if where == "endpoint_url":
        options["endpoint_url"] = endpoint
    elif where == "profile":
        (tmp_path / "config").write_text(
            f"[profile lab]\nregion = eu-west-1\nendpoint_url = {endpoint}\n")
        options = {"profile": "lab"}
    else:
        aws_env.setenv(where, endpoint)
    message = refusal(AsyncAWSSecretsManagerBackend, **options)
    assert message == refusal(AWSSecretsManagerBackend, **options)
    assert f"{OFF_BOX}:4566" in message and "allow_insecure_http=True" in message
    backend = AsyncAWSSecretsManagerBackend(**options, allow_insecure_http=True)  # the opt-in
    assert backend.endpoint == endpoint


def test_building_looks_up_no_credentials(aws_env: pytest.MonkeyPatch) -> None:
    # No credentials anywhere: a lookup would end at the instance metadata service, off box,
    # which the net guard would report. The endpoint is still resolved and checked.
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"):
        aws_env.delenv(var)
    aws_env.setenv("AWS_ENDPOINT_URL", f"http://{OFF_BOX}:4566")
    with pytest.raises(ValueError, match="AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        AsyncAWSSecretsManagerBackend(region="eu-west-1")
    backend = AsyncAWSSecretsManagerBackend(region="eu-west-1", allow_insecure_http=True)
    assert backend.endpoint == f"http://{OFF_BOX}:4566" and backend.client is None


def test_no_region_and_a_missing_profile_are_refused_as_the_sync_backend_refuses_them(
        aws_env: pytest.MonkeyPatch) -> None:
    for options in ({}, {"profile": "nowhere", "region": "eu-west-1"}):
        message = refusal(AsyncAWSSecretsManagerBackend, **options)
        assert message == refusal(AWSSecretsManagerBackend, **options)


def test_a_ready_client_is_checked_and_left_open(server: MotoServer) -> None:
    async def scenario() -> None:
        session = server.aio_session()
        async with session.create_client(
                "secretsmanager", endpoint_url=f"http://{OFF_BOX}:4566") as off_box:
            with pytest.raises(ValueError, match="allow_insecure_http"):
                AsyncAWSSecretsManagerBackend(client=off_box, region=None)
        async with session.create_client("secretsmanager",
                                         endpoint_url=server.endpoint_url) as client:
            with pytest.warns(RuntimeWarning, match="retries on its own"):
                backend = AsyncAWSSecretsManagerBackend(client=client, region=None)
            assert backend.client is client
            assert list(await backend.list_names(prefix())) == []
            await backend.aclose()
            assert backend.client is client  # not the backend's to close: still usable
            assert list(await backend.list_names(prefix())) == []

    asyncio.run(scenario())


# -- no value anywhere ----------------------------------------------------------------------


def test_no_value_in_reprs_errors_or_the_backends_logs(
        server: MotoServer, caplog: pytest.LogCaptureFixture) -> None:
    name = f"{prefix()}/canary"

    async def scenario(backend: AsyncAWSSecretsManagerBackend) -> None:
        with caplog.at_level("DEBUG", logger="helium_secrets"):
            await backend.put(name, CANARY)
            secret = await backend.get(name)
            assert secret.value == CANARY
            assert CANARY not in repr(secret) and CANARY not in repr(backend)
            server.fail_next(1, "validation", operations=["PutSecretValue"], message=CANARY)
            with pytest.raises(botocore.exceptions.ClientError) as info:
                await backend.put(name, CANARY + "-2")
            verdict = backend.classify(info.value)
            assert verdict is not None and CANARY not in (verdict.message or "")
            with pytest.raises(ConflictError) as conflict:
                await backend.put(name, CANARY, create_only=True)
            assert CANARY not in str(conflict.value) and CANARY not in repr(conflict.value)
        assert not [r for r in caplog.records if CANARY in r.getMessage()]

    run(scenario, make_async(server))


def test_importing_the_package_or_the_sync_backend_imports_no_aiobotocore() -> None:
    code = ("import sys, helium_secrets, helium_secrets.backends.awssecretsmanager\n"
            "assert 'aiobotocore' not in sys.modules and 'aiohttp' not in sys.modules\n"
            "import helium_secrets.backends.awssecretsmanager.aio\n"
            "assert 'aiobotocore' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_docs_async_example_runs(server: MotoServer, aws_env: pytest.MonkeyPatch) -> None:
    """docs/backends/aws.md, "Async": its example, against moto (named by the environment)."""
    from tests.docs.pages import ROOT, python_block

    aws_env.setenv("AWS_ENDPOINT_URL", server.endpoint_url)  # plain http, to loopback
    block = python_block((ROOT / "docs/backends/aws.md").read_text(), "## Async")
    namespace: dict[str, Any] = {}
    exec(compile(block, "aws.md", "exec"), namespace)  # noqa: S102 - the page's own example
    assert asyncio.run(namespace["main"]()) == "hunter2"


def seeded(server: MotoServer, count: int) -> list[str]:
    """``count`` new secrets, written through the sync backend; their names."""
    base = prefix()
    names = [f"{base}/{i:02d}" for i in range(count)]
    seeder = make_sync(server)
    for name in names:
        seeder.put(name, "v")
    seeder.close()
    return names


def test_requests_are_built_and_answers_parsed_a_few_per_turn_of_the_loop(
        server: MotoServer) -> None:
    """botocore spends about a millisecond of CPU serializing a request, another signing it,
    and another parsing its answer: the backend lets STEPS_PER_TURN of those run per turn of
    the loop, so the calls a turn's answers free do not all build their requests in one turn.
    Counted with botocore's hooks (``before-parameter-build``: a request starts to be
    serialized; ``before-send``: signed; ``after-call``: parsed), each stamped with the loop's
    turn: no turn holds more than STEPS_PER_TURN of the three steps together."""
    from botocore.config import Config

    from helium_secrets.backends.awssecretsmanager.aio import STEPS_PER_TURN

    names = seeded(server, 24)
    steps: dict[str, Counter[int]] = {"serialized": Counter(), "signed": Counter(),
                                      "parsed": Counter()}

    async def scenario(backend: AsyncAWSSecretsManagerBackend) -> list[str]:
        await backend.get(names[0])  # the client, made
        turns = Turns()
        events = backend.client.meta.events
        for event, step in (("before-parameter-build", "serialized"),
                            ("before-send", "signed"), ("after-call", "parsed")):
            events.register(f"{event}.secrets-manager.GetSecretValue",
                            lambda step=step, **_: steps[step].update([turns.now]))
        answers = await asyncio.gather(*(backend.get(name) for name in names))
        turns.stop()
        return [answer.name for answer in answers]

    assert run(scenario, make_async(server, config=Config(max_pool_connections=10))) == names
    assert [sum(counts.values()) for counts in steps.values()] == [len(names)] * 3
    per_turn = sum(steps.values(), Counter())  # 10 slots free at once, a step or so a turn
    assert max(per_turn.values()) <= STEPS_PER_TURN, per_turn


def test_no_more_calls_under_way_than_the_client_has_connections(server: MotoServer) -> None:
    """botocore builds and signs a request before it waits for a connection: the backend lets
    no more calls start than the pool has connections (so 1,000 concurrent misses are not
    1,000 requests built in one turn of the loop). Counted with botocore's own event hooks:
    ``before-call`` fires as a call starts building, ``after-call`` once it is answered."""
    from botocore.config import Config

    names = seeded(server, 24)
    under_way = [0]
    most = [0]

    def started(**_: Any) -> None:
        under_way[0] += 1
        most[0] = max(most[0], under_way[0])

    def finished(**_: Any) -> None:
        under_way[0] -= 1

    async def scenario(backend: AsyncAWSSecretsManagerBackend) -> list[str]:
        await backend.get(names[0])  # the client, made
        events = backend.client.meta.events
        events.register("before-call.secrets-manager.GetSecretValue", started)
        events.register("after-call.secrets-manager.GetSecretValue", finished)
        answers = await asyncio.gather(*(backend.get(name) for name in names))
        return [answer.name for answer in answers]

    backend = make_async(server, config=Config(max_pool_connections=3))
    assert run(scenario, backend) == names
    assert most[0] == 3  # at most the pool, and the pool was used
