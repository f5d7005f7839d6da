"""The exposure audit on real backends: a Vault store's values planted in files are found by
``scan``; ``access`` reads who can read a secret from OpenBao's policies (and agrees with
OpenBao's own ``sys/capabilities``), moto's resource policies and the Secret Manager emulator's
IAM policies; Azure says "unknown"."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helium_secrets import SecretStore, open_store
from helium_secrets.cli import main
from tests.backends.motoserver import MotoServer
from tests.backends.test_cli_backends import _Borrowed

CANARY = "canary-exposure-backends-4c1e-never-print-me"


@pytest.fixture
def prefix() -> str:
    return f"exp/t{uuid.uuid4().hex[:12]}"


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert CANARY not in out + err
    return code, out


@pytest.fixture
def vault_url(bao: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VAULT_TOKEN", bao.root_token)
    return f"vault://127.0.0.1:{bao.port}/secret?tls=false"


def test_scan_finds_a_vault_stores_values(vault_url: str, prefix: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    old, current, api = (f"{tag}-{uuid.uuid4().hex}" for tag in ("old", "current", "api"))
    with open_store(vault_url) as store:
        store.put(f"{prefix}/db", old)
        store.put(f"{prefix}/db", current)
        store.put_json(f"{prefix}/api", {"key": api, "user": "u"})
    (tmp_path / "a.env").write_text(f"DB={current}\nOLD={old}\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text(base64.b64encode(api.encode()).decode() + "\n")
    code, out = call(capsys, "scan", vault_url, str(tmp_path), "--prefix", prefix,
                     "--versions", "all", "--json", "--fail-on-find")
    assert code == 9
    assert not {old, current, api} & set(out.split('"'))
    got = {(Path(f["source"]).name, f["line"], f["name"], f["version"], f["field"],
            f["current"]) for f in json.loads(out)["findings"]}
    assert got == {("a.env", 1, f"{prefix}/db", "2", None, True),
                   ("a.env", 2, f"{prefix}/db", "1", None, False),
                   ("b.txt", 1, f"{prefix}/api", "1", "key", True)}


_POLICIES = {
    "app-read": 'path "secret/data/{p}/*" {{\n  capabilities = ["read", "list"]\n}}',
    "app-deny": 'path "secret/data/{p}/db" {{ capabilities = ["deny"] }}',
    "one-segment": '# a comment\npath "secret/data/{p}/+" {{ capabilities = ["read"] }}',
    "narrower": ('path "secret/data/{p}/*" {{ capabilities = ["read"] }}\n'
                 'path "secret/data/{p}/db" {{ capabilities = ["list"] }}'),
    "writer": ('path "secret/data/{p}/*" {{\n  capabilities = ["create", "update"]\n'
               '  allowed_parameters = {{ "*" = [] }}\n}}'),
    "json-form": '{{"path": {{"secret/data/{p}/db": {{"capabilities": ["read"]}}}}}}',
    "elsewhere": 'path "secret/data/elsewhere/*" {{ capabilities = ["read"] }}',
}


def test_vault_access_is_the_policies_that_grant_read(
        vault_url: str, bao: Any, prefix: str, capsys: pytest.CaptureFixture[str]) -> None:
    names = {f"{prefix}-{key}": rules.format(p=prefix) for key, rules in _POLICIES.items()}
    for policy, rules in names.items():
        bao.request("PUT", f"sys/policy/{policy}", json={"policy": rules})
    secret = f"{prefix}/db"
    code, out = call(capsys, "access", "--url", vault_url, secret, "--json")
    assert code == 0
    [document] = json.loads(out)["secrets"]
    ours = {g["principal"].removeprefix("policy:"): g["effect"] for g in document["grants"]
            if g["principal"].removeprefix("policy:").startswith(prefix)}
    assert ours == {f"{prefix}-app-read": "allow", f"{prefix}-app-deny": "deny",
                    f"{prefix}-one-segment": "allow", f"{prefix}-json-form": "allow"}
    assert {"principal": "policy:root", "actions": ["root"], "effect": "allow",
            "source": "policy root: every path", "conditional": False} in document["grants"]
    assert document["read_from"] == "sys/policy" and document["known"]
    # OpenBao's own evaluation agrees, policy by policy.
    for policy in names:
        token = bao.request("POST", "auth/token/create",
                            json={"policies": [policy], "no_default_policy": True}).json()
        capabilities = bao.request("POST", "sys/capabilities", json={
            "token": token["auth"]["client_token"], "paths": [f"secret/data/{secret}"]}).json()
        assert ("read" in capabilities["capabilities"]) == (ours.get(policy) == "allow"), policy
    code, out = call(capsys, "access", "--url", vault_url, secret)
    assert f"policy:{prefix}-app-read" in out and "not shown: which tokens" in out
    code, out = call(capsys, "audit", vault_url, "--prefix", prefix, "--access")
    assert code == 0  # nothing stored under the prefix yet: an empty audit
    with open_store(vault_url) as store:
        store.put(secret, CANARY)
    code, out = call(capsys, "audit", vault_url, "--prefix", prefix, "--access", "--json")
    [audited] = json.loads(out)["secrets"]
    assert f"policy:{prefix}-app-read" in audited["access"]["readers"]
    assert f"policy:{prefix}-app-deny" not in audited["access"]["readers"]


@pytest.fixture
def aws_url(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(variable, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    moto.allow_all()
    yield f"awssecretsmanager://us-east-1?endpoint_url={moto.endpoint_url}"
    moto.allow_all()


def test_aws_access_is_the_resource_policy(aws_url: str, moto: MotoServer, prefix: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    name = f"{prefix}/db"
    with open_store(aws_url) as store:
        store.put(name, CANARY)
        store.put(f"{prefix}/open", CANARY)
    client = boto3.client("secretsmanager", region_name="us-east-1",
                          endpoint_url=moto.endpoint_url)
    app, ci = "arn:aws:iam::123456789012:role/app", "arn:aws:iam::123456789012:role/ci"
    client.put_resource_policy(SecretId=name, ResourcePolicy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AppReads", "Effect": "Allow", "Principal": {"AWS": [app, ci]},
             "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
            {"Sid": "CiOnlyFromVpc", "Effect": "Deny", "Principal": {"AWS": ci},
             "Action": "secretsmanager:*", "Resource": "*",
             "Condition": {"StringNotEquals": {"aws:SourceVpc": "vpc-1"}}},
            {"Sid": "Describe", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
             "Action": "secretsmanager:DescribeSecret", "Resource": "*"},
        ]}))
    code, out = call(capsys, "access", "--url", aws_url, name, f"{prefix}/open", "--json")
    assert code == 0
    first, second = json.loads(out)["secrets"]
    assert [(g["principal"], g["effect"], g["conditional"], g["source"])
            for g in first["grants"]] == [
        (app, "allow", False, "resource policy, statement AppReads"),
        (ci, "allow", False, "resource policy, statement AppReads"),
        (ci, "deny", True, "resource policy, statement CiOnlyFromVpc")]
    assert first["readers"] == [app]
    assert (first["read_from"], first["complete"]) == ("GetResourcePolicy", False)
    assert "identity policies" in first["not_shown"]
    assert (second["known"], second["grants"]) == (True, [])
    code, out = call(capsys, "access", "--url", aws_url, f"{prefix}/missing")
    assert code == 3


@pytest.fixture(scope="module")
def secretmanager() -> Iterator[Any]:
    pytest.importorskip("google.cloud.secretmanager")
    from tests.emulators.secretmanager import SecretManagerEmulator

    with SecretManagerEmulator() as server:
        yield server


def test_gcp_access_is_the_secrets_iam_policy(secretmanager: Any, prefix: str,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import helium_secrets.cli._main as cli_main
    from helium_secrets.backends.gcpsecretmanager.names import encode_name
    from tests.backends.test_gcp import PROJECT, make_backend

    name = f"{prefix}/db"
    with SecretStore(make_backend(secretmanager), cache=None) as store:
        store.put(name, CANARY)
        resource = f"projects/{PROJECT}/secrets/{encode_name(name)}"
        secretmanager.client().set_iam_policy(request={"resource": resource, "policy": {
            "bindings": [
                {"role": "roles/secretmanager.secretAccessor",
                 "members": ["serviceAccount:app@p.iam.gserviceaccount.com"]},
                {"role": "roles/secretmanager.viewer", "members": ["user:audit@example.com"]},
                {"role": f"projects/{PROJECT}/roles/custom", "members": ["group:ops@example.com"]},
            ]}})
        monkeypatch.setattr(cli_main, "open_store", lambda url, **options: _Borrowed(store))
        code, out = call(capsys, "access", name, "--json")
        assert code == 0
        [document] = json.loads(out)["secrets"]
        assert [(g["principal"], g["conditional"]) for g in document["grants"]] == [
            ("serviceAccount:app@p.iam.gserviceaccount.com", False),
            ("group:ops@example.com", True)]
        assert (document["read_from"], document["complete"]) == ("GetIamPolicy", False)
        assert store.extras.access(f"{prefix}/db").readers == (
            "serviceAccount:app@p.iam.gserviceaccount.com", "group:ops@example.com")


def test_azure_access_is_unknown_and_says_why(monkeypatch: pytest.MonkeyPatch, prefix: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("azure.keyvault.secrets")
    import helium_secrets.cli._main as cli_main
    from tests.backends.test_azure import make_backend
    from tests.emulators.keyvault import KeyVaultEmulator

    with KeyVaultEmulator() as server, SecretStore(make_backend(server), cache=None) as store:
        monkeypatch.setattr(cli_main, "open_store", lambda url, **options: _Borrowed(store))
        code, out = call(capsys, "access", f"{prefix}/db")
        assert code == 0
        assert out == (f"{prefix}/db: unknown: Key Vault's access policies and Azure RBAC role "
                       "assignments are kept by Azure Resource Manager, not by the vault's "
                       "data-plane API the store talks to\n")
