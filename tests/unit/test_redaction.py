"""The redactor: what it masks, for how long it knows a value, and what it costs nothing."""

from __future__ import annotations

import base64
import dataclasses
import gc
import json
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from helium_secrets import SecretStore, VersionInfo, redaction
from helium_secrets.backends._base import RawSecret
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.layers.cache import CachePolicy
from helium_secrets.redaction import MASK, MIN_LENGTH, _forms, before_send, redactor
from helium_secrets.testing.conformance import debug_logs

VALUE = "s3cr3t-value-0123"
_log = logging.getLogger("tests.redaction.child")  # propagates to the root's handlers


@pytest.fixture
def texts() -> Iterator[list[str]]:
    with debug_logs() as captured:
        yield captured


@pytest.fixture
def store() -> Iterator[SecretStore]:
    with SecretStore(MemoryBackend()) as store:
        yield store


def known(value: str) -> bool:
    return redactor.redact(f"<{value}>") != f"<{value}>"


def test_a_propagated_record_is_masked_in_message_args_exception_and_stack(
    store: SecretStore, texts: list[str]
) -> None:
    store.put("app/db", VALUE)
    secret = store.get("app/db").value.reveal()
    _log.debug("password=%s", secret)
    _log.debug({"config": {"password": secret}})
    try:
        raise RuntimeError(f"bad password {secret}")
    except RuntimeError:
        _log.exception("failed", stack_info=True)
    _log.debug("a short value stays: %s", "hunter2")
    assert len(texts) == 4
    assert sum(VALUE in text for text in texts) == 0
    assert "password=**********" in texts[0]
    assert "RuntimeError: bad password **********" in texts[2]
    assert "Stack (most recent call last)" in texts[2]
    assert texts[3].endswith("a short value stays: hunter2")


def test_common_encodings_are_masked(store: SecretStore, texts: list[str]) -> None:
    value = 'pä"ss\\wörd-密码'
    store.put("app/json", value)
    store.get("app/json")
    body = json.dumps({"SecretString": value}).encode()
    _log.debug("json %s", json.dumps({"v": value}))
    _log.debug("json unicode %s", json.dumps({"v": value}, ensure_ascii=False))
    _log.debug("repr %r", {"v": value})
    _log.debug("botocore-style params %s", {"body": body})
    _log.debug("base64 %s", base64.b64encode(value.encode()).decode())
    assert len(texts) == 5
    assert [MASK in text for text in texts] == [True] * len(texts)


def test_binary_values_are_masked_by_their_repr_and_base64(texts: list[str]) -> None:
    data = bytes(range(200, 256))
    with SecretStore(MemoryBackend()) as store:
        store.put("app/bin", data)
        store.get("app/bin")
        _log.debug("%r", data)
        _log.debug("%s", base64.b64encode(data).decode())
    assert len(texts) == 2
    assert [MASK in text for text in texts] == [True] * len(texts)


def test_values_shorter_than_the_minimum_are_not_masked(store: SecretStore,
                                                        texts: list[str]) -> None:
    short = "x" * (MIN_LENGTH - 1)
    store.put("a", short)
    store.put("b", short + "y")
    store.get("a")
    store.get("b")
    assert not known(short)
    assert known(short + "y")


def test_the_minimum_length_counts_characters_not_utf8_bytes(store: SecretStore,
                                                             texts: list[str]) -> None:
    short = "é" * (MIN_LENGTH - 1)  # twice as many bytes in UTF-8
    store.put("a", short)
    store.put("b", short + "é")
    store.get("a")
    store.get("b")
    assert not known(short)
    assert known(short + "é")


def test_a_value_leaves_with_the_cache_entry(texts: list[str]) -> None:
    store = SecretStore(MemoryBackend(), cache=CachePolicy(max_entries=1))
    store.put("a", VALUE)
    store.get("a")
    assert known(VALUE)
    store.get("a", "1")  # a read past the cache holds nothing longer than the call
    store.put("b", VALUE + "-b")
    store.get("b")  # evicts "a"
    assert not known(VALUE) and known(VALUE + "-b")
    store.put("b", VALUE + "-b2")  # invalidates "b"
    assert not known(VALUE + "-b")
    store.get("b")
    store.clear_cache()
    assert not known(VALUE + "-b2")
    store.get("b")
    store.close()
    assert not known(VALUE + "-b2")
    # Nothing of this test's values is left (other tests' open stores may hold their own).
    assert not [form for value in (VALUE, VALUE + "-b", VALUE + "-b2")
                for form in _forms(value, redactor.min_length) if form in redactor._forms]


def test_a_value_two_stores_hold_stays_until_both_let_go(texts: list[str]) -> None:
    backend = MemoryBackend()
    one, two = SecretStore(backend), SecretStore(backend)
    one.put("a", VALUE)
    one.get("a")
    two.get("a")
    one.close()
    assert known(VALUE)
    del two
    gc.collect()  # a store collected without close() lets go of its values too
    assert not known(VALUE)


def test_install_learns_what_the_stores_hold_and_uninstall_forgets(store: SecretStore) -> None:
    store.put("a", VALUE)
    store.get("a")
    assert redactor.filters == 0 and redactor._forms == {}  # nothing held, nothing done
    with debug_logs() as texts:
        _log.debug("%s", VALUE)
    assert texts[-1].endswith(MASK)
    assert redactor.filters == 0 and redactor._forms == {}


def test_records_during_a_backend_call_wait_for_its_value(texts: list[str]) -> None:
    """botocore logs a response body before the store has seen the value in it."""

    class Chatty(MemoryBackend):
        def get(self, name: str, version: str | None = None,
                label: str | None = None) -> RawSecret:
            raw = super().get(name, version, label)
            _log.debug("response body: %s", json.dumps({"SecretString": raw.value}))
            return raw

    backend = Chatty()
    backend.write_external("a", VALUE)
    with SecretStore(backend, cache=None) as store:
        store.get("a")
        _log.debug("after the call")
    assert len(texts) == 2
    assert texts[0].endswith('{"SecretString": "**********"}')
    assert texts[1].endswith("after the call")  # held records come out in order, first
    assert not known(VALUE)  # not cached: forgotten once the call is over


def test_records_during_a_write_wait_for_the_value_written(texts: list[str]) -> None:
    """An SDK logs the request body of a put: the value being written is masked in it, though
    the store caches nothing of a write (its own writes invalidate)."""

    class Chatty(MemoryBackend):
        def put(self, name: str, value: str | bytes, **kwargs: Any) -> VersionInfo:
            _log.debug("request body: %s", json.dumps({"SecretString": value}))
            return super().put(name, value, **kwargs)

    with SecretStore(Chatty()) as store:
        store.put("a", VALUE)
    assert len(texts) == 1
    assert texts[0].endswith('{"SecretString": "**********"}')


def test_records_during_a_batched_read_wait_for_every_value_in_it(texts: list[str]) -> None:
    """A batch read's response body holds every value it answers."""

    class ChattyBatch(MemoryBackend):
        def __init__(self) -> None:
            super().__init__()
            self.capabilities = dataclasses.replace(self.capabilities, batch_get=10)

        def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
            answers: dict[str, RawSecret | BaseException] = {
                name: super(ChattyBatch, self).get(name) for name in names}
            _log.debug("response body: %s", json.dumps(
                [answer.value for answer in answers.values() if isinstance(answer, RawSecret)]))
            return answers

    backend = ChattyBatch()
    backend.write_external("a", VALUE)
    backend.write_external("b", VALUE + "-b")
    with SecretStore(backend, cache=None) as store:
        assert set(store.get_many(["a", "b"])) == {"a", "b"}
    assert len(texts) == 1
    assert texts[0].endswith('response body: ["**********", "**********"]')


def test_only_the_protected_handlers_are_filtered() -> None:
    root = logging.getLogger()
    added = redaction.install()
    try:
        assert {f.handler for f in added} <= {*root.handlers, logging.lastResort}
        assert redaction.install() == []  # idempotent
    finally:
        redaction.uninstall()
    assert not any(isinstance(f, redaction.RedactingFilter)
                   for h in root.handlers for f in h.filters)


def test_before_send_scrubs_a_sentry_shaped_event(store: SecretStore, texts: list[str]) -> None:
    store.put("app/db", VALUE)
    store.get("app/db")
    event: dict[str, Any] = {
        "exception": {"values": [{
            "type": "RuntimeError", "value": f"bad {VALUE}",
            "stacktrace": {"frames": [{"function": "connect", "vars": {
                "password": repr(VALUE), "args": [VALUE, 3], VALUE: "as a key"}}]},
        }]},
        "breadcrumbs": {"values": [{"category": "log", "message": f"password={VALUE}"}]},
        "extra": {"sys.argv": ["app", f"--password={VALUE}"], "count": 3},
        "level": "error",
    }
    scrubbed = before_send(event, {"exc_info": sys.exc_info()})
    leaked = VALUE in json.dumps(scrubbed)
    assert not leaked
    frame = scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert frame["vars"]["args"] == [MASK, 3]
    assert scrubbed["extra"]["count"] == 3 and scrubbed["level"] == "error"


def test_min_length_is_checked() -> None:
    with pytest.raises(ValueError, match="min_length"):
        redaction.Redactor(min_length=0)


def test_a_logger_that_does_not_propagate_is_protected_when_passed(store: SecretStore) -> None:
    texts: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: texts.append(handler.format(record))  # type: ignore[method-assign]
    isolated = logging.getLogger("tests.redaction.isolated")
    isolated.propagate, isolated.level = False, logging.DEBUG
    isolated.addHandler(handler)
    store.put("a", VALUE)
    store.get("a")
    try:
        redaction.install(isolated)
        isolated.debug("%s", VALUE)
    finally:
        redaction.uninstall(isolated)
        isolated.removeHandler(handler)
    assert texts == [MASK]
    assert not handler.filters and redactor.filters == 0


def test_on_the_async_twin_a_call_holds_its_own_records_in_its_worker_thread(
        texts: list[str]) -> None:
    """Per task, not per thread: an SDK's log of a response body, written in the worker
    thread of an offloaded call, waits for that call's value; another task's records do not."""
    import asyncio
    import threading

    from helium_secrets import AsyncSecretStore
    from helium_secrets.backends.aio import ThreadedBackend

    inside = threading.Event()
    release = threading.Event()

    class Chatty(MemoryBackend):
        def get(self, name: str, version: str | None = None,
                label: str | None = None) -> RawSecret:
            raw = super().get(name, version, label)
            _log.debug("response body: %s", json.dumps({"SecretString": raw.value}))
            inside.set()
            release.wait(30)
            return raw

    backend = Chatty()
    backend.write_external("a", VALUE)

    async def main() -> None:
        async with AsyncSecretStore(ThreadedBackend.wrap(backend), cache=None) as store:
            call = asyncio.ensure_future(store.get("a"))
            await asyncio.to_thread(inside.wait, 30)
            _log.debug("another task, meanwhile")  # not held: it is not inside the call
            release.set()
            await call

    asyncio.run(main())
    ours = [text for text in texts if "tests.redaction" in text]
    assert len(ours) == 2
    assert ours[0].endswith("another task, meanwhile")
    assert ours[1].endswith('{"SecretString": "**********"}')
    assert not any(VALUE in text for text in texts)
    assert not known(VALUE)
