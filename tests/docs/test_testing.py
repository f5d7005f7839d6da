"""docs/testing.md: the plugin and ``FakeSecrets`` as documented, the examples run as a user
would, and the conformance example for a third-party backend."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from helium_secrets import (
    AuditEvent,
    CachePolicy,
    RetryPolicy,
    SecretStore,
    errors,
    open_store,
)
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    SecretNotFoundError,
)
from helium_secrets.testing import AsyncFakeSecrets, FakeSecrets, ManualClock
from tests.docs.pages import ROOT, python_block


def run_block_under_pytest(tmp_path: Path, after: str, filename: str) -> str:
    """Run the page's ```python block after ``after`` as a test file; pytest's output."""
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    path = tmp_path / filename
    path.write_text(python_block(text, after), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(path)], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout[-2000:]
    return result.stdout


def test_the_plugin_examples_pass_under_pytest(tmp_path: Path) -> None:
    assert "3 passed" in run_block_under_pytest(tmp_path, "## The pytest plugin", "test_app_example.py")


def test_the_async_examples_pass_under_pytest_with_anyio(tmp_path: Path) -> None:
    assert "3 passed" in run_block_under_pytest(tmp_path, "## Async tests", "test_async_app.py")


def test_async_fake_secrets_has_the_same_switches() -> None:
    shared = {"seed", "rotate", "fail_next", "set_latency", "calls", "secret", "backend", "url"}
    assert shared <= set(dir(AsyncFakeSecrets)) | {"backend", "url"}
    for name in shared - {"backend", "url"}:
        assert getattr(AsyncFakeSecrets, name) is getattr(FakeSecrets, name), name  # shared
    section = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8").split(
        "## Async tests", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{name}`" in section for name in shared - {"backend", "url"})


def test_fake_secrets_members() -> None:
    fake = FakeSecrets(cache=CachePolicy(ttl=60))
    assert isinstance(fake.backend, MemoryBackend)
    assert fake.rotate("a", "one") == "1"  # returns its version id
    assert fake.rotate("a", "two") == "2"
    assert fake.secret("a").value.reveal() == "two"
    assert fake.calls["get"] == 0  # inspecting is not counted
    fake.fail_next(1, errors.PermissionDeniedError, operations=["list"])
    assert fake.store.get("a").value.reveal() == "two"  # a get is not affected
    with pytest.raises(errors.PermissionDeniedError):
        list(fake.store.list())
    fake.store.put("b", "v")
    fake.store.delete("b")
    fake.store.versions("a")
    fake.store.current_version("a")
    fake.store.set_label("a", "x", "1")
    assert {"get", "put", "delete", "list", "versions", "current_version", "set_label"} <= set(
        fake.calls)
    fake.close()
    assert fake.store.closed


def test_injected_faults_go_through_the_real_error_path(backend: MemoryBackend) -> None:
    events: list[AuditEvent] = []
    with SecretStore(backend, audit=[events.append], retry=RetryPolicy.never()) as store:
        backend.write_external("a", "v")
        backend.fail_next(1, errors.PermissionDeniedError("denied"))  # an instance works too
        with pytest.raises(errors.PermissionDeniedError) as info:
            store.get("a")
        assert info.value.backend == "memory" and info.value.name == "a"
        assert store.stats().errors == 1
        assert (events[-1].outcome, events[-1].error_code) == ("error", "permission_denied")


def test_fake_secrets_caches_by_default_and_adds_latency() -> None:
    import time

    fake = FakeSecrets()
    fake.seed({"a": "v"})
    fake.store.get("a")
    fake.store.get("a")
    assert fake.calls["get"] == 1  # the cache is on by default
    fake.set_latency(0.05)
    started = time.perf_counter()
    fake.store.get("a", ttl=0)
    assert time.perf_counter() - started >= 0.05  # every backend call sleeps this long
    fake.close()


def test_manual_clock_example_from_the_docs() -> None:
    clock = ManualClock()
    fake = FakeSecrets(clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0))
    fake.seed({"app/db": "one"})
    fake.store.get("app/db")
    fake.rotate("app/db", "two")
    clock.advance(61)
    assert fake.store.get("app/db").value.reveal() == "two"
    clock.sleep(1.5)
    assert clock.sleeps == [1.5]
    fake.close()


def test_the_manual_clock_example_runs_as_written() -> None:
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    code = python_block(text, "## Controlling time")
    exec(compile(code, "testing.md:clock", "exec"), {"__name__": "clock_example"})  # noqa: S102


def test_two_mem_stores_never_share_secrets() -> None:
    with open_store("mem://") as one, open_store("mem://") as two:
        one.put("a", "v")
        with pytest.raises(SecretNotFoundError):
            two.get("a")


def test_the_conformance_example_runs_for_a_third_party_backend(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    code = python_block(text, "## Checking your own backend")
    assert "MyBackend(...)" in code
    # The stand-in for "a new client of the test server": every client reaches one fake.
    code = code.replace("MyBackend(...)", "MyBackend()")
    code = ("from helium_secrets.backends.memory import MemoryBackend\n"
            "SERVICE = MemoryBackend()\n"
            "def MyBackend():\n"
            "    return SERVICE\n") + code
    path = tmp_path / "test_my_backend.py"
    path.write_text(code, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider",
                             str(path)], capture_output=True, text=True, timeout=600,
                            cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout[-2000:]
    outcomes = dict(re.findall(r"::(test_\w+(?:\[[^\]]*\])?) (PASSED|SKIPPED|XFAIL|XPASS|FAILED)",
                               result.stdout))
    assert len(outcomes) >= 30 and "PASSED" in outcomes.values()
    # The portable contract ran: none of its cases was skipped.
    contract = {case: outcome for case, outcome in outcomes.items() if "contract" in case}
    assert len(contract) >= 6 and "SKIPPED" not in contract.values(), contract


def test_the_open_store_example_passes_under_pytest(tmp_path: Path) -> None:
    assert "2 passed" in run_block_under_pytest(tmp_path, "## Code that opens its own store", "test_own_store_example.py")


def test_the_async_open_store_example_passes_under_pytest(tmp_path: Path) -> None:
    assert "1 passed" in run_block_under_pytest(tmp_path, "Code on the async twin is pointed", "test_own_async_store_example.py")
