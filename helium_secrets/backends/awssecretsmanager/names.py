"""AWS's names: secret names (portable names, unchanged), staging labels and version ids."""

from __future__ import annotations

import re

from helium_secrets.backends._base import NameRules

__all__ = ["ARN_RE", "CURRENT", "MAX_NAME", "NAME_RULES", "PENDING", "PREFIX_RE", "PREVIOUS", "is_arn",
           "is_version_id"]

CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
PENDING = "AWSPENDING"

#: A secret's ARN, which ECS, CloudFormation and IAM hand out: accepted as a name for reads.
ARN_RE = re.compile(
    r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9_+=.@/-]+")


def is_arn(name: str) -> bool:
    return name.startswith("arn:") and ARN_RE.fullmatch(name) is not None


#: The longest secret name AWS takes (an ARN adds its prefix and suffix to one).
MAX_NAME = 512


def _name_problem(name: str) -> str | None:
    if is_arn(name):
        return None
    if ":" in name:
        return ("':' appears only in an ARN "
                "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX)")
    return f"longer than {MAX_NAME} characters" if len(name) > MAX_NAME else None


NAME_RULES = NameRules(
    max_length=2048,  # an ARN; a name itself is at most MAX_NAME (see _name_problem)
    segment_pattern=r"[A-Za-z0-9_+=.@:-]+",
    description="segments of letters, digits and _ + = . @ - (AWS secret names), or an ARN",
    check=_name_problem,
)

PREFIX_RE = re.compile(r"[A-Za-z0-9_+=.@/-]*")


def is_version_id(version: str) -> bool:
    """Whether ``version`` can be an AWS version id (32-64 characters; nothing else exists)."""
    return 32 <= len(version) <= 64
