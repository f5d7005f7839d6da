"""``helium-secrets scan [URL] [PATHS...]``: find the store's real secret values in files, a git
history or stdin, and (``--heuristics``) what detect-secrets takes for a credential.

The values are held in memory only, by :class:`helium_secrets.exposure.Matcher`, and dropped
when the scan ends; files are read line by line, and ``git log -p`` is read as it runs. What is
reported names the place, the secret, its version and the encoding, never the value or the text
around it, in every format (table, JSON, SARIF).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import IO, Any

from helium_secrets._store import SecretStore
from helium_secrets.cli._main import CLIError, ExitCode, _display_url, _print_json
from helium_secrets.exposure import (
    GIT_COMMIT_FORMAT,
    MIN_LENGTH,
    Finding,
    Line,
    Matcher,
    git_log_lines,
    lines_of,
    matcher_from_store,
    scan,
)

__all__ = ["SCHEMA_ID", "register", "sarif_document", "scan_document"]

#: The ``schema`` of the JSON output (docs/cli.md describes it).
SCHEMA_ID = "helium-secrets/scan/v1"
_SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
#: What ``git log`` is asked for: every commit reachable from a ref or a reflog entry (a
#: deleted branch's commits stay in HEAD's reflog), each with the lines it added.
_GIT_LOG = ("-c", "core.quotePath=false", "log", "--all", "--reflog", "-p", "-U0",
            "--no-color", "--no-ext-diff", "--no-textconv", f"--format={GIT_COMMIT_FORMAT}")


class _Targets(argparse.Action):
    """``[URL] [PATHS...]``: the first argument is the store when it has a ``scheme://``."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        targets = list(values)
        if targets and "://" in targets[0]:
            namespace.store_url_arg = targets.pop(0)
        setattr(namespace, self.dest, targets)


def _walk(path: str, skipped: list[str]) -> Iterator[str]:
    if not os.path.isdir(path):
        yield path
        return
    for root, dirs, files in os.walk(path, onerror=lambda exc: skipped.append(
            str(exc.filename))):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            full = os.path.join(root, name)
            if not os.path.islink(full):
                yield full


def _file_lines(paths: Sequence[str], skipped: list[str]) -> Iterator[Line]:
    """The lines of every file under ``paths`` (``-`` is stdin), read as they are searched."""
    for path in paths:
        if path == "-":
            stream: IO[bytes] | None = getattr(sys.stdin, "buffer", None)
            yield from lines_of("-", stream if stream is not None else sys.stdin)
            continue
        if not os.path.exists(path):
            raise CLIError(f"no such file or directory: {path}", ExitCode.USAGE)
        for file in _walk(path, skipped):
            try:
                with open(file, "rb") as f:
                    yield from lines_of(os.path.normpath(file), f)
            except OSError:
                skipped.append(file)


def _git_lines(paths: Sequence[str]) -> Iterator[Line]:
    """The lines each commit of the repositories at ``paths`` added, as ``git log`` prints
    them (a subprocess: git reads its packs faster than any library, and streams)."""
    for path in paths:
        try:
            git = subprocess.Popen(["git", "-C", path, *_GIT_LOG], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise CLIError("--git-history needs git on the PATH", ExitCode.USAGE) from None
        assert git.stdout is not None
        try:
            yield from git_log_lines(git.stdout)
        finally:
            git.stdout.close()
            code = git.wait()
        if code != 0:  # git's own message is not shown: it may quote the repository's text
            raise CLIError(f"git log failed in {path} (exit code {code}): is it a git "
                           "repository with at least one commit?", ExitCode.USAGE)


def scan_document(findings: Sequence[Finding], matcher: Matcher | None, *, store: str,
                  backend: str, prefix: str, versions: str, git_history: bool,
                  skipped: Sequence[str]) -> dict[str, Any]:
    """The JSON output (``schema`` :data:`SCHEMA_ID`): the findings, what could not be
    searched, and counts; never a value."""
    known = [f for f in findings if f.kind == "known"]
    return {
        "schema": SCHEMA_ID,
        "store": store,
        "backend": backend,
        "prefix": prefix,
        "versions": versions,
        "git_history": git_history,
        "min_length": matcher.min_length if matcher is not None else MIN_LENGTH,
        "findings": [asdict(f) for f in findings],
        "unscannable": [asdict(u) for u in (matcher.unscannable if matcher else [])],
        "skipped_files": list(skipped),
        "summary": {
            "values": len(matcher.known) if matcher is not None else 0,
            "findings": len(findings),
            "current": sum(1 for f in known if f.current),
            "previous": sum(1 for f in known if not f.current),
            "heuristic": len(findings) - len(known),
        },
    }


def _rule_id(finding: Finding) -> str:
    if finding.kind == "heuristic":
        return "heuristic/" + (finding.rule or "unknown").lower().replace(" ", "-")
    return "known-value/current" if finding.current else "known-value/previous"


def _message(finding: Finding) -> str:
    if finding.kind == "heuristic":
        return (f"Possible hard-coded credential ({finding.rule}, detect-secrets); it is not a "
                "value of the store that was scanned.")
    what = f"field {finding.field} of " if finding.field else ""
    when = ("the current version: rotate it now" if finding.current
            else "a previous version")
    return (f"The value of {what}secret {finding.name} (version {finding.version}, "
            f"{when}) is here, {finding.encoding}-encoded." if finding.encoding != "raw" else
            f"The value of {what}secret {finding.name} (version {finding.version}, {when}) is "
            "here.")


_RULES = {
    "known-value/current": ("The current value of a secret of the store",
                            "error", "Rotate the secret, then remove the value from the file "
                            "(and from the history, where it was committed)."),
    "known-value/previous": ("A previous value of a secret of the store", "warning",
                             "The version is no longer current; make sure it is no longer "
                             "accepted anywhere, and remove it."),
}


def sarif_document(findings: Sequence[Finding], *, tool_version: str) -> dict[str, Any]:
    """The findings as a SARIF 2.1.0 log, for code-scanning tools; never a value."""
    rule_ids = sorted({_rule_id(f) for f in findings} | set(_RULES))
    rules = []
    for rule_id in rule_ids:
        title, level, help_text = _RULES.get(rule_id, (
            "A possible hard-coded credential (detect-secrets)", "warning",
            "If it is a credential, move it into the secret store and rotate it."))
        rules.append({"id": rule_id, "shortDescription": {"text": title},
                      "help": {"text": help_text}, "defaultConfiguration": {"level": level}})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    results = []
    for f in findings:
        rule_id = _rule_id(f)
        result: dict[str, Any] = {
            "ruleId": rule_id,
            "ruleIndex": index[rule_id],
            "level": "error" if f.kind == "known" and f.current else "warning",
            "message": {"text": _message(f)},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": f.source.replace(os.sep, "/")},
                "region": {"startLine": f.line, "startColumn": f.column},
            }}],
            "properties": {k: v for k, v in (("commit", f.commit), ("secret", f.name),
                                              ("version", f.version), ("field", f.field),
                                              ("encoding", f.encoding)) if v is not None},
        }
        results.append(result)
    return {
        "$schema": _SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "helium-secrets", "version": tool_version,
                                "informationUri": "https://pypi.org/project/helium-secrets/",
                                "rules": rules}},
            "results": results,
        }],
    }


def _cell(finding: Finding) -> tuple[str, ...]:
    place = f"{finding.source}:{finding.line}:{finding.column}"
    commit = (finding.commit or "-")[:12]
    if finding.kind == "heuristic":
        return place, commit, f"(heuristic: {finding.rule})", "-", "-", "not in the store"
    name = finding.name or ""
    if finding.field:
        name += f"#{finding.field}"
    status = "current: rotate now" if finding.current else "previous version"
    return place, commit, name, finding.version or "-", finding.encoding or "-", status


_COLUMNS = ("WHERE", "COMMIT", "SECRET", "VERSION", "ENCODING", "STATUS")


def _table(document: dict[str, Any], findings: Sequence[Finding]) -> None:
    if findings:
        rows = [_COLUMNS] + [_cell(f) for f in findings]
        widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
        for r in rows:
            sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
                             .rstrip() + "\n")
        sys.stdout.write("\n")
    for u in document["unscannable"]:
        field = f"#{u['field']}" if u["field"] else ""
        version = f" version {u['version']}" if u["version"] else ""
        sys.stdout.write(f"not searched: {u['name']}{field}{version}: {u['reason']}\n")
    for path in document["skipped_files"]:
        sys.stdout.write(f"not readable: {path}\n")
    s = document["summary"]
    sys.stdout.write(f"{s['values']} value(s) searched for; {s['findings']} finding(s): "
                     f"{s['current']} current, {s['previous']} previous, {s['heuristic']} "
                     "heuristic\n")


def _cmd_scan(store: SecretStore, args: argparse.Namespace) -> int:
    from helium_secrets import __version__

    # stdin only when asked for: a CI step whose stdin is empty must not pass by scanning it.
    paths = args.paths or ["."]
    skipped: list[str] = []
    try:
        import ahocorasick  # noqa: F401
        if args.heuristics:
            import detect_secrets  # noqa: F401
    except ImportError:
        raise CLIError("scan needs the scan extra: pip install 'helium-secrets[scan]'",
                       ExitCode.USAGE) from None
    with matcher_from_store(store, args.prefix, versions=args.versions,
                            min_length=args.min_length) as matcher:
        lines = _git_lines(paths) if args.git_history else _file_lines(paths, skipped)
        findings = list(scan(lines, matcher, heuristics=args.heuristics))
        document = scan_document(findings, matcher, store=_display_url(args.store_url),
                                 backend=store.backend.name, prefix=args.prefix,
                                 versions=args.versions, git_history=args.git_history,
                                 skipped=skipped)
    output = "json" if args.json else args.format
    if output == "sarif":
        _print_json(sarif_document(findings, tool_version=__version__))
    elif output == "json":
        _print_json(document)
    else:
        _table(document, findings)
    return ExitCode.FINDINGS if args.fail_on_find and findings else ExitCode.OK


def _min_length(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a whole number of characters") from None
    if value < 1:
        raise argparse.ArgumentTypeError("expected at least 1")
    return value


def register(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``scan`` to the parser (``command`` is the parser's subcommand factory)."""
    cmd = command("scan", "find the store's secret values in files, a git history or stdin "
                  "(never printing them)", _cmd_scan)
    cmd.add_argument("paths", nargs="*", action=_Targets, metavar="[URL] PATHS",
                     help="the store URL (an argument with ://), then the files and "
                     "directories to search ('-': stdin; default: .)")
    cmd.add_argument("--prefix", default="", metavar="P",
                     help="only the values of the secrets whose names start with P")
    cmd.add_argument("--versions", choices=("current", "all"), default="current",
                     help="search for the current values only (default), or every readable "
                     "version's")
    cmd.add_argument("--git-history", action="store_true",
                     help="search every commit of the git repositories at PATHS (default .) "
                     "instead of their files")
    cmd.add_argument("--heuristics", action="store_true",
                     help="also report what detect-secrets takes for a credential")
    cmd.add_argument("--min-length", type=_min_length, default=MIN_LENGTH, metavar="N",
                     help=f"values shorter than N characters are not searched for (default "
                     f"{MIN_LENGTH}); they are listed as not searched")
    cmd.add_argument("--format", choices=("table", "json", "sarif"), default="table",
                     help="the output (default: table; --json is --format json)")
    cmd.add_argument("--fail-on-find", action="store_true",
                     help="exit with 9 when anything is found")
