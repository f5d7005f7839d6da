"""The transport rules on every backend (docs/concepts.md#transport-tls-and-redirects), through the real SDKs.

* Plain http (or plaintext gRPC) only to loopback, however it is configured, refused with a
  ``ValueError`` before any connection: the off-box addresses below (``10.1.2.3``) are never
  dialled, which the test session's net guard (``tests/netguard.py``) would report.
* ``allow_insecure_http=True`` is the one opt-in, the same on every backend that can speak
  plaintext.
* A redirect to another origin is refused before anything is sent there: the listener it
  points at (:class:`~tests.backends.faultproxy.Sink`) must accept no connection at all. A
  redirect within the origin (a Vault HA standby pointing at its active node behind the same
  address) is followed.
"""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helium_secrets import GuardPolicy, RetryPolicy, SecretStore, open_store
from helium_secrets.backends._transport import (
    check_plaintext,
    check_redirect,
    is_loopback,
    origin,
)
from helium_secrets.errors import HeliumError, UnavailableError
from helium_secrets.testing.conformance import CANARY
from tests.backends.faultproxy import FaultProxy, Sink

OFF_BOX = "10.1.2.3"
ONE_TRY = RetryPolicy(max_attempts=1)
NO_GUARD = GuardPolicy(threshold=0)


def store_of(backend: Any) -> SecretStore:
    return SecretStore(backend, retry=ONE_TRY, guard=NO_GUARD)


def name() -> str:
    return f"transport/t{uuid.uuid4().hex[:12]}"


def assert_refused_redirect(exc: pytest.ExceptionInfo[HeliumError], sink: Sink,
                            *secrets: str) -> None:
    """The redirect was refused with a message naming the target, and nothing reached it."""
    assert isinstance(exc.value, UnavailableError)
    assert exc.value.transient is False
    assert "another origin" in str(exc.value)
    assert sink.url.split("://", 1)[1] in str(exc.value)
    for secret in (CANARY, *secrets):
        assert secret not in str(exc.value)
        assert secret not in repr(exc.value)
    assert (sink.connections, sink.received) == (0, 0)


# -- the shared rules --------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LocalHost", True), ("::ffff:127.0.0.1", True),
    ("10.1.2.3", False), ("0.0.0.0", False), ("::", False), ("::ffff:10.1.2.3", False),
    ("localhost.example.com", False), ("127.0.0.1.nip.io", False), ("", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_origin_is_scheme_host_and_port_without_credentials() -> None:
    assert origin("https://user:pw@Vault.Example/v1/x?y=1") == "https://vault.example:443"
    assert origin("http://[::1]:8200/") == "http://[::1]:8200"
    assert origin("http://h:notaport/") == "http://h"


def test_check_plaintext() -> None:
    for fine in ("https://10.1.2.3", "http://127.0.0.1:8200", "http://[::1]:1",
                 "http://localhost"):
        check_plaintext(fine, service="x", allowed=False)
    check_plaintext("http://10.1.2.3", service="x", allowed=True)
    with pytest.raises(ValueError, match=r"http://10\.1\.2\.3:80, which is not a loopback.*"
                                         r"allow_insecure_http=True") as exc:
        check_plaintext("http://user:hunter2@10.1.2.3/", service="x", allowed=False)
    assert "hunter2" not in str(exc.value)


def test_check_redirect() -> None:
    check_redirect("https://v.example:8200/v1/a", "/v1/b")  # relative: same origin
    check_redirect("https://v.example/v1/a", "https://V.EXAMPLE:443/v1/b")
    for target in ("https://v.example:8201/v1/a",  # another port
                   "http://v.example/v1/a",  # a downgrade
                   "https://other.example/v1/a", "//other.example/v1/a"):
        with pytest.raises(UnavailableError, match="another origin"):
            check_redirect("https://v.example/v1/a", target)
    with pytest.raises(UnavailableError) as exc:
        check_redirect("https://v.example/", "https://user:hunter2@other.example/?token=t0k")
    assert "hunter2" not in str(exc.value) and "t0k" not in str(exc.value)


# -- Vault -----------------------------------------------------------------------------------


@pytest.fixture
def vault_proxy(bao: Any) -> Iterator[FaultProxy]:
    with FaultProxy(bao.port) as proxy:
        yield proxy


def _vault_backend(address: str, token: str, ready_client: bool) -> Any:
    import hvac

    from helium_secrets.backends.hashivault import VaultBackend

    if ready_client:
        return VaultBackend(client=hvac.Client(url=address), token=token)
    return VaultBackend(address, token=token)


@pytest.mark.parametrize("ready_client", [False, True], ids=["built", "ready-client"])
def test_vault_redirect_to_another_origin_is_refused(bao: Any, vault_proxy: FaultProxy,
                                                     ready_client: bool) -> None:
    # Before the fix, requests followed the 307 with X-Vault-Token and the body (the value).
    with Sink() as sink, store_of(_vault_backend(vault_proxy.url, bao.root_token,
                                                 ready_client)) as store:
        vault_proxy.fail_next(kind="redirect", location=sink.url, path="/v1/secret/data/.+")
        with pytest.raises(HeliumError) as exc:
            store.put(name(), CANARY)
        assert_refused_redirect(exc, sink, bao.root_token)


def test_vault_redirect_within_the_origin_is_followed(bao: Any, vault_proxy: FaultProxy) -> None:
    # A standby answering 307 to the active node behind the same address.
    with store_of(_vault_backend(vault_proxy.url, bao.root_token, False)) as store:
        secret = name()
        vault_proxy.fail_next(kind="redirect", location=vault_proxy.url,
                              path="/v1/secret/data/.+")
        store.put(secret, "v1")
        assert vault_proxy.pending() == 0
        assert store.refresh(secret).value.reveal() == "v1"
    paths = [path for _, path in vault_proxy.requests if path == f"/v1/secret/data/{secret}"]
    assert len(paths) >= 2  # the redirected request, then the one it was sent on to


def test_vault_plain_http_off_box(monkeypatch: pytest.MonkeyPatch) -> None:
    import hvac

    from helium_secrets.backends.hashivault import VaultBackend

    for var in ("VAULT_ADDR", "BAO_ADDR"):
        monkeypatch.delenv(var, raising=False)
    address = f"http://{OFF_BOX}:8200"
    with pytest.raises(ValueError, match="allow_insecure_http"):
        VaultBackend(address, token="t")
    with pytest.raises(ValueError, match="allow_insecure_http"):  # a ready client's address
        VaultBackend(client=hvac.Client(url=address), token="t")
    monkeypatch.setenv("VAULT_ADDR", address)
    with pytest.raises(ValueError, match="allow_insecure_http"):
        VaultBackend(token="t")
    with pytest.raises(ValueError, match="allow_insecure_http"):
        open_store("vault://?allow_insecure_http=false", token="t")
    assert VaultBackend(token="t", allow_insecure_http=True).address == address
    assert VaultBackend(client=hvac.Client(url=address), token="t",
                        allow_insecure_http=True).address == address


# -- AWS -------------------------------------------------------------------------------------


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No endpoint from the machine's environment or config; dummy credentials."""
    pytest.importorskip("boto3")
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_PROFILE",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # botocore resolves credentials when it builds a client; never from the instance metadata.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def _aws(**options: Any) -> Any:
    from helium_secrets.backends.awssecretsmanager import AWSSecretsManagerBackend

    options.setdefault("region", "eu-west-1")
    return AWSSecretsManagerBackend(**options)


def test_aws_endpoint_url_off_box(aws_env: pytest.MonkeyPatch) -> None:
    endpoint = f"http://{OFF_BOX}:4566"
    with pytest.raises(ValueError, match=rf"{OFF_BOX}:4566.*allow_insecure_http=True"):
        _aws(endpoint_url=endpoint)
    with pytest.raises(ValueError, match="allow_insecure_http"):
        open_store(f"awssecretsmanager://eu-west-1?endpoint_url={endpoint}")
    backend = _aws(endpoint_url=endpoint, allow_insecure_http=True)  # the opt-in
    assert backend.client.meta.endpoint_url == endpoint
    backend.close()
    for fine in ("http://127.0.0.1:4566", f"https://{OFF_BOX}:4566"):
        _aws(endpoint_url=fine).close()


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"])
def test_aws_endpoint_from_the_environment_off_box(aws_env: pytest.MonkeyPatch,
                                                   variable: str) -> None:
    aws_env.setenv(variable, f"http://{OFF_BOX}:4566")
    with pytest.raises(ValueError, match="AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        _aws()
    with pytest.raises(ValueError, match="allow_insecure_http"):
        open_store("awssecretsmanager://eu-west-1")
    assert _aws(allow_insecure_http=True).client.meta.endpoint_url == f"http://{OFF_BOX}:4566"


def test_aws_endpoint_from_the_config_file_off_box(aws_env: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    (tmp_path / "config").write_text(
        f"[profile lab]\nregion = eu-west-1\nendpoint_url = http://{OFF_BOX}:4566\n"
        "aws_access_key_id = testing\naws_secret_access_key = testing\n")
    with pytest.raises(ValueError, match="profile's endpoint_url"):
        _aws(profile="lab")


def test_aws_endpoint_url_is_refused_before_credentials_are_looked_up(
        aws_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Building a client runs the credential chain, down to the instance metadata service
    # (169.254.169.254) here: an explicit endpoint_url is refused before that, which the net
    # guard would report.
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"):
        aws_env.delenv(var, raising=False)
    (tmp_path / "config").write_text("[profile bare]\nregion = eu-west-1\n")
    with pytest.raises(ValueError, match="allow_insecure_http"):
        _aws(profile="bare", endpoint_url=f"http://{OFF_BOX}:4566")


def test_aws_ready_client_off_box(aws_env: pytest.MonkeyPatch) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client("secretsmanager", region_name="eu-west-1",
                          endpoint_url=f"http://{OFF_BOX}:4566",
                          config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(ValueError, match="allow_insecure_http"):
        _aws(client=client, region=None)
    assert _aws(client=client, region=None, allow_insecure_http=True).client is client


def test_aws_redirect_is_not_followed(moto: Any) -> None:
    # botocore follows no redirect for Secrets Manager: the 307 is an error, the sink unvisited.
    from helium_secrets.backends.awssecretsmanager import AWSSecretsManagerBackend

    with FaultProxy(moto.moto_port) as proxy, Sink() as sink:
        backend = AWSSecretsManagerBackend(session=moto.session(), endpoint_url=proxy.url)
        with store_of(backend) as store:
            proxy.fail_next(kind="redirect", location=sink.url)
            with pytest.raises(HeliumError) as exc:
                store.put(name(), CANARY)
            assert CANARY not in str(exc.value)
            assert proxy.pending() == 0
    assert (sink.connections, sink.received) == (0, 0)


# -- GCP -------------------------------------------------------------------------------------


def _anonymous() -> Any:
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials()  # type: ignore[no-untyped-call]


def _gcp(**options: Any) -> Any:
    pytest.importorskip("google.cloud.secretmanager")
    from helium_secrets.backends.gcpsecretmanager import GCPSecretManagerBackend

    options.setdefault("credentials", _anonymous())
    return GCPSecretManagerBackend("test-project", **options)


def test_gcp_rest_over_http_off_box() -> None:
    from google.api_core.client_options import ClientOptions
    from google.cloud.secretmanager_v1 import SecretManagerServiceClient

    endpoint = f"http://{OFF_BOX}:8080"
    with pytest.raises(ValueError, match=rf"{OFF_BOX}:8080.*allow_insecure_http=True"):
        _gcp(transport="rest", endpoint=endpoint)
    with pytest.raises(ValueError, match="allow_insecure_http"):
        _gcp(transport="rest", client_options={"api_endpoint": endpoint})
    with pytest.raises(ValueError, match="allow_insecure_http"):
        open_store(f"gcpsecretmanager://test-project?endpoint={endpoint}",
                   transport="rest", credentials=_anonymous())
    ready = SecretManagerServiceClient(transport="rest", credentials=_anonymous(),
                                       client_options=ClientOptions(api_endpoint=endpoint))
    with pytest.raises(ValueError, match="allow_insecure_http"):
        _gcp(client=ready)
    _gcp(client=ready, allow_insecure_http=True)
    transport: Any = ready.transport
    transport.close()
    _gcp(transport="rest", endpoint=endpoint, allow_insecure_http=True).close()
    for fine in ("http://127.0.0.1:8080", f"{OFF_BOX}:8080", f"https://{OFF_BOX}"):
        _gcp(transport="rest", endpoint=fine).close()


def test_gcp_insecure_grpc_off_box() -> None:
    with pytest.raises(ValueError, match=r"plaintext gRPC.*loopback.*allow_insecure_http"):
        _gcp(endpoint=f"{OFF_BOX}:8080", insecure=True)
    # The opt-in builds the channel; gRPC channels connect lazily, and no call is made.
    _gcp(endpoint=f"{OFF_BOX}:8080", insecure=True, allow_insecure_http=True).close()


def test_gcp_rest_connection_failure_is_unavailable() -> None:
    with Sink() as sink:  # a port that is surely closed once the sink is gone
        closed = sink.url
    with store_of(_gcp(transport="rest", endpoint=closed)) as store, \
            pytest.raises(UnavailableError):  # it was UnknownError
        store.get(name())


def test_gcp_rest_redirect_to_another_origin_is_refused() -> None:
    from google.oauth2.credentials import Credentials

    token = "gcp-token-canary-5d1e"
    with FaultProxy(1) as proxy, Sink() as sink:  # every request is redirected: no upstream
        proxy.fail_next(count=10, kind="redirect", location=sink.url)
        credentials = Credentials(token)  # type: ignore[no-untyped-call]
        backend = _gcp(transport="rest", endpoint=proxy.url, credentials=credentials)
        with store_of(backend) as store, pytest.raises(HeliumError) as exc:
            store.put(name(), CANARY)
        assert_refused_redirect(exc, sink, token)


# -- Azure -----------------------------------------------------------------------------------


class _Token:
    """A ``TokenCredential`` with one fixed token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        import time

        from azure.core.credentials import AccessToken

        return AccessToken(self.token, int(time.time()) + 3600)


def _azure(vault_url: str | None = None, **options: Any) -> Any:
    pytest.importorskip("azure.keyvault.secrets")
    from helium_secrets.backends.azurekeyvault import AzureKeyVaultBackend

    options.setdefault("credential", _Token("t"))
    return AzureKeyVaultBackend(vault_url, **options)


def test_azure_vault_url_is_https_only() -> None:
    from azure.keyvault.secrets import SecretClient

    for url in (f"http://{OFF_BOX}", "http://127.0.0.1:8443"):  # azure-core sends no bearer
        with pytest.raises(ValueError, match="must be https"):  # token over http at all
            _azure(url)
        with pytest.raises(ValueError, match="must be https"):
            _azure(client=SecretClient(url, _Token("t")))
    for key in ("redirect_policy", "permit_redirects"):
        with pytest.raises(ValueError, match="redirects stay within"):
            _azure(f"https://{OFF_BOX}", client_options={key: False})


@pytest.mark.parametrize("scheme", ["https", "http"], ids=["other-port", "downgrade"])
def test_azure_redirect_to_another_origin_is_refused(tmp_path: Path, scheme: str) -> None:
    from tests.emulators.keyvault import make_tls

    ca, cert, key = make_tls(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    token = "azure-token-canary-9b2c"
    with FaultProxy(1, tls=context) as proxy, Sink(scheme) as sink:
        proxy.fail_next(count=10, kind="redirect", location=sink.url)
        backend = _azure(proxy.url, credential=_Token(token), connection_verify=str(ca),
                         verify_challenge_resource=False)
        with store_of(backend) as store, pytest.raises(HeliumError) as exc:
            store.put("transport-azure", CANARY)
        assert_refused_redirect(exc, sink, token)
