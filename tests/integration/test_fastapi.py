"""The FastAPI integration through FastAPI's TestClient and httpx's ASGI transport, with the
fake swapped in as the docs say: live lookups per request (a rotation reaches the handlers
without a restart), errors as HTTP statuses that show no value, and an event loop that a slow
backend never blocks."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

import httpx
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.testclient import TestClient

from helium_secrets import AsyncSecretStore, SecretValue, open_async_store
from helium_secrets.backends.aio import AsyncMemoryBackend
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import ThrottledError
from helium_secrets.integrations.fastapi import HeliumSecrets, secret, store
from helium_secrets.layers.retry import RetryPolicy
from helium_secrets.testing import ManualClock
from helium_secrets.testing.twin import LoopThread

CANARY = "canary-fastapi-7d2e-never-show-me"


def create_app(secrets: HeliumSecrets | None = None) -> FastAPI:
    app = FastAPI(lifespan=secrets.lifespan if secrets else None)

    @app.get("/orders")
    async def orders(x_api_key: str = Header(""),
                     api_key: SecretValue = Depends(secret("app/api-key")),  # noqa: B008
                     db_user: SecretValue = Depends(secret("app/db", "user"))) -> dict[str, Any]:  # noqa: B008
        if x_api_key != api_key.reveal():
            raise HTTPException(403, f"bad key; expected {api_key!r}")
        return {"db_user": db_user.reveal()}

    @app.get("/names")
    async def names(found: AsyncSecretStore = Depends(store)) -> list[str]:  # noqa: B008
        return [name async for name in found.list("app/")]

    return app


def fake_store(backend: MemoryBackend, **options: Any) -> AsyncSecretStore:
    return AsyncSecretStore(AsyncMemoryBackend.wrap(backend), **options)


def test_handlers_read_the_current_secret_and_follow_a_rotation() -> None:
    backend, clock = MemoryBackend(), ManualClock()
    backend.write_external("app/api-key", CANARY)
    backend.write_external("app/db", '{"user": "app"}')
    app = create_app()
    fake = fake_store(backend, clock=clock)
    app.dependency_overrides[store] = lambda: fake  # the one line
    client = TestClient(app)

    assert client.get("/orders", headers={"X-Api-Key": CANARY}).json() == {"db_user": "app"}
    denied = client.get("/orders", headers={"X-Api-Key": "wrong"})
    assert denied.status_code == 403
    assert CANARY not in denied.text  # the handler's repr of the value is masked
    assert client.get("/names").json() == ["app/api-key", "app/db"]

    backend.write_external("app/api-key", "k-2")  # rotated by someone else
    assert client.get("/orders", headers={"X-Api-Key": CANARY}).status_code == 200  # cached
    clock.advance(3600)  # the cache TTL passes: no restart, no refresh call
    assert client.get("/orders", headers={"X-Api-Key": CANARY}).status_code == 403
    assert client.get("/orders", headers={"X-Api-Key": "k-2"}).status_code == 200


def test_the_lifespan_opens_the_url_and_closes_the_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIUM_SECRETS_URL", "mem://fastapi-lifespan")
    shared = MemoryBackend.from_url(urlsplit("mem://fastapi-lifespan"))  # the named fake
    shared.write_external("app/api-key", CANARY)
    shared.write_external("app/db", '{"user": "app"}')
    app = create_app(HeliumSecrets())
    with TestClient(app) as client:
        opened = app.state.helium_secrets
        assert client.get("/orders", headers={"X-Api-Key": CANARY}).status_code == 200
    assert opened.closed
    assert not hasattr(app.state, "helium_secrets")


def test_a_given_store_is_left_open() -> None:
    given = open_async_store("mem://")
    app = create_app(HeliumSecrets(store=given))
    with TestClient(app) as client:
        assert client.get("/names").json() == []
    assert not given.closed
    asyncio.run(given.aclose())


def test_bad_arguments_are_refused_before_any_call() -> None:
    with pytest.raises(TypeError, match="AsyncSecretStore"):
        HeliumSecrets(store=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not both"):
        HeliumSecrets("mem://", store=open_async_store("mem://"))
    with pytest.raises(TypeError, match="non-empty"):
        secret("")


def test_no_store_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="lifespan"):
        TestClient(create_app()).get("/names")


def test_errors_become_statuses_that_show_no_name_or_value() -> None:
    backend = MemoryBackend()
    backend.write_external("app/api-key", CANARY)
    backend.write_external("app/db", '{"user": "app"}')
    app = create_app()
    clock = ManualClock()
    fake = fake_store(backend, cache=None, retry=RetryPolicy(max_attempts=1), clock=clock)
    app.dependency_overrides[store] = lambda: fake
    client = TestClient(app)

    backend.write_external("app/db", '{"name": "' + CANARY + '"}')  # no "user" field
    missing_field = client.get("/orders", headers={"X-Api-Key": CANARY})
    assert (missing_field.status_code, missing_field.json()) == (
        500, {"detail": "secret unavailable: invalid_argument"})

    backend.fail_next(1, ThrottledError("slow down", retry_after=2.5), operations=["get"])
    throttled = client.get("/orders", headers={"X-Api-Key": CANARY})
    assert (throttled.status_code, throttled.headers.get("Retry-After")) == (503, "3")
    assert throttled.json() == {"detail": "secret unavailable: throttled"}
    paused = client.get("/orders", headers={"X-Api-Key": CANARY})  # the store honours the hint
    assert (paused.status_code, paused.headers.get("Retry-After")) == (503, "3")
    assert paused.json() == {"detail": "secret unavailable: unavailable"}
    clock.advance(2.5)

    backend.delete("app/api-key", purge=True)
    gone = client.get("/orders", headers={"X-Api-Key": CANARY})
    assert (gone.status_code, gone.json()) == (500, {"detail": "secret unavailable: not_found"})
    for answer in (missing_field, throttled, paused, gone):
        assert CANARY not in answer.text and "app/" not in answer.text


def test_a_slow_backend_never_blocks_the_event_loop() -> None:
    backend = MemoryBackend()
    backend.write_external("app/api-key", CANARY)
    backend.write_external("app/db", '{"user": "app"}')
    backend.set_latency(1.5)  # a blocking sleep per backend call: longer than the stall limit
    app = create_app()

    @app.get("/blocking")
    async def blocking() -> None:
        time.sleep(1.5)  # the watchdog's own check: this must be caught

    loop = LoopThread()  # asyncio's debug mode records each callback that holds the loop
    try:
        fake = loop.call(lambda: fake_store(backend, cache=None))
        app.dependency_overrides[store] = lambda: fake

        async def requests(path: str, count: int) -> list[int]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                answers = await asyncio.gather(*(client.get(path, headers={"X-Api-Key": CANARY})
                                                 for _ in range(count)))
            return [answer.status_code for answer in answers]

        assert loop.run(requests("/orders", 8)) == [200] * 8
        assert loop.stalls == []
        assert backend.calls["get"] >= 2  # the slow backend was read (concurrent reads coalesce)
        loop.run(requests("/blocking", 1))
        # A handler that blocks is seen: as a slow callback (and, from Python 3.13, its
        # time.sleep by the audit hook).
        assert loop.stalls and all("took" in stall or "time.sleep" in stall
                                   for stall in loop.stalls)
        loop.run(fake.aclose())
    finally:
        loop.close()


def test_a_field_that_is_not_text_is_its_json_text_and_masked() -> None:
    backend = MemoryBackend()
    backend.write_external("app/db", '{"port": 5432, "hosts": ["a", "b"], "password": "' + CANARY + '"}')

    async def main() -> list[SecretValue]:
        async with fake_store(backend) as fake:
            return [await secret("app/db", field)(fake) for field in ("port", "hosts", "password")]

    port, hosts, password = asyncio.run(main())
    assert (port.reveal(), hosts.reveal(), password.reveal()) == ("5432", '["a", "b"]', CANARY)
    assert CANARY not in repr(password) and CANARY not in f"{password}"
