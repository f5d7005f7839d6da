"""docs/security.md: its examples run, and its claims about the filter hold."""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from helium_secrets import SecretStore, redaction
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.layers.cache import CachePolicy
from tests.docs.pages import CANARY, ROOT, python_block

PAGE = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _uninstalled() -> Iterator[None]:
    yield
    redaction.uninstall()
    assert redaction.redactor.filters == 0


def test_the_one_call_setup(caplog: pytest.LogCaptureFixture) -> None:
    code = python_block(PAGE, "## The redaction filter: one call")
    with caplog.at_level(logging.DEBUG):
        exec(compile(code, "security.md", "exec"), {})  # noqa: S102
    leaked = "correct-horse-battery" in caplog.text  # checked first: a failure never shows it
    assert not leaked
    messages = [r.getMessage() for r in caplog.records if r.name == "app"]
    assert messages == ["connecting with **********"]


def test_the_minimum_length_and_its_setting() -> None:
    assert redaction.MIN_LENGTH == 8 and "(8 characters)" in PAGE
    store = SecretStore(MemoryBackend(), cache=CachePolicy())
    store.put("a", "1234567")
    store.put("b", "123456789abc")
    store.get("a")
    store.get("b")
    redaction.install()
    assert redaction.redactor.redact("1234567") == "1234567"
    assert redaction.redactor.redact("123456789abc") == "**********"
    redaction.install(min_length=12)
    try:
        assert redaction.redactor.redact("123456789abc") == "**********"
        store.put("c", "123456789ab")
        store.get("c")
        assert redaction.redactor.redact("123456789ab") == "123456789ab"
    finally:
        redaction.redactor.min_length = redaction.MIN_LENGTH
    store.close()


def test_the_sentry_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sentry is not installed here: a stand-in module records what ``init`` was given."""
    given: dict[str, Any] = {}
    sentry_sdk = types.ModuleType("sentry_sdk")
    sentry_sdk.init = lambda **options: given.update(options)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentry_sdk", sentry_sdk)
    code = python_block(PAGE, "## Error reporters (Sentry)")
    exec(compile(code, "security.md", "exec"), {})  # noqa: S102
    assert given["before_send"] is redaction.before_send
    assert redaction.redactor.active


def test_combining_before_send_with_your_own_hook() -> None:
    namespace: dict[str, Any] = {}
    code = python_block(PAGE, "To combine it with your own hook")
    exec(compile(code, "security.md", "exec"), namespace)  # noqa: S102
    with SecretStore(MemoryBackend()) as store:
        store.put("app/db", CANARY)
        store.get("app/db")
        redaction.install()
        event = {"exception": {"values": [{"value": f"bad password {CANARY}"}]},
                 "breadcrumbs": {"values": [{"message": CANARY}]}}
        scrubbed = namespace["before_send"](event, {})
    leaked = CANARY in repr(scrubbed)
    assert not leaked
    assert scrubbed["tags"] == {"scrubbed": "yes"}
    assert scrubbed["exception"]["values"][0]["value"] == "bad password **********"


def test_the_transport_section_names_the_one_opt_in_every_plaintext_backend_has() -> None:
    from helium_secrets.backends.awssecretsmanager.options import AWSSecretsManagerOptions
    from helium_secrets.backends.azurekeyvault.options import AzureKeyVaultOptions
    from helium_secrets.backends.gcpsecretmanager.options import GCPSecretManagerOptions
    from helium_secrets.backends.hashivault.options import VaultOptions

    section = PAGE.split("## Transport", 1)[1]
    assert "`allow_insecure_http=True`" in section and "Azure cannot" in section
    for cls in (VaultOptions, AWSSecretsManagerOptions, GCPSecretManagerOptions):
        assert cls().allow_insecure_http is False, cls  # documented as never on by default
    assert not hasattr(AzureKeyVaultOptions(), "allow_insecure_http")
