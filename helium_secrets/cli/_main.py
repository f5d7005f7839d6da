"""The ``helium-secrets`` command line: the parser, what every command shares (exit codes,
errors, output, opening the store) and ``demo``. Each family of commands is a module with a
``register`` function (secrets.py: ``get``, ``put``, ``list``, ``versions``, ``delete``; run.py,
verbs.py, copy.py, audit.py, scan.py, access.py).

The store comes from ``--url``, else ``$HELIUM_SECRETS_URL``, else the local encrypted file store.
Errors are one line on stderr, never with a value in it; the exit code says what kind of error it
was (see :class:`ExitCode` and docs/cli.md).
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import json
import logging
import os
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import urlsplit

from helium_secrets._registry import default_url, open_store
from helium_secrets._store import SecretStore
from helium_secrets._values import Secret, SecretValue
from helium_secrets.cli._advice import cli_advice
from helium_secrets.errors import (
    ConflictError,
    ErrorCode,
    HeliumError,
)
from helium_secrets.layers.audit import logging_hook

__all__ = ["ExitCode", "main"]

PROG = "helium-secrets"
#: Seconds a CLI call may spend on the backend, retries included (``--timeout``).
DEFAULT_TIMEOUT = 10.0


class ExitCode(enum.IntEnum):
    """The exit codes scripts can rely on."""

    OK = 0
    #: A bug, an error the backend could not classify, or anything unexpected.
    UNEXPECTED = 1
    #: Bad arguments or options, a bad store URL or a missing extra, an unconfirmed delete.
    USAGE = 2
    #: The secret, version or label does not exist.
    NOT_FOUND = 3
    #: Permission denied, or missing / invalid / expired credentials (or file-store key).
    ACCESS = 4
    #: Check-and-set failed, the secret already exists, or it is deleted but recoverable.
    CONFLICT = 5
    #: Unavailable, throttled or past the deadline, after retries: trying later may work.
    TRANSIENT = 6
    #: The request was refused: invalid name or value, too large, not JSON, unsupported,
    #: read-only store.
    INVALID = 7
    #: Stored data failed an integrity check (wrong key, damaged file).
    INTEGRITY = 8
    #: ``audit --fail-on`` found a secret with one of the problems named.
    FINDINGS = 9
    #: ``run``: the command was found but could not be executed.
    COMMAND_NOT_EXECUTABLE = 126
    #: ``run``: the command was not found.
    COMMAND_NOT_FOUND = 127
    #: Interrupted (Ctrl-C).
    INTERRUPTED = 130


_EXIT_BY_CODE: dict[ErrorCode, ExitCode] = {
    ErrorCode.NOT_FOUND: ExitCode.NOT_FOUND,
    ErrorCode.VERSION_NOT_FOUND: ExitCode.NOT_FOUND,
    ErrorCode.PERMISSION_DENIED: ExitCode.ACCESS,
    ErrorCode.UNAUTHENTICATED: ExitCode.ACCESS,
    ErrorCode.CONFLICT: ExitCode.CONFLICT,
    ErrorCode.THROTTLED: ExitCode.TRANSIENT,
    ErrorCode.UNAVAILABLE: ExitCode.TRANSIENT,
    ErrorCode.DEADLINE_EXCEEDED: ExitCode.TRANSIENT,
    ErrorCode.INVALID_ARGUMENT: ExitCode.INVALID,
    ErrorCode.TOO_LARGE: ExitCode.INVALID,
    ErrorCode.UNSUPPORTED: ExitCode.INVALID,
    ErrorCode.INTEGRITY: ExitCode.INTEGRITY,
    ErrorCode.CLOSED: ExitCode.UNEXPECTED,
    ErrorCode.UNKNOWN: ExitCode.UNEXPECTED,
}


def exit_code_for(error: HeliumError) -> ExitCode:
    """The exit code for a helium error."""
    return _EXIT_BY_CODE.get(error.code, ExitCode.UNEXPECTED)


class CLIError(Exception):
    """An error the CLI detects itself; its message never contains a value."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class _UsageError(Exception):
    """Raised by the parser instead of exiting, so that :func:`main` returns the code."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise _UsageError(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise SystemExit(status)


# -- output ------------------------------------------------------------------------------------


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _secret_document(secret: Secret) -> dict[str, Any]:
    """A secret's description, without its value."""
    return {
        "name": secret.name,
        "version": secret.version,
        "labels": sorted(secret.labels),
        "created_at": _iso(secret.created_at),
        "metadata": dict(secret.metadata),
    }


def _display_url(url: str) -> str:
    """The store URL with any password and query string hidden: they may hold credentials."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" not in parts.netloc and not parts.query:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "?***" if parts.query else ""
    # Not urlunsplit: it drops the "//" of an empty host ("mem://?x" would show as "mem:?x").
    return f"{parts.scheme}://{netloc}{parts.path}{query}"


def _confirm(question: str) -> bool:
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


# -- demo --------------------------------------------------------------------------------------


def _cmd_demo(store: SecretStore, args: argparse.Namespace) -> int:
    """Store, read, version and list secrets, and show that values are redacted."""
    prefix = f"helium-demo/{uuid.uuid4().hex[:8]}/"
    db, config = prefix + "db-password", prefix + "config"
    steps: list[dict[str, Any]] = []
    as_json: bool = args.json

    def say(step: str, text: str, **fields: Any) -> None:
        steps.append({"step": step, **fields})
        if not as_json:
            sys.stdout.write(text + "\n")

    say("store", f"store: {_display_url(args.store_url)} (backend {store.backend.name})",
        url=_display_url(args.store_url), backend=store.backend.name)
    before = _local_files(store)
    written: list[str] = []
    try:
        first_value = "demo-" + uuid.uuid4().hex
        first = store.put(db, first_value, create_only=True)
        written.append(db)
        say("put", f"put {db}\n  -> {first!r}", name=db, version=first.version,
            repr=repr(first))

        got = store.get(db)
        matches = got.value.reveal() == first_value
        say("get", f"get {db}\n  -> {got!r}\n  print(secret.value) shows {got.value}"
            f"\n  secret.value.reveal() returns the value written: {matches}",
            name=db, version=got.version, repr=repr(got), str_value=str(got.value),
            reveal_matches=matches)

        second = store.put(db, "demo-" + uuid.uuid4().hex, expected_version=first.version)
        say("put", f"put {db} (check-and-set on version {first.version})\n  -> {second!r}",
            name=db, version=second.version, expected_version=first.version,
            repr=repr(second))

        try:
            store.put(db, "demo-lost-update", expected_version=first.version)
        except ConflictError as exc:
            say("conflict", f"a second check-and-set on version {first.version} is refused:"
                f"\n  ConflictError: {exc}", name=db, error=str(exc))
        else:  # pragma: no cover - every backend enforces check-and-set
            say("conflict", "warning: the store accepted a stale check-and-set", name=db,
                error=None)

        versions = store.versions(db)
        say("versions", f"versions of {db}:" + "".join(
            f"\n  {v.version} {v.state}{' ' + ','.join(sorted(v.labels)) if v.labels else ''}"
            for v in versions), name=db, versions=[v.version for v in versions])

        old = store.get(db, first.version)
        say("get-version", f"get {db} version {first.version}\n  -> {old!r}", name=db,
            version=old.version, repr=repr(old))

        store.put(config, json.dumps({"db": {"host": "localhost", "port": 5432}}),
                  create_only=True)
        written.append(config)
        port = store.get_json(config, "db.port")
        say("get-json", f"put {config} (JSON), get_json({config!r}, 'db.port') -> {port}",
            name=config, field="db.port", result=port)

        names = list(store.list(prefix))
        say("list", f"list {prefix}:" + "".join(f"\n  {n}" for n in names), prefix=prefix,
            names=names)

        say("redaction", "values are redacted everywhere but reveal():"
            f"\n  repr(secret.value) = {SecretValue(first_value)!r}"
            f"\n  f'{{secret.value}}'  = {SecretValue(first_value)}",
            repr=repr(SecretValue(first_value)))
    finally:
        # Clean up even when a step failed; what could not be deleted is reported.
        left = list(written)
        if not args.keep:
            for name in written:
                with contextlib.suppress(HeliumError):
                    store.delete(name, purge=True)
                    left.remove(name)
    if args.keep:
        say("done", f"kept {', '.join(written)} (delete them with: {PROG} delete NAME --yes)",
            left=left)
    elif left:
        say("done", f"could not delete {', '.join(left)}", left=left)
    else:
        say("done", f"deleted the demo secrets under {prefix}; nothing left behind", left=left)
    _say_created(say, before, _local_files(store))
    location = getattr(store.backend, "path", None)
    if location is not None:
        key = getattr(store.backend, "key_file", None)
        where = f"its key in {key}" if key is not None else \
            "its key comes from HELIUM_SECRETS_KEY or key="
        say("location", f"the store itself (encrypted files) is in {location}, {where}",
            path=str(location), key_file=str(key) if key is not None else None)
    if as_json:
        _print_json({"steps": steps, "left": left})
    return ExitCode.OK


def _local_files(store: SecretStore) -> dict[str, Any]:
    """Where a local store (``file://``) keeps itself and its key, and whether they exist."""
    path, key = getattr(store.backend, "path", None), getattr(store.backend, "key_file", None)
    found: dict[str, Any] = {}
    if path is not None:
        found["store"] = (path, (path / "store.hsec").exists())
    if key is not None:
        found["key"] = (key, key.exists())
    return found


def _say_created(say: Callable[..., None], before: dict[str, Any], after: dict[str, Any]
                 ) -> None:
    """Tell what the first write created: a new store, a new key (and what the key means)."""
    for what, (where, existed) in before.items():
        if existed or not after[what][1]:
            continue
        if what == "store":
            say("created-store", f"created a new local encrypted store in {where}",
                path=str(where))
        else:
            say("created-key", f"created its key in {where} (readable by you only): back it "
                "up, without it these secrets can't be read; HELIUM_SECRETS_KEY or "
                "?key_file= keep a key elsewhere", path=str(where))


# -- the parser --------------------------------------------------------------------------------


def _build_parser() -> _Parser:
    # The global options are accepted before and after the command; SUPPRESS keeps a later
    # (command-level) absence from overwriting an earlier (global) value.
    common = _Parser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, metavar="URL",
                        help="the store URL (default: $HELIUM_SECRETS_URL, else the local "
                        "encrypted file store)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON on stdout")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks and log every backend call (never values)")
    common.add_argument("--timeout", type=_seconds, default=argparse.SUPPRESS, metavar="SECONDS",
                        help=f"give up on a backend after this long, retries included "
                        f"(default {DEFAULT_TIMEOUT:g}; the library's own defaults are longer)")

    parser = _Parser(
        prog=PROG,
        parents=[common],
        description="Read and write secrets in any helium-secrets store.",
        epilog="Exit codes: 0 ok, 1 unexpected, 2 usage, 3 not found, 4 permission denied or "
        "unauthenticated, 5 conflict, 6 unavailable/throttled/deadline, 7 invalid request "
        "(name, value, size, read-only), 8 integrity (wrong key, damaged data), 130 interrupted.",
    )
    from helium_secrets import __version__

    parser.add_argument("-V", "--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    def command(name: str, help: str, handler: Callable[[SecretStore, argparse.Namespace], int]
                ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help, parents=[common])
        sub.set_defaults(handler=handler)
        return sub

    demo = command("demo", "store, read, version and list demo secrets, show redaction",
                   _cmd_demo)
    demo.add_argument("--keep", action="store_true",
                      help="keep the demo secrets instead of deleting them")

    from helium_secrets.cli import access, audit, copy, run, scan, secrets, verbs

    for family in (secrets, run, verbs, copy, audit, scan, access):
        family.register(command)
    return parser


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected seconds, such as 10 or 2.5") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError("expected positive seconds")
    return seconds


#: The schemes whose backends talk to a service (and take ``timeout=``).
NETWORK_SCHEMES = frozenset({"vault", "openbao", "awssecretsmanager", "awsssm", "azurekeyvault",
                             "gcpsecretmanager"})


def _timeout_options(url: str, seconds: float) -> dict[str, Any]:
    """The store and backend options that keep one CLI call within ``seconds``: a retry
    deadline, and each request's timeouts where the backend has them (a server that accepts
    connections and never answers costs ``seconds``, not the library's 30). A timeout the URL
    or the environment sets is left alone."""
    from urllib.parse import parse_qs

    from helium_secrets.layers.retry import RetryPolicy

    parts = urlsplit(url)
    scheme, query = parts.scheme.lower(), parse_qs(parts.query)
    connect, read = min(5.0, seconds), seconds / 2  # room for one retry
    options: dict[str, Any] = {"retry": RetryPolicy(deadline=seconds)}
    # Every backend that talks to a service has the same timeout option (GCP: one per call).
    env_set = scheme in ("vault", "openbao") and any(
        os.environ.get(v, "").strip() for v in ("VAULT_CLIENT_TIMEOUT", "BAO_CLIENT_TIMEOUT"))
    if scheme in NETWORK_SCHEMES and "timeout" not in query and not env_set:
        options["timeout"] = read if scheme == "gcpsecretmanager" else (connect, read)
    return options


def _unexpected_arguments(extras: Sequence[str], command: str | None) -> str:
    """Describe unrecognised arguments without echoing any that might be a value."""
    options = [a for a in extras if a.startswith("-")]
    others = len(extras) - len(options)
    parts = [f"unrecognized option(s): {' '.join(options)}"] if options else []
    if others:
        parts.append(f"{others} unexpected argument(s) (not shown)")
    message = "; ".join(parts)
    if command == "put" and others:
        message += ": put reads the value from stdin or --file, never from the command line"
    return message


@contextlib.contextmanager
def _debug_logging(enabled: bool) -> Iterator[None]:
    """With --debug, log the library's events (never values) on stderr for this run."""
    if not enabled:
        yield
        return
    logger = logging.getLogger("helium_secrets")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("helium-secrets: debug: %(name)s: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def open_cli_store(url: str, debug: bool, *, timeout: float = DEFAULT_TIMEOUT,
                   **options: Any) -> SecretStore:
    """Open a store for a command: no cache (one command, fresh answers), each call within
    ``timeout`` seconds (``--timeout``), the backend calls logged with ``--debug``; a bad URL or
    a missing extra is a usage error."""
    try:
        return open_store(url, cache=None,
                          audit=[logging_hook(level=logging.DEBUG)] if debug else [],
                          **{**_timeout_options(url, timeout), **options})
    except (ValueError, ImportError) as exc:
        if isinstance(exc, HeliumError):
            raise
        raise CLIError(f"cannot open the store {_display_url(url)}: {cli_advice(str(exc), None)}",
                       ExitCode.USAGE) from exc


def _error(message: str) -> None:
    sys.stderr.write(f"{PROG}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code (see :class:`ExitCode`).

    :param argv: the arguments, without the program name (default ``sys.argv[1:]``).
    """
    parser = _build_parser()
    try:
        args, extras = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
        if extras:
            parser.print_usage(sys.stderr)
            raise _UsageError(_unexpected_arguments(extras, getattr(args, "command", None)))
    except _UsageError as exc:
        _error(str(exc))
        return ExitCode.USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    debug: bool = getattr(args, "debug", False)
    args.json = getattr(args, "json", False)
    # A command may take the store URL as an argument (copy SRC, audit URL).
    args.store_url = (getattr(args, "store_url_arg", None) or getattr(args, "url", None)
                      or default_url())
    store_options: dict[str, Any] = getattr(args, "store_options", lambda _args: {})(args)
    timeout: float = getattr(args, "timeout", DEFAULT_TIMEOUT)
    handler: Callable[[SecretStore, argparse.Namespace], int] = args.handler
    try:
        with _debug_logging(debug), open_cli_store(args.store_url, debug, timeout=timeout,
                                                   **store_options) as store:
            return handler(store, args)
    except CLIError as exc:
        _report(exc, debug)
        _error(exc.message)
        return exc.exit_code
    except HeliumError as exc:
        _report(exc, debug)
        _error(f"{cli_advice(str(exc), exc.name)} [{exc.code.value}]")
        return exit_code_for(exc)
    except KeyboardInterrupt:
        _error("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, without a second error at exit.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.UNEXPECTED
    except Exception as exc:
        _report(exc, debug)
        # Only the type: an unexpected exception's text is not known to be free of values.
        hint = "" if debug else " (run with --debug for the traceback)"
        _error(f"unexpected {type(exc).__name__}{hint}")
        return ExitCode.UNEXPECTED


def _report(exc: BaseException, debug: bool) -> None:
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
