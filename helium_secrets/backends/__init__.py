"""Backends: the protocol (:mod:`._base`) and one module per service.

Importing this package imports no SDK; each backend module imports its own SDK.
"""

from helium_secrets.backends._base import (
    Backend,
    BackendBase,
    Capabilities,
    Classified,
    NameRules,
    RawSecret,
)

__all__ = ["Backend", "BackendBase", "Capabilities", "Classified", "NameRules", "RawSecret"]
