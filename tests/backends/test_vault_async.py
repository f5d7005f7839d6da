"""The async Vault / OpenBao backend (httpx), against the same real OpenBao servers as the sync
one: every method, parity with the sync backend (answers, errors, classification), token
upkeep, TLS, redirects and leases.

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
import uuid
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import hvac
import hvac.exceptions
import pytest

from helium_secrets import VersionInfo
from helium_secrets.backends import hashivault
from helium_secrets.backends.hashivault import AppRoleAuth, TokenAuth, VaultBackend
from helium_secrets.errors import (
    ConflictError,
    ErrorCode,
    HeliumError,
    InvalidArgumentError,
    SecretNotFoundError,
    UnauthenticatedError,
    UnavailableError,
    UnsupportedError,
    VersionNotFoundError,
)
from helium_secrets.testing.conformance import CANARY, plaintext_in_frames
from tests.backends.faultproxy import FaultProxy, Sink
from tests.backends.openbao import DevServer

httpx = pytest.importorskip("httpx")
from helium_secrets.backends.hashivault.aio import AsyncVaultBackend  # noqa: E402

T = TypeVar("T")
READ_WRITE_POLICY = 'path "*" { capabilities = ["create", "read", "update", "delete", "list"] }'
READ_ONLY_POLICY = 'path "secret/data/ro/*" { capabilities = ["read"] }'


def run(coroutine: Awaitable[T]) -> T:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def admin(bao: DevServer) -> Iterator[hvac.Client]:
    client = hvac.Client(bao.address, token=bao.root_token)
    yield client
    client.adapter.close()


@pytest.fixture
def prefix() -> str:
    return f"vaultaio/t{uuid.uuid4().hex[:12]}"


def kv1_mount(admin: hvac.Client) -> str:
    if "kv1/" not in admin.sys.list_mounted_secrets_engines()["data"]:
        admin.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    return "kv1"


def approle(admin: hvac.Client, policies: list[str], **role: Any) -> tuple[str, str]:
    admin.sys.create_or_update_policy("helium-rw", READ_WRITE_POLICY)
    admin.sys.create_or_update_policy("helium-ro", READ_ONLY_POLICY)
    if "approle/" not in admin.sys.list_auth_methods()["data"]:
        admin.sys.enable_auth_method("approle")
    name = f"role{uuid.uuid4().hex[:8]}"
    admin.auth.approle.create_or_update_approle(name, token_policies=policies, **role)
    role_id = admin.auth.approle.read_role_id(name)["data"]["role_id"]
    secret_id = admin.auth.approle.generate_secret_id(name)["data"]["secret_id"]
    return role_id, secret_id


async def outcome(backend: Any, op: str, *args: Any, **keywords: Any) -> Any:
    """What ``backend.op(*args, **keywords)`` answered, or its error as (class, portable
    code, message): comparable across the twins."""
    try:
        result = getattr(backend, op)(*args, **keywords)
        if inspect.iscoroutine(result):
            result = await result
    except Exception as exc:
        verdict = backend.classify(exc)
        code = verdict.code if verdict is not None else None
        message = verdict.message if verdict is not None else str(exc)
        return ("error", type(exc).__name__, code, message)
    return shown(result)


async def async_outcome(keywords: dict[str, Any], op: str, *args: Any) -> Any:
    """:func:`outcome` on a new async backend made with ``keywords``."""
    backend = AsyncVaultBackend(**keywords)
    try:
        return await outcome(backend, op, *args)
    finally:
        await backend.aclose()


def shown(result: Any) -> Any:
    """A result with what differs by run (times) kept only as present or not."""
    if isinstance(result, VersionInfo):
        return ("version", result.version, result.created_at is not None, result.state)
    if isinstance(result, list):
        return [shown(item) for item in result]
    if hasattr(result, "value") and hasattr(result, "version"):  # RawSecret
        return ("secret", result.name, result.value, result.version, dict(result.metadata),
                result.created_at is not None)
    if isinstance(result, Iterator):
        return sorted(result)
    return result


# -- every method ------------------------------------------------------------------------------


def test_every_method_against_openbao(bao: DevServer, prefix: str) -> None:
    async def main() -> None:
        backend = AsyncVaultBackend(bao.address, token=bao.root_token)
        name = f"{prefix}/db"
        first = await backend.put(name, "one", metadata={"team": "a"})
        assert first.version == "1" and first.created_at is not None
        second = await backend.put(name, b"\x00\xffbytes", expected_version="1")
        assert second.version == "2"
        current = await backend.get(name)
        assert (current.value, current.version, dict(current.metadata)) == (
            b"\x00\xffbytes", "2", {"team": "a"})
        assert (await backend.get(name, "1")).value == "one"
        probed = await backend.current_version(name)
        assert isinstance(probed, VersionInfo) and probed.version == "2"
        assert [v.version for v in await backend.list_versions(name)] == ["1", "2"]
        assert sorted(await backend.list_names(prefix)) == [name]
        with pytest.raises(ConflictError):
            await backend.put(name, "x", expected_version="1")
        with pytest.raises(ConflictError):
            await backend.put(name, "x", create_only=True)
        many = await backend.get_many([name, f"{prefix}/missing"])
        assert many[name].version == "2"  # type: ignore[union-attr]
        assert isinstance(many[f"{prefix}/missing"], hvac.exceptions.InvalidPath)
        described = await backend.describe(name)
        assert (described.current_version, described.versions) == ("2", 2)
        await backend.delete_latest_version(name)
        with pytest.raises(VersionNotFoundError, match="current version is deleted"):
            await backend.current_version(name)
        await backend.undelete_versions(name, ["2"])
        await backend.destroy_versions(name, ["1"])
        with pytest.raises(hvac.exceptions.InvalidPath):  # a destroyed version: a bare 404
            await backend.get(name, "1")
        companion = await backend.staging_companion(name)
        await backend.put(companion, "staged")
        assert sorted(await backend.list_names(prefix)) == [name]  # the companion is hidden
        with pytest.raises(UnsupportedError):
            await backend.put(name, "x", labels=["AWSCURRENT"])
        with pytest.raises(UnsupportedError):
            await backend.set_label(name, "x", None)
        await backend.delete(name)
        await backend.delete(companion)
        with pytest.raises(hvac.exceptions.InvalidPath):
            await backend.get(name)
        with pytest.raises(hvac.exceptions.InvalidPath):
            await backend.delete(name)
        assert backend.logins == 1
        await backend.aclose()

    run(main())


def test_kv_version_1(bao: DevServer, admin: hvac.Client, prefix: str) -> None:
    mount = kv1_mount(admin)

    async def main() -> None:
        backend = AsyncVaultBackend(bao.address, token=bao.root_token, mount=mount,
                                    kv_version=1)
        assert not backend.capabilities.versions
        written = await backend.put(f"{prefix}/v1", "plain")
        got = await backend.get(f"{prefix}/v1")
        assert (got.value, got.version) == ("plain", written.version)
        assert [v.version for v in await backend.list_versions(f"{prefix}/v1")] == [
            written.version]
        with pytest.raises(UnsupportedError):
            await backend.put(f"{prefix}/v1", "x", metadata={"a": "b"})
        await backend.delete(f"{prefix}/v1")
        with pytest.raises(hvac.exceptions.InvalidPath):
            await backend.get(f"{prefix}/v1")
        await backend.aclose()

    run(main())


def test_a_retried_put_whose_first_attempt_landed_makes_one_version(
        bao: DevServer, prefix: str) -> None:
    async def main() -> None:
        with FaultProxy(bao.port) as proxy:
            backend = AsyncVaultBackend(proxy.url, token=bao.root_token)
            name = f"{prefix}/retried"
            await backend.put(name, "one")
            proxy.fail_next(kind="lost", method="POST", path=f"/v1/secret/data/{name}")
            with pytest.raises(httpx.HTTPError):
                await backend.put(name, "two", request_token="t-1")
            again = await backend.put(name, "two", request_token="t-1")  # the store's retry
            assert again.version == "2"
            assert [v.version for v in await backend.list_versions(name)] == ["1", "2"]
            await backend.aclose()

    run(main())


# -- parity with the sync backend ---------------------------------------------------------------


def script(name: str) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    """The scripted sequence both twins run: writes, reads, the errors on the way."""
    return [
        ("get", (name,), {}),
        ("current_version", (name,), {}),
        ("put", (name, "one"), {"metadata": {"owner": "team-a"}}),
        ("put", (name, "two"), {"expected_version": "1"}),
        ("put", (name, "three"), {"expected_version": "1"}),
        ("put", (name, "x"), {"create_only": True}),
        ("put", (name, "x"), {"expected_version": "not-a-number"}),
        ("put", (name, b"\x01\x02"), {}),
        ("put", (name, "x"), {"metadata": {"bad\nkey": "v"}}),
        ("get", (name,), {}),
        ("get", (name, "1"), {}),
        ("get", (name, "99"), {}),
        ("get", (name, "zero"), {}),
        ("get", (name,), {"label": "x"}),
        ("list_versions", (name,), {}),
        ("current_version", (name,), {}),
        ("list_names", (name.rsplit("/", 1)[0],), {}),
        ("delete_latest_version", (name,), {}),
        ("get", (name,), {}),
        ("current_version", (name,), {}),
        ("undelete_versions", (name, ["3"]), {}),
        ("destroy_versions", (name, "1"), {}),
        ("get", (name, "1"), {}),
        ("delete", (name,), {}),
        ("get", (name,), {}),
        ("delete", (name,), {}),
        ("list_versions", (name,), {}),
    ]


def test_the_same_script_gives_the_same_results_on_both_twins(bao: DevServer,
                                                             prefix: str) -> None:
    sync = VaultBackend(bao.address, token=bao.root_token)
    expected = [run(outcome(sync, op, *args, **kw))
                for op, args, kw in script(f"{prefix}/sync/parity")]
    sync.close()

    async def main() -> list[Any]:
        backend = AsyncVaultBackend(bao.address, token=bao.root_token)
        got = [await outcome(backend, op, *args, **kw)
               for op, args, kw in script(f"{prefix}/async/parity")]
        await backend.aclose()
        return got

    got = run(main())
    # The names differ by their directory only: compare with it taken out.
    assert [repr(r).replace("/async/", "/x/") for r in got] == [
        repr(r).replace("/sync/", "/x/") for r in expected]
    assert any(r[0] == "error" for r in got if isinstance(r, tuple))


def test_errors_classify_the_same(bao: DevServer, admin: hvac.Client, prefix: str) -> None:
    """Misconfiguration, refusals and connection failures: the same errors and verdicts."""
    kv1_mount(admin)
    role_id, secret_id = approle(admin, ["helium-ro"])
    cases: list[tuple[dict[str, Any], str, tuple[Any, ...]]] = [
        ({"token": bao.root_token, "mount": "no-such-mount"}, "get", ("a",)),
        ({"token": bao.root_token, "mount": "kv1"}, "get", ("a",)),  # v2 on a v1 mount
        ({"token": bao.root_token, "mount": "secret", "kv_version": 1}, "get", ("a",)),
        ({"token": bao.root_token, "namespace": "no-such-ns"}, "get", ("a",)),
        ({"token": bao.root_token}, "get", ("secret/app",)),  # the mount in the name
        ({"token": "not-a-token"}, "get", ("a",)),
        ({"auth": AppRoleAuth(role_id=role_id, secret_id=secret_id)}, "put", ("ro/x", "v")),
        ({"auth": AppRoleAuth(role_id=role_id, secret_id="wrong")}, "get", ("a",)),
    ]
    for keywords, op, args in cases:
        sync = VaultBackend(bao.address, **keywords)
        expected = run(outcome(sync, op, *args))
        sync.close()
        got = run(async_outcome({"address": bao.address, **keywords}, op, *args))
        assert got == expected, keywords
        assert got[0] == "error"


def test_connection_failures_classify_the_same(bao: DevServer) -> None:
    with Sink() as sink:
        closed = sink.url  # a port that is surely closed once the sink is gone
    for address, kind in ((closed, ErrorCode.UNAVAILABLE),
                          (bao.address.replace("http://", "https://"), ErrorCode.UNAVAILABLE)):
        sync = VaultBackend(address, token="t")
        expected = run(outcome(sync, "get", "a"))
        sync.close()
        got = run(async_outcome({"address": address, "token": "t"}, "get", "a"))
        assert got[0] == "error" and got[2] == kind
        assert got[2:] == expected[2:], address  # the same verdict (the classes differ)


# -- tokens ------------------------------------------------------------------------------------


def test_approle_login_renews_and_logs_in_again(bao: DevServer, admin: hvac.Client,
                                                monkeypatch: pytest.MonkeyPatch,
                                                prefix: str) -> None:
    monkeypatch.setattr(hashivault.tokens, "RENEW_AT_FRACTION", 0.0)  # renew at every call
    role_id, secret_id = approle(admin, ["helium-rw"], token_ttl="60s", token_max_ttl="120s")

    async def main() -> None:
        backend = AsyncVaultBackend(bao.address,
                                    auth=AppRoleAuth(role_id=role_id, secret_id=secret_id))
        await backend.put(f"{prefix}/a", "v")
        assert (await backend.get(f"{prefix}/a")).value == "v"
        assert backend.logins == 1 and backend.renewals >= 1
        admin.auth.token.revoke(backend._session.state.token)  # revoked: log in again
        assert (await backend.get(f"{prefix}/a")).value == "v"
        assert backend.logins == 2
        await backend.aclose()

    run(main())


def test_concurrent_tasks_share_one_login_and_queue_their_puts(
        bao: DevServer, admin: hvac.Client, prefix: str) -> None:
    role_id, secret_id = approle(admin, ["helium-rw"])

    async def main() -> None:
        backend = AsyncVaultBackend(bao.address,
                                    auth=AppRoleAuth(role_id=role_id, secret_id=secret_id))
        name = f"{prefix}/busy"
        written = await asyncio.gather(*(backend.put(name, f"v{n}") for n in range(20)))
        assert sorted(int(w.version) for w in written) == list(range(1, 21))  # no conflict
        admin.auth.token.revoke(backend._session.state.token)
        reads = await asyncio.gather(*(backend.get(name) for _ in range(20)))
        assert {r.version for r in reads} == {"20"}
        assert backend.logins == 2  # twenty tasks, one rejected token: one login
        await backend.aclose()

    run(main())


def test_a_token_file_is_read_again_when_the_token_is_rejected(
        bao: DevServer, admin: hvac.Client, tmp_path: Path, prefix: str) -> None:
    token_file = tmp_path / "token"
    first = admin.auth.token.create(policies=["root"], ttl="1h")["auth"]["client_token"]
    token_file.write_text(first)

    async def main() -> None:
        backend = AsyncVaultBackend(bao.address, auth=TokenAuth(token_file=str(token_file)))
        await backend.put(f"{prefix}/f", "v")
        admin.auth.token.revoke(first)
        token_file.write_text(
            admin.auth.token.create(policies=["root"], ttl="1h")["auth"]["client_token"])
        assert (await backend.get(f"{prefix}/f")).value == "v"
        assert backend.logins == 2
        await backend.aclose()

    run(main())


def test_no_credential_in_a_local_of_a_failed_login(bao: DevServer, admin: hvac.Client) -> None:
    role_id, _ = approle(admin, ["helium-ro"])

    async def main() -> None:
        for auth in (AppRoleAuth(role_id=role_id, secret_id=CANARY + "-secret-id"),
                     TokenAuth(token=CANARY + "-token")):
            backend = AsyncVaultBackend(bao.address, auth=auth)
            with pytest.raises(UnauthenticatedError) as failed:
                await backend.get("any/name")
            assert plaintext_in_frames(failed.value, CANARY) == [], type(auth).__name__
            assert CANARY not in str(failed.value) and CANARY not in repr(backend)
            await backend.aclose()

    run(main())


def test_namespace_header(bao: DevServer, prefix: str) -> None:
    namespace = f"team{uuid.uuid4().hex[:8]}"
    bao.cli("namespace", "create", namespace)
    bao.cli("secrets", "enable", "-path=secret", "kv-v2", namespace=namespace)
    inner = hvac.Client(bao.address, token=bao.root_token, namespace=namespace)

    async def main() -> None:
        backend = AsyncVaultBackend(bao.address, token=bao.root_token, namespace=namespace)
        await backend.put(f"{prefix}/ns", "inside")
        assert "namespace=" in repr(backend)
        await backend.aclose()

    run(main())
    answer = inner.secrets.kv.v2.read_secret_version(f"{prefix}/ns", raise_on_deleted_version=False)
    assert answer["data"]["data"] == {"value": "inside"}
    inner.adapter.close()


# -- transport ---------------------------------------------------------------------------------


def test_plain_http_only_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("VAULT_ADDR", "BAO_ADDR"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValueError, match="allow_insecure_http"):
        AsyncVaultBackend("http://10.1.2.3:8200", token="t")
    AsyncVaultBackend("http://10.1.2.3:8200", token="t", allow_insecure_http=True)
    with pytest.raises(TypeError, match="httpx.AsyncClient"):  # an hvac client is the sync one's
        AsyncVaultBackend(client=hvac.Client("http://127.0.0.1:1"), token="t")


def test_tls_with_a_ca_bundle(tmp_path_factory: pytest.TempPathFactory, prefix: str) -> None:
    with DevServer(tmp_path_factory.mktemp("bao-tls-aio"), tls=True) as server:
        assert isinstance(server.verify, str)

        async def main() -> None:
            backend = AsyncVaultBackend(server.address, token=server.root_token,
                                        ca_cert=server.verify)
            await backend.put(f"{prefix}/tls", "v")
            assert (await backend.get(f"{prefix}/tls")).value == "v"
            await backend.aclose()
            untrusted = AsyncVaultBackend(server.address, token=server.root_token)
            with pytest.raises(httpx.ConnectError) as info:
                await untrusted.get(f"{prefix}/tls")
            verdict = untrusted.classify(info.value)
            assert verdict is not None and verdict.transient is False
            assert "not trusted" in (verdict.message or "")
            await untrusted.aclose()
            skipping = AsyncVaultBackend(server.address, token=server.root_token,
                                         tls_skip_verify=True)
            assert (await skipping.get(f"{prefix}/tls")).value == "v"
            await skipping.aclose()

        run(main())


@pytest.mark.slow
def test_tls_client_certificate(tmp_path: Path, prefix: str) -> None:
    from tests.backends.openbao import PersistentServer
    from tests.backends.test_vault import make_tls_files

    (tmp_path / "pki").mkdir()
    tls = make_tls_files(tmp_path / "pki")
    with PersistentServer(tmp_path / "bao-mtls", tls=tls) as server:
        server.enable_kv("secret")

        async def main() -> None:
            backend = AsyncVaultBackend(server.address, token=server.root_token,
                                        ca_cert=tls.ca_file, client_cert=tls.client_cert_file,
                                        client_key=tls.client_key_file)
            await backend.put(f"{prefix}/mtls", "v")
            assert (await backend.get(f"{prefix}/mtls")).value == "v"
            await backend.aclose()
            without = AsyncVaultBackend(server.address, token=server.root_token,
                                        ca_cert=tls.ca_file)
            # The server wants a certificate: its TLS alert comes as the answer is read, and
            # httpx lets that ssl.SSLError through unwrapped.
            with pytest.raises((httpx.HTTPError, ssl.SSLError)) as info:
                await without.get(f"{prefix}/mtls")
            verdict = without.classify(info.value)
            assert verdict is not None and verdict.code is ErrorCode.UNAVAILABLE
            assert verdict.transient is False and "TLS" in (verdict.message or "")
            await without.aclose()

        run(main())


def test_the_ssl_context_is_made_off_the_loop(bao: DevServer, monkeypatch: pytest.MonkeyPatch,
                                              prefix: str) -> None:
    import threading

    made: list[bool] = []
    original = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        made.append(threading.current_thread() is threading.main_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)

    async def main() -> None:
        backend = AsyncVaultBackend(bao.address, token=bao.root_token)
        assert made == []  # making the backend reads no file
        for _ in range(3):
            await backend.put(f"{prefix}/ctx", "v")
        await backend.aclose()

    run(main())
    assert made == [False]  # once, in a thread


def test_a_redirect_to_another_origin_is_refused(bao: DevServer) -> None:
    async def main() -> None:
        with FaultProxy(bao.port) as proxy, Sink() as sink:
            backend = AsyncVaultBackend(proxy.url, token=bao.root_token)
            proxy.fail_next(kind="redirect", location=sink.url, path="/v1/secret/data/.+")
            with pytest.raises(UnavailableError) as info:
                await backend.put(f"transport/t{uuid.uuid4().hex[:8]}", CANARY)
            assert info.value.transient is False and "another origin" in str(info.value)
            for secret in (CANARY, bao.root_token):
                assert secret not in str(info.value) and secret not in repr(info.value)
            assert (sink.connections, sink.received) == (0, 0)
            await backend.aclose()

    run(main())


def test_a_redirect_within_the_origin_is_followed(bao: DevServer) -> None:
    async def main() -> None:
        with FaultProxy(bao.port) as proxy:
            backend = AsyncVaultBackend(proxy.url, token=bao.root_token)
            secret = f"transport/t{uuid.uuid4().hex[:8]}"
            proxy.fail_next(kind="redirect", location=proxy.url, path="/v1/secret/data/.+")
            await backend.put(secret, "v1")
            assert proxy.pending() == 0
            assert (await backend.get(secret)).value == "v1"
            paths = [path for _, path in proxy.requests if path == f"/v1/secret/data/{secret}"]
            assert len(paths) >= 3  # the redirected put, the one it was sent on to, the get
            await backend.aclose()

    run(main())


# -- a ready httpx.AsyncClient -----------------------------------------------------------------


def test_a_ready_httpx_client_is_used_and_left_open(bao: DevServer, prefix: str) -> None:
    from helium_secrets import open_async_store

    sent: list[str] = []

    async def record(request: Any) -> None:
        sent.append(f"{request.method} {request.url.path}")  # no header: the token is there

    async def main() -> None:
        async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
            backend = AsyncVaultBackend(bao.address, token=bao.root_token, client=http)
            await backend.put(f"{prefix}/ready", CANARY)
            assert (await backend.get(f"{prefix}/ready")).value == CANARY
            assert f"GET /v1/secret/data/{prefix}/ready" in sent
            await backend.aclose()
            assert not http.is_closed  # the library does not close a client it did not create
            store = open_async_store(f"vault://127.0.0.1:{bao.port}/secret?tls=false",
                                     token=bao.root_token, client=http)
            assert store.backend.options.client is http  # type: ignore[attr-defined]
            assert (await store.get(f"{prefix}/ready")).value.reveal() == CANARY
            await store.aclose()
            assert not http.is_closed
            assert (await http.get(f"{bao.address}/v1/sys/health")).status_code == 200
        assert http.is_closed  # closed by its owner

    run(main())


def test_a_ready_clients_own_redirect_setting_does_not_follow_another_origin(
    bao: DevServer,
) -> None:
    async def main() -> None:
        with FaultProxy(bao.port) as proxy, Sink() as sink:
            async with httpx.AsyncClient(follow_redirects=True) as http:
                backend = AsyncVaultBackend(proxy.url, token=bao.root_token, client=http)
                proxy.fail_next(kind="redirect", location=sink.url, path="/v1/secret/data/.+")
                with pytest.raises(UnavailableError) as info:
                    await backend.put(f"transport/t{uuid.uuid4().hex[:8]}", CANARY)
                assert info.value.transient is False and "another origin" in str(info.value)
                assert (sink.connections, sink.received) == (0, 0)
                secret = f"transport/t{uuid.uuid4().hex[:8]}"
                proxy.fail_next(kind="redirect", location=proxy.url, path="/v1/secret/data/.+")
                await backend.put(secret, "v1")  # within the origin: followed, by hand
                assert (await backend.get(secret)).value == "v1"
                await backend.aclose()

    run(main())


def test_tls_configured_on_a_ready_client(tmp_path_factory: pytest.TempPathFactory,
                                          prefix: str) -> None:
    with DevServer(tmp_path_factory.mktemp("bao-tls-ready"), tls=True) as server:
        ca_file = server.verify
        assert isinstance(ca_file, str)

        async def main() -> None:
            context = ssl.create_default_context(cafile=ca_file)
            async with httpx.AsyncClient(verify=context, timeout=30) as http:
                backend = AsyncVaultBackend(server.address, token=server.root_token,
                                            client=http)
                await backend.put(f"{prefix}/tls", "v")
                assert (await backend.get(f"{prefix}/tls")).value == "v"
                await backend.aclose()
            async with httpx.AsyncClient() as untrusting:  # the default CAs: not this one
                backend = AsyncVaultBackend(server.address, token=server.root_token,
                                            client=untrusting)
                with pytest.raises(httpx.ConnectError) as info:
                    await backend.get(f"{prefix}/tls")
                verdict = backend.classify(info.value)
                assert verdict is not None and verdict.transient is False
                assert "not trusted" in (verdict.message or "")

        run(main())


def test_what_a_ready_client_cannot_be_given_with(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("VAULT_ADDR", "BAO_ADDR", "VAULT_CACERT", "BAO_CACERT"):
        monkeypatch.delenv(var, raising=False)

    async def main() -> None:
        async with httpx.AsyncClient() as http:
            with pytest.raises(ValueError, match="allow_insecure_http"):
                AsyncVaultBackend("http://10.1.2.3:8200", token="t", client=http)
            AsyncVaultBackend("http://10.1.2.3:8200", token="t", client=http,
                              allow_insecure_http=True)
            given: dict[str, Any]
            for given in ({"ca_cert": "/ca.pem"}, {"tls_skip_verify": True}, {"timeout": 3.0}):
                with pytest.raises(ValueError, match=f"{next(iter(given))} cannot be given"):
                    AsyncVaultBackend("https://127.0.0.1:8200", token="t", client=http, **given)
        async with httpx.AsyncClient(base_url="https://vault.example:8200") as based:
            with pytest.raises(ValueError, match="base_url"):
                AsyncVaultBackend("https://127.0.0.1:8200", token="t", client=based)
            AsyncVaultBackend("https://vault.example:8200", token="t", client=based)
        with httpx.Client() as sync_client, pytest.raises(TypeError, match="httpx.AsyncClient"):
            AsyncVaultBackend("https://127.0.0.1:8200", token="t", client=sync_client)
        async with httpx.AsyncClient() as http:
            with pytest.raises(TypeError, match="hvac.Client"):
                VaultBackend("https://127.0.0.1:8200", token="t", client=http)

    run(main())


def test_429_carries_retry_after_like_the_sync_backend(bao: DevServer) -> None:
    async def main() -> Any:
        with FaultProxy(bao.port) as proxy:
            backend = AsyncVaultBackend(proxy.url, token=bao.root_token)
            await backend.get_many([])  # nothing
            proxy.fail_next(status=429, path="/v1/secret/data/.+", body=b'{"errors":[]}',
                            content_type="application/json")
            with pytest.raises(hvac.exceptions.RateLimitExceeded) as info:
                await backend.get("limited")
            await backend.aclose()
            return backend.classify(info.value)

    verdict = run(main())
    assert verdict is not None and verdict.code is ErrorCode.THROTTLED


# -- values never shown ------------------------------------------------------------------------


def test_no_value_in_reprs_errors_or_logs(bao: DevServer, prefix: str,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        backend = AsyncVaultBackend(bao.address, token=bao.root_token)
        name = f"{prefix}/canary"
        await backend.put(name, CANARY)
        secret = await backend.get(name)
        assert CANARY not in repr(secret) and CANARY not in repr(backend)
        with pytest.raises(ConflictError) as conflict:
            await backend.put(name, CANARY, expected_version="7")
        assert CANARY not in str(conflict.value) and CANARY not in repr(conflict.value)
        await backend.aclose()
        with FaultProxy(bao.port) as proxy:
            failing = AsyncVaultBackend(proxy.url, token=bao.root_token)
            proxy.fail_next(kind="drop", method="POST", path="/v1/secret/data/.+")
            with pytest.raises(httpx.HTTPError) as dropped:
                await failing.put(name, CANARY + "-new")
            # Only the frames that are given the value hold it (as on the sync backend): not
            # the driver's, nor the transport's.
            holders = {where.split(":")[0] for where in plaintext_in_frames(dropped.value,
                                                                           CANARY)}
            assert holders <= {"put", "_put_v2"}, holders
            await failing.aclose()

    run(main())
    assert CANARY not in caplog.text


def test_importing_the_sync_backend_imports_no_async_client() -> None:
    code = ("import sys, helium_secrets, helium_secrets.backends.hashivault; "
            "print(sorted(m for m in ('httpx', 'aiohttp', 'anyio') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


# -- leases (dynamic secrets, on OpenBao's database engine) -------------------------------------


@pytest.fixture
def database_role(bao: DevServer, postgres: Any) -> Iterator[str]:
    """A database engine at a fresh mount with a role ``app`` (as the dynamic-secrets
    integration tests make it); yields ``MOUNT/creds/app``."""
    pytest.importorskip("psycopg")
    mount = f"db-{uuid.uuid4().hex[:8]}"
    bao.cli("secrets", "enable", f"-path={mount}", "database")
    bao.cli("write", f"{mount}/config/pg", "plugin_name=postgresql-database-plugin",
            "connection_url=postgresql://{{username}}:{{password}}@"
            f"{postgres.host}:{postgres.port}/postgres?sslmode=disable",
            f"username={postgres.admin_user}", f"password={postgres.admin_password}",
            "allowed_roles=app")
    bao.cli("write", f"{mount}/roles/app", "db_name=pg",
            "creation_statements=CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' "
            "VALID UNTIL '{{expiration}}';",
            "default_ttl=30s", "max_ttl=60s")
    yield f"{mount}/creds/app"
    bao.cli("secrets", "disable", mount)


def test_leases_issue_renew_revoke_like_the_sync_backend(bao: DevServer,
                                                         database_role: str) -> None:
    async def main() -> None:
        backend = AsyncVaultBackend(bao.address, token=bao.root_token)
        grant = await backend.issue_lease(database_role)
        assert grant.lease_id.startswith(database_role) and grant.renewable
        assert set(grant.data) >= {"username", "password"}
        assert grant.data["password"] not in repr(grant)
        renewed = await backend.renew_lease(grant.lease_id, 20)
        assert renewed.lease_id == grant.lease_id and 0 < renewed.duration <= 60
        await backend.revoke_lease(grant.lease_id)
        with pytest.raises(hvac.exceptions.VaultError):
            await backend.renew_lease(grant.lease_id, 20)
        with pytest.raises(InvalidArgumentError, match="issues no lease"):
            await backend.issue_lease("secret/data/not-a-lease")
        await backend.aclose()

    run(main())
    sync = VaultBackend(bao.address, token=bao.root_token)
    with pytest.raises(InvalidArgumentError, match="issues no lease"):
        sync.issue_lease("secret/data/not-a-lease")
    sync.close()


def test_a_missing_secret_says_so_on_both(bao: DevServer) -> None:
    async def main() -> None:
        backend = AsyncVaultBackend(bao.address, token=bao.root_token)
        with pytest.raises(SecretNotFoundError, match="relative to the mount"):
            await backend.get("secret/app/x")
        with pytest.raises(HeliumError):
            await backend.get("x", "0")
        await backend.aclose()

    run(main())


def test_doc_async_example_runs(bao: DevServer) -> None:
    from tests.docs.pages import ROOT, python_block

    page = (ROOT / "docs" / "backends" / "vault.md").read_text(encoding="utf-8")
    namespace: dict[str, Any] = {}
    exec(python_block(page, "\n## Async\n"), namespace)  # noqa: S102 - the docs' own example
    assert run(namespace["main"](bao.address, bao.root_token)) == "hunter2"
