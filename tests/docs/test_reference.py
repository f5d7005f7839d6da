"""docs/reference/: the API reference has an entry for every public name (what mkdocstrings renders
from the docstrings is checked by ``mkdocs build --strict`` and tests/docsite)."""

from __future__ import annotations

import importlib
import re

import pytest

import helium_secrets
import helium_secrets.backends
import helium_secrets.testing
from tests.docs.pages import ROOT

#: Each backend module and the classes of it that users configure or build.
BACKEND_CLASSES = {
    "helium_secrets.backends.memory": ("MemoryBackend", "MemoryOptions"),
    "helium_secrets.backends.localfile": ("LocalFileBackend", "LocalFileOptions"),
    "helium_secrets.backends.environ": ("EnvironBackend", "EnvironOptions"),
    "helium_secrets.backends.hashivault": ("VaultBackend", "VaultOptions", "VaultAuth", "TokenAuth",
                                           "AppRoleAuth", "KubernetesAuth", "JWTAuth", "UserpassAuth"),
    "helium_secrets.backends.awssecretsmanager": ("AWSSecretsManagerBackend", "AWSSecretsManagerOptions"),
    "helium_secrets.backends.azurekeyvault": ("AzureKeyVaultBackend", "AzureKeyVaultOptions"),
    "helium_secrets.backends.gcpsecretmanager": ("GCPSecretManagerBackend", "GCPSecretManagerOptions"),
}
#: Where the backends package takes the names it loads lazily from.
LAZY = {"Options", "option", "parse"}


def documented() -> set[str]:
    """Every object the reference pages render: ``::: path`` and the members listed under one."""
    found: set[str] = set()
    for page in sorted((ROOT / "docs" / "reference").glob("*.md")):
        directive = None
        for line in page.read_text(encoding="utf-8").splitlines():
            if match := re.fullmatch(r"::: ([\w.]+)", line):
                directive = match.group(1)
                found.add(directive)
            elif directive and (match := re.fullmatch(r" {8}- (\w+)", line)):
                found.add(f"{directive}.{match.group(1)}")
    return found


def test_every_top_level_name_has_an_entry() -> None:
    expected = {f"helium_secrets.{name}" for name in helium_secrets.__all__}
    assert expected - documented() == set()


def test_every_testing_helper_and_backend_protocol_name_has_an_entry() -> None:
    expected = {f"helium_secrets.testing.{name}" for name in helium_secrets.testing.__all__}
    expected |= {f"helium_secrets._options.{name}" if name in LAZY else f"helium_secrets.backends.{name}"
                 for name in helium_secrets.backends.__all__}
    assert expected - documented() == set()


@pytest.mark.parametrize("module", list(BACKEND_CLASSES))
def test_each_backend_and_its_options_have_an_entry(module: str) -> None:
    imported = importlib.import_module(module)  # the names exist (no SDK is imported by this)
    for name in BACKEND_CLASSES[module]:
        assert hasattr(imported, name), f"{module} has no {name}"
    assert {f"{module}.{name}" for name in BACKEND_CLASSES[module]} - documented() == set()
