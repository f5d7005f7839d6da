"""docs/integrations/fastapi.md: the app and its test, run as written, under pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.pages import CANARY, ROOT, python_block

pytest.importorskip("fastapi")

PAGE = (ROOT / "docs" / "integrations" / "fastapi.md").read_text(encoding="utf-8")


def test_the_example_app_and_its_test_pass_under_pytest(tmp_path: Path) -> None:
    path = tmp_path / "test_fastapi_example.py"
    path.write_text(python_block(PAGE, "## The app") + "\n\n"
                    + python_block(PAGE, "## Testing: the fake in one line"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(path)], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 passed" in result.stdout


def test_the_app_opens_its_store_in_the_lifespan_and_closes_it() -> None:
    from fastapi.testclient import TestClient

    namespace: dict[str, object] = {"__name__": "docs_fastapi_example"}
    exec(compile(python_block(PAGE, "## The app"), "app.py", "exec"), namespace)  # noqa: S102
    app = namespace["app"]
    with TestClient(app) as client:  # type: ignore[arg-type]
        store = app.state.helium_secrets  # type: ignore[attr-defined]
        client.portal.call(store.put, "app/api-key", CANARY)
        client.portal.call(store.put, "app/db", '{"username": "app"}')
        assert client.get("/orders", headers={"X-Api-Key": CANARY}).json()["db_user"] == "app"
        assert client.get("/config").json() == {"secrets": ["app/api-key", "app/db"]}
        denied = client.get("/orders", headers={"X-Api-Key": "wrong"})
        assert denied.status_code == 403 and CANARY not in denied.text
    assert store.closed
