"""The pydantic-settings integration, in the real pydantic-settings, on the fake: references in
nested models, one get_many, earlier sources win, name mapping, and live settings that follow a
rotation within the cache TTL (or at once after refresh)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Annotated, Any

import pytest

pytest.importorskip("pydantic_settings")

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from helium_secrets import CachePolicy, PollPolicy, SecretStore
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.integrations.pydantic import (
    LiveSettings,
    SecretRef,
    SecretStoreSource,
)
from helium_secrets.testing import ManualClock

CANARY = "canary-pydantic-9f2e-never-show-me"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def store(backend: MemoryBackend, clock: ManualClock) -> Iterator[SecretStore]:
    with SecretStore(backend, cache=CachePolicy(ttl=60, refresh_ahead=0), clock=clock,
                     poll=PollPolicy(interval=None)) as s:
        yield s


def settings_class(store: SecretStore, **source_options: Any) -> type[BaseSettings]:
    class Db(BaseModel):
        host: str = "localhost"
        port: int = 5432
        password: Annotated[SecretStr, SecretRef("app/db", field="password")]

    class Settings(BaseSettings):
        model_config = {"env_prefix": "APP_", "env_nested_delimiter": "__"}
        db: Db
        api_key: Annotated[SecretStr, SecretRef("app/api-key")]
        region: str = "eu-west-1"

        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings,
                    SecretStoreSource(settings_cls, store, **source_options))

    return Settings


def _seed(backend: MemoryBackend, password: str = CANARY) -> None:
    backend.write_external("app/db", json.dumps({"password": password, "user": "app"}))
    backend.write_external("app/api-key", "key-1")


def test_references_fill_nested_models_in_one_get_many(store: SecretStore, backend: MemoryBackend,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _seed(backend)
    batches: list[list[str]] = []
    get_many = store.get_many

    def spy(names: Any, **options: Any) -> Any:
        batches.append(list(names))
        return get_many(names, **options)

    monkeypatch.setattr(store, "get_many", spy)
    settings: Any = settings_class(store)()
    assert batches == [["app/api-key", "app/db"]]
    assert settings.db.password.get_secret_value() == CANARY
    assert settings.api_key.get_secret_value() == "key-1"
    assert settings.db.host == "localhost"
    assert CANARY not in repr(settings) and CANARY not in str(settings)


def test_a_field_an_earlier_source_filled_is_not_read(store: SecretStore, backend: MemoryBackend,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    backend.write_external("app/db", json.dumps({"password": "from-store"}))
    monkeypatch.setenv("APP_DB__PASSWORD", "from-env")
    seen: list[str] = []
    store.add_audit_hook(lambda event: seen.append(str(event.name)))
    settings: Any = settings_class(store)(api_key="from-init")
    assert settings.db.password.get_secret_value() == "from-env"
    assert settings.api_key.get_secret_value() == "from-init"
    assert seen == []  # neither secret was read: app/api-key does not even exist


def test_a_missing_secret_leaves_the_field_to_pydantic(store: SecretStore,
                                                       backend: MemoryBackend) -> None:
    backend.write_external("app/api-key", "k")
    with pytest.raises(ValidationError, match="db"):
        settings_class(store)()


def test_one_json_secret_fills_fields_by_name(store: SecretStore, backend: MemoryBackend) -> None:
    backend.write_external("app/db", json.dumps({"password": "p"}))
    backend.write_external("app/api-key", "from-reference")
    backend.write_external("app/config", json.dumps(
        {"REGION": "us-east-1", "DB__HOST": "db.internal", "db": {"Port": 6432},
         "api_key": "from-json"}))
    settings: Any = settings_class(store, json_secret="app/config", nested_delimiter="__")()
    assert settings.region == "us-east-1" and settings.db.host == "db.internal"
    assert settings.db.port == 6432
    assert settings.api_key.get_secret_value() == "from-reference"  # a reference wins



def test_one_secret_per_field_with_the_configured_names(store: SecretStore,
                                                        backend: MemoryBackend) -> None:
    class Db(BaseModel):
        host: str
        read_replica: str = "none"

    class Settings(BaseSettings):
        db: Db
        api_token: SecretStr = Field(alias="API-TOKEN")

        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (SecretStoreSource(settings_cls, store, prefix="APP--", nested_delimiter="--",
                                      case="upper"),)

    backend.write_external("APP--DB--HOST", "h")
    backend.write_external("APP--DB--READ_REPLICA", "r")
    backend.write_external("APP--API_TOKEN", "t")
    settings = Settings()  # type: ignore[call-arg]  # filled by the source
    assert (settings.db.host, settings.db.read_replica) == ("h", "r")
    assert settings.api_token.get_secret_value() == "t"


def test_bad_options_are_refused_before_any_call(store: SecretStore) -> None:
    cls = settings_class(store)
    with pytest.raises(ValueError, match="case"):
        SecretStoreSource(cls, store, case="title")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="SecretStore"):
        SecretStoreSource(cls, "mem://")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="json_secret|name"):
        SecretStoreSource(cls, store, json_secret="/bad/")
    with pytest.raises(TypeError, match="name"):
        SecretRef("")


def test_live_settings_follow_a_rotation_within_the_ttl(store: SecretStore, backend: MemoryBackend,
                                                        clock: ManualClock) -> None:
    _seed(backend, "one")
    changes: list[tuple[str, str]] = []
    live = LiveSettings(settings_class(store), on_change=lambda old, new: changes.append(
        (old.db.password.get_secret_value(), new.db.password.get_secret_value())))  # type: ignore[attr-defined]
    first = live.current
    assert live.watched == ["app/api-key", "app/db"]
    backend.write_external("app/db", json.dumps({"password": "two"}))
    assert live.current is first  # the cached value is still fresh
    clock.advance(61)
    assert live.current.db.password.get_secret_value() == "two"  # type: ignore[attr-defined]
    assert changes == [("one", "two")]
    assert first.db.password.get_secret_value() == "one"  # type: ignore[attr-defined]  # untouched
    live.close()


def test_live_settings_follow_a_rotation_at_once_after_refresh(store: SecretStore,
                                                               backend: MemoryBackend) -> None:
    _seed(backend, "one")
    live = LiveSettings(settings_class(store))
    backend.write_external("app/api-key", "key-2")
    assert live.refresh().api_key.get_secret_value() == "key-2"  # type: ignore[attr-defined]
    store.put("app/db", json.dumps({"password": "three"}))  # the store's own write: at once
    assert live.current.db.password.get_secret_value() == "three"  # type: ignore[attr-defined]
    live.close()


def test_a_rotation_that_does_not_validate_keeps_the_old_settings(
    store: SecretStore, backend: MemoryBackend, caplog: pytest.LogCaptureFixture
) -> None:
    _seed(backend, "one")
    live = LiveSettings(settings_class(store))
    before = live.current
    with caplog.at_level(logging.WARNING, logger="helium_secrets.pydantic"):
        store.put("app/db", json.dumps({"no-password": CANARY}))
    assert live.current is before
    # The reference's field is gone: the error names it, never the value.
    assert "InvalidArgumentError" in caplog.text and CANARY not in caplog.text


def test_live_settings_on_a_store_without_a_cache_do_not_read_on_access(
    backend: MemoryBackend,
) -> None:
    _seed(backend, "one")
    with SecretStore(backend, cache=None, poll=PollPolicy(interval=None)) as uncached:
        live = LiveSettings(settings_class(uncached))
        calls = sum(backend.calls.values())
        for _ in range(5):
            live.current  # noqa: B018
        assert sum(backend.calls.values()) == calls
        backend.write_external("app/db", json.dumps({"password": "two"}))
        assert live.refresh().db.password.get_secret_value() == "two"  # type: ignore[attr-defined]
        live.close()


def test_the_poller_rebuilds_in_the_background_and_calls_back(backend: MemoryBackend) -> None:
    import threading

    _seed(backend, "one")
    changed = threading.Event()
    with SecretStore(backend, poll=PollPolicy(interval=0.05, jitter=0.0)) as polled:
        live = LiveSettings(settings_class(polled), on_change=lambda old, new: changed.set())
        backend.write_external("app/db", json.dumps({"password": "two"}))
        assert changed.wait(60), "the poller's rotation rebuilt the settings"
        assert live.current.db.password.get_secret_value() == "two"  # type: ignore[attr-defined]
        live.close()
