"""AWS's names: secret names (portable names, unchanged), staging labels and version ids."""

from __future__ import annotations

import re

from helium_secrets.backends._base import NameRules

__all__ = ["ARN_RE", "CURRENT", "NAME_RULES", "PENDING", "PREFIX_RE", "PREVIOUS", "is_arn",
           "is_version_id"]

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
PENDING = "AWSPENDING"

#: A secret's ARN, which ECS, CloudFormation and IAM hand out: accepted as a name for reads.
ARN_RE = re.compile(
    r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9_+=.@/-]+")


def is_arn(name: str) -> bool:
    return name.startswith("arn:") and ARN_RE.fullmatch(name) is not None


def _colon_problem(name: str) -> str | None:
    if ":" not in name or is_arn(name):
        return None
    return ("':' appears only in an ARN "
            "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX)")


NAME_RULES = NameRules(
    max_length=2048,  # an ARN; a name itself is at most 512 (checked by the service)
    segment_pattern=r"[A-Za-z0-9_+=.@:-]+",
    description="segments of letters, digits and _ + = . @ - (AWS secret names), or an ARN",
    check=_colon_problem,
)

PREFIX_RE = re.compile(r"[A-Za-z0-9_+=.@/-]*")


def is_version_id(version: str) -> bool:
    """Whether ``version`` can be an AWS version id (32-64 characters; nothing else exists)."""
    return 32 <= len(version) <= 64
