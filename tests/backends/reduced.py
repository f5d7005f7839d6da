"""The memory fake shaped like the services that lack what it has natively, and a scripted
variant of it that fails chosen calls, for the write path's tests.

The write path emulates check-and-set (read, compare, write), recovers a lost answer without
request tokens, and stages in a companion secret where a service has no native staging. The
services that take those paths (Key Vault, Vault KV, GCP without an alias) run the conformance
suite only against emulators; these fakes take the same paths in the core suite. Each behaves
like such a service: what it declares it lacks, it does not do (a request token is not
honoured, a condition is never asked for, native staging is never called).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import Classified, RawSecret
from helium_secrets.backends.memory import InjectedFault, MemoryBackend, _Entry
from helium_secrets.errors import ErrorCode

__all__ = ["COMPANION_MARK", "KEY_VAULT_SHAPED", "PLAIN_SHAPED", "VAULT_KV_SHAPED",
           "ReducedMemoryBackend", "ScriptedBackend"]

T = TypeVar("T")

#: The mark of a companion's raw name: "~" is in no portable name, so it never clashes.
COMPANION_MARK = "~staged"

#: Key Vault: no conditional writes, no request tokens, no version probe, a companion.
KEY_VAULT_SHAPED: dict[str, Any] = {
    "idempotent_put": False, "check_and_set": False, "staging": False,
    "staging_companion": True, "version_probe": False}
#: Vault KV v2: check-and-set and tokens, a companion, versions numbered in order.
VAULT_KV_SHAPED: dict[str, Any] = {
    "staging": False, "staging_companion": True, "sequential_versions": True}
#: GCP without a "current" alias: no conditional writes, no tokens, no staging at all.
PLAIN_SHAPED: dict[str, Any] = {"idempotent_put": False, "check_and_set": False, "staging": False}


class ReducedMemoryBackend(MemoryBackend):
    """The fake with some of its native features switched off, as ``capabilities`` say."""

    def __init__(self, *, options: Any = None, **capabilities: Any) -> None:
        super().__init__(options=options)
        self.capabilities = dataclasses.replace(self.capabilities, **capabilities)
        self._ids = itertools.count(1)

    def _write(self, name: str, value: str | bytes, **options: Any) -> VersionInfo:
        if not self.capabilities.sequential_versions and name not in self._secrets:
            # Ids unique across secrets, as Key Vault's and GCP's are: a companion's first
            # version is not mistaken for its secret's.
            self._secrets[name] = _Entry(counter=self._ids)
        return super()._write(name, value, **options)

    def put(self, name: str, value: str | bytes, *, expected_version: str | None = None,
            create_only: bool = False, request_token: str | None = None,
            metadata: Mapping[str, str] | None = None, labels: Sequence[str] = ()) -> VersionInfo:
        caps = self.capabilities
        if not caps.check_and_set:
            # The service has no conditional write: the store must never ask for one.
            assert expected_version is None and not create_only, "a conditional write asked"
        if not caps.idempotent_put:
            request_token = None  # a retried put makes another version, as on the service
        return super().put(name, value, expected_version=expected_version,
                           create_only=create_only, request_token=request_token,
                           metadata=metadata, labels=labels)

    def stage(self, *args: Any, **kwargs: Any) -> Any:
        assert self.capabilities.staging, "native staging called on a backend without it"
        return super().stage(*args, **kwargs)

    def promote(self, *args: Any, **kwargs: Any) -> Any:
        assert self.capabilities.staging, "native staging called on a backend without it"
        return super().promote(*args, **kwargs)

    def discard(self, *args: Any, **kwargs: Any) -> Any:
        assert self.capabilities.staging, "native staging called on a backend without it"
        return super().discard(*args, **kwargs)

    def staging_companion(self, name: str) -> str:
        assert self.capabilities.staging_companion, "a companion asked of a backend without one"
        return name + COMPANION_MARK

    def list_names(self, prefix: str = "") -> Iterator[str]:
        return (n for n in list(super().list_names(prefix)) if not n.endswith(COMPANION_MARK))


@dataclasses.dataclass
class _Rule:
    operation: str
    name: str
    code: ErrorCode | None  # None: no failure, only the hook
    lost: bool  # the call takes effect, then its answer is lost
    then: Callable[[], object] | None
    skip: int
    transient: bool | None
    message: str | None


class ScriptedBackend(ReducedMemoryBackend):
    """:class:`ReducedMemoryBackend` whose chosen calls, by operation and raw name, fail (as
    an SDK error, classified), lose their answer, or let something happen first; it also
    records the ``purge`` of every delete."""

    def __init__(self, *, options: Any = None, **capabilities: Any) -> None:
        super().__init__(options=options, **capabilities)
        self._rules: list[_Rule] = []
        #: (raw name, purge) of every delete, in order.
        self.purges: list[tuple[str, bool]] = []

    def script(self, operation: str, name: str, code: ErrorCode | None = ErrorCode.UNAVAILABLE,
               *, lost: bool = False, then: Callable[[], object] | None = None, skip: int = 0,
               transient: bool | None = None, message: str | None = None) -> None:
        """The next call of ``operation`` on ``name`` (after ``skip`` of them) fails with
        ``code`` (transient as the code is), after taking effect if ``lost``; ``then`` runs
        before the failure (``code=None``: before the call, which then goes on)."""
        self._rules.append(_Rule(operation, name, code, lost, then, skip, transient, message))

    def unused(self) -> int:
        """How many scripted rules never fired."""
        return len(self._rules)

    def _run(self, operation: str, name: str, call: Callable[[], T]) -> T:
        rule = next((r for r in self._rules if (r.operation, r.name) == (operation, name)), None)
        if rule is not None and rule.skip:
            rule.skip -= 1
            rule = None
        if rule is None:
            return call()
        self._rules.remove(rule)
        if rule.lost:
            call()
        if rule.then is not None:
            rule.then()
        if rule.code is None:
            return call()
        if not rule.lost:
            self.calls[operation] += 1  # it reached the service, which refused it
        raise InjectedFault(Classified(rule.code, rule.message, transient=rule.transient))

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        return self._run("get", name, lambda: super(ScriptedBackend, self).get(name, version, label))

    def put(self, name: str, value: str | bytes, **options: Any) -> VersionInfo:
        return self._run("put", name, lambda: super(ScriptedBackend, self).put(name, value, **options))

    def delete(self, name: str, *, purge: bool = False) -> None:
        self.purges.append((name, purge))
        self._run("delete", name, lambda: super(ScriptedBackend, self).delete(name, purge=purge))

    def current_version(self, name: str) -> VersionInfo:
        return self._run("current_version", name,
                         lambda: super(ScriptedBackend, self).current_version(name))

    def stage(self, name: str, value: str | bytes, **options: Any) -> Any:
        return self._run("stage", name,
                         lambda: super(ScriptedBackend, self).stage(name, value, **options))

    def promote(self, name: str, version: str, **options: Any) -> Any:
        return self._run("promote", name,
                         lambda: super(ScriptedBackend, self).promote(name, version, **options))

    def discard(self, name: str, version: str) -> Any:
        return self._run("discard", name,
                         lambda: super(ScriptedBackend, self).discard(name, version))

    def list_versions(self, name: str) -> list[VersionInfo]:
        return self._run("versions", name, lambda: super(ScriptedBackend, self).list_versions(name))
