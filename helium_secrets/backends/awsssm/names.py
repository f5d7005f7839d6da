"""SSM's names: portable names as parameter names under a root path, versions and labels.

A portable name ``app/db`` is the parameter ``{path}/app/db`` (``/app/db`` with no root path):
always fully qualified, so ``list`` is a path query and two portable names never map to one
parameter. The service's own rules are checked before any call.
"""

from __future__ import annotations

import re

from helium_secrets.backends._base import NameRules

__all__ = [
    "MAX_DEPTH",
    "MAX_LABELS",
    "MAX_NAME_LENGTH",
    "label_problem",
    "name_rules",
    "path_problem",
]

#: A parameter name, path included, is at most 1011 characters (the ARN 2048).
MAX_NAME_LENGTH = 1011
#: A hierarchy has at most 15 levels.
MAX_DEPTH = 15
#: A parameter version carries at most 10 labels.
MAX_LABELS = 10

_SEGMENT = r"[A-Za-z0-9_.-]+"
_SEGMENT_RE = re.compile(_SEGMENT)
_LABEL_RE = re.compile(r"[A-Za-z_.-][A-Za-z0-9_.-]{0,99}")
_RESERVED = ("aws", "ssm")


def _reserved(segment: str) -> bool:
    return segment.lower().startswith(_RESERVED)


def path_problem(path: str) -> str | None:
    """What SSM would refuse in a root ``path`` ("" or "/a/b"), or ``None``."""
    if path == "":
        return None
    segments = path.split("/")
    if segments[0] != "" or not all(_SEGMENT_RE.fullmatch(s) for s in segments[1:]):
        return "'' or a path such as '/myapp/prod': '/'-separated letters, digits and _ . -"
    if _reserved(segments[1]):
        return "a path that does not start with 'aws' or 'ssm' (reserved by AWS)"
    if len(segments) - 1 >= MAX_DEPTH:
        return f"a path of fewer than {MAX_DEPTH} levels"
    return None


def name_rules(path: str) -> NameRules:
    """The portable names that fit under the root ``path``."""
    depth = path.count("/")

    def check(name: str) -> str | None:
        if not path and _reserved(name):
            return "SSM reserves names starting with 'aws' or 'ssm' (any case)"
        if depth + name.count("/") + 1 > MAX_DEPTH:
            return f"SSM hierarchies have at most {MAX_DEPTH} levels, the root path's included"
        return None

    return NameRules(
        max_length=MAX_NAME_LENGTH - len(path) - 1,
        segment_pattern=_SEGMENT,
        description="segments of letters, digits and _ . - (SSM parameter names)",
        check=check,
    )


def label_problem(label: str) -> str | None:
    """What SSM would refuse in a version ``label`` (never quoting it), or ``None``."""
    if not _LABEL_RE.fullmatch(label):
        return ("SSM labels are 1-100 letters, digits and _ . -, not starting with a digit")
    if _reserved(label):
        return "SSM labels can't start with 'aws' or 'ssm' (any case)"
    return None
