"""Conformance cases: rotate(), staged rotation (native or by a companion) and rotations
from outside."""

from __future__ import annotations

import pytest

from helium_secrets._store import SecretStore
from helium_secrets._values import Secret
from helium_secrets.errors import ConflictError, RotationTestFailed
from helium_secrets.testing.conformance._base import ConformanceBase
from helium_secrets.testing.harness import BackendHarness


class RotationCases(ConformanceBase):
    """Rotation: check-and-set rotate(), staged rotation, and a rotation made outside the store."""

    # -- rotation --------------------------------------------------------------------------

    def test_rotate_is_check_and_set(self, store: SecretStore, prefix: str) -> None:
        self._writable(store)
        if not store.backend.capabilities.versions:
            pytest.skip("the backend keeps no versions to rotate between")
        name = f"{prefix}/rotate"
        first = store.put(name, "one")
        seen: list[str] = []
        store.on_rotation(name, lambda old, new: seen.append(new.version))
        rotated = store.rotate(name, lambda: "two")
        assert rotated.version != first.version
        assert seen == [rotated.version]
        store.clear_cache()
        assert store.get(name).value.reveal() == "two"

    @staticmethod
    def _stages(store: SecretStore) -> None:
        caps = store.backend.capabilities
        if not (caps.staging or caps.staging_companion):
            pytest.skip("the backend has no staged rotation, native or by a companion")

    def test_staged_rotation_promotes(self, store: SecretStore, prefix: str) -> None:
        self._writable(store)
        self._stages(store)
        name = f"{prefix}/staged"
        first = store.put(name, "one")
        during: list[str] = []

        def test(pending: object) -> bool:
            during.append(store.refresh(name).value.reveal())  # readers still see "one"
            return True

        promoted = store.rotate_staged(name, lambda: "two", test)
        assert during == ["one"]
        assert promoted.version != first.version
        store.clear_cache()
        current = store.get(name)
        assert (current.version, current.value.reveal()) == (promoted.version, "two")
        assert store.current_version(name) == promoted.version

    def test_staged_rotation_rolls_back(self, store: SecretStore, prefix: str) -> None:
        self._writable(store)
        self._stages(store)
        name = f"{prefix}/rollback"
        first = store.put(name, "one")
        with pytest.raises(RotationTestFailed):
            store.rotate_staged(name, lambda: "two", lambda pending: False)
        store.clear_cache()
        current = store.get(name)
        assert (current.version, current.value.reveal()) == (first.version, "one")
        assert store.current_version(name) == first.version
        # The next rotation is not blocked by the discarded one.
        assert store.rotate_staged(name, lambda: "three", lambda p: True).value.reveal() == "three"

    # -- check-and-set and rotate() around a staged rotation -----------------------------------

    def test_check_and_set_while_a_version_is_staged(self, store: SecretStore, prefix: str) -> None:
        self._writable(store)
        self._stages(store)
        name = f"{prefix}/cas-staged"
        first = store.put(name, "one")
        outcomes: list[str] = []

        def test(pending: Secret) -> bool:
            # Run inside the test of the staged rotation, while its version is pending; the
            # outcomes are checked outside (a failing assert here would read as a failed test).
            try:
                store.put(name, "not-current", expected_version=pending.version)
                outcomes.append("the pending version passed for the current one")
            except ConflictError:
                outcomes.append("refused")
            rotated = store.rotate(name, lambda: "two")  # check-and-set against the current one
            outcomes.append(store.put(name, "three", expected_version=rotated.version).version)
            return False  # roll back: the pending version was never current

        with pytest.raises(RotationTestFailed):
            store.rotate_staged(name, lambda: "staged", test)
        assert outcomes[0] == "refused"
        store.clear_cache()
        current = store.get(name)
        assert (current.version, current.value.reveal()) == (outcomes[1], "three")
        assert first.version != current.version

    def test_rotate_after_a_rolled_back_staged_rotation(
        self, store: SecretStore, prefix: str
    ) -> None:
        self._writable(store)
        self._stages(store)
        name = f"{prefix}/rotate-after-rollback"
        first = store.put(name, "one")
        with pytest.raises(RotationTestFailed):
            store.rotate_staged(name, lambda: "discarded", lambda pending: False)
        # The discarded version is not the current one: check-and-set and rotate() go on
        # from the version that stayed current.
        second = store.put(name, "two", expected_version=first.version)
        rotated = store.rotate(name, lambda: "three")
        assert rotated.version != second.version
        store.clear_cache()
        current = store.get(name)
        assert (current.version, current.value.reveal()) == (rotated.version, "three")
        assert store.rotate(name, lambda: "four").value.reveal() == "four"

    # -- a rotation from outside ---------------------------------------------------------

    def test_a_rotation_from_outside_is_noticed(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/outside"
        first = self.seed(harness, store, name, "one")
        seen: list[tuple[str | None, str, str]] = []
        store.on_rotation(name, lambda old, new: seen.append(
            (old.version if old is not None else None, new.version, new.value.reveal())))
        second = harness.write_external(name, "two")
        assert store.refresh(name).value.reveal() == "two"
        if not store.backend.capabilities.versions:
            return  # a new value is not a new version: nothing to announce
        assert seen == [(first, second, "two")]
        third = harness.write_external(name, "three")
        store.rotation.poll_once()  # what the background poller does
        assert seen[1:] == [(second, third, "three")]
        assert store.get(name).value.reveal() == "three"
