"""First contact (issue 13), on the backends with no server: scheme typos, missing extras,
named shared fakes and the fixture that points ``open_store()`` at one, the CLI's ``put`` of
``KEY=@FILE`` pairs, its ``--timeout``, and the demo saying what it created."""

from __future__ import annotations

import io
import json
import os
import socket
import sys
from pathlib import Path

import pytest

from helium_secrets import open_store, register_backend
from helium_secrets.backends.memory import reset_shared, shared
from helium_secrets.cli import main
from helium_secrets.testing import FakeSecrets, fake_default_store

CANARY = "canary-" + "9f3e1d-first-contact"


# -- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "meant"), [
    ("aws://us-east-1", "awssecretsmanager"),
    ("memory://", "mem"),
    ("azure://myvault", "azurekeyvault"),
    ("gcp://project", "gcpsecretmanager"),
    ("vualt://127.0.0.1", "vault"),
    ("environ://", "env"),
])
def test_a_scheme_typo_gets_a_suggestion(url: str, meant: str) -> None:
    with pytest.raises(ValueError, match=f"did you mean {meant}://") as info:
        open_store(url)
    assert "openbao://" in str(info.value)  # the alias is listed among the known schemes


def test_an_unknown_scheme_without_a_near_miss_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown store URL scheme 'zzz' \\(known: ") as info:
        open_store("zzz://")
    assert "did you mean" not in str(info.value)


def test_a_missing_extra_names_real_pypi_packages() -> None:
    register_backend("fctest-azure", "azure.no_such_module_fc:Backend", extra="azure",
                     replace=True)
    with pytest.raises(ImportError) as info:
        open_store("fctest-azure://")
    message = str(info.value)
    assert "azure-keyvault-secrets and azure-identity" in message
    assert "pip install 'helium-secrets[azure]'" in message


def test_an_empty_key_file_is_refused(tmp_path: Path) -> None:
    for url in (f"file://{tmp_path}/s?key_file", f"file://{tmp_path}/s?key_file=%20"):
        with pytest.raises(ValueError, match="key_file must be a file's path \\(it is empty\\)"):
            open_store(url)


# -- named fakes -----------------------------------------------------------------------------


def test_named_fakes_are_shared_by_name_and_isolated_between_names() -> None:
    reset_shared()
    with open_store("mem://fc-a") as one, open_store("mem://fc-a") as two, \
            open_store("mem://fc-b") as other, open_store("mem://") as private:
        one.put("app/db", CANARY)
        assert two.get("app/db").value.reveal() == CANARY
        assert list(other.list()) == [] and list(private.list()) == []
        assert one.backend is two.backend is shared("fc-a")
        assert repr(one.backend) == "<MemoryBackend mem://fc-a secrets=1>"
        assert repr(private.backend) == "<MemoryBackend mem:// secrets=0>"
        reset_shared("fc-a")
        two.clear_cache()
        assert list(two.list()) == []
    with pytest.raises(ValueError, match="takes no options"):
        open_store("mem://fc-a?max_value_bytes=3")
    with pytest.raises(ValueError, match="1-64 letters"):
        shared("no/slash")


def _app_reads_its_own_store() -> str:
    """An application that opens its store itself."""
    with open_store() as store:
        return store.get("app/db").value.reveal()


def test_fake_default_store_points_open_store_at_a_seeded_fake(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIUM_SECRETS_URL", "file:///nowhere")
    with fake_default_store({"app/db": "hunter2"}) as fake:
        assert isinstance(fake, FakeSecrets) and fake.url == "mem://helium-test"
        assert _app_reads_its_own_store() == "hunter2"
        fake.rotate("app/db", "correct-horse")
        assert _app_reads_its_own_store() == "correct-horse"
    assert os.environ["HELIUM_SECRETS_URL"] == "file:///nowhere"
    assert list(shared("helium-test").list_names()) == []  # emptied for the next test


def test_the_fixture(fake_default_store: FakeSecrets) -> None:
    fake_default_store.seed({"app/db": "from-the-fixture"})
    assert _app_reads_its_own_store() == "from-the-fixture"


# -- the CLI ---------------------------------------------------------------------------------


class _Stdin(io.TextIOWrapper):
    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")

    def isatty(self) -> bool:
        return False


def _run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str,
         stdin: bytes = b"") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", _Stdin(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_put_key_file_pairs_write_a_json_object(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reset_shared("fc-cli")
    (tmp_path / "key").write_text(CANARY + "\n")
    code, _, err = _run(monkeypatch, capsys, "--url", "mem://fc-cli", "put", "app/api",
                        f"api-key=@{tmp_path / 'key'}", "user=-", stdin=b"svc\n")
    assert code == 0, err
    assert shared("fc-cli").get("app/api").value == json.dumps(
        {"api-key": CANARY, "user": "svc"}, separators=(",", ":"))
    code, out, _ = _run(monkeypatch, capsys, "--url", "mem://fc-cli", "get", "app/api",
                        "--field", "api-key")
    assert out == CANARY + "\n"


def test_put_takes_a_literal_value_in_a_pair_as_bao_does_and_warns_without_echoing_it(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(monkeypatch, capsys, "--url", "mem://fc-cli-literal", "put",
                          "app/api", f"api-key={CANARY}", "user=svc")
    assert code == 0
    assert "warning" in err and "'api-key'" in err and "api-key=@FILE" in err
    assert "'user'" in err and CANARY not in err and CANARY not in out
    assert shared("fc-cli-literal").get("app/api").value == json.dumps(
        {"api-key": CANARY, "user": "svc"}, separators=(",", ":"))


def test_cli_timeout_bounds_a_vault_that_never_answers(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("hvac")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # the kernel accepts; nobody ever answers
    port = listener.getsockname()[1]
    monkeypatch.setenv("VAULT_TOKEN", "t")
    try:
        code, _, err = _run(monkeypatch, capsys, "--url", f"vault://127.0.0.1:{port}?tls=false",
                            "--timeout", "1", "get", "app/db")
    finally:
        listener.close()
    assert code == 6
    assert f"http://127.0.0.1:{port}" in err and "did not answer in time" in err


def test_cli_default_timeout_is_shorter_than_the_librarys() -> None:
    from helium_secrets.cli._main import DEFAULT_TIMEOUT, _timeout_options
    from helium_secrets.layers.retry import RetryPolicy

    library = RetryPolicy().deadline
    assert library is not None and library > DEFAULT_TIMEOUT
    vault = _timeout_options("vault://h:8200", DEFAULT_TIMEOUT)
    assert vault["retry"].deadline == DEFAULT_TIMEOUT and max(vault["timeout"]) <= DEFAULT_TIMEOUT
    assert "timeout" not in _timeout_options("vault://h:8200?timeout=60", DEFAULT_TIMEOUT)
    assert set(_timeout_options("mem://", 3.0)) == {"retry"}


def test_the_demo_says_it_created_a_store_and_its_key(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HELIUM_SECRETS_KEY", raising=False)
    url = f"file://{tmp_path}/store"
    code, out, err = _run(monkeypatch, capsys, "--url", url, "demo")
    assert code == 0, err
    assert f"created a new local encrypted store in {tmp_path}/store" in out
    assert f"created its key in {tmp_path}/store/" in out and "back it up" in out
    code, out, _ = _run(monkeypatch, capsys, "--url", url, "demo")
    assert "created a new" not in out and "created its key" not in out  # nothing is new
    assert f"its key in {tmp_path}/store/" in out


def test_every_network_backend_takes_the_same_timeout_option(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("boto3")
    pytest.importorskip("azure.keyvault.secrets")
    from helium_secrets.backends.awssecretsmanager.options import (
        AWSSecretsManagerOptions,
        client_for,
    )
    from helium_secrets.backends.azurekeyvault.options import AzureKeyVaultOptions, build_client
    from helium_secrets.cli._main import _timeout_options

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = client_for(AWSSecretsManagerOptions(region="eu-west-1", timeout=(2.0, 7.0)))
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (2.0, 7.0)
    from helium_secrets._options import parse

    assert parse(AWSSecretsManagerOptions, query={"timeout": "3"}).timeout == 3.0
    assert parse(AzureKeyVaultOptions, query={"timeout": "5,60"}).timeout == (5.0, 60.0)
    with pytest.raises(ValueError, match="timeout"):
        client_for(AWSSecretsManagerOptions(client=client, timeout=1.0))
    with pytest.raises(ValueError, match="positive seconds"):
        AWSSecretsManagerOptions(region="eu-west-1", timeout=(1.0, 0.0))
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential("tenant", "client", "not-a-real-secret")
    with pytest.warns(DeprecationWarning, match="timeout=\\(connect, read\\)"):
        azure, _ = build_client(AzureKeyVaultOptions(vault_url="https://myvault.vault.azure.net",
                                                     credential=credential, read_timeout=5.0))
    azure.close()
    # The CLI's short deadline reaches every network backend, SSM included.
    for url in ("awsssm://eu-west-1", "awssecretsmanager://eu-west-1",
                "azurekeyvault://myvault", "vault://127.0.0.1:8200?tls=false"):
        assert _timeout_options(url, 10.0)["timeout"] == (5.0, 5.0), url
    assert _timeout_options("gcpsecretmanager://p", 10.0)["timeout"] == 5.0
