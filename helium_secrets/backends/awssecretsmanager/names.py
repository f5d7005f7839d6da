"""AWS's names: secret names (portable names, unchanged), staging labels and version ids."""

from __future__ import annotations

import re

from helium_secrets.backends._base import NameRules

__all__ = ["CURRENT", "NAME_RULES", "PENDING", "PREFIX_RE", "PREVIOUS", "is_version_id"]

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
PENDING = "AWSPENDING"

NAME_RULES = NameRules(
    max_length=512,
    segment_pattern=r"[A-Za-z0-9_+=.@-]+",
    description="segments of letters, digits and _ + = . @ - (AWS secret names)",
)

PREFIX_RE = re.compile(r"[A-Za-z0-9_+=.@/-]*")


def is_version_id(version: str) -> bool:
    """Whether ``version`` can be an AWS version id (32-64 characters; nothing else exists)."""
    return 32 <= len(version) <= 64
