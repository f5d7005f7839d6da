"""Conformance cases: injected faults, retried or surfacing as their error, and
``ignore_missing`` leaving out nothing but what does not exist."""

from __future__ import annotations

import pytest

from helium_secrets._store import SecretStore
from helium_secrets.errors import (
    ConflictError,
    HeliumError,
    PermissionDeniedError,
    ThrottledError,
    UnavailableError,
)
from helium_secrets.layers.guard import GuardPolicy
from helium_secrets.testing.conformance._base import CANARY, QUICK_RETRY, ConformanceBase
from helium_secrets.testing.harness import BackendHarness

#: The error each fault kind that fails a call surfaces as, once retries are spent.
_FAULT_ERRORS: dict[str, type[HeliumError]] = {
    "unavailable": UnavailableError,
    "throttled": ThrottledError,
}


class FaultCases(ConformanceBase):
    """Faults the harness injects: transient ones retried, lasting ones surfacing as their error."""

    # -- injected faults ---------------------------------------------------------------------

    @pytest.mark.parametrize("kind", sorted(_FAULT_ERRORS))
    def test_a_transient_fault_is_retried(
        self, harness: BackendHarness, store: SecretStore, prefix: str, kind: str
    ) -> None:
        self._require_fault(harness, kind)
        name = f"{prefix}/fault-{kind}"
        self.seed(harness, store, name, "v")
        reader = harness.make_store(retry=QUICK_RETRY, cache=None)
        with harness.fault(kind, "get"):
            assert reader.get(name).value.reveal() == "v"
        assert reader.stats().retries == 1

    @pytest.mark.parametrize("kind", sorted(_FAULT_ERRORS))
    def test_a_lasting_fault_surfaces_as_its_error(
        self, harness: BackendHarness, store: SecretStore, prefix: str, kind: str
    ) -> None:
        self._require_fault(harness, kind)
        name = f"{prefix}/lasting-{kind}"
        self.seed(harness, store, name, CANARY)
        reader = harness.make_store(retry=QUICK_RETRY.replace(max_attempts=2), cache=None)
        with harness.fault(kind, "get", count=2), pytest.raises(_FAULT_ERRORS[kind]) as info:
            reader.get(name)
        assert info.value.transient
        assert (info.value.backend, info.value.name) == (reader.backend.name, name)
        assert CANARY not in str(info.value)
        assert CANARY not in repr(info.value)

    # -- ignore_missing leaves out what does not exist, nothing else ------------------------------

    @pytest.mark.parametrize("error", [PermissionDeniedError, UnavailableError, ConflictError],
                             ids=["denied", "unavailable", "conflict"])
    def test_get_many_ignore_missing_raises_any_other_error(
        self, harness: BackendHarness, store: SecretStore, prefix: str, error: type[HeliumError]
    ) -> None:
        # Batched where the backend declares a batch get, one read per name otherwise.
        names = [f"{prefix}/ignore/{i}" for i in range(3)]
        for name in names:
            self.seed(harness, store, name, "v")
        missing, failing = f"{prefix}/ignore/missing", names[1]
        # No fail-fast guard: the injected failures must not pause the clean read after them.
        reader = harness.make_store(retry=QUICK_RETRY, cache=None, guard=GuardPolicy(threshold=0))
        with harness.failing_reads(failing, error):
            with pytest.raises(error) as info:
                reader.get_many([*names, missing], ignore_missing=True)
            assert info.value.name == failing
            with pytest.raises(error):
                reader.get_many([failing], ignore_missing=True)
        got = reader.get_many([*names, missing], ignore_missing=True)
        assert list(got) == names
