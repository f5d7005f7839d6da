"""The lifecycle verbs: ``rotate NAME``, ``label NAME LABEL [VERSION]``, ``restore NAME``,
``purge NAME`` and ``describe NAME``. None of them prints a value."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from helium_secrets._store import SecretStore
from helium_secrets.cli._main import (
    CLIError,
    ExitCode,
    _confirm,
    _iso,
    _print_json,
    _secret_document,
)
from helium_secrets.cli.secrets import _read_value
from helium_secrets.errors import UnsupportedError
from helium_secrets.generators import SAFE_SYMBOLS, PasswordGenerator
from helium_secrets.lifecycle import FIELDS, Lifecycle

__all__ = ["lifecycle_document", "register"]

#: The extra operation that brings a deleted secret back, by the name each service gives it.
_RESTORE_OPERATIONS = ("restore", "recover")


def lifecycle_document(lifecycle: Lifecycle, backend: str) -> dict[str, Any]:
    """A lifecycle as JSON: every field (``null`` where unset or not tracked), and ``fields``,
    the ones this backend's service tracks."""
    document: dict[str, Any] = {"name": lifecycle.name, "backend": backend}
    for name in FIELDS:
        value = getattr(lifecycle, name)
        document[name] = _iso(value) if hasattr(value, "isoformat") else value
    document["fields"] = [f for f in FIELDS if f in lifecycle.fields]
    return document


class _Given:
    """A "generator" that returns the value read from stdin or ``--file``."""

    def __init__(self, value: str | bytes) -> None:
        self._value = value

    def __call__(self) -> str | bytes:
        return self._value

    def __repr__(self) -> str:
        return "<the value read from stdin or --file>"


def _cmd_rotate(store: SecretStore, args: argparse.Namespace) -> int:
    store.check_name(args.name)
    store.check_writable(args.name)
    generator: Callable[[], str | bytes]
    if args.file is not None or args.stdin:
        args.allow_empty = False
        generator = _Given(_read_value(args, store.backend.name))
    else:
        try:
            generator = PasswordGenerator(length=args.length,
                                          symbols="" if args.no_symbols else SAFE_SYMBOLS)
        except ValueError as exc:
            raise CLIError(f"cannot generate a value: {exc}", ExitCode.USAGE) from None
    secret = store.rotate(args.name, generator)
    if args.json:
        _print_json(_secret_document(secret))
    else:
        sys.stdout.write(f"rotated {secret.name} to version {secret.version}\n")
    return ExitCode.OK


def _cmd_label(store: SecretStore, args: argparse.Namespace) -> int:
    if args.remove:
        if args.version is not None:
            raise CLIError("--remove takes no VERSION", ExitCode.USAGE)
        version = None
    else:
        version = args.version or store.current_version(args.name)
    store.set_label(args.name, args.label, version)
    if args.json:
        _print_json({"name": args.name, "label": args.label, "version": version})
    elif version is None:
        sys.stdout.write(f"removed label {args.label} from {args.name}\n")
    else:
        sys.stdout.write(f"label {args.label} now on {args.name} version {version}\n")
    return ExitCode.OK


def _extra(store: SecretStore, name: str, operations: tuple[str, ...], what: str) -> str:
    store.check_name(name)
    found = [op for op in operations if op in dir(store.extras)]
    if not found:
        raise UnsupportedError(f"the {store.backend.name} backend {what}",
                               backend=store.backend.name, name=name)
    return found[0]


def _cmd_restore(store: SecretStore, args: argparse.Namespace) -> int:
    operation = _extra(store, args.name, _RESTORE_OPERATIONS,
                       "keeps no deleted secrets to restore (delete is final there)")
    getattr(store.extras, operation)(args.name)
    if args.json:
        _print_json({"name": args.name, "restored": True})
    else:
        sys.stdout.write(f"restored {args.name}\n")
    return ExitCode.OK


def _cmd_purge(store: SecretStore, args: argparse.Namespace) -> int:
    operation = _extra(store, args.name, ("purge",),
                       "has no purge of a deleted secret (use delete --purge)")
    if not args.yes:
        if sys.stdin is None or not sys.stdin.isatty():
            raise CLIError(f"not purging {args.name} without confirmation: pass --yes",
                           ExitCode.USAGE)
        if not _confirm(f"purge the deleted secret {args.name} for good?"):
            raise CLIError("not confirmed; nothing purged", ExitCode.USAGE)
    getattr(store.extras, operation)(args.name)
    if args.json:
        _print_json({"name": args.name, "purged": True})
    else:
        sys.stdout.write(f"purged {args.name}\n")
    return ExitCode.OK


def _cmd_describe(store: SecretStore, args: argparse.Namespace) -> int:
    document = lifecycle_document(store.describe(args.name), store.backend.name)
    if args.json:
        _print_json(document)
        return ExitCode.OK
    tracked = set(document["fields"])
    for field in FIELDS:
        value = document[field]
        shown = ("-" if value is None else str(value).lower() if isinstance(value, bool)
                 else str(value)) if field in tracked else f"(not tracked by {store.backend.name})"
        sys.stdout.write(f"{field}: {shown}\n")
    return ExitCode.OK


def register(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the verbs to the parser (``command`` is the parser's subcommand factory)."""
    rotate = command("rotate", "write a new version, check-and-set against the current one: "
                     "a generated password, or a value from stdin or --file", _cmd_rotate)
    rotate.add_argument("name", metavar="NAME")
    source = rotate.add_mutually_exclusive_group()
    source.add_argument("--stdin", action="store_true",
                        help="read the new value from stdin instead of generating one")
    source.add_argument("--file", metavar="PATH", help="read the new value from this file")
    rotate.add_argument("--length", type=int, default=32, metavar="N",
                        help="the generated password's length (default: 32)")
    rotate.add_argument("--no-symbols", action="store_true",
                        help="generate letters and digits only")
    rotate.add_argument("--binary", action="store_true",
                        help="with --stdin/--file, store the bytes as they are")
    rotate.add_argument("--keep-newline", action="store_true",
                        help="with --stdin/--file, keep a trailing newline")

    label = command("label", "move a label (stage, alias) onto a version, or --remove it",
                    _cmd_label)
    label.add_argument("name", metavar="NAME")
    label.add_argument("label", metavar="LABEL")
    label.add_argument("version", nargs="?", metavar="VERSION",
                       help="the version (default: the current one)")
    label.add_argument("--remove", action="store_true", help="remove the label from the secret")

    restore = command("restore", "bring back a deleted secret, where the service keeps them",
                      _cmd_restore)
    restore.add_argument("name", metavar="NAME")

    purge = command("purge", "erase a deleted-but-recoverable secret for good, where the "
                    "service keeps them", _cmd_purge)
    purge.add_argument("name", metavar="NAME")
    purge.add_argument("--yes", "-y", action="store_true",
                       help="do not ask for confirmation (needed when stdin is not a terminal)")

    describe = command("describe", "show a secret's lifecycle: created, changed, rotated, "
                       "next rotation, expiry, last accessed (never its value)", _cmd_describe)
    describe.add_argument("name", metavar="NAME")
