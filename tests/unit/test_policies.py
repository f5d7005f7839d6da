"""The policies refuse bad values with a message naming the field, accept every boundary value,
and derive variants; the cache's own bookkeeping (negative entries, generations)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from helium_secrets import CachePolicy, GuardPolicy, RetryPolicy
from helium_secrets.layers.cache import SecretCache

NEGATIVE = "CachePolicy durations must not be negative"


@pytest.mark.parametrize(("make", "message"), [
    *((lambda f=f: CachePolicy(**{f: -0.001}), NEGATIVE)  # type: ignore[arg-type]
      for f in ("ttl", "stale_if_error", "negative_ttl", "stale_wait")),
    (lambda: CachePolicy(max_entries=0), "CachePolicy.max_entries must be at least 1"),
    (lambda: CachePolicy(refresh_ahead=1), "CachePolicy.refresh_ahead is a fraction in [0, 1)"),
    (lambda: CachePolicy(refresh_ahead=-0.1), "CachePolicy.refresh_ahead is a fraction in [0, 1)"),
    (lambda: GuardPolicy(threshold=-1),
     "GuardPolicy.threshold must not be negative (0 turns the guard off)"),
    (lambda: GuardPolicy(cooldown=-0.001), "GuardPolicy.cooldown must not be negative"),
    (lambda: RetryPolicy(max_attempts=0), "RetryPolicy.max_attempts must be at least 1"),
    (lambda: RetryPolicy(initial_backoff=-1), "RetryPolicy backoffs must not be negative"),
    (lambda: RetryPolicy(max_backoff=-1), "RetryPolicy backoffs must not be negative"),
    (lambda: RetryPolicy(deadline=0), "RetryPolicy.deadline must be positive or None"),
])
def test_a_bad_value_is_refused_naming_the_field(make: object, message: str) -> None:
    assert callable(make)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make()


def test_every_boundary_value_is_accepted() -> None:
    CachePolicy(ttl=0, stale_if_error=0, negative_ttl=0, stale_wait=0, max_entries=1,
                refresh_ahead=0)
    CachePolicy(refresh_ahead=0.999)
    GuardPolicy(threshold=0, cooldown=0)
    GuardPolicy(cooldown=0.5)
    RetryPolicy(max_attempts=1, initial_backoff=0, max_backoff=0, deadline=0.5)
    RetryPolicy(deadline=None)


@pytest.mark.parametrize(("policy", "change"), [
    (CachePolicy(), {"ttl": 7.0}), (GuardPolicy(), {"cooldown": 2.0}),
    (RetryPolicy(), {"max_attempts": 2}),
])
def test_replace_changes_only_what_it_is_given(
    policy: CachePolicy | GuardPolicy | RetryPolicy, change: dict[str, object]
) -> None:
    derived = policy.replace(**change)
    assert type(derived) is type(policy)
    for field in dataclasses.fields(policy):
        assert getattr(derived, field.name) == change.get(field.name, getattr(policy, field.name))


def test_a_remembered_not_found_repeats_the_backends_message_and_names_its_backend() -> None:
    cache = SecretCache(CachePolicy(negative_ttl=0.5))  # under a second is still remembered
    cache.put_missing("app/db", 100.0, "no such secret in vault")
    entry = cache.entries["app/db"]
    assert (entry.secret, entry.stored_at, entry.refresh_at, entry.expires_at) == (
        None, 100.0, 100.5, 100.5)
    error = cache.missing_error(entry, "app/db", "vault")
    assert str(error) == "no such secret in vault (cached answer) (backend=vault, name='app/db')"
    cache.put_missing("other", 100.0, "")
    assert cache.missing_error(cache.entries["other"], "other", "vault").message == (
        "secret not found (cached answer)")


def test_no_negative_caching_when_negative_ttl_is_0() -> None:
    cache = SecretCache(CachePolicy(negative_ttl=0))
    cache.put_missing("app/db", 100.0, "gone")
    assert cache.entries == {}


def test_each_invalidation_and_clear_is_a_new_generation() -> None:
    cache = SecretCache(CachePolicy())
    seen = [cache.generation]
    for forget in (cache.invalidate, cache.invalidate, lambda name: cache.clear(), cache.invalidate):
        forget("a")
        seen.append(cache.generation)
    assert len(set(seen)) == len(seen), f"a generation came back: {seen}"
