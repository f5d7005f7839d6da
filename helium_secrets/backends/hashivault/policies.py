"""Which Vault ACL policies let a token read a path: the policies' rules (HCL or JSON) and
Vault's path matching, free of I/O (the backend reads ``sys/policy``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from helium_secrets.access import AccessReview, Grant
from helium_secrets.backends._steps import Steps
from helium_secrets.backends.hashivault.core import Call, vault_path

__all__ = ["parse_rules", "policy_names", "policy_rules", "review"]

_PATH = re.compile(r'path\s+"((?:[^"\\]|\\.)*)"\s*\{')
_CAPABILITIES = re.compile(r"capabilities\s*=\s*\[([^\]]*)\]")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_COMMENT = re.compile(r"(?m)(?:#|//).*$")


def parse_rules(text: str) -> dict[str, tuple[str, ...]]:
    """A policy's rules: each path pattern and its capabilities (HCL or its JSON form)."""
    try:
        document = json.loads(text)
    except ValueError:
        document = None
    if isinstance(document, dict):
        paths = document.get("path") or {}
        return {str(p): tuple(str(c) for c in (rule or {}).get("capabilities") or ())
                for p, rule in paths.items() if isinstance(rule, dict)}
    text = _COMMENT.sub("", text)
    rules: dict[str, tuple[str, ...]] = {}
    for match in _PATH.finditer(text):
        body = _block(text, match.end())
        found = _CAPABILITIES.search(body)
        rules[match.group(1)] = tuple(_STRING.findall(found.group(1))) if found else ()
    return rules


def _block(text: str, start: int) -> str:
    """The body of the ``{`` block opened just before ``start``, nested blocks included."""
    depth = 1
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index]
    return text[start:]


def _matches(pattern: str, path: str) -> bool:
    """Vault's glob: ``+`` is one segment, a trailing ``*`` any rest (a prefix)."""
    prefix = pattern.endswith("*")
    regex = "/".join("[^/]+" if part == "+" else re.escape(part)
                     for part in pattern.rstrip("*").split("/"))
    return re.fullmatch(regex + (".*" if prefix else ""), path, re.DOTALL) is not None


def _priority(pattern: str) -> tuple[int, bool, int, int, str]:
    """Vault's order among a policy's patterns that match one path (the highest wins): a
    later first wildcard, then no trailing ``*``, fewer ``+``, a longer pattern, and the
    lexicographically larger."""
    wildcards = [i for i, c in enumerate(pattern) if c in "+*"]
    return (wildcards[0] if wildcards else len(pattern), not pattern.endswith("*"),
            -pattern.count("+"), len(pattern), pattern)


def _capabilities(rules: Mapping[str, tuple[str, ...]], path: str) -> tuple[str, str] | None:
    """The pattern that decides ``path`` in one policy, and its capabilities."""
    matching = [p for p in rules if _matches(p, path)]
    if not matching:
        return None
    best = max(matching, key=_priority)
    return best, ",".join(rules[best])


def review(name: str, path: str, policies: Mapping[str, str]) -> AccessReview:
    """Which of ``policies`` (name -> rules) let a token read ``path``, the data path of
    secret ``name``; ``root`` lets it read everything."""
    return AccessReview(name, tuple(_grants(path, policies)), read_from="sys/policy",
                        complete=True,
                        not_shown="which tokens, auth roles and identity groups carry each "
                        "policy (Vault keeps that in each auth method)")


def _grants(path: str, policies: Mapping[str, str]) -> Iterator[Grant]:
    for policy, text in sorted(policies.items()):
        if policy == "root":
            yield Grant("policy:root", ("root",), source="policy root: every path")
            continue
        decided = _capabilities(parse_rules(text), path)
        if decided is None:
            continue
        pattern, joined = decided
        capabilities = tuple(joined.split(",")) if joined else ()
        source = f'policy {policy}, path "{pattern}"'
        if "deny" in capabilities:
            yield Grant(f"policy:{policy}", ("deny",), effect="deny", source=source)
        elif "read" in capabilities:
            yield Grant(f"policy:{policy}", capabilities, source=source)


def policy_names(answer: Any) -> list[str]:
    """The names in a ``GET sys/policy`` answer."""
    data = answer.get("data", answer) if isinstance(answer, dict) else {}
    return [str(p) for p in (data.get("policies") or data.get("keys") or [])]


def policy_rules(answer: Any) -> str:
    """The rules in a ``GET sys/policy/NAME`` answer."""
    data = answer.get("data", answer) if isinstance(answer, dict) else {}
    return str(data.get("rules") or data.get("policy") or "")


def access(name: str, path: str) -> Steps[Call, AccessReview]:
    """The review of secret ``name`` (data path ``path``): every ACL policy's rules, read."""
    names = policy_names((yield Call("GET", "sys/policy")))
    rules: dict[str, str] = {}
    for policy in names:
        answer = yield Call("GET", vault_path("sys/policy/{name}", name=policy))
        rules[policy] = policy_rules(answer)
    return review(name, path, rules)
