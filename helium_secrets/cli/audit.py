"""``helium-secrets audit [URL]``: the age, use and expiry of every secret, from each service's
own lifecycle fields (``store.audit``), as a table, JSON or CSV; ``--fail-on`` for CI."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

from helium_secrets._store import SecretStore
from helium_secrets.cli._args import duration
from helium_secrets.cli._main import ExitCode, _display_url, _iso, _print_json
from helium_secrets.cli.verbs import lifecycle_document
from helium_secrets.lifecycle import FIELDS, PROBLEMS, AuditFinding, AuditPolicy

__all__ = ["SCHEMA_ID", "audit_document", "register"]

#: The ``schema`` of the JSON output (docs/cli.md has the JSON Schema).
SCHEMA_ID = "helium-secrets/audit/v1"

_ALIASES = {"max-age": "max_age", "overdue": "rotation_overdue",
            "rotation-overdue": "rotation_overdue"}
#: A check the policy asked for -> its option and the lifecycle field it needs.
_CHECKS = {"max_age": ("--max-age", "created_at"), "unused": ("--unused-for", "accessed_at"),
           "expiring": ("--expiring-within", "expires_at")}


def _fail_on(text: str) -> frozenset[str]:
    """``--fail-on``: problems separated by commas, or ``any`` (an argparse type)."""
    wanted = {_ALIASES.get(p.strip(), p.strip()) for p in text.split(",") if p.strip()}
    if "any" in wanted:
        return frozenset(PROBLEMS)
    unknown = wanted - set(PROBLEMS)
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(
            f"unknown problem(s) {', '.join(sorted(unknown)) or '(none given)'}; "
            f"known: any, {', '.join(PROBLEMS)}")
    return frozenset(wanted)


def audit_document(findings: Sequence[AuditFinding], *, store: str, backend: str,
                   policy: AuditPolicy, fields: Sequence[str], unchecked: Sequence[str],
                   audited_at: datetime) -> dict[str, Any]:
    """The JSON output (``schema`` :data:`SCHEMA_ID`, documented in docs/cli.md)."""
    secrets = []
    for f in findings:
        lifecycle = lifecycle_document(f.lifecycle, backend) if f.lifecycle else None
        if lifecycle is not None:
            del lifecycle["name"], lifecycle["backend"], lifecycle["fields"]
        secrets.append({"name": f.name, "lifecycle": lifecycle, "age_seconds": f.age,
                        "age_from": f.age_from, "problems": list(f.problems), "error": f.error})
    return {
        "schema": SCHEMA_ID,
        "store": store,
        "backend": backend,
        "audited_at": _iso(audited_at),
        "policy": {"max_age": policy.max_age, "unused_for": policy.unused_for,
                   "expiring_within": policy.expiring_within},
        "fields": list(fields),
        "unchecked": list(unchecked),
        "secrets": secrets,
        "summary": {
            "secrets": len(findings),
            "with_problems": sum(1 for f in findings if f.problems),
            "by_problem": {p: sum(1 for f in findings if p in f.problems) for p in PROBLEMS},
        },
    }


def _days(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 86400:.1f}d"


def _date(value: Any) -> str:
    return "-" if value is None else str(value)[:10]


_COLUMNS = ("NAME", "AGE", "FROM", "ACCESSED", "EXPIRES", "NEXT ROTATION", "PROBLEMS")


def _row(secret: dict[str, Any], tracked: set[str]) -> tuple[str, ...]:
    lc = secret["lifecycle"] or {}

    def cell(field: str) -> str:
        return _date(lc.get(field)) if field in tracked else "n/a"

    problems = ",".join(secret["problems"]) + (f" ({secret['error']})" if secret["error"] else "")
    return (secret["name"], _days(secret["age_seconds"]), secret["age_from"] or "-",
            cell("accessed_at"), cell("expires_at"), cell("next_rotation_at"), problems or "ok")


def _table(document: dict[str, Any]) -> None:
    tracked = set(document["fields"])
    access = bool(document["secrets"]) and "access" in document["secrets"][0]
    rows = [_COLUMNS + (("READERS",) if access else ())] + [
        _row(s, tracked) + ((_readers(s),) if access else ()) for s in document["secrets"]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                         + "\n")
    untracked = [f for f in FIELDS if f not in tracked]
    sys.stdout.write(f"\n{document['backend']} tracks: {', '.join(document['fields'])}"
                     f"; n/a: not tracked ({', '.join(untracked) or 'nothing'})\n")
    for check in document["unchecked"]:
        option, needs = _CHECKS[check]
        sys.stdout.write(f"not checked: {option} ({document['backend']} does not track "
                         f"{needs})\n")
    summary = document["summary"]
    sys.stdout.write(f"{summary['secrets']} secret(s), {summary['with_problems']} with "
                     "problems\n")


def _csv(document: dict[str, Any]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    lifecycle_fields = list(FIELDS)
    writer.writerow(["name", *lifecycle_fields, "age_seconds", "age_from", "problems", "error"])
    for s in document["secrets"]:
        lc = s["lifecycle"] or {}
        writer.writerow([s["name"], *("" if lc.get(f) is None else lc[f] for f in lifecycle_fields),
                         "" if s["age_seconds"] is None else f"{s['age_seconds']:.0f}",
                         s["age_from"] or "", " ".join(s["problems"]), s["error"] or ""])


def _add_access(store: SecretStore, document: dict[str, Any]) -> None:
    """``--access``: who can read each secret (``access`` in JSON, ``READERS`` in the table)."""
    from helium_secrets.cli.access import access_document, review
    from helium_secrets.errors import HeliumError

    for secret in document["secrets"]:
        try:
            secret["access"] = access_document(review(store, secret["name"]),
                                               document["backend"])
        except HeliumError as exc:
            secret["access"] = access_document(None, document["backend"],
                                               reason=f"error [{exc.code.value}]")


def _readers(secret: dict[str, Any]) -> str:
    access = secret["access"]
    if not access["known"]:
        return "unknown"
    return ",".join(access["readers"]) or "none found"


def _cmd_audit(store: SecretStore, args: argparse.Namespace) -> int:
    policy = AuditPolicy(max_age=args.max_age, unused_for=args.unused_for,
                         expiring_within=args.expiring_within)
    now = datetime.now(timezone.utc)
    findings = store.audit(args.prefix, policy, now=now)
    described = [f.lifecycle for f in findings if f.lifecycle is not None]
    fields = [f for f in FIELDS if any(f in lc.fields for lc in described)]
    unchecked = sorted({u for f in findings for u in f.unknown})
    document = audit_document(findings, store=_display_url(args.store_url),
                              backend=store.backend.name, policy=policy, fields=fields,
                              unchecked=unchecked, audited_at=now)
    if args.access:
        _add_access(store, document)
    output = "json" if args.json else args.format
    {"json": _print_json, "csv": _csv, "table": _table}[output](document)
    if args.fail_on and any(set(f.problems) & args.fail_on for f in findings):
        return ExitCode.FINDINGS
    return ExitCode.OK


def register(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``audit`` to the parser (``command`` is the parser's subcommand factory)."""
    audit = command("audit", "report the age, use and expiry of secrets (never values)",
                    _cmd_audit)
    audit.add_argument("store_url_arg", nargs="?", default=None, metavar="URL",
                       help="the store (default: --url, $HELIUM_SECRETS_URL, the file store)")
    audit.add_argument("--prefix", default="", metavar="P",
                       help="only the secrets whose names start with P")
    audit.add_argument("--max-age", type=duration, metavar="DURATION",
                       help="flag values older than this (since the last rotation, else change)")
    audit.add_argument("--unused-for", type=duration, metavar="DURATION",
                       help="flag secrets not read for this long (where the service tracks it)")
    audit.add_argument("--expiring-within", type=duration, metavar="DURATION",
                       help="flag secrets that expire within this long")
    audit.add_argument("--format", choices=("table", "json", "csv"), default="table",
                       help="the output (default: table; --json is --format json)")
    audit.add_argument("--access", action="store_true",
                       help="also list who can read each secret, where the service can tell "
                       "(as the access command does)")
    audit.add_argument("--fail-on", type=_fail_on, default=frozenset(), metavar="PROBLEMS",
                       help=f"exit with 9 when a secret has one of these problems: any, "
                       f"{', '.join(PROBLEMS)} (comma-separated)")
