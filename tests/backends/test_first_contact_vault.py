"""Vault / OpenBao, as a newcomer meets it (issue 13): each message names the cause and the fix.

Every case is the real situation on a real ``bao server -dev``: its plain-http address given as
``vault://`` (TLS), a mount that is not there, the other KV version, a namespace that does not
exist, a name that repeats the mount, a server that accepts connections and never answers.
"""

from __future__ import annotations

import socket
import threading
import uuid
import warnings
from collections.abc import Iterator

import hvac
import pytest

from helium_secrets import SecretStore, open_store
from helium_secrets.cli import main
from helium_secrets.errors import InvalidArgumentError, SecretNotFoundError, UnavailableError
from helium_secrets.layers.guard import GuardPolicy
from helium_secrets.layers.retry import RetryPolicy
from tests.backends.openbao import DevServer

ONCE = RetryPolicy(max_attempts=1, initial_backoff=0.0, max_backoff=0.0, deadline=60.0)
CANARY = "canary-" + uuid.uuid4().hex


def _store(url: str, bao: DevServer, **options: object) -> SecretStore:
    return open_store(url, token=bao.root_token, retry=ONCE, guard=GuardPolicy(threshold=0),
                      **options)


def _call(store: SecretStore, operation: str) -> None:
    if operation == "get":
        store.get("app/db")
    else:
        store.put("app/db", CANARY)


def _clean(message: str, bao: DevServer) -> None:
    assert bao.root_token not in message and CANARY not in message


@pytest.fixture(scope="module")
def admin(bao: DevServer) -> Iterator[hvac.Client]:
    client = hvac.Client(bao.address, token=bao.root_token)
    yield client
    client.adapter.close()


def test_https_to_the_plain_http_dev_server_says_tls_false(bao: DevServer) -> None:
    with _store(f"vault://127.0.0.1:{bao.port}", bao) as store, \
            pytest.raises(UnavailableError) as info:
        store.get("app/db")
    message = str(info.value)
    assert "the server speaks plain http" in message and "?tls=false" in message
    assert f"https://127.0.0.1:{bao.port}" in message  # the address tried
    _clean(message, bao)


def test_connection_refused_names_the_address_tried(bao: DevServer) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with _store(f"vault://127.0.0.1:{port}?tls=false", bao) as store, \
            pytest.raises(UnavailableError) as info:
        store.get("app/db")
    assert f"http://127.0.0.1:{port}" in str(info.value)
    assert "cannot connect to the Vault server at" in str(info.value)
    assert "is it running" in str(info.value)
    _clean(str(info.value), bao)


@pytest.mark.parametrize("operation", ["get", "put"])
def test_a_missing_mount_is_not_a_missing_secret(bao: DevServer, operation: str) -> None:
    with _store(f"vault://127.0.0.1:{bao.port}/nomount?tls=false", bao) as store, \
            pytest.raises(InvalidArgumentError) as info:
        _call(store, operation)
    message = str(info.value)
    assert "no secrets engine is mounted at 'nomount/'" in message
    assert "vault://host:port/MOUNT" in message
    _clean(message, bao)


@pytest.mark.parametrize("operation", ["get", "put"])
def test_a_missing_namespace_says_so(bao: DevServer, operation: str) -> None:
    url = f"vault://127.0.0.1:{bao.port}?tls=false&namespace=nosuchns"
    with _store(url, bao) as store, pytest.raises(InvalidArgumentError) as info:
        _call(store, operation)
    assert "namespace 'nosuchns' does not exist on the Vault server" in str(info.value)
    assert "check namespace=" in str(info.value)
    _clean(str(info.value), bao)


@pytest.fixture(scope="module")
def kv1_mount(admin: hvac.Client) -> str:
    mount = f"kv1{uuid.uuid4().hex[:6]}"
    admin.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    return mount


@pytest.mark.parametrize("operation", ["get", "put"])
def test_v2_settings_on_a_kv1_mount_say_kv_version_1(bao: DevServer, kv1_mount: str,
                                                      operation: str) -> None:
    with _store(f"vault://127.0.0.1:{bao.port}/{kv1_mount}?tls=false", bao) as store, \
            pytest.raises(InvalidArgumentError) as info:
        _call(store, operation)
    assert "is KV version 1" in str(info.value) and "?kv_version=1" in str(info.value)
    _clean(str(info.value), bao)


def test_v1_settings_on_a_kv2_mount_say_version_2(bao: DevServer) -> None:
    with _store(f"vault://127.0.0.1:{bao.port}?tls=false&kv_version=1", bao) as store, \
            pytest.raises(InvalidArgumentError) as info:
        store.get("app/db")
    assert "is KV version 2" in str(info.value) and "kv_version=1" in str(info.value)


def test_a_missing_secret_costs_at_most_one_extra_call_per_backend(bao: DevServer) -> None:
    # The mount check runs on the error path once, never on a hit.
    with _store(f"vault://127.0.0.1:{bao.port}?tls=false", bao, cache=None) as store:
        backend = store.backend
        requests_seen: list[str] = []
        session = backend._client.adapter.session  # type: ignore[attr-defined]
        session.hooks["response"].append(lambda r, **_: requests_seen.append(r.request.path_url))
        for _ in range(3):
            with pytest.raises(SecretNotFoundError) as info:
                store.get(f"missing-{uuid.uuid4().hex}")
            assert type(info.value) is SecretNotFoundError
        assert sum("sys/internal/ui/mounts" in p for p in requests_seen) == 1
        name = f"fc/{uuid.uuid4().hex}"
        store.put(name, CANARY)
        requests_seen.clear()
        assert store.get(name).value.reveal() == CANARY
        assert not any("sys/" in p for p in requests_seen)


def test_a_name_that_starts_with_the_mount_says_names_are_relative(bao: DevServer) -> None:
    with _store(f"vault://127.0.0.1:{bao.port}?tls=false", bao) as store:
        with pytest.raises(SecretNotFoundError) as info:
            store.get("secret/example")
        assert "names are relative to the mount 'secret'" in str(info.value)
        assert "did you mean 'example'" in str(info.value)
        with pytest.warns(UserWarning, match="names are relative to the mount 'secret'"):
            store.put(f"secret/fc-{uuid.uuid4().hex[:8]}", CANARY)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            store.put(f"fc/{uuid.uuid4().hex[:8]}", CANARY)  # no warning for other names


def test_openbao_scheme_is_an_alias_and_the_repr_shows_no_token(bao: DevServer) -> None:
    with _store(f"openbao://127.0.0.1:{bao.port}?tls=false", bao) as store:
        name = f"fc/{uuid.uuid4().hex[:8]}"
        store.put(name, CANARY)
        assert store.get(name).value.reveal() == CANARY
        shown = repr(store.backend) + repr(store)
        assert f"http://127.0.0.1:{bao.port}" in shown and "0x" not in shown
        _clean(shown, bao)


def test_a_server_that_never_answers_is_a_timeout_naming_the_address(bao: DevServer) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections (the kernel does), never answers
    port = listener.getsockname()[1]
    stop = threading.Event()
    try:
        with _store(f"vault://127.0.0.1:{port}?tls=false&timeout=0.5", bao) as store, \
                pytest.raises(UnavailableError) as info:
            store.get("app/db")
        assert f"http://127.0.0.1:{port}" in str(info.value)
        assert "did not answer in time" in str(info.value)
    finally:
        stop.set()
        listener.close()


@pytest.mark.parametrize(("url", "code", "fragment"), [
    ("vault://127.0.0.1:{port}", 6, "the server speaks plain http"),
    ("vault://127.0.0.1:{port}/nomount?tls=false", 7, "no secrets engine is mounted at"),
    ("vault://127.0.0.1:{port}?tls=false&namespace=nosuchns", 7, "does not exist on the Vault"),
    ("openbao://127.0.0.1:{port}?tls=false", 3, "secret not found"),
])
def test_the_cli_says_the_same(bao: DevServer, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str], url: str, code: int,
                               fragment: str) -> None:
    monkeypatch.setenv("VAULT_TOKEN", bao.root_token)
    assert main(["--url", url.format(port=bao.port), "get", "fc/never-written"]) == code
    err = capsys.readouterr().err
    assert fragment in err and "unexpected" not in err
    _clean(err, bao)
