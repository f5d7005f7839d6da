"""The fleet simulation's own correctness (benchmarks/fleet.py): small fleets whose request
counts can be worked out by hand, on the real store."""

from __future__ import annotations

import math

from benchmarks.fleet import Config, Fault, figures, scenario, simulate
from helium_secrets import GuardPolicy, PollPolicy


def test_a_fleet_reads_each_secret_once_at_start_and_nothing_more_before_expiry() -> None:
    # 7 instances x 3 secrets, all started in the first second, no refresh-ahead: before the
    # TTL runs out the service sees exactly 7 x 3 reads, all in the first second.
    config = Config(instances=7, secrets=3, ttl=100, refresh_ahead=0, watched=0, horizon=99,
                    read_every=1)
    run = simulate("start", config, start_within=1.0)
    assert sum(run.per_second["get"]) == 7 * 3
    assert sum(run.per_second["get"][1:]) == 0
    assert sum(run.per_second["probe"]) == 0
    assert run.requests == [3] * 7


def test_without_refresh_ahead_each_secret_is_read_once_per_ttl() -> None:
    # refresh_ahead=0: a value is fetched again by the first read after it expired. Started in
    # [0, 1) and read ~every 0.1 s, each of 2 x 2 secrets is fetched near 0, 10, 20 and 30 s:
    # 4 times in 35 s, 16 in all.
    config = Config(instances=2, secrets=2, ttl=10, refresh_ahead=0, watched=0, horizon=35,
                    read_every=0.1)
    run = simulate("start", config, start_within=1.0)
    assert sum(run.per_second["get"]) == 16
    assert run.read_errors == 0


def test_after_a_fleet_wide_start_the_refreshes_are_spread_not_a_wave() -> None:
    # ttl 100, refresh_ahead 0.2: a value fetched cold is first due at a random moment of its
    # 80-90 s period, then every period after that. 50 x 4 values fetched in the first second
    # are refreshed 2 to 4 times in 250 s, and their first refreshes are spread over 0-90 s,
    # not all in 80-90 s (the wave a synchronized fleet used to make, cycle after cycle).
    config = Config(instances=50, secrets=4, ttl=100, watched=0, horizon=250, read_every=0.5)
    run = simulate("start", config, start_within=1.0)
    gets = run.per_second["get"]
    assert 3 * 200 <= sum(gets) <= 5 * 200
    assert sum(gets[:1]) == 200
    first = [sum(gets[t:t + 10]) for t in range(1, 91, 10)]
    assert max(first) <= 50, first  # about 22 each; a wave would put 200 in one


def test_the_poller_probes_each_watched_secret_on_its_schedule() -> None:
    # 10 instances watch 2 secrets each, polled every 20 s +- 20 %: in 200 s each instance
    # polls between 200 / 24 and 200 / 16 times, each poll one probe per watched secret.
    config = Config(instances=10, secrets=3, ttl=1000, refresh_ahead=0, watched=2,
                    poll_interval=20, horizon=200, read_every=5)
    run = simulate("start", config, start_within=1.0)
    jitter = PollPolicy().jitter
    polls = sum(run.per_second["probe"]) / (10 * 2)
    assert math.floor(199 / (20 * (1 + jitter))) <= polls <= math.ceil(200 / (20 * (1 - jitter)))
    assert sum(run.per_second["get"]) == 10 * 3  # no rotation, no refresh due: no read


def test_an_outage_gets_at_most_the_guards_threshold_and_one_trial_per_cooldown() -> None:
    # DESIGN.md: during an outage each instance sends at most the guard's threshold of attempts,
    # then one per cool-down (the retries' backoff included: each sleeps on its own clock).
    guard = GuardPolicy()
    config = Config(instances=6, secrets=4, ttl=50, watched=1, poll_interval=10, horizon=200,
                    read_every=1, fault_at=100, fault_for=60)
    run = scenario("outage", config)
    limit = guard.threshold + math.ceil(config.fault_for / guard.cooldown) + 1
    assert 0 < max(run.in_fault) <= limit
    assert run.failed == sum(run.in_fault)
    start, end = 100, 160
    assert sum(run.total[start:end]) == run.failed  # every request in the window failed
    assert run.read_errors == 0  # every reader was served the cached (stale) value


def test_the_same_seed_gives_the_same_run() -> None:
    config = Config(instances=4, secrets=3, ttl=30, watched=1, poll_interval=10, horizon=120,
                    read_every=2)
    fault = Fault(40, 60, retry_after=5)
    first, second = simulate("x", config, fault=fault), simulate("x", config, fault=fault)
    assert first.per_second == second.per_second
    assert first.inside_retry_after == second.inside_retry_after


def test_figures_count_what_the_run_did() -> None:
    config = Config(instances=4, secrets=3, ttl=30, watched=1, poll_interval=10, horizon=120,
                    read_every=2, fault_at=40, fault_for=20)
    run = scenario("storm", config)
    row = figures(run, steady_mean=1.0)
    assert row["reads"] + row["probes"] == sum(run.requests)
    assert row["requests_during_fault"] == run.failed
    assert row["requests_per_instance"] == round(sum(run.requests) / 4, 1)
    assert row["peak_rps"] == max(run.total[30:120])
