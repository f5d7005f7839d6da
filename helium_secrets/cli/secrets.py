"""The secrets themselves: ``get``, ``put``, ``list``, ``versions`` and ``delete``.

A value is read only from stdin or ``--file``, never from the command line (where ``ps`` and
shell history would see it), and printed only by ``get``, on stdout.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

from helium_secrets._store import SecretStore
from helium_secrets._values import VersionInfo, json_field
from helium_secrets.cli._main import (
    PROG,
    CLIError,
    ExitCode,
    _confirm,
    _iso,
    _print_json,
    _secret_document,
)
from helium_secrets.errors import InvalidArgumentError

__all__ = ["register"]


# -- output ------------------------------------------------------------------------------------


def _write_bytes(data: bytes) -> None:
    """Write bytes to stdout as they are, without any decoding."""
    sys.stdout.flush()
    buffer: IO[bytes] | None = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream replaced sys.stdout: fall back to text
        sys.stdout.write(data.decode("utf-8", "surrogateescape"))
    else:
        buffer.write(data)
        buffer.flush()


def _version_document(info: VersionInfo, current: str | None) -> dict[str, Any]:
    return {
        "version": info.version,
        "state": info.state,
        "created_at": _iso(info.created_at),
        "labels": sorted(info.labels),
        "current": info.version == current,
    }


# -- reading a value ---------------------------------------------------------------------------


def _read_value(args: argparse.Namespace, backend: str) -> str | bytes:
    """The value for ``put``: from ``--file`` or stdin (a prompt without echo on a terminal).

    :param backend: the backend's name, for a refused value's error (it names backend and
        secret, like every error of the library).
    """
    path: str | None = args.file
    if path is not None and path != "-":
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise CLIError(f"cannot read --file {path}: {exc.strerror or type(exc).__name__}",
                           ExitCode.USAGE) from None
    elif sys.stdin is not None and sys.stdin.isatty():
        # Interactive: ask without echo, like passwd; the prompt goes to the terminal.
        data = getpass.getpass(f"value for {args.name} (not echoed): ").encode(
            "utf-8", "surrogateescape"
        )
    else:
        if sys.stdin is None:
            raise CLIError("no stdin to read the value from; pass --file", ExitCode.USAGE)
        stream: IO[bytes] | None = getattr(sys.stdin, "buffer", None)
        data = stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
    value: str | bytes
    if args.binary:
        value = data
    else:
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            # Never chain or quote: the decode error's message shows the offending bytes.
            raise InvalidArgumentError(
                "the value is not UTF-8 text; pass --binary to store it as bytes",
                backend=backend, name=args.name) from None
        if not args.keep_newline:
            if value.endswith("\r\n"):
                value = value[:-2]
            elif value.endswith("\n"):
                value = value[:-1]
    if not value and not args.allow_empty:
        raise InvalidArgumentError(
            "the value is empty; pass --allow-empty to store an empty value",
            backend=backend, name=args.name)
    return value


def _parse_metadata(pairs: Sequence[str]) -> dict[str, str] | None:
    if not pairs:
        return None
    metadata: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CLIError("--meta takes KEY=VALUE", ExitCode.USAGE)
        metadata[key] = value
    return metadata


# -- commands ----------------------------------------------------------------------------------


def _cmd_get(store: SecretStore, args: argparse.Namespace) -> int:
    secret = store.get(args.name, args.version, label=args.label)
    document = _secret_document(secret)
    if args.metadata_only:
        if args.json:
            _print_json(document)
        else:
            for key, item in document.items():
                shown = ", ".join(item) if key == "labels" else item
                if key == "metadata":
                    shown = ", ".join(f"{k}={v}" for k, v in sorted(item.items()))
                sys.stdout.write(f"{key}: {'' if shown is None else shown}\n")
        return ExitCode.OK
    if args.field is not None:
        node = json_field(secret, args.field, backend=store.backend.name)
        if args.json:
            _print_json({**document, "field": args.field, "value": node})
        elif isinstance(node, str):
            _write_bytes(node.encode("utf-8", "surrogatepass") + b"\n")
        else:
            sys.stdout.write(json.dumps(node, ensure_ascii=False) + "\n")
        return ExitCode.OK
    value = secret.value
    if args.json:
        if value.is_binary:
            try:
                shown, encoding = value.reveal(), "utf-8"
            except ValueError:
                shown = base64.b64encode(value.reveal_bytes()).decode("ascii")
                encoding = "base64"
        else:
            shown, encoding = value.reveal(), "utf-8"
        _print_json({**document, "value": shown, "encoding": encoding})
    elif value.is_binary:
        _write_bytes(value.reveal_bytes())
    else:
        _write_bytes(value.reveal().encode("utf-8", "surrogatepass") + b"\n")
    return ExitCode.OK


def _read_pairs(args: argparse.Namespace, backend: str) -> dict[str, str]:
    """The JSON object of ``put NAME KEY=VALUE KEY=@FILE KEY=-`` (as ``bao kv put`` takes
    them). A value on the command line is taken, as bao takes it, with a warning naming the
    key: ``ps`` and shell history see it, so ``@FILE`` and ``-`` are the ways for secrets."""
    if args.file is not None or args.binary or args.allow_empty:
        raise CLIError("KEY=VALUE pairs take no --file, --binary or --allow-empty",
                       ExitCode.USAGE)
    document: dict[str, str] = {}
    stdin_read = False
    for pair in args.pairs:
        key, sep, source = pair.partition("=")
        if not sep or not key:
            raise CLIError("put reads the value from stdin or --file; extra arguments are "
                           "KEY=VALUE, KEY=@FILE or KEY=- pairs (a JSON object)", ExitCode.USAGE)
        if key in document:
            raise CLIError(f"the key {key!r} is given twice", ExitCode.USAGE)
        if source == "-":
            if stdin_read:
                raise CLIError("only one KEY=- can read stdin", ExitCode.USAGE)
            stdin_read, path = True, None
        elif source.startswith("@") and len(source) > 1:
            path = source[1:]
        else:  # never echo it: it is a value
            sys.stderr.write(
                f"{PROG}: warning: the value of {key!r} was given on the command line, where "
                f"ps and shell history see it; for a secret use {key}=@FILE or {key}=-\n")
            document[key] = source
            continue
        # Read as the single value is (one trailing newline dropped); an empty field of a map
        # is a value like any other.
        field = argparse.Namespace(**{**vars(args), "file": path, "allow_empty": True})
        value = _read_value(field, backend)
        assert isinstance(value, str)  # not --binary
        document[key] = value
    return document


def _cmd_put(store: SecretStore, args: argparse.Namespace) -> int:
    metadata = _parse_metadata(args.meta)
    # Refuse a bad name or a read-only store before asking for a value nobody will store.
    store.check_name(args.name)
    store.check_writable(args.name)
    options: dict[str, Any] = {
        "expected_version": args.expected_version, "create_only": args.create_only,
        "metadata": metadata, "labels": args.label,
    }
    if args.pairs:
        secret = store.put_json(args.name, _read_pairs(args, store.backend.name), **options)
    else:
        secret = store.put(args.name, _read_value(args, store.backend.name), **options)
    if args.json:
        _print_json(_secret_document(secret))
    else:
        sys.stdout.write(f"stored {secret.name} version {secret.version}\n")
    return ExitCode.OK


def _cmd_list(store: SecretStore, args: argparse.Namespace) -> int:
    names = list(store.list(args.prefix))
    if args.json:
        _print_json(names)
    else:
        for name in names:
            sys.stdout.write(name + "\n")
    return ExitCode.OK


def _cmd_versions(store: SecretStore, args: argparse.Namespace) -> int:
    versions = store.versions(args.name)
    current = store.current_version(args.name)
    documents = [_version_document(info, current) for info in versions]
    if args.json:
        _print_json(documents)
        return ExitCode.OK
    rows = [("", "VERSION", "STATE", "CREATED", "LABELS")] + [
        ("*" if d["current"] else "", d["version"], d["state"], d["created_at"] or "-",
         ",".join(d["labels"]))
        for d in documents
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(4)] + [row[4]]
        sys.stdout.write("  ".join(cells).rstrip() + "\n")
    return ExitCode.OK


def _cmd_delete(store: SecretStore, args: argparse.Namespace) -> int:
    if not args.yes:
        if sys.stdin is None or not sys.stdin.isatty():
            raise CLIError(f"not deleting {args.name} without confirmation: pass --yes",
                           ExitCode.USAGE)
        how = "purge" if args.purge else "delete"
        if not _confirm(f"{how} {args.name} and all its versions?"):
            raise CLIError("not confirmed; nothing deleted", ExitCode.USAGE)
    store.delete(args.name, purge=args.purge)
    if args.json:
        _print_json({"name": args.name, "deleted": True, "purged": args.purge})
    else:
        sys.stdout.write(f"deleted {args.name}\n")
    return ExitCode.OK



# -- the parser --------------------------------------------------------------------------------


def register(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``get``, ``put``, ``list``, ``versions`` and ``delete`` to the parser (``command`` is
    the parser's subcommand factory)."""
    get = command("get", "print a secret's value on stdout", _cmd_get)
    get.add_argument("name", metavar="NAME")
    pick = get.add_mutually_exclusive_group()
    pick.add_argument("--version", metavar="V", help="a version id (default: the current one)")
    pick.add_argument("--label", metavar="L", help="a label (stage, alias) naming a version")
    show = get.add_mutually_exclusive_group()
    show.add_argument("--field", metavar="A.B",
                      help="print one field of a JSON value (dotted path, digits index lists)")
    show.add_argument("--metadata-only", action="store_true",
                      help="print the version, labels, dates and metadata, not the value")

    put = command("put", "write a new version; the value comes from stdin or --file, or a JSON "
                  "object from KEY=@FILE and KEY=- pairs (as bao kv put takes them)", _cmd_put)
    put.add_argument("name", metavar="NAME")
    put.add_argument("pairs", nargs="*", metavar="KEY=@FILE|KEY=-",
                     help="write a JSON object (on Vault: the KV map) of these keys, each value "
                     "read from a file or stdin; never from the command line")
    put.add_argument("--file", metavar="PATH",
                     help="read the value from this file ('-': stdin) instead of stdin")
    put.add_argument("--binary", action="store_true",
                     help="store the bytes as they are (default: UTF-8 text)")
    put.add_argument("--keep-newline", action="store_true",
                     help="keep a trailing newline (default: one is removed from text values)")
    put.add_argument("--allow-empty", action="store_true", help="accept an empty value")
    cas = put.add_mutually_exclusive_group()
    cas.add_argument("--expected-version", metavar="V",
                     help="write only if the current version is V (check-and-set)")
    cas.add_argument("--create-only", action="store_true",
                     help="write only if the secret does not exist yet")
    put.add_argument("--label", action="append", default=[], metavar="L",
                     help="move this label onto the new version (repeatable)")
    put.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                     help="set a metadata entry (repeatable)")

    lst = command("list", "list secret names, sorted", _cmd_list)
    lst.add_argument("prefix", nargs="?", default="", metavar="PREFIX")

    versions = command("versions", "list a secret's versions, oldest first", _cmd_versions)
    versions.add_argument("name", metavar="NAME")

    delete = command("delete", "delete a secret and all its versions", _cmd_delete)
    delete.add_argument("name", metavar="NAME")
    delete.add_argument("--purge", action="store_true",
                        help="skip the service's recovery window where it has one")
    delete.add_argument("--yes", "-y", action="store_true",
                        help="do not ask for confirmation (needed when stdin is not a terminal)")
