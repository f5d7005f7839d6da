"""The pre-commit hook of ``.pre-commit-hooks.yaml`` blocks a real ``git commit`` (through
pre-commit) that adds a value of the store, without printing it, and lets a clean one through."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helium_secrets import open_store

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def test_the_hook_blocks_a_commit_that_adds_a_stored_value(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")  # pre-commit's own dependency
    pytest.importorskip("pre_commit")
    value = f"hook-canary-{secrets.token_urlsafe(16)}"
    store_url = f"file://{tmp_path}/store"
    with open_store(store_url) as store:
        store.put("app/db", value)
    [hook, *_] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    # The hook as published, run from this environment instead of one pre-commit would build
    # from the repository (no download in a test).
    local = {k: v for k, v in hook.items() if k != "additional_dependencies"}
    local["language"] = "system"
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".pre-commit-config.yaml").write_text(
        yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]}), encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "HELIUM_SECRETS_URL": store_url, "PRE_COMMIT_HOME": str(tmp_path / "pc"),
           "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
           "PYTHONPATH": str(REPO), "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=300)

    assert git("init", "-q").returncode == 0
    installed = subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=repo, env=env,
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    (repo / "settings.py").write_text(f"PASSWORD = '{value}'\n", encoding="utf-8")
    git("add", "-A")
    blocked = git("commit", "-m", "leak")
    assert blocked.returncode != 0
    assert "settings.py:1:13" in blocked.stdout + blocked.stderr
    assert value not in blocked.stdout + blocked.stderr
    assert git("rev-parse", "--verify", "-q", "HEAD").returncode != 0  # nothing was committed
    (repo / "settings.py").write_text("import os\nPASSWORD = os.environ['PASSWORD']\n",
                                      encoding="utf-8")
    git("add", "-A")
    clean = git("commit", "-m", "read it from the environment")
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_the_hooks_file_is_a_valid_pre_commit_manifest() -> None:
    pytest.importorskip("pre_commit")
    checked = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest",
                              str(REPO / ".pre-commit-hooks.yaml")], capture_output=True,
                             text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout + checked.stderr
