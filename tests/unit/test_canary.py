"""A distinctive value goes through every operation and error path and shows up nowhere."""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Callable

import pytest

from helium_secrets import AuditEvent, RetryPolicy, SecretStore, logging_hook
from helium_secrets.backends._base import Classified
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import ErrorCode, HeliumError, ThrottledError

CANARY = "canary-9d8e7f-never-show-me"


def test_canary_never_leaks(caplog: pytest.LogCaptureFixture) -> None:
    events: list[AuditEvent] = []
    texts: list[str] = []
    backend = MemoryBackend(max_value_bytes=200)
    store = SecretStore(
        backend,
        audit=[events.append, logging_hook(level=logging.DEBUG)],
        retry=RetryPolicy(max_attempts=3, initial_backoff=0, max_backoff=0),
    )

    def expect_error(call: Callable[[], object]) -> None:
        with pytest.raises((HeliumError, ValueError, TypeError)) as info:
            call()
        texts.extend([str(info.value), repr(info.value), str(info.value.args)])

    with caplog.at_level(logging.DEBUG):
        written = store.put("app/db", CANARY, metadata={"owner": "team"})
        texts += [repr(written), str(written), repr(written.value), f"{written.value}"]
        store.put("app/json", json.dumps({"password": CANARY}))
        assert store.get("app/db").value.reveal() == CANARY
        assert store.get_json("app/json", "password") == CANARY
        texts.append(repr(store.get_many(["app/db", "app/json"])))
        texts.append(repr(list(store.list("app/"))))
        texts.append(repr(store.versions("app/db")))

        # Error paths.
        expect_error(lambda: store.put("app/db", CANARY, expected_version="999"))
        expect_error(lambda: store.put("app/db", CANARY, create_only=True))
        expect_error(lambda: store.put("app/big", CANARY * 50))
        expect_error(lambda: store.put("bad name", CANARY))
        expect_error(lambda: store.get_json("app/db"))
        expect_error(lambda: store.get_json("app/json", "nope"))
        expect_error(lambda: store.get("app/db", "999"))
        expect_error(lambda: pickle.dumps(written))
        backend.fail_next(5, ThrottledError, operations=["put"])
        expect_error(lambda: store.put("app/db", CANARY))
        backend.fail_next(1, Classified(ErrorCode.PERMISSION_DENIED, "denied"))
        expect_error(lambda: store.refresh("app/db"))

        # A rotation callback that fails with the value in its own exception.
        def leaky(old: object, new: object) -> None:
            raise RuntimeError(CANARY)

        store.on_rotation("app/db", leaky)
        backend.write_external("app/db", CANARY + "-2")
        store.rotation.poll_once()
        store.delete("app/db")
        texts += [repr(store), repr(store.stats())]
        store.close()
        expect_error(lambda: store.get("app/db"))

    texts += [repr(e.as_dict()) for e in events]
    texts.append(caplog.text)
    texts += [r.getMessage() for r in caplog.records]
    assert events, "audit events were emitted"
    assert any(e.outcome == "error" for e in events)
    leaks = [t for t in texts if CANARY in t]
    assert not leaks, f"{len(leaks)} texts show the canary"
