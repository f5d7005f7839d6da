"""helium-secrets against the AWS peers, side by side on one moto server.

Measured in one run, on the same loopback moto server:

* the median latency of a cache-hit read (helium ``store.get``, Powertools
  ``SecretsProvider.get(max_age=...)``, aws-secretsmanager-caching ``get_secret_string``);
* the backend calls made when 32 threads cold-read one secret at once;
* the backend calls made to read a batch of 100 secrets;
* the overhead of a helium cache miss over the raw boto3 ``get_secret_value`` it wraps;
* the time of ``import helium_secrets`` and whether it loaded an AWS SDK;
* the same hit, cold-read and batch figures for helium on SSM Parameter Store (``awsssm://``);
* the backend calls made to build a settings object of 20 fields from one JSON secret, then to
  build it again: helium's ``SecretStoreSource`` against pydantic-settings'
  ``AWSSecretsManagerSettingsSource``.

Calls are counted on the wire by the loopback proxy of ``tests/backends/motoserver.py``;
latencies are measured straight against moto, without the proxy. The table comes first, and
the last line printed is one JSON object with the figures.

Run from the repository root: ``python benchmarks/bench_aws.py`` (``--quick`` for a smoke run).
Needs the ``aws`` and ``bench`` extras (boto3, moto[server], aws-secretsmanager-caching,
aws-lambda-powertools).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aiobotocore.config import AioConfig  # noqa: E402
from aws_lambda_powertools.utilities.parameters import SecretsProvider  # noqa: E402
from aws_secretsmanager_caching import SecretCache, SecretCacheConfig  # noqa: E402
from botocore.config import Config  # noqa: E402

from benchmarks.bench_backends import (  # noqa: E402  (the async rows, as on every backend)
    AsyncTarget,
    RawAsync,
    measure_twin,
    twin_table,
)
from benchmarks.bench_core import measure_import  # noqa: E402  (one way to time the import)
from helium_secrets import CachePolicy, SecretStore  # noqa: E402
from helium_secrets.backends.awssecretsmanager import AWSSecretsManagerBackend  # noqa: E402
from helium_secrets.backends.awsssm import AWSSSMBackend  # noqa: E402
from tests.backends.motoserver import MotoServer  # noqa: E402

HOT = "bench/hot"
BATCH = [f"bench/batch/{i:03d}" for i in range(100)]
THREADS = 32
MAX_AGE = 300  # seconds: every cache keeps the value for the whole run

# What DESIGN.md asks for.
TARGETS = {
    "hit_median_ns": 1000,
    "hit_vs_powertools": 3.0,
    "hit_vs_caching": 50.0,
    "cold_calls": 1,
    "batch_calls": 5,
    "miss_overhead_pct": 10.0,
    "import_ms": 50.0,
    "ssm_batch_calls": 10,  # GetParameters takes 10 names
}


def _client(server: MotoServer, *, direct: bool) -> Any:
    """A secretsmanager client, botocore retries off for everyone (fair and countable)."""
    url = f"http://127.0.0.1:{server.moto_port}" if direct else server.endpoint_url
    return server.session().client(
        "secretsmanager", endpoint_url=url,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                      max_pool_connections=THREADS),
    )


def _helium(client: Any) -> SecretStore:
    return SecretStore(AWSSecretsManagerBackend(client=client),
                       cache=CachePolicy(ttl=MAX_AGE, refresh_ahead=0))


def _median_call_ns(fn: Callable[..., Any], *args: Any, samples: int, inner: int,
                    **kwargs: Any) -> float:
    """The median, over ``samples`` timed loops of ``inner`` calls, of the time per call."""
    fn(*args, **kwargs)  # warm: the value is cached from here on
    per_call = []
    for _ in range(samples):
        started = time.perf_counter_ns()
        for _ in range(inner):
            fn(*args, **kwargs)
        per_call.append((time.perf_counter_ns() - started) / inner)
    return statistics.median(per_call)


def measure_hits(server: MotoServer, samples: int) -> dict[str, float]:
    client = _client(server, direct=True)
    store = _helium(client)
    provider = SecretsProvider(boto3_client=client)
    cache = SecretCache(SecretCacheConfig(secret_refresh_interval=MAX_AGE), client=client)
    out = {
        "helium": _median_call_ns(store.get, HOT, samples=samples, inner=200),
        "powertools": _median_call_ns(provider.get, HOT, max_age=MAX_AGE, samples=samples,
                                      inner=50),
        "caching": _median_call_ns(cache.get_secret_string, HOT, samples=samples, inner=20),
    }
    store.close()
    return out


def _cold_calls(server: MotoServer, read: Callable[[], Any]) -> int:
    server.reset_counts()
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker() -> None:
        barrier.wait()
        try:
            read()
        except BaseException as exc:  # reported, never silently dropped
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise RuntimeError(f"{len(errors)} cold reads failed: {type(errors[0]).__name__}")
    return sum(server.requests.values())


def measure_cold(server: MotoServer) -> dict[str, int]:
    raw = _client(server, direct=False)
    store = _helium(_client(server, direct=False))
    provider = SecretsProvider(boto3_client=_client(server, direct=False))
    cache = SecretCache(SecretCacheConfig(secret_refresh_interval=MAX_AGE),
                        client=_client(server, direct=False))
    out = {
        "raw": _cold_calls(server, lambda: raw.get_secret_value(SecretId=HOT)),
        "helium": _cold_calls(server, lambda: store.get(HOT)),
        "powertools": _cold_calls(server, lambda: provider.get(HOT, max_age=MAX_AGE)),
        "caching": _cold_calls(server, lambda: cache.get_secret_string(HOT)),
    }
    store.close()
    return out


def _calls(server: MotoServer, action: Callable[[], Any]) -> int:
    server.reset_counts()
    action()
    return sum(server.requests.values())


def measure_batch(server: MotoServer) -> dict[str, int]:
    raw = _client(server, direct=False)
    store = _helium(_client(server, direct=False))
    provider = SecretsProvider(boto3_client=_client(server, direct=False))
    cache = SecretCache(SecretCacheConfig(secret_refresh_interval=MAX_AGE),
                        client=_client(server, direct=False))

    def helium() -> None:
        got = store.get_many(BATCH)
        assert len(got) == len(BATCH)

    def powertools() -> None:
        got = provider.get_multiple(BATCH, max_age=MAX_AGE)
        assert all(name in got for name in BATCH)

    out = {
        "raw": _calls(server, lambda: [raw.get_secret_value(SecretId=n) for n in BATCH]),
        "helium": _calls(server, helium),
        "powertools": _calls(server, powertools),
        "caching": _calls(server, lambda: [cache.get_secret_string(n) for n in BATCH]),
    }
    store.close()
    return out


def measure_miss(server: MotoServer, samples: int) -> dict[str, float]:
    """Interleaved raw and helium misses on the same secret; medians in microseconds."""
    client = _client(server, direct=True)
    store = _helium(client)
    raw_times: list[float] = []
    helium_times: list[float] = []

    def raw() -> None:
        client.get_secret_value(SecretId=HOT, VersionStage="AWSCURRENT")

    def helium() -> None:
        store.get(HOT, ttl=0)  # ttl=0: always fetch, through the full miss path

    for _ in range(20):  # warm both connections
        raw()
        helium()
    misses = store.stats().misses
    for i in range(samples):
        pair = ((raw, raw_times), (helium, helium_times))
        for fn, times in pair if i % 2 else reversed(pair):
            started = time.perf_counter_ns()
            fn()
            times.append((time.perf_counter_ns() - started) / 1000)
    assert store.stats().misses - misses == samples, "helium reads must all be misses"
    store.close()
    raw_us = statistics.median(raw_times)
    helium_us = statistics.median(helium_times)
    return {"raw_us": raw_us, "helium_us": helium_us,
            "overhead_pct": (helium_us / raw_us - 1) * 100}


def seed(server: MotoServer) -> None:
    client = _client(server, direct=True)
    client.create_secret(Name=HOT, SecretString="hot-value")
    for name in BATCH:
        client.create_secret(Name=name, SecretString=f"value-of-{name}")


def measure_ssm(server: MotoServer, samples: int) -> dict[str, float]:
    """helium on SSM Parameter Store: hit median (ns), 32-thread cold calls, batch calls."""

    def ssm(*, direct: bool) -> Any:
        url = f"http://127.0.0.1:{server.moto_port}" if direct else server.endpoint_url
        return server.session().client(
            "ssm", endpoint_url=url,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                          max_pool_connections=THREADS),
        )

    seeder = ssm(direct=True)
    for name in (HOT, *BATCH):
        seeder.put_parameter(Name=f"/{name}", Value=f"value-of-{name}", Type="SecureString")

    def store(*, direct: bool) -> SecretStore:
        return SecretStore(AWSSSMBackend(client=ssm(direct=direct)),
                           cache=CachePolicy(ttl=MAX_AGE, refresh_ahead=0))

    hot, cold, batch = store(direct=True), store(direct=False), store(direct=False)
    out = {
        "hit_median_ns": _median_call_ns(hot.get, HOT, samples=samples, inner=200),
        "cold_32_threads_calls": _cold_calls(server, lambda: cold.get(HOT)),
        "batch_100_calls": _calls(server, lambda: batch.get_many(BATCH)),
    }
    for each in (hot, cold, batch):
        each.close()
    return out


def measure_settings(server: MotoServer) -> dict[str, int]:
    """Backend calls for a settings object of 20 fields, built twice, by each source."""
    import os
    from typing import Annotated

    from pydantic_settings import AWSSecretsManagerSettingsSource, BaseSettings

    from helium_secrets.integrations.pydantic import SecretRef, SecretStoreSource

    fields = [f"field{i:02d}" for i in range(20)]
    _client(server, direct=True).create_secret(
        Name="bench/settings", SecretString=json.dumps({f: f"v-{f}" for f in fields}))
    store = _helium(_client(server, direct=False))

    def settings(annotation: Callable[[str], Any], source: Callable[[Any], Any]) -> Any:
        def customise(cls: type[Any], /, settings_cls: Any, **_: Any) -> tuple[Any, ...]:
            return (source(settings_cls),)

        return type("Settings", (BaseSettings,), {
            "__annotations__": {f: annotation(f) for f in fields},
            "settings_customise_sources": classmethod(customise)})

    helium = settings(lambda f: Annotated[str, SecretRef("bench/settings", field=f)],
                      lambda cls: SecretStoreSource(cls, store))
    peer = settings(lambda f: str, lambda cls: AWSSecretsManagerSettingsSource(
        cls, "bench/settings", region_name="us-east-1", endpoint_url=server.endpoint_url))
    # The peer builds its client from boto3's default session: moto's dummy credentials.
    dummy = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_SESSION_TOKEN": "testing"}
    saved = {k: os.environ.get(k) for k in dummy}
    os.environ.update(dummy)
    try:
        out = {"helium_first": _calls(server, helium), "helium_again": _calls(server, helium),
               "peer_first": _calls(server, peer), "peer_again": _calls(server, peer)}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    store.close()
    return out


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def aws_twin(server: MotoServer) -> AsyncTarget:
    """The async twin on aiobotocore against a raw aiobotocore client: requests counted at the
    proxy, the miss latencies straight against moto (as the sync ones)."""
    from helium_secrets.backends.awssecretsmanager.aio import AsyncAWSSecretsManagerBackend

    def raw(url: str) -> Callable[[], Any]:
        async def make() -> RawAsync:
            client = await server.aio_session().create_client(
                "secretsmanager", endpoint_url=url,
                config=AioConfig(retries={"total_max_attempts": 1, "mode": "standard"})
            ).__aenter__()

            async def get(name: str) -> Any:
                return await client.get_secret_value(SecretId=name)

            return get, client.close

        return make

    def backend(url: str) -> Callable[[], Any]:
        return lambda: AsyncAWSSecretsManagerBackend(session=server.aio_session(),
                                                     endpoint_url=url)

    direct = f"http://127.0.0.1:{server.moto_port}"
    return AsyncTarget("raw aiobotocore", raw(server.endpoint_url),
                       backend(server.endpoint_url), lambda: sum(server.requests.values()),
                       miss_raw=raw(direct), miss_backend=backend(direct))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    args = parser.parse_args(argv)
    hit_samples, miss_samples = (50, 60) if args.quick else (400, 400)
    warnings.simplefilter("ignore")  # peers' deprecation noise

    with MotoServer() as server:
        seed(server)
        hits = measure_hits(server, hit_samples)
        cold = measure_cold(server)
        batch = measure_batch(server)
        miss = measure_miss(server, miss_samples)
        ssm = measure_ssm(server, hit_samples)
        settings = measure_settings(server)
        twin = measure_twin(aws_twin(server), args.quick, HOT, BATCH)
    imported = measure_import(3 if args.quick else 9)

    figures: dict[str, Any] = {
        "hit_median_ns": {k: round(v, 1) for k, v in hits.items()},
        "hit_speedup": {"vs_powertools": round(_ratio(hits["powertools"], hits["helium"]), 1),
                        "vs_caching": round(_ratio(hits["caching"], hits["helium"]), 1)},
        "cold_32_threads_calls": cold,
        "batch_100_calls": batch,
        "miss": {k: round(v, 2) for k, v in miss.items()},
        "import": {"ms": round(imported["ms"], 2), "sdk_modules": imported["sdk_modules"]},
        "ssm": {k: round(v, 1) for k, v in ssm.items()},
        "settings_20_fields_calls": settings,
        "async": twin,
    }
    checks = {
        "hit median <= 1 us": hits["helium"] <= TARGETS["hit_median_ns"],
        "hit >= 3x Powertools": figures["hit_speedup"]["vs_powertools"]
        >= TARGETS["hit_vs_powertools"],
        "hit >= 50x aws-secretsmanager-caching": figures["hit_speedup"]["vs_caching"]
        >= TARGETS["hit_vs_caching"],
        "cold read: 1 call": cold["helium"] == TARGETS["cold_calls"],
        "batch of 100: <= 5 calls": batch["helium"] <= TARGETS["batch_calls"],
        "miss overhead <= 10%": miss["overhead_pct"] <= TARGETS["miss_overhead_pct"],
        "import: no SDK, < 50 ms": not imported["sdk_modules"]
        and imported["ms"] < TARGETS["import_ms"],
        "ssm hit median <= 1 us": ssm["hit_median_ns"] <= TARGETS["hit_median_ns"],
        "ssm cold read: 1 call": ssm["cold_32_threads_calls"] == TARGETS["cold_calls"],
        "ssm batch of 100: <= 10 calls": ssm["batch_100_calls"] <= TARGETS["ssm_batch_calls"],
    }
    figures["targets_met"] = checks

    rows = [
        ("", "helium", "raw boto3", "powertools", "aws-sm-caching"),
        ("cache-hit get, median ns", f"{hits['helium']:.0f}", "-", f"{hits['powertools']:.0f}",
         f"{hits['caching']:.0f}"),
        ("32 threads cold read: calls", *(str(cold[k]) for k in
                                          ("helium", "raw", "powertools", "caching"))),
        ("batch of 100: calls*", *(str(batch[k]) for k in
                                  ("helium", "raw", "powertools", "caching"))),
        ("cache miss, median us", f"{miss['helium_us']:.0f}", f"{miss['raw_us']:.0f}", "-",
         "-"),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
    print("* Powertools' get_multiple sends all 100 names as one name filter of "
          "BatchGetSecretValue; moto answers in one page, AWS allows 10 filter values and 20 "
          "secrets a page, so on AWS it is refused (and needs >= 5 calls when split).")
    print("* raw boto3 is one GetSecretValue per secret; aws-secretsmanager-caching makes a "
          "DescribeSecret and a GetSecretValue per secret.")
    print(f"helium on SSM Parameter Store: cache-hit get {ssm['hit_median_ns']:.0f} ns median, "
          f"32 threads cold read {ssm['cold_32_threads_calls']:.0f} call(s), batch of 100 "
          f"{ssm['batch_100_calls']:.0f} calls (GetParameters, 10 names each)")
    print(f"settings of 20 fields from one JSON secret, calls then again: helium "
          f"{settings['helium_first']} then {settings['helium_again']}, pydantic-settings' "
          f"AWSSecretsManagerSettingsSource {settings['peer_first']} then "
          f"{settings['peer_again']}")
    print(f"miss overhead over raw boto3: {miss['overhead_pct']:+.1f}%")
    print("\n".join(twin_table(twin)))
    print(f"import helium_secrets: {imported['ms']:.1f} ms, SDK modules loaded: "
          f"{', '.join(imported['sdk_modules']) or 'none'}")
    for check, ok in checks.items():
        print(f"[{'ok' if ok else 'MISSED'}] {check}")
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
