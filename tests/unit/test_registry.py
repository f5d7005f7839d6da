"""open_store, the scheme registry, entry points, install hints and import hygiene."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from typing import Any
from urllib.parse import SplitResult

import pytest

import helium_secrets._registry as registry
from helium_secrets import CachePolicy, open_store, register_backend, registered_schemes
from helium_secrets.backends.memory import MemoryBackend

SDKS = ("boto3", "botocore", "hvac", "azure", "google", "grpc")


def test_import_loads_no_sdk() -> None:
    code = (
        "import sys, helium_secrets, helium_secrets.testing;"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {SDKS!r});"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_builtin_schemes() -> None:
    assert {"mem", "file", "env", "vault", "awssecretsmanager", "azurekeyvault",
            "gcpsecretmanager"} <= set(registered_schemes())


def test_store_options_go_to_the_store_the_rest_to_the_backend() -> None:
    store = open_store("mem://", cache=CachePolicy(ttl=7), max_value_bytes=9)
    assert store.backend.capabilities.max_value_bytes == 9
    assert store._cache is not None and store._cache.policy.ttl == 7


def test_unknown_scheme_lists_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown store URL scheme 'nope'.*mem"):
        open_store("nope://x")
    with pytest.raises(ValueError, match="no scheme"):
        open_store("just-a-path")


def test_missing_extra_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    reg = registry._Registration("helium_sdk_that_is_not_installed.module:X", "vault")
    monkeypatch.setitem(registry._registry, "fakevault", reg)
    with pytest.raises(ImportError, match=r"pip install 'helium-secrets\[vault\]'"):
        open_store("fakevault://x")


def test_register_refuses_silent_replacement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    with pytest.raises(ValueError, match="already registered"):
        register_backend("mem", MemoryBackend)
    register_backend("mem2", MemoryBackend)
    assert open_store("mem2://").backend.name == "memory"
    register_backend("mem2", "helium_secrets.backends.memory:MemoryBackend", replace=True)
    with pytest.raises(ValueError, match="invalid URL scheme"):
        register_backend("Bad:", MemoryBackend)


class _ThirdParty(MemoryBackend):
    name = "third"

    @classmethod
    def from_url(cls, url: SplitResult, **options: Any) -> _ThirdParty:
        return cls(**options)


def test_entry_point_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_registry", dict(registry._registry))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    points = [
        EntryPoint("thirdparty", f"{__name__}:_ThirdParty", registry.ENTRY_POINT_GROUP),
        EntryPoint("mem", f"{__name__}:_ThirdParty", registry.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr("importlib.metadata.entry_points", lambda group: points)
    with pytest.warns(RuntimeWarning, match="already registered"):
        store = open_store("thirdparty://")
    assert store.backend.name == "third"
    assert open_store("mem://").backend.name == "memory"  # a built-in is never replaced


def test_helium_secrets_url_picks_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIUM_SECRETS_URL", "mem://?max_value_bytes=5")
    assert registry.default_url() == "mem://?max_value_bytes=5"
    assert open_store().backend.capabilities.max_value_bytes == 5


FRAMEWORKS = ("django", "flask", "werkzeug", "pydantic", "pydantic_settings", "opentelemetry",
              "psycopg", "psycopg2", "fastapi", "starlette")


def test_import_loads_no_framework() -> None:
    # The package, its testing helpers, the integrations package and Django's settings
    # helper (imported by settings.py, before Django is set up) import no framework.
    code = (
        "import sys, helium_secrets, helium_secrets.testing, helium_secrets.integrations;"
        "import helium_secrets.integrations.django;"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FRAMEWORKS + SDKS!r});"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_open_async_store_picks_each_backends_native_async_class(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    pytest.importorskip("httpx")
    pytest.importorskip("aiobotocore")
    from helium_secrets import open_async_store
    from helium_secrets.backends.aio import ThreadedBackend
    from helium_secrets.backends.awssecretsmanager.aio import AsyncAWSSecretsManagerBackend
    from helium_secrets.backends.awsssm.aio import AsyncAWSSSMBackend
    from helium_secrets.backends.hashivault.aio import AsyncVaultBackend

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    expected = {
        "vault://127.0.0.1:8200/secret?tls=false": AsyncVaultBackend,
        "awssecretsmanager://eu-west-1": AsyncAWSSecretsManagerBackend,
        "awsssm://eu-west-1/app": AsyncAWSSSMBackend,
    }

    async def backends() -> dict[str, Any]:
        found: dict[str, Any] = {}
        for url in expected:  # building connects nowhere
            store = open_async_store(url, token="t") if url.startswith("vault") \
                else open_async_store(url)
            found[url] = store.backend
            await store.aclose()
        return found

    for url, backend in asyncio.run(backends()).items():
        assert isinstance(backend, expected[url]), url
        assert not isinstance(backend, ThreadedBackend), url
