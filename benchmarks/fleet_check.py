"""The fleet simulation against a small real fleet: do its figures hold?

The same small fleet twice: once simulated (``benchmarks/fleet.py``, virtual time), once for
real, in real time, with real threads (each store's refresh pool and poller), real boto3 clients
and moto's server, the requests counted at the loopback proxy in front of it
(``tests/backends/motoserver.py``). Both fleets start their instances at random over one TTL,
read each secret at random moments (``read_every`` apart on average) and watch one secret each.
The requests of each kind (reads: ``GetSecretValue``, probes: ``DescribeSecret``) are compared;
DESIGN.md asks for agreement within 20 %.

Defaults: 20 stores x 5 secrets, TTL 30 s, 150 s of real time (``--quick``: TTL 10 s, 25 s).
Printed, never asserted; the last line is one JSON object with the figures.

Run from the repository root: ``python benchmarks/fleet_check.py``. Needs the ``aws`` and
``bench`` extras.
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from botocore.config import Config as BotoConfig  # noqa: E402

from benchmarks.fleet import Config, simulate  # noqa: E402
from helium_secrets import CachePolicy, PollPolicy, SecretStore  # noqa: E402
from helium_secrets.backends.awssecretsmanager import AWSSecretsManagerBackend  # noqa: E402
from helium_secrets.errors import HeliumError  # noqa: E402
from tests.backends.motoserver import MotoServer  # noqa: E402

AGREEMENT = 0.20
KINDS = {"get": "GetSecretValue", "probe": "DescribeSecret"}


def real_run(config: Config, seed: int = 19) -> dict[str, int]:
    """The fleet for real: ``config.horizon`` seconds of wall time."""
    rng = random.Random(seed)
    names = [f"app/secret-{i:03d}" for i in range(config.secrets)]
    with MotoServer() as server:
        seeder = server.client()
        for name in names:
            seeder.create_secret(Name=name, SecretString=f"value of {name}")

        def store() -> SecretStore:
            client = server.session().client(
                "secretsmanager", endpoint_url=server.endpoint_url,
                config=BotoConfig(retries={"total_max_attempts": 1, "mode": "standard"}))
            return SecretStore(AWSSecretsManagerBackend(client=client),
                               cache=CachePolicy(ttl=config.ttl,
                                                 refresh_ahead=config.refresh_ahead),
                               poll=PollPolicy(interval=config.poll_interval))

        stores = [store() for _ in range(config.instances)]
        server.reset_counts()
        began = time.monotonic()
        # (moment, order, store index, name or None for the start-up)
        events: list[tuple[float, int, int, str | None]] = []
        order = 0
        for index in range(config.instances):
            events.append((rng.uniform(0, config.ttl), order, index, None))
            order += 1
        heapq.heapify(events)
        errors = 0
        while events and events[0][0] < config.horizon:
            moment, _, index, which = heapq.heappop(events)
            pause = began + moment - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            target = stores[index]
            for secret in names if which is None else [which]:
                try:
                    target.get(secret)
                except HeliumError:
                    errors += 1
                heapq.heappush(events, (moment + rng.expovariate(1 / config.read_every), order,
                                        index, secret))
                order += 1
            if which is None:
                for secret in names[:config.watched]:
                    target.on_rotation(secret, lambda old, new: None)
        leftover = config.horizon - (time.monotonic() - began)
        if leftover > 0:
            time.sleep(leftover)
        counts = {kind: server.requests[action] for kind, action in KINDS.items()}
        for each in stores:
            each.close()
    counts["read_errors"] = errors
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="TTL 10 s, 25 s (a smoke run)")
    args = parser.parse_args(argv)
    config = (Config(instances=20, secrets=5, ttl=10, read_every=1, poll_interval=4, horizon=25)
              if args.quick else
              Config(instances=20, secrets=5, ttl=30, read_every=3, poll_interval=10,
                     horizon=150))
    simulated = simulate("check", config)
    simulated_counts = {kind: sum(simulated.per_second[kind]) for kind in KINDS}
    real = real_run(config)
    figures: dict[str, Any] = {"config": config.__dict__, "simulated": simulated_counts,
                               "real": real}
    print(f"{config.instances} stores x {config.secrets} secrets, TTL {config.ttl:.0f} s, "
          f"{config.horizon:.0f} s (real time against moto's server, virtual in the "
          f"simulation)")
    for kind in (*KINDS, "total"):
        sim = sum(simulated_counts.values()) if kind == "total" else simulated_counts[kind]
        got = sum(real[k] for k in KINDS) if kind == "total" else real[kind]
        gap = (sim - got) / got if got else float("inf")
        figures[f"{kind}_gap"] = round(gap, 3)
        mark = "ok" if abs(gap) <= AGREEMENT else "MISSED"
        print(f"  {kind:>5}: simulated {sim}, real {got} ({gap:+.1%}) [{mark}]")
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
