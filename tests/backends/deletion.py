"""Test helper: the portable deletion contract (DESIGN.md, "The value model"), checked the same
way on every backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helium_secrets import SecretStore
from helium_secrets.errors import SecretNotFoundError

__all__ = ["assert_reads_after_delete_are_not_found"]


def assert_reads_after_delete_are_not_found(store: SecretStore, name: str) -> None:
    """Put ``name``, delete it (no purge: a recovery window where the service has one), and
    check that every read is a :class:`SecretNotFoundError` (the class itself, not a subclass)
    naming it, that listings leave it out, and that deleting it again is "not found" too.

    :return: nothing; the secret is left deleted (recoverable where the service keeps it).
    """
    written = store.put(name, "v")
    store.delete(name)
    reads: dict[str, Callable[[], object]] = {
        "get": lambda: store.get(name),
        "get-version": lambda: store.get(name, written.version),
        "refresh": lambda: store.refresh(name),
        "get_json": lambda: store.get_json(name),
        "versions": lambda: store.versions(name),
        "current_version": lambda: store.current_version(name),
        "get_many": lambda: store.get_many([name]),
        "delete": lambda: store.delete(name),
    }
    for what, read in reads.items():
        with pytest.raises(SecretNotFoundError) as info:
            read()
        assert type(info.value) is SecretNotFoundError, (what, type(info.value).__name__)
        assert info.value.name == name, what
    assert store.get_many([name], ignore_missing=True) == {}
    parent = name.rpartition("/")[0]
    assert name not in list(store.list(parent + "/" if parent else ""))
