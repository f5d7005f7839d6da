"""The write path: puts, deletes, label moves and rotations, written once for every backend.

Arguments are validated by the store first. Here: request tokens, check-and-set and the
recovery of a retried write whose first answer was lost, staged rotation by a companion secret
for a backend without native staging, the cache invalidation that fences reads in flight, and
telling the rotation listeners about the store's own writes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType

from helium_secrets._async._pipeline import AsyncCallPipeline
from helium_secrets._async._reads import AsyncReadPath
from helium_secrets._async._rotation import AsyncRotationListeners
from helium_secrets._async._synchronization import resolve
from helium_secrets._values import Secret, SecretValue, VersionInfo
from helium_secrets.backends._base import AsyncBackend, Capabilities, RawSecret
from helium_secrets.errors import (
    ConflictError,
    HeliumError,
    InvalidNameError,
    RotationTestFailed,
    SecretNotFoundError,
)
from helium_secrets.layers.cache import SecretCache
from helium_secrets.layers.retry import RetryPolicy

__all__ = ["AsyncWritePath"]

_log = logging.getLogger("helium_secrets")

#: The label of a pending version staged in a companion.
PENDING = "pending"


def _request_token() -> str:
    return os.urandom(16).hex()


class AsyncWritePath:
    """Writes for one store."""

    def __init__(
        self,
        *,
        pipeline: AsyncCallPipeline,
        reads: AsyncReadPath,
        cache: SecretCache | None,
        listeners: Callable[[], AsyncRotationListeners],
        ticket: Callable[[], int],
    ) -> None:
        self.pipeline = pipeline
        self.backend: AsyncBackend = pipeline.backend
        self.caps: Capabilities = self.backend.capabilities
        self.reads = reads
        self.cache = cache
        self._listeners = listeners
        self._ticket = ticket

    def _forget_cached(self, name: str) -> None:
        # Invalidate rather than cache what was written: the secret's full metadata (and any
        # labels the service moved) are only known from a read. Reads in flight that began
        # before the write do not cache their older answer either (the generation moves).
        if self.cache is not None:
            self.cache.invalidate(name)

    async def put(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_version: str | None,
        create_only: bool,
        metadata: Mapping[str, str] | None,
        labels: tuple[str, ...],
        policy: RetryPolicy,
        operation: str = "put",
    ) -> Secret:
        """Write a new current version (arguments already validated).

        :param operation: the name audit events give the write ("promote" for a staged one).
        """
        await self._listeners().settle(name)
        guarded = expected_version is not None or create_only
        emulated = guarded and not self.caps.check_and_set
        if emulated:
            await self._compare(name, expected_version, create_only, policy)
        token = _request_token()
        if not (guarded or self.caps.idempotent_put):
            policy = policy.replace(max_attempts=1)  # a blind retry could write twice
        attempts = 0
        ticket = self._ticket()

        async def attempt() -> VersionInfo:
            nonlocal attempts
            attempts += 1
            if emulated:
                # The backend gets a plain write; a retry first looks whether the attempt
                # before it landed (its answer lost), or someone else wrote meanwhile.
                if attempts > 1:
                    landed = await self._landed(name, value, expected_version)
                    if landed is not None:
                        return landed
                    self.pipeline.stats.backend_calls += 1  # the read, and now the write
                return await self.backend.put(name, value, request_token=token,
                                              metadata=metadata, labels=labels)
            return await self.backend.put(
                name, value, expected_version=expected_version, create_only=create_only,
                request_token=token, metadata=metadata, labels=labels,
            )

        try:
            info = await self.pipeline.call(operation, name, attempt, policy, scrub=value)
        except ConflictError:
            # A check-and-set put retried after a lost answer conflicts with itself: if the
            # current value is ours, the first attempt won.
            if attempts > 1 and guarded:
                try:
                    current: Secret | None = await self.reads.refresh(name, policy)
                except SecretNotFoundError:
                    current = None  # deleted meanwhile: the conflict stands
                if current is not None and current.value == SecretValue(value):
                    return current
            raise
        finally:
            self._forget_cached(name)
        secret = Secret(
            name=name,
            value=SecretValue(value),
            version=info.version,
            labels=info.labels,
            created_at=info.created_at,
            metadata=MappingProxyType(dict(metadata or {})),
        )
        await self._listeners().observe(secret, ticket)
        return secret

    async def _landed(self, name: str, value: str | bytes,
                expected_version: str | None) -> VersionInfo | None:
        """For a retried emulated check-and-set: the version our lost attempt wrote, or
        ``None`` if the write is still to be made; a conflict if someone else wrote."""
        try:
            raw = await self.backend.get(name)
        except Exception as exc:
            error = await self.pipeline.translate(exc, name)
            if type(error) is not SecretNotFoundError:
                raise error from exc
            if expected_version is not None:
                raise ConflictError("check-and-set failed: the secret was deleted") from exc
            return None  # create_only: nothing landed yet
        if SecretValue(raw.value) == SecretValue(value):
            return VersionInfo(raw.version, frozenset(raw.labels), raw.created_at)
        if raw.version != expected_version:
            raise ConflictError("check-and-set failed: the current version changed")
        return None

    async def _compare(self, name: str, expected_version: str | None, create_only: bool,
                 policy: RetryPolicy) -> None:
        """Check-and-set for a service without conditional writes: read, compare, then write.

        Not atomic: a writer that slips in between the read and the write is not detected
        (each such backend's page says so), but a stale ``expected_version`` is refused.
        """
        backend = self.pipeline.backend_name
        try:
            current = (await self.reads.current_version(name, policy)).version
        except SecretNotFoundError as exc:
            if type(exc) is not SecretNotFoundError:
                raise
            if expected_version is not None:  # the backend's reason (deleted, recoverable...)
                raise ConflictError(f"check-and-set failed: {exc.message}", backend=backend,
                                    name=name) from exc
            return
        if create_only:
            raise ConflictError("the secret already exists", backend=backend, name=name)
        if current != expected_version:
            raise ConflictError("check-and-set failed: the current version changed",
                                backend=backend, name=name)

    async def delete(self, name: str, purge: bool, policy: RetryPolicy) -> None:
        """Delete a secret; a retried delete whose first attempt succeeded succeeds."""
        await self._listeners().settle(name)
        attempts = 0
        ticket = self._ticket()

        async def attempt() -> None:
            nonlocal attempts
            attempts += 1
            await self.backend.delete(name, purge=purge)

        try:
            await self.pipeline.call("delete", name, attempt, policy)
        except SecretNotFoundError as exc:
            if attempts <= 1 or type(exc) is not SecretNotFoundError:
                raise
        finally:
            self._forget_cached(name)
        self._listeners().forget(name, ticket)
        try:
            companion = await self._companion(name)
        except InvalidNameError:
            return  # a name with no room for a companion never had one
        if companion is None:
            return
        try:
            await companion.remove(policy)  # a staged value must not outlive its secret
        except HeliumError as exc:  # the secret is deleted; a leftover is replaced when staging
            _log.warning("could not remove the staged companion of %r: %s", name, exc.code)

    async def set_label(self, name: str, label: str, version: str | None,
                        policy: RetryPolicy) -> None:
        """Move ``label`` to ``version`` (or remove it)."""
        try:
            await self.pipeline.call(
                "set_label", name, lambda: self.backend.set_label(name, label, version), policy,
                version=version)
        finally:
            self._forget_cached(name)

    async def run_extra(self, operation: str, name: str, call: Callable[[], Awaitable[object]],
                        writes: bool, policy: RetryPolicy) -> object:
        """A backend-specific operation (see :attr:`SecretStore.extras`)."""
        try:
            return await self.pipeline.call(operation, name, call, policy)
        finally:
            if writes:
                self._forget_cached(name)

    # -- rotation --------------------------------------------------------------------------

    async def rotate(self, name: str, value: str | bytes, metadata: Mapping[str, str] | None,
                     policy: RetryPolicy) -> Secret:
        """Write ``value`` check-and-set against the current version (or create it)."""
        try:
            current: str | None = (await self.reads.current_version(name, policy)).version
        except SecretNotFoundError as exc:
            if type(exc) is not SecretNotFoundError:
                raise
            current = None
        return await self.put(name, value, expected_version=current,
                              create_only=current is None, metadata=metadata, labels=(),
                              policy=policy)

    async def rotate_staged(self, name: str, value: str | bytes,
                            test: Callable[[Secret], object], policy: RetryPolicy) -> Secret:
        """Stage ``value``, test it, then promote it or roll it back.

        With native staging the backend does each step; otherwise the value waits in the
        companion the backend reserves (see :class:`_Companion`).
        """
        companion = await self._companion(name)
        current = (await self.reads.current_version(name, policy)).version
        if companion is None:
            token = _request_token()
            info = await self.pipeline.call(
                "stage", name,
                lambda: self.backend.stage(name, value, expected_current=current,
                                           request_token=token),
                policy, scrub=value,
            )
        else:
            info = await companion.stage(value, current, policy)
        pending = Secret(name=name, value=SecretValue(value), version=info.version,
                         labels=info.labels, created_at=info.created_at)
        try:
            passed = await resolve(test(pending))
        except Exception as exc:
            await self._discard(name, info.version, companion, policy)
            raise RotationTestFailed(name, info.version) from exc
        if passed is False:
            await self._discard(name, info.version, companion, policy)
            raise RotationTestFailed(name, info.version)
        if companion is not None:
            await companion.promote(value, current, policy)
            return await self.reads.refresh(name, policy)
        try:
            await self.pipeline.call(
                "promote", name,
                lambda: self.backend.promote(name, info.version, expected_current=current),
                policy, version=info.version,
            )
        except ConflictError:
            # A promotion retried after a lost answer conflicts with itself.
            if (await self.reads.current_version(name, policy)).version != info.version:
                raise
        finally:
            self._forget_cached(name)
        return await self.reads.refresh(name, policy)  # caches it and tells the rotation listeners

    async def _companion(self, name: str) -> _Companion | None:
        """The companion that stages ``name`` for a backend without native staging."""
        if self.caps.staging or not self.caps.staging_companion:
            return None
        try:
            raw: str = await resolve(self.backend.staging_companion(name))
        except HeliumError as exc:  # a name with no room for one: before any call
            self.pipeline.fill_context(exc, name)
            raise
        return _Companion(self, name, raw)

    async def _discard(self, name: str, version: str, companion: _Companion | None,
                 policy: RetryPolicy) -> None:
        try:
            if companion is not None:
                await companion.drop(policy)
            else:
                await self.pipeline.call(
                    "discard", name, lambda: self.backend.discard(name, version), policy,
                    version=version)
        except HeliumError as exc:  # the rotation already failed; report, don't mask it
            _log.error("could not discard pending version %s of %r: %s", version, name, exc.code)


#: Metadata on a companion: the version its value was staged against, and the rotation's
#: token (which tells a retry of this rotation from another rotator).
STAGED_FOR = "helium-staged-for"
STAGED_BY = "helium-staged-by"


class _Companion:
    """Staged rotation by a companion secret, for a backend without native staging.

    The pending value waits under the raw name the backend reserves, with the version it was
    staged against and the rotation's token as metadata, so readers of the secret never see it
    and a crash between the steps leaves it on record. Promotion is a check-and-set write of
    the tested value onto the secret (native or emulated, as every put), then the companion is
    removed. A companion staged against another version is a leftover and is replaced; one
    staged against the current version by another rotation is a conflict.
    """

    def __init__(self, writes: AsyncWritePath, name: str, raw: str) -> None:
        self.writes = writes
        self.pipeline = writes.pipeline
        self.backend = writes.backend
        self.name = name
        self.raw = raw
        self.token = _request_token()

    async def _read(self) -> RawSecret | None:
        """The companion as stored, or ``None`` when there is none (inside a pipeline call)."""
        try:
            return await self.backend.get(self.raw)
        except Exception as exc:
            await self._unless_missing(exc)
            return None

    def _ours(self, held: RawSecret | None, value: str | bytes) -> bool:
        return (held is not None and held.metadata.get(STAGED_BY) == self.token
                and SecretValue(held.value) == SecretValue(value))

    async def stage(self, value: str | bytes, current: str, policy: RetryPolicy) -> VersionInfo:
        """Write ``value`` to the companion, staged against ``current``; the pending version."""

        async def attempt() -> VersionInfo:
            held = await self._read()
            if self._ours(held, value):  # our own earlier attempt, its answer lost
                assert held is not None
                written = VersionInfo(held.version, created_at=held.created_at)
            elif held is not None and held.metadata.get(STAGED_FOR) == current:
                raise ConflictError(
                    f"staging failed: another rotation is staged against version {current} "
                    f"(if it was abandoned, delete {self.raw!r} with the service's own tools)")
            else:  # nothing staged, or a leftover from an older rotation: replace it
                written = await self.backend.put(
                    self.raw, value, request_token=self.token,
                    metadata={STAGED_FOR: current, STAGED_BY: self.token})
            return VersionInfo(self._pending_id(written, current), frozenset({PENDING}),
                               written.created_at)

        return await self.pipeline.call("stage", self.name, attempt, policy, scrub=value)

    def _pending_id(self, written: VersionInfo, current: str) -> str:
        # The id it will get where the service numbers versions (the promotion is checked
        # against ``current``, so it lands as exactly that one); else the companion's own id.
        if self.writes.caps.sequential_versions and current.isdigit():
            return str(int(current) + 1)
        return written.version

    async def promote(self, value: str | bytes, current: str, policy: RetryPolicy) -> None:
        """Write the tested value onto the secret, checked against ``current``; drop the
        companion."""
        held = await self.pipeline.call("promote", self.name, self._read, policy)
        if not self._ours(held, value):
            raise ConflictError("promotion failed: another rotation replaced the staged value",
                                backend=self.pipeline.backend_name, name=self.name)
        # A put: its request token, check-and-set and lost-answer recovery are the ones every
        # check-and-set write gets, so a promotion retried after a lost answer succeeds.
        await self.writes.put(self.name, value, expected_version=current, create_only=False,
                              metadata=None, labels=(), policy=policy, operation="promote")
        try:
            await self.remove(policy)
        except HeliumError as exc:
            # Promoted already: the leftover is staged against a version no longer current,
            # so the next rotation replaces it.
            _log.warning("could not remove the staged companion of %r: %s", self.name, exc.code)

    async def drop(self, policy: RetryPolicy) -> None:
        """Remove the companion if it is still this rotation's."""

        async def attempt() -> None:
            held = await self._read()
            if held is not None and held.metadata.get(STAGED_BY) == self.token:
                await self._remove()

        await self.pipeline.call("discard", self.name, attempt, policy)

    async def remove(self, policy: RetryPolicy) -> None:
        """Remove the companion, whoever staged it."""
        await self.pipeline.call("discard", self.name, self._remove, policy)

    async def _remove(self) -> None:
        """Delete the companion for good; gone already (a retry, a discard) is fine."""
        try:
            await self.backend.delete(self.raw, purge=True)
        except Exception as exc:
            await self._unless_missing(exc)

    async def _unless_missing(self, exc: Exception) -> None:
        """Raise ``exc`` as a helium error, unless it says there is no companion."""
        error = await self.pipeline.translate(exc, self.name)
        if type(error) is SecretNotFoundError:
            return
        if error is exc:
            raise error
        raise error from exc
