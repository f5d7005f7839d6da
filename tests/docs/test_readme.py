"""README.md: the short tour runs as written and its comments hold; the URL table and
the import promise."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime
from typing import Any

import pytest

import helium_secrets
from helium_secrets import (
    CachePolicy,
    Secret,
    VersionInfo,
    open_store,
)
from helium_secrets.errors import (
    ConflictError,
    SecretNotFoundError,
)
from tests.docs.pages import ROOT, python_block


def test_readme_tour_runs_as_written() -> None:
    code = python_block((ROOT / "README.md").read_text(encoding="utf-8"), "## A short tour")
    namespace: dict[str, Any] = {"__name__": "readme_tour"}
    exec(compile(code, "README.md:tour", "exec"), namespace)  # noqa: S102
    store = namespace["store"]
    assert store.closed  # the `with` block closed it


def test_readme_tour_comments_hold() -> None:
    with open_store("mem://", cache=CachePolicy(ttl=60)) as store:
        s = store.put("app/db", "hunter2")
        assert isinstance(s, Secret)
        # ('app/db', '1', frozenset(), datetime...)
        assert (s.name, s.version, s.labels) == ("app/db", "1", frozenset())
        assert isinstance(s.created_at, datetime)
        # Secret(name='app/db', version='1', ..., value=SecretValue('**********'))
        shown = str(s)
        assert shown.startswith("Secret(name='app/db', version='1', ")
        assert shown.endswith("value=SecretValue('**********'))")
        assert s.value.reveal() == "hunter2"

        store.put("app/db", "correct-horse", expected_version=s.version)
        with pytest.raises(ConflictError):
            store.put("app/db", "lost-update", expected_version=s.version)

        assert store.get("app/db").value.reveal() == "correct-horse"
        old = store.get("app/db", version="1")
        assert (old.version, old.value.reveal()) == ("1", "hunter2")
        versions = store.versions("app/db")
        assert [type(v) for v in versions] == [VersionInfo, VersionInfo]
        assert [v.version for v in versions] == ["1", "2"]
        store.put("app/config", '{"db": {"port": 5432}}')
        assert store.get_json("app/config", "db.port") == 5432
        many = store.get_many(["app/db", "app/config"])
        assert sorted(many) == ["app/config", "app/db"]
        assert many["app/db"].value.reveal() == "correct-horse"
        assert list(store.list("app/")) == ["app/config", "app/db"]

        seen: list[tuple[Secret | None, Secret]] = []

        @store.on_rotation("app/db")
        def reconnect(old: Secret | None, new: Secret) -> None:
            seen.append((old, new))

        assert callable(reconnect)  # the decorator hands the function back
        store.put("app/db", "third")  # "called when a new version appears"
        assert [(o.version if o else None, n.version) for o, n in seen] == [("2", "3")]

        calls_before = store.stats().backend_calls
        assert store.refresh("app/db").version == "3"
        assert store.stats().backend_calls == calls_before + 1  # bypassed the cache
        stats = store.stats()
        for counter in ("hits", "misses", "backend_calls", "retries"):
            assert isinstance(stats[counter], int)
        store.delete("app/db")
        with pytest.raises(SecretNotFoundError):
            store.get("app/db")


def test_readme_url_table_schemes_are_registered() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    schemes = set(re.findall(r"^\| `(\w+)://", text, re.M))
    assert schemes == {"mem", "file", "env", "vault", "awssecretsmanager", "azurekeyvault",
                       "gcpsecretmanager", "awsssm", "dotenv", "layered"}
    assert schemes <= set(helium_secrets.registered_schemes())


def test_import_imports_no_sdk() -> None:
    code = (
        "import sys, helium_secrets, helium_secrets.cli, helium_secrets.testing\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'hvac', 'azure', 'google', 'grpc')]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"
