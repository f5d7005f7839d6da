"""A fleet of application instances against one secret manager, on a virtual clock.

Each instance is a real :class:`~helium_secrets.SecretStore` (its cache with refresh-ahead
jitter, request coalescing, stale-if-error, the fail-fast guard, retry with backoff and
Retry-After, the rotation poller's probes), over one shared backend that counts every request
by the virtual second it arrives in. Nothing is mocked but time and the network:

* each instance has its own clock (a lock-free :class:`~helium_secrets.testing.ManualClock`),
  moved forward to the fleet's time before each of its events; a retry's ``sleep`` moves only
  that instance's clock, so the retry lands in the backend at the time it would;
* the store's background refreshes run on an executor the simulation passes in
  (``SecretStore(executor=...)``), which runs each one at once, in the simulation's one thread;
* the poller's probes are the store's own :meth:`RotationListeners.poll_once`, on the schedule
  of the store's :class:`~helium_secrets.PollPolicy` (``jittered`` / ``next_delay``), with the
  store's poller thread off.

An instance reads each of its secrets every ``--read-every`` seconds (from a random phase) and
watches ``--watched`` of them with a rotation listener. Scenarios, each a fresh fleet:

* ``steady``: instances started at random over one TTL, as a long-running fleet is;
* ``start``: the whole fleet starts within 10 s (a deployment);
* ``outage``: the backend answers 503 for 60 s, then recovers;
* ``storm``: the backend answers 429 with Retry-After for 60 s (a throttling storm), then
  recovers.

Figures per scenario (printed, never asserted): the mean and peak requests per second, requests
during the fault and the most any instance sent in it, the time to recover, requests per
instance, and, for the storm, how many requests an instance sent while a Retry-After it had been
given was still running. A PNG plot of requests per second over time is written (matplotlib).

Run from the repository root: ``python benchmarks/fleet.py`` (1,000 instances x 50 secrets,
TTL 300 s), ``--quick`` for a smoke run, ``--plot PATH`` for where the PNG goes.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import logging
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from helium_secrets import (  # noqa: E402
    CachePolicy,
    GuardPolicy,
    PollPolicy,
    RetryPolicy,
    SecretStore,
    VersionInfo,
)
from helium_secrets.backends._base import Classified, RawSecret  # noqa: E402
from helium_secrets.backends.memory import InjectedFault, MemoryBackend  # noqa: E402
from helium_secrets.errors import ErrorCode, HeliumError  # noqa: E402

DEFAULT_PLOT = ROOT / "docs" / "images" / "fleet.png"
START = 1000.0  # the instances' clocks read this at the fleet's second 0


# -- the virtual clock and what runs on it ---------------------------------------------------


class InstanceClock:
    """One instance's :class:`~helium_secrets.layers.retry.Clock`: it moves when the fleet's
    time does (:class:`Scheduler`), and ``sleep`` (a retry's backoff) moves it alone, at once.
    :class:`~helium_secrets.testing.ManualClock` without its lock: the fleet runs in one
    thread, and the hit path reads the clock on every ``get``."""

    __slots__ = ("now",)

    def __init__(self, start: float) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class InlineExecutor(Executor):
    """Runs a store's background refresh at once, in the caller's thread (the simulation's):
    deterministic, and at the caller's virtual time."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # the store's jobs catch their own; kept like a pool would
            future.set_exception(exc)
        return future


# -- the backend: one service, counting ------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """The service fails every request from ``start`` to ``end`` (fleet seconds)."""

    start: float
    end: float
    code: ErrorCode = ErrorCode.UNAVAILABLE
    retry_after: float | None = None


class CountingService(MemoryBackend):
    """The secret manager the whole fleet shares: the in-memory backend, counting each request
    by kind (``get``, ``probe``) and by the virtual second the calling instance sends it in,
    and failing them during a :class:`Fault`."""

    def __init__(self, horizon: float, fault: Fault | None = None) -> None:
        super().__init__()
        self.fault = fault
        seconds = int(horizon) + 1
        self.per_second = {"get": [0] * seconds, "probe": [0] * seconds}
        self.failed = 0
        #: The calling instance, set by the simulation before each of its events.
        self.caller: Instance | None = None

    def _arrive(self, kind: str) -> None:
        caller = self.caller
        assert caller is not None, "a request outside an instance's event"
        moment = caller.clock.monotonic() - START
        self.per_second[kind][min(int(moment), len(self.per_second[kind]) - 1)] += 1
        caller.requests += 1
        fault = self.fault
        if fault is not None and fault.start <= moment < fault.end:
            self.failed += 1
            caller.in_fault += 1
            if caller.retry_after_until > moment:
                caller.inside_retry_after += 1
            if fault.retry_after is not None:
                caller.retry_after_until = max(caller.retry_after_until,
                                               moment + fault.retry_after)
            raise InjectedFault(Classified(fault.code, "injected by the fleet simulation",
                                           retry_after=fault.retry_after))

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        self._arrive("get")
        return super().get(name, version, label)

    def current_version(self, name: str) -> VersionInfo:
        self._arrive("probe")
        return super().current_version(name)

    def close(self) -> None:
        """Shared by every instance: closing one store leaves it open."""


# -- the fleet -------------------------------------------------------------------------------


@dataclass
class Instance:
    """One application instance: its store, its clock and what the service saw of it."""

    store: SecretStore
    clock: InstanceClock
    requests: int = 0
    in_fault: int = 0
    inside_retry_after: int = 0
    retry_after_until: float = float("-inf")
    read_errors: int = 0
    start_requests: int = 0

    def read(self, name: str) -> None:
        """What the application does: read a secret; a failure is counted, not fatal."""
        try:
            self.store.get(name)
        except HeliumError:
            self.read_errors += 1


class Scheduler:
    """The fleet's time: a queue of events, run in order of their moments, in one thread.

    An event is ``action(instance, arg)`` for one instance; before it runs, the instance's clock
    is moved up to the fleet's time (a retry's sleeps may have taken it further already) and the
    service is told who is calling.
    """

    def __init__(self, service: CountingService) -> None:
        self.now = 0.0
        self._service = service
        self._queue: list[tuple[float, int, Action, Instance, Any]] = []
        self._order = itertools.count()  # ties run in the order they were scheduled

    def at(self, moment: float, action: Action, instance: Instance, arg: Any = None) -> None:
        heapq.heappush(self._queue, (moment, next(self._order), action, instance, arg))

    def run_until(self, end: float) -> None:
        queue, service, pop = self._queue, self._service, heapq.heappop
        while queue and queue[0][0] < end:
            self.now, _, action, instance, arg = pop(queue)
            clock = instance.clock
            if clock.now < self.now + START:
                clock.now = self.now + START
            service.caller = instance
            action(instance, arg)
        self.now = end


Action = Callable[["Instance", Any], None]


@dataclass(frozen=True)
class Config:
    instances: int = 1000
    secrets: int = 50
    ttl: float = 300.0
    refresh_ahead: float = CachePolicy().refresh_ahead
    read_every: float = 30.0
    watched: int = 1
    poll_interval: float = 60.0
    horizon: float = 1000.0
    fault_at: float = 500.0
    fault_for: float = 60.0
    retry_after: float = 10.0
    seed: int = 19

    @property
    def expected_rate(self) -> float:
        """N x S / TTL: the reads per second of a fleet that reads each secret once per TTL."""
        return self.instances * self.secrets / self.ttl


@dataclass
class Run:
    """What one scenario did."""

    name: str
    config: Config
    fault: Fault | None
    per_second: dict[str, list[int]]
    #: Per instance: requests sent, requests sent during the fault, and those sent while a
    #: Retry-After it had been given was still running.
    requests: list[int] = field(repr=False)
    in_fault: list[int] = field(repr=False)
    inside_retry_after: list[int] = field(repr=False)
    #: Per instance: the requests its start-up reads made.
    start_requests: list[int] = field(repr=False)
    #: Reads that failed at the application (no value, not even a stale one).
    read_errors: int = 0
    failed: int = 0
    wall_s: float = 0.0

    @property
    def total(self) -> list[int]:
        return [a + b for a, b in zip(self.per_second["get"], self.per_second["probe"],
                                      strict=True)]


def simulate(name: str, config: Config, *, start_within: float | None = None,
             fault: Fault | None = None) -> Run:
    """Run one fleet for ``config.horizon`` virtual seconds.

    :param start_within: the seconds over which the instances start (default: one TTL, as a
        fleet that has been running a while).
    """
    random.seed(f"{config.seed}/{name}")  # the store's jitter and backoff draw from `random`
    rng = random.Random(f"{config.seed}/{name}/fleet")
    service = CountingService(config.horizon, fault)
    scheduler = Scheduler(service)
    names = [f"app/secret-{i:03d}" for i in range(config.secrets)]
    for secret in names:
        service.put(secret, f"value of {secret}")
    executor = InlineExecutor()
    cache = CachePolicy(ttl=config.ttl, refresh_ahead=config.refresh_ahead,
                        max_entries=max(config.secrets, 1))
    schedule = PollPolicy(interval=config.poll_interval)
    spread = config.ttl if start_within is None else start_within
    at = scheduler.at

    def read(instance: Instance, secret: str) -> None:
        # Each secret is read at random moments, read_every apart on average (a Poisson
        # process, as request-driven reads are; a fixed period would add a phase of its own).
        instance.read(secret)
        at(scheduler.now + rng.expovariate(1 / config.read_every), read, instance, secret)

    def poll(instance: Instance, delay: float) -> None:
        following = schedule.next_delay(delay, ok=instance.store.rotation.poll_once())
        at(scheduler.now + schedule.jittered(following), poll, instance, following)

    def begin(instance: Instance, _: object) -> None:
        store = instance.store
        for secret in names:  # start-up reads every secret once, then each on its own phase
            instance.read(secret)
            at(scheduler.now + rng.expovariate(1 / config.read_every), read, instance, secret)
        instance.start_requests = instance.requests
        for secret in names[:config.watched]:
            store.on_rotation(secret, lambda old, new: None)
        if config.watched:
            at(scheduler.now + schedule.jittered(config.poll_interval), poll, instance,
               config.poll_interval)

    instances: list[Instance] = []
    for _ in range(config.instances):
        clock = InstanceClock(START)
        store = SecretStore(service, cache=cache, clock=clock, executor=executor,
                            poll=PollPolicy(interval=None),  # its schedule is driven above
                            retry=RetryPolicy(), guard=GuardPolicy())
        instance = Instance(store, clock)
        instances.append(instance)
        at(rng.uniform(0, spread), begin, instance)

    began = time.perf_counter()
    scheduler.run_until(config.horizon)
    wall = time.perf_counter() - began
    for instance in instances:
        instance.store.close()
    return Run(name, config, fault, service.per_second,
               [i.requests for i in instances], [i.in_fault for i in instances],
               [i.inside_retry_after for i in instances], [i.start_requests for i in instances],
               sum(i.read_errors for i in instances),
               service.failed, wall)


SCENARIOS = ("steady", "start", "outage", "storm")


def scenario(name: str, config: Config) -> Run:
    """One of :data:`SCENARIOS`, on a fresh fleet."""
    window = (config.fault_at, config.fault_at + config.fault_for)
    if name == "start":
        return simulate(name, config, start_within=10.0)
    if name == "outage":
        return simulate(name, config, fault=Fault(*window))
    if name == "storm":
        return simulate(name, config, fault=Fault(*window, code=ErrorCode.THROTTLED,
                                                  retry_after=config.retry_after))
    return simulate(name, config)


def quiet() -> None:
    """Each failed poll logs a warning: thousands in an outage, and not the figures. (For the
    script's processes only: a library's logging is its caller's to set.)"""
    logging.getLogger("helium_secrets").setLevel(logging.ERROR)


def run_all(config: Config, processes: int = 2) -> list[Run]:
    """The scenarios, on ``processes`` cores (each scenario runs in one thread)."""
    if processes <= 1:
        return [scenario(name, config) for name in SCENARIOS]
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(processes, initializer=quiet) as pool:
        return list(pool.map(scenario, SCENARIOS, [config] * len(SCENARIOS)))


# -- figures ---------------------------------------------------------------------------------


def _mean(values: Sequence[int]) -> float:
    return sum(values) / len(values) if values else 0.0


def figures(run: Run, steady_mean: float) -> dict[str, Any]:
    """The scenario's figures; ``steady_mean`` is the steady scenario's mean (requests/s)."""
    config = run.config
    total = run.total
    warm = int(config.ttl) if run.name != "start" else 0  # the steady part begins after one TTL
    window = total[warm:int(config.horizon)]
    out: dict[str, Any] = {
        "mean_rps": round(_mean(window), 1),
        "peak_rps": max(window, default=0),
        "peak_over_mean": round(max(window, default=0) / _mean(window), 2) if window else 0.0,
        "reads": sum(run.per_second["get"]),
        "probes": sum(run.per_second["probe"]),
        "requests_per_instance": round(sum(total) / config.instances, 1),
        "max_requests_per_instance": max(run.requests),
        "app_read_errors": run.read_errors,
        "wall_s": round(run.wall_s, 1),
    }
    limit = 1.5 * steady_mean
    if run.name == "start":
        burst = total[:int(config.ttl)]
        out["start_reads"] = sum(run.start_requests)
        out["start_reads_per_instance_secret"] = round(
            out["start_reads"] / (config.instances * config.secrets), 3)
        later = total[60:]
        out["peak_after_start_rps"] = max(later, default=0)
        out["peak_after_start_over_steady"] = round(max(later, default=0) / steady_mean, 2)
        out["start_peak_rps"] = max(burst, default=0)
        out["recovered_after_s"] = _recovered(total, 60, limit)
    if run.fault is not None:
        start, end = int(run.fault.start), int(run.fault.end)
        out["requests_during_fault"] = sum(total[start:end])
        out["failed_requests"] = run.failed
        out["max_per_instance_during_fault"] = max(run.in_fault)
        out["recovered_after_s"] = _recovered(total, end, limit)
        echo = total[end + 60:]
        out["peak_after_recovery_rps"] = max(total[end:], default=0)
        out["echo_peak_over_steady"] = round(max(echo, default=0) / steady_mean, 2)
        if run.fault.retry_after is not None:
            out["sent_inside_retry_after"] = sum(run.inside_retry_after)
    return out


def _recovered(total: Sequence[int], after: int, limit: float) -> int | None:
    """Seconds from ``after`` until the rate stays at or under ``limit`` for good (``None``:
    not within the run)."""
    over = [t for t in range(after, len(total) - 1) if total[t] > limit]
    if not over:
        return 0
    last = over[-1]
    return None if last >= len(total) - 61 else last + 1 - after


def plot(runs: Sequence[Run], path: Path) -> None:
    """Requests per second over time, one panel per scenario."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config = runs[0].config
    top = 5 * config.expected_rate  # linear, so that 1.5x reads as 1.5x; the start burst is cut
    end = int(config.horizon)
    fig, axes = plt.subplots(len(runs), 1, figsize=(9, 2.2 * len(runs)), sharex=True)
    for ax, run in zip(axes, runs, strict=True):
        ax.plot(run.per_second["get"][:end], lw=0.7, label="reads")
        ax.plot(run.per_second["probe"][:end], lw=0.7, label="version probes")
        ax.axhline(config.expected_rate, color="grey", ls="--", lw=0.8, label="N x S / TTL")
        if run.name != "start":
            ax.axvspan(0, config.ttl, color="grey", alpha=0.12, label="instances starting")
        else:
            peak = max(run.per_second["get"][:60])
            ax.annotate(f"start: {peak:,}/s", (12, top * 0.9), fontsize=7)
        if run.fault is not None:
            ax.axvspan(run.fault.start, run.fault.end, color="red", alpha=0.15,
                       label="503" if run.fault.retry_after is None else "429 + Retry-After")
        ax.set_title(run.name, loc="left", fontsize=9)
        ax.set_ylabel("requests/s")
        ax.set_ylim(0, top)
        ax.legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("seconds")
    fig.suptitle(f"{config.instances} instances x {config.secrets} secrets, TTL "
                 f"{config.ttl:.0f} s, read every {config.read_every:.0f} s, "
                 f"{config.watched} watched", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small fleet (a smoke run)")
    parser.add_argument("--instances", type=int)
    parser.add_argument("--secrets", type=int)
    parser.add_argument("--plot", type=Path,
                        help=f"where the PNG goes (default {DEFAULT_PLOT.relative_to(ROOT)}; "
                             "--quick: a temporary file)")
    parser.add_argument("--processes", type=int, default=2,
                        help="scenarios run side by side (default 2)")
    args = parser.parse_args(argv)
    config = Config(instances=100, secrets=10) if args.quick else Config()
    if args.instances or args.secrets:
        config = Config(instances=args.instances or config.instances,
                        secrets=args.secrets or config.secrets)
    quiet()
    runs = run_all(config, args.processes)
    steady = figures(runs[0], 1.0)
    steady_mean = steady["mean_rps"] or 1.0
    table = {run.name: figures(run, steady_mean) for run in runs}
    print(f"fleet: {config.instances} instances x {config.secrets} secrets, TTL {config.ttl:.0f} s, "
          f"each secret read every {config.read_every:.0f} s, {config.watched} watched "
          f"(polled every {config.poll_interval:.0f} s); N x S / TTL = "
          f"{config.expected_rate:.1f} reads/s")
    for name, row in table.items():
        print(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in row.items()))
    path = args.plot or (Path(tempfile.mkdtemp()) / "fleet.png" if args.quick else DEFAULT_PLOT)
    plot(runs, path)
    print(f"plot: {path}")
    print(json.dumps({"config": config.__dict__, "expected_rate": config.expected_rate,
                      "scenarios": table}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
