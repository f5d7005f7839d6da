"""docs/dynamic-secrets.md: the policy table matches LeasePolicy, and the page's set-up and
least-privilege policy really work on OpenBao with PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from fractions import Fraction

import pytest
import requests

from helium_secrets import LeasePolicy, open_store
from helium_secrets.layers.audit import AuditEvent
from tests.backends.openbao import DevServer
from tests.docs.pages import ROOT
from tests.integration.postgres import PostgresServer

PAGE = (ROOT / "docs" / "dynamic-secrets.md").read_text()


def _default(text: str) -> object:
    text = text.strip("`")
    if "/" in text:
        return float(Fraction(text))
    return json.loads({"None": "null", "True": "true", "False": "false"}.get(text, text))


def test_the_policy_table_lists_every_option_with_its_default() -> None:
    table = PAGE.split("## The timing rules", 1)[1].split("\n\n")[2]
    rows = {cells[1].strip(" `"): _default(cells[2].strip())
            for cells in (row.split("|") for row in table.splitlines()[2:])}
    fields = {f.name: f.default for f in dataclasses.fields(LeasePolicy)}
    assert rows == pytest.approx(fields)


def test_the_least_privilege_policy_is_enough_to_issue_renew_and_revoke(
    bao: DevServer, postgres: PostgresServer
) -> None:
    pytest.importorskip("psycopg")
    mount = f"db-{secrets.token_hex(4)}"
    hcl = re.search(r"```hcl\n(.*?)```", PAGE, re.S)
    assert hcl is not None
    bao.cli("secrets", "enable", f"-path={mount}", "database")
    try:
        bao.cli("write", f"{mount}/config/pg", "plugin_name=postgresql-database-plugin",
                "connection_url=postgresql://{{username}}:{{password}}@"
                f"{postgres.host}:{postgres.port}/postgres?sslmode=disable",
                f"username={postgres.admin_user}", f"password={postgres.admin_password}",
                "allowed_roles=app")
        bao.cli("write", f"{mount}/roles/app", "db_name=pg", "default_ttl=1h", "max_ttl=4h",
                "creation_statements=CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD "
                "'{{password}}' VALID UNTIL '{{expiration}}';")
        policy = hcl.group(1).replace("database/creds/app", f"{mount}/creds/app")
        response = bao.request("PUT", f"sys/policies/acl/app-{mount}",
                               json={"policy": policy})
        assert response.status_code in (200, 204)
        token = json.loads(bao.cli("token", "create", "-format=json",
                                   f"-policy=app-{mount}"))["auth"]["client_token"]
        url = f"vault://127.0.0.1:{bao.port}/secret?tls=false"
        events: list[AuditEvent] = []
        with open_store(url, token=token, audit=[events.append],
                        lease=LeasePolicy(increment=3600, background=False)) as store:
            handle = store.lease(f"{mount}/creds/app")
            lease_id = handle.current.lease_id
            assert handle.current.duration == 3600 and handle.current.renewable
            store._leases._renew(store._leases._held[handle.path])  # type: ignore[union-attr]
        assert [(e.operation, e.outcome) for e in events] == [
            ("lease_issue", "ok"), ("lease_renew", "ok"), ("lease_revoke", "ok")]
        # close() revoked it with the same rights: the lease is gone
        with pytest.raises(requests.HTTPError) as gone:
            bao.request("PUT", "sys/leases/lookup", json={"lease_id": lease_id})
        assert gone.value.response is not None and gone.value.response.status_code == 400  # "invalid lease"
    finally:
        bao.cli("secrets", "disable", mount)
