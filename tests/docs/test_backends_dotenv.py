"""docs/backends/dotenv.md: its examples run as written, and what it says a file holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helium_secrets import open_store
from helium_secrets.errors import ReadOnlyError
from tests.docs.pages import ROOT, python_block

PAGE = (ROOT / "docs" / "backends" / "dotenv.md").read_text(encoding="utf-8")


def test_the_url_forms_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DB_PASSWORD=hunter2\n")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "app.env").write_text("export APP_DB_PASSWORD='from config'\n")
    namespace: dict[str, Any] = {"open_store": open_store}
    code = python_block(PAGE, "# `.env` files")
    stores = []
    for line in code.strip().splitlines():  # one store per line, each checked
        exec(compile(line, "dotenv.md", "exec"), namespace)  # noqa: S102
        stores.append(namespace["store"])
    assert [s.backend.options.path for s in stores] == [
        ".env", "config/app.env", "/etc/myapp/.env", "/run/secrets/app.env"]
    assert stores[0].get("db-password").value.reveal() == "hunter2"
    assert stores[1].get("db-password").value.reveal() == "from config"
    assert stores[3].backend.options.interpolate is True
    for store in stores:
        store.close()


def test_the_page_says_what_a_file_holds(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("BARE\nEMPTY=\nA___B=x\nlower_case=y\nMULTI=\"one\ntwo\"\n")
    with open_store(f"dotenv://{path}") as store:
        assert list(store.list()) == ["empty", "multi"]  # BARE has no value; the rest no name
        assert store.get("empty").value.reveal() == ""
        assert store.get("multi").value.reveal() == "one\ntwo"


def test_writable_keeps_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# keep me\nexport DB_PASSWORD=old\nOTHER='x'\n")
    with open_store(f"dotenv://{path}?writable=true") as store:
        store.put("db-password", 'new "one"')
        store.put("api-key", "k")
        assert store.get("db-password").value.reveal() == 'new "one"'
    assert path.read_text() == ('# keep me\nexport DB_PASSWORD="new \\"one\\""\nOTHER=\'x\'\n'
                                'API_KEY="k"\n')
    with open_store(f"dotenv://{path}") as store, pytest.raises(ReadOnlyError):
        store.put("db-password", "v")
