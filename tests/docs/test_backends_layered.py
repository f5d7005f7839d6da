"""docs/backends/layered.md: its three forms run (with mem:// and a .env file standing in for
the services), and what it says of errors and options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helium_secrets import open_store
from helium_secrets.errors import SecretNotFoundError
from helium_secrets.layered import LayeredBackend
from tests.docs.pages import ROOT, python_block

PAGE = (ROOT / "docs" / "backends" / "layered.md").read_text(encoding="utf-8")


def test_the_forms_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("APP_DB", "from-env")
    (tmp_path / ".env").write_text("DB=from-dotenv\n")
    code = python_block(PAGE, "# Layered stores")
    for service in ("vault://vault:8200/secret", "awsssm://eu-west-1/myapp", "file:///srv/secrets"):
        assert service in code
        code = code.replace(service, "mem://")
    namespace: dict[str, Any] = {}
    stores = []
    for statement in code.split("\n\n"):
        exec(compile(statement, "layered.md", "exec"), namespace)  # noqa: S102
        if "store" in namespace and namespace["store"] not in stores:
            stores.append(namespace["store"])
    assert len(stores) == 3
    for store in stores:
        assert isinstance(store.backend, LayeredBackend)
        assert store.backend.options.write == 1
        store.put("db", "written")  # lands in layer 1
        assert store.backend.layers[1].get("db").value.reveal() == "written"
    assert stores[0].get("db").value.reveal() == "from-env"
    assert stores[1].get("db").value.reveal() == "from-dotenv"
    with pytest.raises(SecretNotFoundError, match=r"no layer has it \(2 layers\)"):
        stores[2].get("nowhere")
    for store in stores:
        store.close()
        assert all(layer.closed for layer in store.backend.layers)


def test_urls_inside_the_url_are_percent_encoded() -> None:
    with open_store("layered://?layer=env://%3Fprefix%3DAPP_") as store:
        backend = store.backend
        assert isinstance(backend, LayeredBackend)
        assert backend.layers[0].backend.options.prefix == "APP_"  # type: ignore[attr-defined]
        assert backend.layers[0].cache_policy is None
