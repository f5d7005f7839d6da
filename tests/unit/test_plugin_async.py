"""The pytest plugin's async fixtures, run the way an application's async test suite runs them:
test modules under pytester, in a subprocess, with anyio's pytest plugin."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

APP_TESTS = '''
import asyncio

import pytest

from helium_secrets import AsyncSecretStore
from helium_secrets.errors import ThrottledError
from helium_secrets.testing import AsyncFakeSecrets

pytestmark = pytest.mark.anyio
STORES = []


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
async def no_task_left():
    """Set up before the store's fixtures, so its check runs after they are torn down."""
    yield
    assert STORES and all(store.closed for store in STORES)
    left = [task.get_name() for task in asyncio.all_tasks() - {asyncio.current_task()}
            if "anyio" not in task.get_coro().cr_code.co_filename]  # not anyio's runner
    assert not left, left


async def read_password(store: AsyncSecretStore) -> str:
    return (await store.get("app/db")).value.reveal()


async def test_seed_read_and_calls(no_task_left, async_fake_secrets, async_secret_store):
    STORES.append(async_secret_store)
    assert isinstance(async_fake_secrets, AsyncFakeSecrets)
    assert async_secret_store is async_fake_secrets.store
    async_fake_secrets.seed({"app/db": "canary-s3cr3t"})
    assert await read_password(async_secret_store) == "canary-s3cr3t"
    assert await read_password(async_secret_store) == "canary-s3cr3t"
    assert async_fake_secrets.calls["get"] == 1  # the second read was a cache hit


async def test_rotate_is_heard_by_a_decorated_listener(no_task_left, async_fake_secrets,
                                                        async_secret_store):
    STORES.append(async_secret_store)
    async_fake_secrets.seed({"app/db": "old"})
    seen = []

    @async_secret_store.on_rotation("app/db")
    async def reconnect(old, new):
        seen.append((old.value.reveal(), new.value.reveal()))

    await asyncio.sleep(0)  # the watch reads its starting version at the loop's next turn
    await read_password(async_secret_store)
    version = async_fake_secrets.rotate("app/db", "new")
    assert await read_password(async_secret_store) == "old"  # cached, as in production
    await async_secret_store.rotation.poll_once()  # the poller task is running too
    assert seen == [("old", "new")]
    assert (await async_secret_store.get("app/db")).version == version
    assert async_fake_secrets.secret("app/db").version == version


async def test_faults_are_retried_then_reach_the_caller(no_task_left, async_fake_secrets,
                                                         async_secret_store):
    STORES.append(async_secret_store)
    async_fake_secrets.seed({"app/db": "hunter2"})
    async_fake_secrets.fail_next(2)  # transient: retried by the store
    assert await read_password(async_secret_store) == "hunter2"
    assert async_fake_secrets.calls["get"] == 3
    async_fake_secrets.fail_next(10, ThrottledError, operations=["put"])
    with pytest.raises(ThrottledError):
        await async_secret_store.put("app/db", "x")
    assert (await async_secret_store.stats()).retries >= 3


@pytest.mark.parametrize("run", [1, 2])
async def test_each_test_gets_a_fresh_store(async_secret_store, run):
    STORES.append(async_secret_store)
    assert [name async for name in async_secret_store.list()] == []
    await async_secret_store.put("leak/check", f"written by run {run}")


def test_every_store_was_closed_after_its_test():
    assert len(STORES) == 5
    assert all(store.closed for store in STORES)
'''


def test_the_async_fixtures_serve_an_anyio_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=APP_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=6)
    assert "canary-s3cr3t" not in result.stdout.str()


def test_a_test_on_another_anyio_backend_is_skipped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.fixture
        def anyio_backend_name():
            return "trio"  # as on trio's runner (trio is not installed here)

        @pytest.mark.anyio
        async def test_uses_the_store(async_secret_store):
            await async_secret_store.put("a", "b")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*AsyncSecretStore runs on asyncio, not on trio*"])


def test_the_plugin_loads_without_anyio(pytester: pytest.Pytester) -> None:
    # Without anyio's plugin the sync fixtures still serve; an async fixture asked for says
    # which fixture it is missing.
    pytester.makepyfile(
        """
        def test_sync(secret_store, fake_secrets):
            fake_secrets.seed({"a": "b"})
            assert secret_store.get("a").value.reveal() == "b"

        def test_async(async_secret_store):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:anyio")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'anyio_backend_name' not found*"])


def test_the_plugin_module_imports_neither_anyio_nor_asyncio() -> None:
    code = ("import sys; sys.modules['anyio'] = None  # as if not installed\n"
            "import helium_secrets.testing.plugin\n"
            "print('asyncio' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"
