"""The async GCP Secret Manager backend, through ``SecretManagerServiceAsyncClient`` over
``grpc.aio``, against the gRPC emulator the sync tests use: every method, and parity with the
sync backend (the same scripted sequence, the same answers and errors, the same
classification), in the default mode and in alias mode.

Each test runs its coroutine with ``asyncio.run``, as in ``test_aws_async.py``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit

import grpc
import pytest
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials

from helium_secrets.backends._base import extra_operations
from helium_secrets.backends.gcpsecretmanager import GCPSecretManagerBackend
from helium_secrets.backends.gcpsecretmanager.aio import AsyncGCPSecretManagerBackend
from helium_secrets.errors import IntegrityError, UnauthenticatedError
from helium_secrets.testing.conformance import CANARY, plaintext_in_frames
from tests.backends.test_aws_async import Recorder
from tests.emulators.secretmanager import SecretManagerEmulator

T = TypeVar("T")
PROJECT = "helium-test"
OFF_BOX = "192.0.2.10"


@pytest.fixture(scope="module")
def emulator() -> Iterator[SecretManagerEmulator]:
    with SecretManagerEmulator() as server:
        yield server


@pytest.fixture
def server(emulator: SecretManagerEmulator) -> Iterator[SecretManagerEmulator]:
    emulator.reset_switches()
    yield emulator
    emulator.reset_switches()


def anonymous() -> Any:
    return AnonymousCredentials()  # type: ignore[no-untyped-call]


def prefix() -> str:
    return f"gcp-async/t{uuid.uuid4().hex[:12]}"


def options(server: SecretManagerEmulator, **more: Any) -> dict[str, Any]:
    """The same options for both twins: each builds its own plaintext channel to the emulator."""
    return {"endpoint_url": server.address, "insecure": True, "timeout": 20.0, **more}


def run(scenario: Callable[[AsyncGCPSecretManagerBackend], Awaitable[T]],
        backend: AsyncGCPSecretManagerBackend) -> T:
    async def main() -> T:
        try:
            return await scenario(backend)
        finally:
            await backend.aclose()

    return asyncio.run(main())


def on_both(server: SecretManagerEmulator,
            steps: Callable[[Recorder], Coroutine[Any, Any, None]],
            name_prefix: Callable[[], str] = prefix, **more: Any) -> tuple[Recorder, Recorder]:
    """``steps`` recorded on the sync backend, then on the async one (each under its prefix)."""
    sync_backend = GCPSecretManagerBackend(PROJECT, **options(server, **more))
    expected = Recorder(sync_backend, name_prefix())
    asyncio.run(steps(expected))
    sync_backend.close()

    async def scenario(backend: AsyncGCPSecretManagerBackend) -> Recorder:
        recorder = Recorder(backend, name_prefix())
        await steps(recorder)
        return recorder

    got = run(scenario, AsyncGCPSecretManagerBackend(PROJECT, **options(server, **more)))
    return got, expected


def assert_same(got: Recorder, expected: Recorder) -> None:
    assert len(got.log) == len(expected.log)
    for step, (mine, theirs) in enumerate(zip(got.log, expected.log, strict=True)):
        assert mine == theirs, f"step {step}"


# -- the scripted sequences -----------------------------------------------------------------


async def default_mode(r: Recorder) -> None:
    p = r.prefix
    a, b, missing = f"{p}/a.b", f"{p}/snake_case", f"{p}/missing"
    await r.do("put", a, "one")
    await r.do("get", a)
    await r.do("put", a, b"\x00two", metadata={"team": "platform"}, labels=["blue"])
    await r.do("get", a, label="blue")
    await r.do("get", a, version="1")
    await r.do("get", a, version="0")
    await r.do("get", a, version="99")
    await r.do("get", a, label="latest")
    await r.do("get", a, version="1", label="blue")
    await r.do("current_version", a)
    await r.do("list_versions", a)
    await r.do("set_label", a, "blue", "1")
    await r.do("set_label", a, "blue", None)
    await r.do("set_label", a, "Bad!", "1")
    await r.do("set_label", a, "green", "99")
    await r.do("set_label", missing, "green", "1")
    await r.do("put", a, "three", labels=["new"])
    await r.do("put", a, "three", metadata={"-bad": "x"})
    await r.do("put", b, "bee")
    await r.do("list_names", p)
    await r.do("list_names", f"{p}/snake")
    await r.do("describe", a)
    await r.do("disable_version", a, "2")
    await r.do("get", a)  # the newest enabled version is current
    await r.do("current_version", a)
    await r.do("get", a, version="2")
    await r.do("enable_version", a, "2")
    await r.do("destroy_version", a, "1")
    await r.do("get", a, version="1")
    await r.do("disable_version", a, "99")
    await r.do("disable_version", a, "x")
    await r.do("disable_version", missing, "1")
    await r.do("get_many", [a, missing, b])
    await r.do("stage", a, "pending", expected_current="2")
    await r.do("promote", a, "2", expected_current="1")
    await r.do("discard", a, "2")
    await r.do("get", missing)
    await r.do("current_version", missing)
    await r.do("list_versions", missing)
    await r.do("describe", missing)
    await r.do("delete", a)
    await r.do("get", a)
    await r.do("delete", a)


async def alias_mode(r: Recorder) -> None:
    p = r.prefix
    c, fresh = f"{p}/c", f"{p}/fresh"
    await r.do("put", c, "one", metadata={"owner": "team"})
    await r.do("put", c, "two", expected_version="1")
    await r.do("put", c, "stale", expected_version="1")
    await r.do("put", c, "dup", create_only=True)
    await r.do("put", fresh, "new", create_only=True, labels=["blue"])
    await r.do("put", f"{p}/absent", "x", expected_version="1")
    await r.do("get", f"{p}/absent")
    await r.do("get", c)
    await r.do("current_version", c)
    staged = await r.do("stage", c, "pending", expected_current="2")
    await r.do("stage", c, "other", expected_current="1")
    await r.do("get", c)  # still the current one
    await r.do("promote", c, staged.version, expected_current="1")
    await r.do("promote", c, staged.version, expected_current="2")
    await r.do("get", c)
    dropped = await r.do("stage", c, "dropped", expected_current=staged.version)
    await r.do("discard", c, dropped.version)
    await r.do("get", c, version=dropped.version)
    await r.do("list_versions", c)
    token = uuid.uuid4().hex
    await r.do("put", c, "tokened", expected_version=staged.version, request_token=token)
    await r.do("put", c, "tokened", expected_version=staged.version, request_token=token)
    await r.do("describe", c)
    await r.do("list_names", p)


@pytest.mark.parametrize(("steps", "more"), [(default_mode, {}),
                                             (alias_mode, {"current_alias": "current"}),
                                             (default_mode, {"read_metadata": True})],
                         ids=["default", "alias", "read_metadata"])
def test_the_same_script_gives_the_same_answers_on_both(
        server: SecretManagerEmulator, steps: Callable[[Recorder], Coroutine[Any, Any, None]],
        more: dict[str, Any]) -> None:
    """Every method, sync and async, in one sequence against one emulator, with the same
    results and the same errors (type, code, message, transience)."""
    got, expected = on_both(server, steps, **more)
    assert_same(got, expected)
    kinds = {entry[1][0] for entry in got.log if isinstance(entry[1], tuple)}
    assert {"classified", "raised", "secret", "version"} <= kinds


# -- the server's answers, classified the same ---------------------------------------------


@pytest.mark.parametrize(("code", "extra"), [
    (grpc.StatusCode.NOT_FOUND, {}),
    (grpc.StatusCode.PERMISSION_DENIED, {"reason": "IAM_PERMISSION_DENIED"}),
    (grpc.StatusCode.UNAUTHENTICATED, {}),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, {"retry_delay": 1.5}),
    (grpc.StatusCode.UNAVAILABLE, {}),
    (grpc.StatusCode.INTERNAL, {}),
    (grpc.StatusCode.DEADLINE_EXCEEDED, {}),
    (grpc.StatusCode.ABORTED, {}),
    (grpc.StatusCode.INVALID_ARGUMENT, {}),
    (grpc.StatusCode.UNIMPLEMENTED, {}),
], ids=lambda value: value.name if isinstance(value, grpc.StatusCode) else "")
def test_a_fault_is_classified_as_the_sync_backend_classifies_it(
        server: SecretManagerEmulator, code: grpc.StatusCode, extra: dict[str, Any]) -> None:
    name = f"{prefix()}/fault"

    async def steps(r: Recorder) -> None:
        await r.do("put", name, "value")
        server.fail_next(code, methods=["AccessSecretVersion"], **extra)
        await r.do("get", name)
        await r.do("get", name)  # and the next one works again
        await r.do("delete", name)

    got, expected = on_both(server, steps, name_prefix=lambda: "")
    assert got.log == expected.log
    assert got.log[1][1][0] == "classified" and got.log[2][1][0] == "secret"


def test_a_slow_answer_is_deadline_exceeded_on_both(server: SecretManagerEmulator) -> None:
    name = f"{prefix()}/slow"

    async def steps(r: Recorder) -> None:
        server.set_latency(1.0, methods=["AccessSecretVersion"])
        await r.do("get", name)

    got, expected = on_both(server, steps, name_prefix=lambda: "", timeout=0.2)
    assert got.log == expected.log
    assert got.log[0][1][1] == "DeadlineExceeded"


def test_a_corrupted_payload_is_an_integrity_error_and_left_in_no_frame(
        server: SecretManagerEmulator) -> None:
    name = f"{prefix()}/corrupt"

    async def scenario(backend: AsyncGCPSecretManagerBackend) -> None:
        await backend.put(name, CANARY)
        server.corrupt_checksums = True
        with pytest.raises(IntegrityError) as info:
            await backend.get(name)
        assert CANARY not in str(info.value) and CANARY not in repr(info.value)
        # Neither the flow nor the async driver keeps the answer in a local.
        assert plaintext_in_frames(info.value, CANARY) == []

    run(scenario, AsyncGCPSecretManagerBackend(PROJECT, **options(server)))


# -- construction: options, transport rules, nothing that connects --------------------------


def test_building_connects_nowhere_and_the_first_call_makes_the_client(
        server: SecretManagerEmulator) -> None:
    backend = AsyncGCPSecretManagerBackend(PROJECT, **options(server))
    assert backend._client is None and not server.calls
    assert backend.endpoint == server.address
    assert repr(backend) == (f"<AsyncGCPSecretManagerBackend project='{PROJECT}' "
                             f"endpoint={server.address}>")

    async def scenario(backend: AsyncGCPSecretManagerBackend) -> None:
        before = asyncio.all_tasks()
        names = await asyncio.gather(*(backend.list_names(prefix()) for _ in range(5)))
        assert all(list(n) == [] for n in names)
        assert server.calls["ListSecrets"] == 5
        client = backend._client
        assert isinstance(client, type(server.async_client()))
        await backend.aclose()
        assert backend._client is None
        assert asyncio.all_tasks() <= before  # nothing left running

    run(scenario, backend)


def test_from_url_and_the_options_are_the_sync_backends(server: SecretManagerEmulator) -> None:
    url = urlsplit(f"gcpsecretmanager://{PROJECT}?endpoint_url={server.address}&insecure=true"
                   "&current_alias=current&page_size=7")
    backend = AsyncGCPSecretManagerBackend.from_url(url)
    twin = GCPSecretManagerBackend.from_url(url)
    assert backend.capabilities == twin.capabilities
    assert backend.capabilities.staging and backend.capabilities.check_and_set
    assert backend.options.page_size == twin.options.page_size == 7
    assert set(extra_operations(backend)) == set(extra_operations(twin)) == {
        "access", "describe", "disable_version", "enable_version", "destroy_version"}
    twin.close()
    for bad in (f"gcpsecretmanager://{PROJECT}/path", f"gcpsecretmanager://user@{PROJECT}",
                f"gcpsecretmanager://{PROJECT}?timeout=0", f"gcpsecretmanager://{PROJECT}?x=1",
                f"gcpsecretmanager://{PROJECT}?location=eu-west1&replica_locations=a",
                f"gcpsecretmanager://{PROJECT}?current_alias=latest",
                f"gcpsecretmanager://{PROJECT}?insecure=true"):
        with pytest.raises((TypeError, ValueError)) as mine:
            AsyncGCPSecretManagerBackend.from_url(urlsplit(bad), credentials=anonymous())
        with pytest.raises((TypeError, ValueError)) as theirs:
            GCPSecretManagerBackend.from_url(urlsplit(bad), credentials=anonymous())
        assert (type(mine.value), str(mine.value)) == (type(theirs.value), str(theirs.value))


def test_plaintext_off_loopback_is_refused_as_the_sync_backend_refuses_it() -> None:
    insecure: dict[str, Any] = {"endpoint_url": f"{OFF_BOX}:8080", "insecure": True}
    with pytest.raises(ValueError, match="plaintext gRPC") as mine:
        AsyncGCPSecretManagerBackend(PROJECT, **insecure)
    with pytest.raises(ValueError, match="plaintext gRPC") as theirs:
        GCPSecretManagerBackend(PROJECT, **insecure)
    assert str(mine.value) == str(theirs.value)
    assert f"{OFF_BOX}:8080" in str(mine.value) and "allow_insecure_http" in str(mine.value)
    # The opt-in: built, and (gRPC connects lazily, the async client on the first call) unused.
    assert AsyncGCPSecretManagerBackend(PROJECT, **insecure, allow_insecure_http=True).endpoint \
        == f"{OFF_BOX}:8080"
    with pytest.raises(ValueError, match="talks gRPC"):  # the async client has no REST here
        AsyncGCPSecretManagerBackend(PROJECT, transport="rest",
                                     credentials=anonymous())


def test_the_endpoint_is_the_sync_backends() -> None:
    for more in ({}, {"location": "europe-west1"},
                 {"client_options": {"api_endpoint": "private.example:443"}},
                 {"endpoint_url": "secretmanager.example:443"}):
        backend = AsyncGCPSecretManagerBackend(PROJECT, credentials=anonymous(), **more)
        twin = GCPSecretManagerBackend(PROJECT, credentials=anonymous(), **more)
        assert backend.endpoint == twin.endpoint
        twin.close()


def test_no_credentials_is_unauthenticated_when_building(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud credentials either
    monkeypatch.setattr("google.auth.compute_engine._metadata._NO_GCE_CHECK", True)
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    with pytest.raises(UnauthenticatedError, match="no Google credentials") as mine:
        AsyncGCPSecretManagerBackend(PROJECT)
    with pytest.raises(UnauthenticatedError) as theirs:
        GCPSecretManagerBackend(PROJECT)
    assert str(mine.value) == str(theirs.value)


def test_a_ready_client_is_used_and_left_open(server: SecretManagerEmulator) -> None:
    name = f"{prefix()}/ready"

    async def scenario() -> None:
        client = server.async_client()
        backend = AsyncGCPSecretManagerBackend(PROJECT, client=client)
        await backend.put(name, "value")
        await backend.aclose()
        assert (await backend.get(name)).value == "value"  # not the backend's to close
        await backend.delete(name)
        transport: Any = client.transport
        await transport.close()
        with pytest.raises(TypeError, match="client"):
            AsyncGCPSecretManagerBackend(PROJECT, client=server.client())  # a sync client

    asyncio.run(scenario())


def test_no_value_in_reprs_or_classified_errors(server: SecretManagerEmulator) -> None:
    name = f"{prefix()}/canary"

    async def scenario(backend: AsyncGCPSecretManagerBackend) -> None:
        await backend.put(name, CANARY)
        secret = await backend.get(name)
        assert secret.value == CANARY
        assert CANARY not in repr(secret) and CANARY not in repr(backend)
        server.fail_next(grpc.StatusCode.INVALID_ARGUMENT, methods=["AddSecretVersion"])
        with pytest.raises(api_exceptions.InvalidArgument) as info:
            await backend.put(name, CANARY + "-2")
        verdict = backend.classify(info.value)
        assert verdict is not None and CANARY not in (verdict.message or "")

    run(scenario, AsyncGCPSecretManagerBackend(PROJECT, **options(server)))


def test_importing_the_sync_backend_does_not_import_the_async_one() -> None:
    # google-cloud-secret-manager itself imports grpc.aio (its package exports the async
    # client): what helium-secrets controls is that its async backend is imported on use only.
    code = ("import sys, helium_secrets, helium_secrets.backends.gcpsecretmanager\n"
            "assert 'helium_secrets.backends.gcpsecretmanager.aio' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_docs_async_example_runs(server: SecretManagerEmulator,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/backends/gcp.md, "Async": its example, against the emulator."""
    import functools

    from helium_secrets.backends.gcpsecretmanager import aio
    from tests.docs.pages import ROOT, python_block

    monkeypatch.setattr(aio, "AsyncGCPSecretManagerBackend", functools.partial(
        AsyncGCPSecretManagerBackend, endpoint_url=server.address, insecure=True))
    block = python_block((ROOT / "docs/backends/gcp.md").read_text(), "## Async")
    namespace: dict[str, Any] = {}
    exec(compile(block, "gcp.md", "exec"), namespace)  # noqa: S102 - the page's own example
    assert asyncio.run(namespace["main"]()) == "hunter2"
    assert server.calls["AccessSecretVersion"] == 1
