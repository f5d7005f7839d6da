"""``helium-secrets copy SRC_URL DST_URL``: copy secrets between any two stores.

A secret is up to date in the target when its current value (``--versions current``) or its
history of values (``--versions all``) is already there, so a second run writes nothing and an
interrupted run picks up where it stopped. Where both stores have labels, the labels of the
versions copied come along (those a service moves by itself, like AWSCURRENT, aside). Names are
portable names on both sides: each backend maps them by its own rules, and a name the target
cannot represent is reported, never mangled. No value is ever printed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from helium_secrets._store import SecretStore
from helium_secrets._values import Secret, SecretValue
from helium_secrets.cli._advice import cli_advice
from helium_secrets.cli._main import (
    DEFAULT_TIMEOUT,
    CLIError,
    ExitCode,
    _display_url,
    _print_json,
    exit_code_for,
    open_cli_store,
)
from helium_secrets.errors import HeliumError, InvalidNameError, SecretNotFoundError

__all__ = ["CopyReport", "copy_secrets", "register"]


@dataclass
class CopyReport:
    """What a copy did (or, with ``dry_run``, would do), by name; never a value.

    :param copied: name -> the number of versions written.
    :param unchanged: the names already up to date (values and labels).
    :param skipped: name -> why not (a name the target cannot represent, ...).
    :param failed: name -> (error code, message).
    :param labelled: name -> the labels put on the target's versions (with the new versions,
        or moved onto the ones it had).
    :param labels_not_copied: name -> the source's labels the target has no place for (a
        backend without labels); the values were copied all the same.
    """

    dry_run: bool = False
    copied: dict[str, int] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: dict[str, tuple[str, str]] = field(default_factory=dict)
    labelled: dict[str, list[str]] = field(default_factory=dict)
    labels_not_copied: dict[str, list[str]] = field(default_factory=dict)
    exit_code: int = ExitCode.OK

    def document(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "copied": [{"name": n, "versions": c} for n, c in self.copied.items()],
            "unchanged": self.unchanged,
            "skipped": [{"name": n, "reason": r} for n, r in self.skipped.items()],
            "failed": [{"name": n, "code": c, "error": m} for n, (c, m) in self.failed.items()],
            "labelled": [{"name": n, "labels": ls} for n, ls in self.labelled.items()],
            "labels_not_copied": [{"name": n, "labels": ls}
                                  for n, ls in self.labels_not_copied.items()],
        }

    def summary(self) -> str:
        verb = "would copy" if self.dry_run else "copied"
        versions = sum(self.copied.values())
        text = (f"{verb} {len(self.copied)} secret(s) ({versions} version(s)), "
                f"{len(self.unchanged)} already up to date, {len(self.skipped)} skipped, "
                f"{len(self.failed)} failed")
        if self.labelled:
            text += f"; {'would label' if self.dry_run else 'labelled'} {len(self.labelled)}"
        if self.labels_not_copied:
            text += (f"; the labels of {len(self.labels_not_copied)} not copied (the target "
                     "has no labels)")
        return text


@dataclass(frozen=True)
class _Version:
    """One readable version: its id in its own store, its value and its labels."""

    version: str
    value: SecretValue
    labels: frozenset[str]


def _history(store: SecretStore, name: str) -> list[_Version]:
    """The readable versions of ``name``, oldest first, ending with the current one."""
    if not store.backend.capabilities.versions:
        return [_current(store, name)]
    current = store.current_version(name)
    versions: list[_Version] = []
    for info in store.versions(name):
        if info.enabled or info.version == current:
            try:
                value = store.get(name, info.version).value
            except SecretNotFoundError:  # destroyed or disabled meanwhile
                continue
            versions.append(_Version(info.version, value, info.labels))
        if info.version == current:
            break  # later ones are pending (staged), not part of the history yet
    return versions


def _current(store: SecretStore, name: str) -> _Version:
    secret = store.get(name)
    return _Version(secret.version, secret.value, secret.labels)


def _copied(source: Sequence[_Version], target: Sequence[_Version]) -> tuple[int, int]:
    """How many of ``source``'s values the target already has, and how many of its newest
    versions hold them: the largest ``j`` such that the target's newest ``length`` values are
    ``source[j - length:j]`` (a target that keeps fewer versions than the source, or that a
    run left half done, ends with a run of the source's history; the values after ``j`` are
    the ones to write). ``(0, 0)`` where the target has none of them."""
    for j in range(len(source), 0, -1):
        for length in range(min(j, len(target)), 0, -1):
            if all(a.value == b.value for a, b in zip(
                    target[-length:], source[j - length:j], strict=True)):
                return j, length
    return 0, 0


def _raw(value: SecretValue) -> str | bytes:
    return value.reveal_bytes() if value.is_binary else value.reveal()


def copy_secrets(source: SecretStore, target: SecretStore, *, prefix: str = "",
                 versions: str = "current", dry_run: bool = False,
                 progress: Callable[[int, int, str], None] | None = None) -> CopyReport:
    """Copy the secrets under ``prefix`` from ``source`` to ``target``, with the labels of the
    versions copied where both stores have labels.

    :param versions: ``current`` (the current value, its metadata and labels) or ``all``
        (every readable version, oldest first, so that the target's history ends the same).
    :param dry_run: read both sides, write nothing.
    :param progress: called with (done, total, name) before each secret.
    """
    if versions not in ("current", "all"):
        raise ValueError("versions is 'current' or 'all'")
    report = CopyReport(dry_run=dry_run)
    names = list(source.list(prefix))
    for done, name in enumerate(names):
        if progress is not None:
            progress(done, len(names), name)
        try:
            target.check_name(name)
        except InvalidNameError as exc:
            report.skipped[name] = f"the target cannot represent the name: {exc.message}"
            report.exit_code = report.exit_code or ExitCode.INVALID
            continue
        try:
            _copy_one(source, target, name, versions, dry_run, report)
        except HeliumError as exc:
            report.failed[name] = (exc.code.value, cli_advice(str(exc), name))
            report.exit_code = report.exit_code or exit_code_for(exc)
    if progress is not None:
        progress(len(names), len(names), "")
    return report


def _copy_one(source: SecretStore, target: SecretStore, name: str, versions: str,
              dry_run: bool, report: CopyReport) -> None:
    current: Secret = source.get(name)
    # A target that keeps no versions holds the current value only, whatever was asked.
    history = versions == "all" and target.backend.capabilities.versions
    wanted = _history(source, name) if history else [
        _Version(current.version, current.value, current.labels)]
    try:
        have = _history(target, name) if history else [_current(target, name)]
    except SecretNotFoundError:
        have = []
    done, length = _copied(wanted, have)
    todo = wanted[done:]
    # The labels to carry: the source's own, not those its service moves by itself; none
    # where the target has no labels (said in the report, the values are copied all the same).
    leave_out = (source.backend.capabilities.managed_labels
                 | target.backend.capabilities.managed_labels)
    carried = [v.labels - leave_out for v in wanted]
    if not target.backend.capabilities.labels:
        lost = sorted(set().union(*carried[done - length:]))
        if lost:
            report.labels_not_copied[name] = lost
        carried = [frozenset()] * len(wanted)
    # Labels a version the target already has lacks are moved onto it.
    moves = [(label, theirs.version)
             for theirs, labels in zip(have[len(have) - length:], carried[done - length:done],
                                       strict=True)
             for label in sorted(labels - theirs.labels)]
    if not todo and not moves:
        report.unchanged.append(name)
        return
    if not dry_run:
        for label, version in moves:
            target.set_label(name, label, version)
        metadata = dict(current.metadata) or None
        for entry, labels in zip(todo, carried[done:], strict=True):
            target.put(name, _raw(entry.value), metadata=metadata, labels=sorted(labels))
    if todo:
        report.copied[name] = len(todo)
    labelled = {label for label, _version in moves}.union(*carried[done:])
    if labelled:
        report.labelled[name] = sorted(labelled)


# -- the command -------------------------------------------------------------------------------


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int, name: str) -> None:
        if not self.enabled:
            return
        width = 30
        filled = width * done // total if total else width
        line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name}"[:100]
        sys.stderr.write("\r\033[K" + line + ("\n" if done == total else ""))
        sys.stderr.flush()


def _cmd_copy(source: SecretStore, args: argparse.Namespace) -> int:
    if args.target == args.store_url:
        raise CLIError("the source and the target are the same store", ExitCode.USAGE)
    with open_cli_store(args.target, getattr(args, "debug", False),
                        timeout=getattr(args, "timeout", DEFAULT_TIMEOUT)) as target:
        if not args.dry_run:
            target.check_writable()
        report = copy_secrets(source, target, prefix=args.prefix, versions=args.versions,
                              dry_run=args.dry_run, progress=_Progress())
    if args.json:
        _print_json({"source": _display_url(args.store_url),
                     "target": _display_url(args.target), **report.document()})
    else:
        out = sys.stdout
        for name, count in report.copied.items():
            out.write(f"{'would copy' if args.dry_run else 'copied'} {name} ({count} "
                      f"version{'s' if count != 1 else ''})\n")
        for name, labels in report.labelled.items():
            out.write(f"{'would label' if args.dry_run else 'labelled'} {name}: "
                      f"{', '.join(labels)}\n")
        for name, labels in report.labels_not_copied.items():
            out.write(f"labels not copied for {name} (the target has no labels): "
                      f"{', '.join(labels)}\n")
        for name, reason in report.skipped.items():
            out.write(f"skipped {name}: {reason}\n")
        for name, (_code, message) in report.failed.items():
            out.write(f"failed {name}: {message}\n")
        out.write(report.summary() + "\n")
    return report.exit_code


def register(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``copy`` to the parser (``command`` is the parser's subcommand factory)."""
    copy = command("copy", "copy secrets from one store to another (idempotent, resumable)",
                   _cmd_copy)
    copy.add_argument("store_url_arg", metavar="SRC_URL", help="the store to copy from")
    copy.add_argument("target", metavar="DST_URL", help="the store to copy to")
    copy.add_argument("--prefix", default="", metavar="P",
                      help="only the secrets whose names start with P")
    copy.add_argument("--versions", choices=("current", "all"), default="current",
                      help="the current value only (default), or every readable version")
    copy.add_argument("--dry-run", action="store_true",
                      help="say what would be copied, write nothing")
