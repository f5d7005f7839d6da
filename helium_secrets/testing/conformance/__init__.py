"""The conformance suite every backend passes, built-in or third-party.

Subclass :class:`BackendConformance` in a test module and provide a ``harness`` fixture that
yields a :class:`~helium_secrets.testing.BackendHarness` for the backend under test::

    import pytest
    from helium_secrets.testing import BackendHarness
    from helium_secrets.testing.conformance import BackendConformance

    class MyHarness(BackendHarness):
        def make_backend(self):
            return MyBackend(...)

    class TestMyBackend(BackendConformance):
        @pytest.fixture
        def harness(self):
            with MyHarness() as harness:
                yield harness

Every test works under its own random name prefix, so one server can serve a whole module.

Two kinds of cases:

* ``test_contract_*``, **the portable contract**: deletion, retry safety and listener ordering.
  They hold on every backend and never skip for a missing capability; on a read-only backend
  they check that the write is refused before any call. (The one exception: a case that needs
  a fault the harness cannot inject says so in its skip reason.)
* the others: what a backend declares it lacks (``capabilities``: versions, labels,
  check-and-set, staging, ...) or a fault its harness cannot inject is a skip with the reason.

The cases come in groups, one module each: :mod:`.reads`, :mod:`.writes`, :mod:`.rotation`,
:mod:`.contract`, :mod:`.faults` and :mod:`.leaks`; :class:`BackendConformance` runs them all.
"""

from __future__ import annotations

# QUICK_RETRY and SDK_LOGGERS were public names of the single module this package replaced.
from helium_secrets.testing.conformance._base import CANARY
from helium_secrets.testing.conformance._base import QUICK_RETRY as QUICK_RETRY
from helium_secrets.testing.conformance.contract import ContractCases
from helium_secrets.testing.conformance.faults import FaultCases
from helium_secrets.testing.conformance.leaks import SDK_LOGGERS as SDK_LOGGERS
from helium_secrets.testing.conformance.leaks import LeakCases, debug_logs, plaintext_in_frames
from helium_secrets.testing.conformance.reads import ReadCases
from helium_secrets.testing.conformance.rotation import RotationCases
from helium_secrets.testing.conformance.writes import WriteCases

__all__ = ["CANARY", "BackendConformance", "debug_logs", "plaintext_in_frames"]


# pytest collects the cases of the base classes in reverse order: reads first, leaks last.
class BackendConformance(LeakCases, FaultCases, ContractCases, RotationCases, WriteCases, ReadCases):
    """The shared behaviour of every backend. Subclasses provide the ``harness`` fixture."""
