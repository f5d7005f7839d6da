"""Conformance cases: the value never shows in a repr, an error, a log record or a frame's
locals; and the helpers that look for it there."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
from collections.abc import Callable, Iterator

import pytest

import helium_secrets
from helium_secrets import redaction
from helium_secrets._store import SecretStore
from helium_secrets.errors import ConflictError, HeliumError, VersionNotFoundError
from helium_secrets.testing.conformance._base import CANARY, ConformanceBase
from helium_secrets.testing.harness import BackendHarness


class LeakCases(ConformanceBase):
    """The value never shows: reprs, errors, log records (with the redaction filter), frames."""

    # -- the value never shows -------------------------------------------------------------

    def test_value_never_in_reprs_or_errors(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/canary"
        self.seed(harness, store, name, CANARY)
        secret = store.get(name)
        shown = [repr(secret), str(secret), repr(secret.value), str(secret.value),
                 f"{secret.value}", f"{secret}", repr(store)]
        assert all(CANARY not in text for text in shown)
        with pytest.raises(TypeError) as pickled:
            pickle.dumps(secret)
        assert CANARY not in str(pickled.value)
        with pytest.raises(ValueError, match="not valid JSON") as not_json:
            store.get_json(name)
        assert CANARY not in str(not_json.value)
        if not store.backend.capabilities.read_only and store.backend.capabilities.check_and_set:
            with pytest.raises(ConflictError) as conflict:
                store.put(name, CANARY, expected_version=harness.missing_version)
            assert CANARY not in str(conflict.value)
            assert CANARY not in repr(conflict.value)

    # -- the redaction filter ----------------------------------------------------------------

    def test_debug_logs_show_no_value(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        """Every logger at DEBUG (the SDK's included) with the redaction filter installed:
        no value in any record, for each operation, first reads included (an SDK logs the
        response body before the store has seen the value)."""
        name, other = f"{prefix}/logged", f"{prefix}/logged-2"
        outside = harness.write_external(name, CANARY + "-outside")
        caps = store.backend.capabilities
        with debug_logs() as texts:
            read = store.get(name).value.reveal()
            assert read == CANARY + "-outside"
            # An application that logs a value by mistake: the cached value is masked too.
            logging.getLogger("app").debug("connecting with %r", {"password": read})
            if not caps.read_only:
                store.put(other, CANARY + "-put")
                assert len(store.get_many([name, other])) == 2
                if caps.versions:
                    assert store.get(name, outside).value.reveal() == CANARY + "-outside"
                    store.versions(name)
                store.rotate(other, lambda: CANARY + "-rotated")
            store.refresh(name)
            with pytest.raises(VersionNotFoundError):
                store.get(name, harness.missing_version)
            store.clear_cache()
            store.get_many([name])
        assert any(text.startswith("app ") for text in texts), "the records were captured"
        # Only the leaking loggers' names are shown: a failure message never shows a value.
        leaking = sorted({text.split(" ", 1)[0] for text in texts if "canary-7f3a9c" in text})
        assert leaking == [], "records of these loggers show a value"

    def test_error_frames_hold_no_value(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        """An error reporter captures the locals of the frames an error went through: the
        store's and the backend's hold no value the failing call did not need."""
        name, doc = f"{prefix}/framed", f"{prefix}/framed-json"
        caps = store.backend.capabilities
        for i in range(2 if caps.versions and not caps.read_only else 1):
            self.seed(harness, store, name, f"{CANARY}-{i}")
        self.seed(harness, store, doc, json.dumps({"password": CANARY}))
        store.clear_cache()
        failing: list[Callable[[], object]] = [
            lambda: store.get(name, harness.missing_version),
            lambda: store.get_json(name),
            lambda: store.get_json(doc, "user"),
            lambda: store.get_json(doc, "password.0"),
            lambda: store.get_many([name, doc, f"{prefix}/framed-missing"]),
        ]
        if not caps.read_only:
            failing.append(lambda: store.put(name, "new", create_only=True))
            if caps.check_and_set:
                failing.append(lambda: store.put(name, "new", expected_version="0"))
            if caps.labels:
                failing.append(lambda: store.set_label(name, "blue", harness.missing_version))
        places = []
        for call in failing:
            with pytest.raises(HeliumError) as info:
                call()
            places += [f"{type(info.value).__name__} in {place}"
                       for place in plaintext_in_frames(info.value, CANARY)]
        assert not places, "plaintext in frame locals: " + "; ".join(places)


#: The SDKs' loggers, whose levels :func:`debug_logs` sets to DEBUG too.
SDK_LOGGERS = ("botocore", "boto3", "urllib3", "azure", "google", "grpc", "hvac", "httpx")


@contextlib.contextmanager
def debug_logs(*, redact: bool = True) -> Iterator[list[str]]:
    """Capture every log record, at DEBUG on every logger, as the text a handler writes
    (message, exception and stack); with the redaction filter installed unless ``redact``
    is false. The list fills as records come and is complete on exit."""
    root = logging.getLogger()
    texts: list[str] = []
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            texts.append(formatter.format(record))

    handler = Capture(logging.DEBUG)
    loggers = [root, *(logging.getLogger(n) for n in SDK_LOGGERS)]
    levels = [logger.level for logger in loggers]
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    if redact:
        redaction.install()
    try:
        yield texts
    finally:
        if redact:
            redaction.uninstall()
        root.removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


_PACKAGE = os.path.dirname(os.path.abspath(helium_secrets.__file__))
_TESTING = os.path.join(_PACKAGE, "testing")


def plaintext_in_frames(error: BaseException, canary: str) -> list[str]:
    """Where ``canary`` shows in the locals of ``error``'s traceback frames that run
    helium-secrets code (its ``testing`` package aside), ``__cause__`` and ``__context__``
    included: in a local, inside containers, or in an object's ``repr``, as an error reporter
    would capture them. Returns ``"function: local"`` for each place."""
    found: list[str] = []
    seen: set[int] = set()
    chain: BaseException | None = error
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        tb = chain.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename.startswith(_PACKAGE) and not code.co_filename.startswith(
                    _TESTING):
                for local, value in tb.tb_frame.f_locals.items():
                    if _shows(value, canary, 0, set()):
                        found.append(f"{code.co_name}: {local}")
            tb = tb.tb_next
        chain = chain.__cause__ or chain.__context__
    return found


def _shows(value: object, canary: str, depth: int, seen: set[int]) -> bool:
    if isinstance(value, str):
        return canary in value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return canary.encode() in bytes(value)
    if depth > 6 or id(value) in seen:
        return False
    seen.add(id(value))
    if isinstance(value, dict):
        return any(_shows(k, canary, depth + 1, seen) or _shows(v, canary, depth + 1, seen)
                   for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_shows(v, canary, depth + 1, seen) for v in value)
    try:
        return canary in repr(value)
    except Exception:
        return False
