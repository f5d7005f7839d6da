"""docs/integrations/flask.md: the extension and its test, run as written, under pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.pages import ROOT, python_block

pytest.importorskip("flask")

PAGE = (ROOT / "docs" / "integrations" / "flask.md").read_text(encoding="utf-8")


def test_the_example_app_and_its_test_pass_under_pytest(tmp_path: Path) -> None:
    path = tmp_path / "test_flask_example.py"
    path.write_text(python_block(PAGE, "## The extension") + "\n\n"
                    + python_block(PAGE, "## Testing: the fake in one line"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(path)], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 passed" in result.stdout


def test_the_app_from_the_url_holds_no_value_in_its_config() -> None:
    namespace: dict[str, object] = {"__name__": "docs_flask_example"}
    exec(compile(python_block(PAGE, "## The extension"), "app.py", "exec"), namespace)  # noqa: S102
    app = namespace["create_app"]()  # type: ignore[operator]
    store = namespace["secrets"].store_for(app)  # type: ignore[attr-defined]
    store.put("app/api-key", "canary-flask-docs")
    store.put("app/db", '{"username": "app"}')
    client = app.test_client()
    assert client.get("/orders", headers={"X-Api-Key": "canary-flask-docs"}).status_code == 200
    assert "canary-flask-docs" not in repr(dict(app.config))
    namespace["secrets"].close(app)  # type: ignore[attr-defined]
    assert store.closed
