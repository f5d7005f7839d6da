"""The async Key Vault backend (``azure.keyvault.secrets.aio`` over aiohttp) against the same
HTTPS emulator as the sync one (``tests/emulators/keyvault.py``): every method, soft delete,
tags, paging, dates, parity with the sync backend (answers, errors, classification) and the
redirect rule.

The tests are plain functions that run their coroutine with ``asyncio.run`` (each its own
loop), so they need no async test plugin.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytest.importorskip("aiohttp")
pytest.importorskip("azure.keyvault.secrets")

from azure.core.credentials import AccessToken
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.keyvault.secrets import SecretClient

from helium_secrets import VersionInfo
from helium_secrets.backends.azurekeyvault import AzureKeyVaultBackend
from helium_secrets.backends.azurekeyvault.aio import AsyncAzureKeyVaultBackend
from helium_secrets.errors import (
    DeadlineExceededError,
    ErrorCode,
    HeliumError,
    InvalidArgumentError,
    UnavailableError,
    UnsupportedError,
    VersionNotFoundError,
)
from helium_secrets.lifecycle import Lifecycle
from helium_secrets.testing.conformance import CANARY
from tests.backends.faultproxy import FaultProxy, Sink
from tests.emulators.keyvault import KeyVaultEmulator, make_tls

T = TypeVar("T")


def run(coroutine: Awaitable[T]) -> T:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


class StaticCredential:
    """The sync fixed-token credential."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


class AsyncStaticCredential:
    """An ``AsyncTokenCredential`` with one fixed token."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> AsyncStaticCredential:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


@pytest.fixture(scope="module")
def emulator() -> Iterator[KeyVaultEmulator]:
    # Small pages so that listings page; one 404 before each deletion "completes".
    with KeyVaultEmulator(page_size=3, deletion_polls=1) as server:
        yield server


@pytest.fixture
def kv(emulator: KeyVaultEmulator) -> Iterator[KeyVaultEmulator]:
    emulator.clear_faults()
    yield emulator
    emulator.clear_faults()
    emulator.latency = 0.0
    emulator.soft_delete = True
    emulator.purge_protection = False
    emulator.enforce_dates = False


@pytest.fixture
def prefix() -> str:
    return f"azaio/t{uuid.uuid4().hex[:12]}"


def options(kv: KeyVaultEmulator, **more: Any) -> dict[str, Any]:
    return {"connection_verify": str(kv.ca_path), "verify_challenge_resource": False,
            "poll_interval": 0.01, **more}


def async_backend(kv: KeyVaultEmulator, **more: Any) -> AsyncAzureKeyVaultBackend:
    more.setdefault("credential", AsyncStaticCredential(kv.token))
    return AsyncAzureKeyVaultBackend(kv.url, **options(kv, **more))


def sync_backend(kv: KeyVaultEmulator, **more: Any) -> AzureKeyVaultBackend:
    more.setdefault("credential", StaticCredential(kv.token))
    return AzureKeyVaultBackend(kv.url, **options(kv, **more))


# -- every method ------------------------------------------------------------------------------


def test_every_method_against_the_emulator(kv: KeyVaultEmulator, prefix: str) -> None:
    async def main() -> None:
        backend = async_backend(kv)
        name = f"{prefix}/db"
        first = await backend.put(name, "one", metadata={"team": "a"})
        second = await backend.put(name, b"\x00\xffbytes")
        got = await backend.get(name)
        assert (got.value, got.version, dict(got.metadata)) == (b"\x00\xffbytes",
                                                                second.version, {})
        old = await backend.get(name, first.version)
        assert (old.value, dict(old.metadata)) == ("one", {"team": "a"})
        assert await backend.current_version(name) == second.version
        assert [v.version for v in await backend.list_versions(name)] == [first.version,
                                                                          second.version]
        for n in range(4):  # more than a page (3) of names
            await backend.put(f"{prefix}/more{n}", "x")
        assert sorted(await backend.list_names(prefix)) == sorted(
            [name] + [f"{prefix}/more{n}" for n in range(4)])
        many = await backend.get_many([name, f"{prefix}/missing"])
        assert many[name].version == second.version  # type: ignore[union-attr]
        assert isinstance(many[f"{prefix}/missing"], ResourceNotFoundError)
        described = await backend.describe(name)
        assert (described.current_version, described.versions) == (second.version, 2)
        companion = await backend.staging_companion(name)
        await backend.put(companion, "staged")
        assert name in await backend.list_names(prefix)
        assert companion not in await backend.list_names(prefix)
        with pytest.raises(UnsupportedError):
            await backend.get(name, label="x")
        with pytest.raises(UnsupportedError):
            await backend.set_label(name, "x", None)
        with pytest.raises(VersionNotFoundError):
            await backend.get(name, "not-hex")
        with pytest.raises(InvalidArgumentError, match="reserved"):
            await backend.put(name, "x", metadata={"helium-written-ns": "1"})
        # Soft delete: deleted is not found, a write conflicts, recover brings it back.
        await backend.delete(name)
        with pytest.raises(ResourceNotFoundError):
            await backend.get(name)
        assert name in await backend.list_deleted(prefix)
        with pytest.raises(ResourceExistsError):
            await backend.put(name, "again")
        await backend.recover(name)
        assert (await backend.get(name)).value == b"\x00\xffbytes"
        await backend.delete(name, purge=True)
        assert name not in await backend.list_deleted(prefix)
        await backend.put(name, "new")  # purged: the name is free
        await backend.delete(name)
        await backend.purge(name)
        await backend.aclose()
        assert backend._client is not None

    run(main())


def test_recover_deleted_on_write_and_dates(kv: KeyVaultEmulator, prefix: str) -> None:
    raw = SecretClient(kv.url, StaticCredential(kv.token), connection_verify=str(kv.ca_path),
                       verify_challenge_resource=False, retry_total=0)
    expired = f"{prefix}-expired".replace("/", "-")
    raw.set_secret(expired, "old", expires_on=datetime.now(timezone.utc) - timedelta(hours=1))
    raw.close()

    async def main() -> None:
        backend = async_backend(kv, recover_deleted=True, names="verbatim")
        name = f"{prefix}-rec".replace("/", "-")
        await backend.put(name, "one")
        await backend.delete(name)
        await backend.put(name, "two")  # recovered, then written
        assert (await backend.get(name)).value == "two"
        with pytest.raises(VersionNotFoundError, match="expired"):
            await backend.get(expired)
        await backend.aclose()
        lenient = async_backend(kv, honour_dates=False, names="verbatim")
        assert (await lenient.get(expired)).value == "old"
        await lenient.aclose()

    run(main())


def test_a_delete_that_does_not_finish_in_time(kv: KeyVaultEmulator, prefix: str) -> None:
    async def main() -> None:
        backend = async_backend(kv, wait_timeout=0.05, poll_interval=1.0)
        await backend.put(f"{prefix}/slow", "v")
        with pytest.raises(DeadlineExceededError, match="did not finish the delete"):
            await backend.delete(f"{prefix}/slow")
        await backend.aclose()

    run(main())


def test_a_lost_answer_is_not_sent_again_below_the_store(kv: KeyVaultEmulator,
                                                         prefix: str) -> None:
    """aiohttp would resend a PUT whose kept-alive connection dropped before the answer
    (a second version the store never asked for): the backend turns that off."""
    async def main() -> None:
        backend = async_backend(kv)
        name = f"{prefix}/lost"
        await backend.put(name, "one")  # the connection is kept alive after this
        kv.fail_next(None, methods=("PUT",), after=True)  # written, then the answer lost
        with pytest.raises(ServiceRequestError) as info:
            await backend.put(name, "two")
        verdict = backend.classify(info.value)
        assert verdict is not None and verdict.code is ErrorCode.UNAVAILABLE
        assert len(await backend.list_versions(name)) == 2  # one write, one version
        await backend.aclose()

    run(main())


# -- parity with the sync backend ---------------------------------------------------------------


async def outcome(backend: Any, op: str, *args: Any, **keywords: Any) -> Any:
    try:
        result = getattr(backend, op)(*args, **keywords)
        if inspect.iscoroutine(result):
            result = await result
    except Exception as exc:
        verdict = backend.classify(exc)
        if verdict is None:
            return ("error", type(exc).__name__, str(exc))
        return ("error", type(exc).__name__, verdict.code, verdict.message)
    return shown(result)


def shown(result: Any) -> Any:
    """A result with the ids and times that differ by run kept only as present or not."""
    if isinstance(result, VersionInfo):
        return ("version", bool(result.version), result.state)
    if isinstance(result, list):
        return [shown(item) for item in result]
    if hasattr(result, "value") and hasattr(result, "version"):
        return ("secret", result.value, dict(result.metadata))
    if isinstance(result, Lifecycle):
        return ("lifecycle", result.versions, result.current_version is not None)
    if isinstance(result, Iterator):
        return sorted(name.split("/", 2)[-1] for name in result)
    if isinstance(result, str) and len(result) == 32:
        return "a version id"
    return result


def script(name: str) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    return [
        ("get", (name,), {}),
        ("put", (name, "one"), {"metadata": {"owner": "team-a"}}),
        ("put", (name, b"\x01\x02"), {}),
        ("put", (name, "x"), {"metadata": {f"k{n}": "v" for n in range(15)}}),
        ("put", (name, "x"), {"labels": ["AWSCURRENT"]}),
        ("put", (name, "x" * 30000), {}),
        ("get", (name,), {}),
        ("get", (name, "0" * 32), {}),
        ("get", (name, "zz"), {}),
        ("current_version", (name,), {}),
        ("list_versions", (name,), {}),
        ("list_names", (name.rsplit("/", 1)[0],), {}),
        ("describe", (name,), {}),
        ("delete", (name,), {}),
        ("get", (name,), {}),
        ("put", (name, "again"), {}),
        ("list_deleted", (name.rsplit("/", 1)[0],), {}),
        ("recover", (name,), {}),
        ("get", (name,), {}),
        ("delete", (name,), {"purge": True}),
        ("list_versions", (name,), {}),
        ("purge", (name,), {}),
    ]


def test_the_same_script_gives_the_same_results_on_both_twins(kv: KeyVaultEmulator,
                                                             prefix: str) -> None:
    sync = sync_backend(kv)
    expected = [run(outcome(sync, op, *args, **kw))
                for op, args, kw in script(f"{prefix}/sync/parity")]
    sync.close()

    async def main() -> list[Any]:
        backend = async_backend(kv)
        got = [await outcome(backend, op, *args, **kw)
               for op, args, kw in script(f"{prefix}/async/parity")]
        await backend.aclose()
        return got

    got = run(main())
    assert [repr(r).replace("async", "X") for r in got] == [
        repr(r).replace("sync", "X") for r in expected]
    assert any(r[0] == "error" for r in got if isinstance(r, tuple))


@pytest.mark.parametrize(("status", "code"), [(429, ErrorCode.THROTTLED),
                                              (503, ErrorCode.UNAVAILABLE),
                                              (403, ErrorCode.PERMISSION_DENIED),
                                              (None, ErrorCode.UNAVAILABLE)])
def test_faults_classify_the_same(kv: KeyVaultEmulator, prefix: str, status: int | None,
                                  code: ErrorCode) -> None:
    sync = sync_backend(kv)
    kv.fail_next(status, retry_after=7 if status == 429 else None, message=CANARY)
    expected = run(outcome(sync, "get", f"{prefix}/x"))
    sync.close()

    async def main() -> Any:
        backend = async_backend(kv)
        kv.fail_next(status, retry_after=7 if status == 429 else None, message=CANARY)
        try:
            await backend.get(f"{prefix}/x")
        except Exception as exc:
            verdict = backend.classify(exc)
            assert verdict is not None
            if status == 429:
                assert verdict.retry_after == 7
            got = await outcome(backend, "get", f"{prefix}/x")  # the fault is spent: 404
            return ("error", type(exc).__name__, verdict.code, verdict.message), got
        finally:
            await backend.aclose()
        raise AssertionError("no fault")

    first, after = run(main())
    assert first[2] == code and CANARY not in repr(first)
    if status is not None:
        assert first == expected  # the same class, code and message
    else:  # the transports' exceptions differ: the verdict is the same
        assert first[2:] == expected[2:]
    assert after[2] == ErrorCode.NOT_FOUND


def test_a_wrong_token_and_untrusted_tls_classify_the_same(kv: KeyVaultEmulator,
                                                           prefix: str) -> None:
    wrong_token: tuple[dict[str, Any], dict[str, Any]] = (
        {"credential": StaticCredential("wrong")}, {"credential": AsyncStaticCredential("wrong")})
    untrusted: tuple[dict[str, Any], dict[str, Any]] = (
        {"connection_verify": True}, {"connection_verify": True})
    for sync_more, more in (wrong_token, untrusted):
        sync = sync_backend(kv, **sync_more)
        expected = run(outcome(sync, "get", f"{prefix}/x"))
        sync.close()

        async def main(keywords: dict[str, Any]) -> Any:
            backend = async_backend(kv, **keywords)
            try:
                return await outcome(backend, "get", f"{prefix}/x")
            finally:
                await backend.aclose()

        got = run(main(more))
        assert got[0] == "error" and got[2:] == expected[2:], more


# -- construction, transport -------------------------------------------------------------------


def test_options_and_credentials_are_checked_before_any_call(kv: KeyVaultEmulator) -> None:
    with pytest.raises(ValueError, match="must be https"):
        AsyncAzureKeyVaultBackend("http://127.0.0.1:8443",
                                  credential=AsyncStaticCredential("t"))
    with pytest.raises(TypeError, match="async credential"):
        AsyncAzureKeyVaultBackend(kv.url, credential=StaticCredential("t"))
    with pytest.raises(ValueError, match="redirects stay within"):
        AsyncAzureKeyVaultBackend(kv.url, credential=AsyncStaticCredential("t"),
                                  client_options={"redirect_policy": None})
    with pytest.raises(ValueError, match="only retry layer"):
        AsyncAzureKeyVaultBackend(kv.url, credential=AsyncStaticCredential("t"),
                                  client_options={"retry_total": 3})


def test_from_url_and_a_ready_client(kv: KeyVaultEmulator, prefix: str) -> None:
    from urllib.parse import urlsplit

    from azure.keyvault.secrets.aio import SecretClient as AioSecretClient

    backend = AsyncAzureKeyVaultBackend.from_url(urlsplit("azurekeyvault://myvault?names=verbatim"),
                                                 credential=AsyncStaticCredential("t"))
    assert backend.vault_url == "https://myvault.vault.azure.net"
    assert backend.options.names == "verbatim"
    assert "AsyncAzureKeyVaultBackend" in repr(backend)
    run(backend.aclose())

    async def main() -> None:
        client = AioSecretClient(kv.url, AsyncStaticCredential(kv.token),
                                 connection_verify=str(kv.ca_path),
                                 verify_challenge_resource=False)
        ready = AsyncAzureKeyVaultBackend(client=client)
        await ready.put(f"{prefix}/ready", "v")
        await ready.aclose()  # not the caller's client
        assert (await client.get_secret(ready.kv_name(f"{prefix}/ready"))).value == "v"
        await client.close()

    run(main())


@pytest.mark.parametrize("scheme", ["https", "http"], ids=["other-port", "downgrade"])
def test_a_redirect_to_another_origin_is_refused(tmp_path: Path, scheme: str) -> None:
    ca, cert, key = make_tls(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    token = "azure-token-canary-9b2c"

    async def main() -> HeliumError:
        with FaultProxy(1, tls=context) as proxy, Sink(scheme) as sink:
            proxy.fail_next(count=10, kind="redirect", location=sink.url)
            backend = AsyncAzureKeyVaultBackend(
                proxy.url, credential=AsyncStaticCredential(token), connection_verify=str(ca),
                verify_challenge_resource=False)
            try:
                with pytest.raises(HeliumError) as exc:
                    await backend.put("transport-azure", CANARY)
            finally:
                await backend.aclose()
            assert (sink.connections, sink.received) == (0, 0)
            assert sink.url.split("://", 1)[1] in str(exc.value)
            return exc.value

    refused = run(main())
    assert isinstance(refused, UnavailableError) and refused.transient is False
    assert "another origin" in str(refused)
    for secret in (CANARY, token):
        assert secret not in str(refused) and secret not in repr(refused)


def test_no_value_in_reprs_errors_or_logs(kv: KeyVaultEmulator, prefix: str,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        backend = async_backend(kv)
        await backend.put(f"{prefix}/canary", CANARY)
        secret = await backend.get(f"{prefix}/canary")
        assert CANARY not in repr(secret) and CANARY not in repr(backend)
        kv.fail_next(400, message=f"bad value {CANARY}")  # a service echoing the request
        with pytest.raises(HttpResponseError) as info:
            await backend.put(f"{prefix}/canary", CANARY)
        verdict = backend.classify(info.value)
        assert verdict is not None and CANARY not in (verdict.message or "")
        await backend.aclose()

    run(main())
    assert CANARY not in caplog.text


def test_a_dead_vault_is_unavailable(prefix: str) -> None:
    with Sink() as sink:
        closed = sink.url.replace("http://", "https://")  # surely closed once the sink is gone

    async def main() -> None:
        backend = AsyncAzureKeyVaultBackend(closed, credential=AsyncStaticCredential("t"),
                                            verify_challenge_resource=False)
        with pytest.raises(ServiceRequestError) as info:
            await backend.get(f"{prefix}/x")
        verdict = backend.classify(info.value)
        assert verdict is not None and verdict.code is ErrorCode.UNAVAILABLE
        await backend.aclose()

    run(main())


def test_importing_the_sync_backend_imports_no_async_client() -> None:
    code = ("import sys, helium_secrets, helium_secrets.backends.azurekeyvault; "
            "print(sorted(m for m in ('aiohttp', 'azure.keyvault.secrets.aio', "
            "'azure.identity.aio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_doc_async_example_runs_against_the_emulator(kv: KeyVaultEmulator,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import azure.identity.aio

    from tests.docs.pages import ROOT, python_block

    page = (ROOT / "docs" / "backends" / "azure.md").read_text(encoding="utf-8")
    block = python_block(page, "\n## Async\n")
    # The example's vault and credential, pointed at the emulator (its CA, its token).
    monkeypatch.setattr(azure.identity.aio, "DefaultAzureCredential",
                        lambda: AsyncStaticCredential(kv.token))
    block = block.replace('"https://myvault.vault.azure.net",', f'"{kv.url}", **OPTIONS,')
    namespace: dict[str, Any] = {"OPTIONS": options(kv)}
    exec(block, namespace)  # noqa: S102 - the docs' own example
    assert run(namespace["main"]()) == "hunter2"


def test_the_ca_bundle_is_loaded_once_off_the_loop(kv: KeyVaultEmulator, prefix: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """azure-core's aiohttp transport would read the CA file again for every request, on the
    event loop: the backend's transport builds that context once, in a thread."""
    import threading

    made: list[bool] = []
    original = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(threading.current_thread() is threading.main_thread())
        return original(*args, **kwargs)

    async def main() -> None:
        backend = async_backend(kv)
        monkeypatch.setattr(ssl, "create_default_context", counting)
        for n in range(5):
            await backend.put(f"{prefix}/ca{n}", "v")
            await backend.get(f"{prefix}/ca{n}")
        monkeypatch.setattr(ssl, "create_default_context", original)
        await backend.aclose()

    run(main())
    assert made == [False]  # once, and not on the loop's thread
