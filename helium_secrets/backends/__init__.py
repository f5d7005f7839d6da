"""Backends: the protocol (:mod:`._base`) and one module per service.

Importing this package imports no SDK; each backend module imports its own SDK. What a
backend's author needs is here: the protocol and its value types, :func:`extra_operation`, and
the options schema (:class:`Options`, :func:`option`, :func:`parse`; imported on first use).
"""

from typing import Any

from helium_secrets.backends._base import (
    AsyncBackend,
    AsyncBackendBase,
    Backend,
    BackendBase,
    Capabilities,
    Classified,
    ExtraOperation,
    NameRules,
    RawSecret,
    extra_operation,
)

__all__ = [
    "AsyncBackend",
    "AsyncBackendBase",
    "Backend",
    "BackendBase",
    "Capabilities",
    "Classified",
    "ExtraOperation",
    "NameRules",
    "Options",
    "RawSecret",
    "extra_operation",
    "option",
    "parse",
]

_LAZY = {"Options", "option", "parse"}


def __getattr__(name: str) -> Any:
    # The options schema is not needed to import helium_secrets: load it when a backend does.
    if name in _LAZY:
        from helium_secrets import _options

        return getattr(_options, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
