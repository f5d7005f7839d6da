"""``helium-secrets copy`` carries the labels of the versions it copies where both stores have
labels (mem://, file://), moves them onto versions the target already has, leaves out the labels
a service moves by itself, and says so where the target has no labels (a writable dotenv://)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from helium_secrets import SecretStore, open_store
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.cli import ExitCode, main
from helium_secrets.cli.copy import copy_secrets

CANARY = "canary-copy-labels-5e1f-never-print-me"


def call(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert CANARY not in out + err
    return code, out.splitlines()


@pytest.fixture
def source_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    url = f"file://{tmp_path}/src"
    with open_store(url) as store:
        store.put("app/db", CANARY + "-1", labels=["previous-release"])
        store.put("app/db", CANARY + "-2", labels=["prod", "blue"])
        store.put("app/plain", CANARY + "-p")
    return url


def test_the_current_versions_labels_come_along_and_a_second_run_changes_nothing(
        source_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"file://{tmp_path}/dst"
    code, out = call(capsys, "copy", source_url, target)
    assert code == ExitCode.OK
    assert out == ["copied app/db (1 version)", "copied app/plain (1 version)",
                   "labelled app/db: blue, prod",
                   "copied 2 secret(s) (2 version(s)), 0 already up to date, 0 skipped, "
                   "0 failed; labelled 1"]
    with open_store(target) as store:
        [only] = store.versions("app/db")
        # The label of the version not copied has nowhere to go.
        assert only.labels == frozenset({"prod", "blue"})
        assert store.get("app/db", label="prod").value.reveal() == CANARY + "-2"
        assert store.get("app/plain").labels == frozenset()
    code, out = call(capsys, "copy", source_url, target)
    assert (code, out) == (ExitCode.OK, ["copied 0 secret(s) (0 version(s)), 2 already up to "
                                         "date, 0 skipped, 0 failed"])
    with open_store(target) as store:
        assert len(store.versions("app/db")) == 1


def test_all_versions_keep_their_labels_and_a_moved_label_follows(
        source_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"file://{tmp_path}/dst"
    code, out = call(capsys, "copy", source_url, target, "--versions", "all", "--prefix",
                     "app/db")
    assert (code, out[:2]) == (ExitCode.OK, ["copied app/db (2 versions)",
                                             "labelled app/db: blue, previous-release, prod"])

    def labels_by_value(url: str) -> list[tuple[str, list[str]]]:
        with open_store(url) as store:
            return [(store.get("app/db", v.version).value.reveal(), sorted(v.labels))
                    for v in store.versions("app/db")]

    assert labels_by_value(target) == labels_by_value(source_url) == [
        (CANARY + "-1", ["previous-release"]), (CANARY + "-2", ["blue", "prod"])]
    # The label moves in the source: a run moves it in the target, and writes no version.
    with open_store(source_url) as store:
        store.set_label("app/db", "prod", store.versions("app/db")[0].version)
    only_db = ("--versions", "all", "--prefix", "app/db")
    code, out = call(capsys, "copy", source_url, target, *only_db, "--dry-run")
    assert out == ["would label app/db: prod",
                   "would copy 0 secret(s) (0 version(s)), 0 already up to date, 0 skipped, "
                   "0 failed; would label 1"]
    assert labels_by_value(target)[0] == (CANARY + "-1", ["previous-release"])
    code, out = call(capsys, "copy", source_url, target, *only_db, "--json")
    document = json.loads("\n".join(out))
    assert (code, document["copied"]) == (ExitCode.OK, [])
    assert document["labelled"] == [{"name": "app/db", "labels": ["prod"]}]
    assert labels_by_value(target) == labels_by_value(source_url) == [
        (CANARY + "-1", ["previous-release", "prod"]), (CANARY + "-2", ["blue"])]
    code, out = call(capsys, "copy", source_url, target, *only_db)
    assert "0 secret(s) (0 version(s)), 1 already up to date" in out[-1]


def test_a_target_without_labels_gets_the_values_and_the_output_says_so(
        source_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"dotenv://{tmp_path}/.env?writable=true"
    code, out = call(capsys, "copy", source_url, target)
    assert code == ExitCode.OK
    assert out == ["copied app/db (1 version)", "copied app/plain (1 version)",
                   "labels not copied for app/db (the target has no labels): blue, prod",
                   "copied 2 secret(s) (2 version(s)), 0 already up to date, 0 skipped, "
                   "0 failed; the labels of 1 not copied (the target has no labels)"]
    with open_store(target) as store:
        assert store.get("app/db").value.reveal() == CANARY + "-2"


def test_labels_the_service_moves_itself_are_left_out() -> None:
    backend = MemoryBackend()
    # As AWS's AWSCURRENT: the service puts it on every new version by itself.
    backend.capabilities = replace(backend.capabilities, managed_labels=frozenset({"AUTO"}))
    source = SecretStore(backend, cache=None)
    source.put("x", CANARY, labels=["AUTO", "green"])
    target = SecretStore(MemoryBackend(), cache=None)
    report = copy_secrets(source, target)
    assert report.labelled == {"x": ["green"]}
    assert report.document()["labelled"] == [{"name": "x", "labels": ["green"]}]
    assert target.get("x").labels == frozenset({"green"})
    assert copy_secrets(source, target).unchanged == ["x"]
