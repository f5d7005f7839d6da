"""``helium-secrets run [options] -- CMD ARGS...``: secrets into a child's environment.

Without ``--watch`` or ``--mask`` the command is exec'd (the process is replaced: its PID,
signals and exit code are the child's). Otherwise the CLI supervises the child: it forwards
signals, masks values in its output, and with ``--watch`` restarts it when a secret rotates
or a lease (``--lease``) is re-issued, once the new values were fetched. See docs/cli.md for
the mapping rules.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from helium_secrets._store import SecretStore
from helium_secrets._values import Lease, Secret, json_field
from helium_secrets.cli._args import duration, signal_number
from helium_secrets.cli._main import PROG, CLIError, ExitCode
from helium_secrets.cli._mask import StreamMasker
from helium_secrets.errors import HeliumError, InvalidArgumentError, SecretNotFoundError
from helium_secrets.layers.leases import LeasePolicy
from helium_secrets.layers.rotation import PollPolicy

__all__ = ["DEFAULT_ALLOW", "FORWARDED_SIGNALS", "Mapping_", "register", "variable_name"]

#: What ``--pristine`` keeps of the inherited environment (``--allow`` adds globs).
DEFAULT_ALLOW = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_*", "TZ",
                 "TMPDIR")

#: The signals a supervised child receives when the CLI receives them.
FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                     signal.SIGUSR1, signal.SIGUSR2)
#: A forwarded signal among these cancels a pending restart: the CLI exits with the child.
_STOPPING = {signal.SIGINT, signal.SIGTERM, signal.SIGQUIT}

_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def variable_name(text: str) -> str:
    """The default variable name for a secret name, a JSON key or a name under a prefix:
    upper case, every character outside ``[A-Z0-9_]`` becomes ``_``, and a leading digit (or
    nothing at all) gets a ``_`` in front."""
    name = re.sub(r"[^A-Z0-9_]", "_", text.upper())
    return "_" + name if not name or name[0].isdigit() else name


# -- the mapping -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mapping_:
    """One mapping rule.

    :param kind: ``env`` (one variable from a secret or a JSON field of it), ``expand`` (a JSON
        object's keys as ``PREFIX_KEY``), ``prefix`` (every secret under a name prefix) or
        ``lease`` (the fields of leased credentials as ``PREFIX_FIELD``).
    :param target: the variable (``env``) or variable prefix (the others); ``None`` for the
        default name.
    :param source: the secret name, the name prefix, or the lease path.
    :param field: a JSON field (``env`` only).
    :param origin: how the rule was given, for errors.
    """

    kind: str
    target: str | None
    source: str
    field: str | None = None
    origin: str = ""


#: The kinds of rule, as options (``--env``) and as tables of a mapping file (``[env]``).
_KINDS = ("env", "expand", "prefix", "lease")


def _parse_rule(kind: str, text: str, origin: str) -> Mapping_:
    target, sep, source = text.partition("=")
    if not sep:
        target, source = "", text
    field_: str | None = None
    if kind == "env":
        source, hash_, field_text = source.partition("#")
        field_ = field_text if hash_ else None
        if hash_ and not field_text:
            raise CLIError(f"{origin}: an empty field after '#'", ExitCode.USAGE)
    if not source:
        raise CLIError(f"{origin}: no {'lease path' if kind == 'lease' else 'secret name'}",
                       ExitCode.USAGE)
    if kind == "env" and sep and not _VARIABLE.fullmatch(target):
        raise CLIError(f"{origin}: {target!r} is not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
                       ExitCode.USAGE)
    if kind != "env" and target and not _VARIABLE.fullmatch(target):
        raise CLIError(f"{origin}: {target!r} is not a variable prefix", ExitCode.USAGE)
    return Mapping_(kind, target if sep else None, source, field_, origin)


def _load_mapping_file(path: str) -> list[Mapping_]:
    """Read a TOML mapping file: ``[env]`` VAR = "name[#field]", ``[expand]`` PREFIX = "name",
    ``[prefix]`` PREFIX = "name/prefix/", ``[lease]`` PREFIX = "database/creds/role"."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found, no-redef, unused-ignore]
    try:
        with open(path, "rb") as f:
            document = tomllib.load(f)
    except OSError as exc:
        raise CLIError(f"cannot read --mapping {path}: {exc.strerror or type(exc).__name__}",
                       ExitCode.USAGE) from None
    except tomllib.TOMLDecodeError as exc:
        raise CLIError(f"--mapping {path} is not valid TOML: {exc}", ExitCode.USAGE) from None
    unknown = sorted(set(document) - set(_KINDS))
    if unknown:
        raise CLIError(f"--mapping {path}: unknown table(s) {', '.join(unknown)} "
                       f"(known: {', '.join(_KINDS)})", ExitCode.USAGE)
    rules: list[Mapping_] = []
    for kind in _KINDS:
        table = document.get(kind, {})
        if not isinstance(table, dict):
            raise CLIError(f"--mapping {path}: [{kind}] must be a table", ExitCode.USAGE)
        for key, source in table.items():
            origin = f"--mapping {path} [{kind}] {key}"
            if not isinstance(source, str):
                raise CLIError(f"{origin}: the value must be a string", ExitCode.USAGE)
            rules.append(_parse_rule(kind, f"{key}={source}", origin))
    return rules


def _rules(args: argparse.Namespace) -> list[Mapping_]:
    rules = _load_mapping_file(args.mapping) if args.mapping else []
    for kind in _KINDS:
        rules += [_parse_rule(kind, t, f"--{kind} {t}") for t in getattr(args, kind)]
    if not rules:
        raise CLIError("nothing to inject: give --env, --expand, --prefix, --lease or --mapping",
                       ExitCode.USAGE)
    return rules


@dataclass
class Resolved:
    """What the mapping gave: the variables, the secrets read, the leases used, and the values
    to mask."""

    variables: dict[str, str] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    leases: list[str] = field(default_factory=list)
    values: set[str] = field(default_factory=set, repr=False)
    origins: dict[str, str] = field(default_factory=dict)

    def set(self, variable: str, value: str, origin: str) -> None:
        if variable in self.origins:
            raise CLIError(f"variable {variable} is set by both {self.origins[variable]} and "
                           f"{origin}: rename one (VAR=name)", ExitCode.USAGE)
        self.origins[variable] = origin
        self.variables[variable] = value
        self.values.add(value)


def _text(node: Any) -> str:
    return node if isinstance(node, str) else json.dumps(node, ensure_ascii=False)


def _environment_text(secret: Secret, backend: str) -> str:
    value = secret.value
    text = os.fsdecode(value.reveal_bytes()) if value.is_binary else value.reveal()
    if "\0" in text:
        raise InvalidArgumentError("the value holds a NUL byte, which an environment variable "
                                   "cannot", backend=backend, name=secret.name)
    return text


def resolve(store: SecretStore, rules: Sequence[Mapping_], *, strict: bool,
            warn: Callable[[str], None], required: Collection[str] = ()) -> Resolved:
    """Read every mapped secret and build the variables (nothing is set on a collision).

    :param strict: a missing secret is an error; otherwise it is reported with ``warn`` and
        its variables are not set.
    :param required: names whose absence is an error even without ``strict`` (on a restart,
        the secrets the running command has: a read that lost one is not a successful fetch).
    """
    out = Resolved()
    backend = store.backend.name
    for rule in rules:
        if rule.kind == "lease":
            _lease_variables(out, rule, store.lease(rule.source).current)
            continue
        if rule.kind == "prefix":
            sources = [(name, name[len(rule.source):]) for name in store.list(rule.source)]
        else:
            sources = [(rule.source, rule.source)]
        for name, stem in sources:
            try:
                secret = store.get(name)
            except SecretNotFoundError:
                if strict or name in required:
                    raise
                warn(f"{rule.origin}: secret {name} not found; its variables are not set "
                     "(--strict makes this an error)")
                continue
            out.names.append(name)
            text = _environment_text(secret, backend)
            if rule.kind == "expand":
                document = json_field(secret, None, backend=backend)
                if not isinstance(document, dict):
                    raise InvalidArgumentError("--expand needs a JSON object value",
                                               backend=backend, name=name)
                prefix = variable_name(stem) if rule.target is None else rule.target
                for key, node in document.items():
                    variable = f"{prefix}_{variable_name(key)}" if prefix else variable_name(key)
                    out.set(variable, _text(node), f"{rule.origin} key {key!r}")
                out.values.add(text)
            elif rule.kind == "prefix":
                variable = variable_name(stem)
                out.set(f"{rule.target}_{variable}" if rule.target else variable, text,
                        f"{rule.origin} ({name})")
            elif rule.field is not None:
                node = json_field(secret, rule.field, backend=backend)
                out.set(rule.target or variable_name(f"{name}_{rule.field}"), _text(node),
                        rule.origin)
                out.values.add(text)
            else:
                out.set(rule.target or variable_name(name), text, rule.origin)
    return out


def _lease_variables(out: Resolved, rule: Mapping_, lease: Lease) -> None:
    """``PREFIX_FIELD`` for each field of the leased credentials (``DB_USERNAME``, ...)."""
    out.leases.append(rule.source)
    prefix = variable_name(rule.source) if rule.target is None else rule.target
    for key, value in lease.credentials.items():
        variable = f"{prefix}_{variable_name(key)}" if prefix else variable_name(key)
        out.set(variable, value.reveal(), f"{rule.origin} field {key!r}")


def child_environment(parent: Mapping[str, str], variables: Mapping[str, str], *,
                      pristine: bool, allow: Sequence[str], deny: Sequence[str]) -> dict[str, str]:
    """The child's environment: the inherited variables that pass the filters, then the
    mapped ones (which win over an inherited variable of the same name)."""
    keep = tuple(DEFAULT_ALLOW) + tuple(allow)
    env = {
        k: v for k, v in parent.items()
        if (not pristine or any(fnmatch.fnmatchcase(k, g) for g in keep))
        and not any(fnmatch.fnmatchcase(k, g) for g in deny)
    }
    env.update(variables)
    return env


# -- exec mode ---------------------------------------------------------------------------------


def _exec(store: SecretStore, command: Sequence[str], env: dict[str, str]) -> int:
    store.close()  # stops nothing the child needs; the exec would drop it anyway
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], list(command), env)  # noqa: S606 - no shell, on purpose
    except FileNotFoundError:
        raise CLIError(f"command not found: {command[0]}", ExitCode.COMMAND_NOT_FOUND) from None
    except OSError as exc:
        raise CLIError(f"cannot run {command[0]}: {exc.strerror or type(exc).__name__}",
                       ExitCode.COMMAND_NOT_EXECUTABLE) from None
    raise AssertionError("unreachable")  # pragma: no cover


# -- supervised mode ---------------------------------------------------------------------------


def _pump(source: IO[bytes], sink: IO[str], masker: StreamMasker) -> None:
    """Copy a child's output to ours, masked, as bytes (text only where ``sink`` has none)."""
    buffer: IO[bytes] | None = getattr(sink, "buffer", None)

    def write(data: bytes) -> None:
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            sink.write(data.decode("utf-8", "surrogateescape"))
            sink.flush()

    fd, broken = source.fileno(), False
    try:
        while chunk := os.read(fd, 65536):
            if broken:
                continue  # our output went away: keep draining, so the child never blocks
            try:
                write(masker.feed(chunk))
            except (OSError, ValueError):
                broken = True
        if not broken:
            with contextlib.suppress(OSError, ValueError):
                write(masker.flush())
    finally:
        source.close()


class _Child:
    """One run of the command, in its own process group, with its output pumps."""

    def __init__(self, command: Sequence[str], env: dict[str, str], mask: Iterable[str] | None,
                 events: queue.SimpleQueue[tuple[str, Any]], generation: int) -> None:
        pipe = subprocess.PIPE if mask is not None else None
        extra: dict[str, Any] = ({"process_group": 0} if sys.version_info >= (3, 11)
                                 else {"preexec_fn": os.setpgrp})
        try:
            self.proc = subprocess.Popen(list(command), env=env, stdout=pipe, stderr=pipe,
                                         **extra)
        except FileNotFoundError:
            raise CLIError(f"command not found: {command[0]}",
                           ExitCode.COMMAND_NOT_FOUND) from None
        except OSError as exc:
            raise CLIError(f"cannot run {command[0]}: {exc.strerror or type(exc).__name__}",
                           ExitCode.COMMAND_NOT_EXECUTABLE) from None
        self._terminal = _hand_terminal_to(self.proc.pid)
        pumps: list[threading.Thread] = []
        if mask is not None:
            values = [os.fsencode(v) for v in mask]
            for source, sink in ((self.proc.stdout, sys.stdout), (self.proc.stderr, sys.stderr)):
                assert source is not None
                sink.flush()
                pumps.append(threading.Thread(
                    target=_pump, args=(source, sink, StreamMasker(values)),
                    daemon=True, name=f"{PROG}-mask"))
        for pump in pumps:
            pump.start()

        def wait() -> None:
            code = self.proc.wait()
            for pump in pumps:  # its output first; a grandchild holding the pipe is not waited
                pump.join(timeout=5)
            events.put(("exited", (generation, code)))

        threading.Thread(target=wait, daemon=True, name=f"{PROG}-wait").start()

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # gone already: its exit is on its way
            os.killpg(self.proc.pid, signum)

    def release_terminal(self) -> None:
        if self._terminal:
            _take_terminal_back()


def _hand_terminal_to(pgid: int) -> bool:
    """Make the child's group the terminal's foreground group, so that Ctrl-C and reads from
    the terminal reach it directly (and are not delivered twice)."""
    try:
        if not os.isatty(0) or os.tcgetpgrp(0) != os.getpgrp():
            return False
        _with_sigttou_ignored(lambda: os.tcsetpgrp(0, pgid))
        return True
    except OSError:
        return False


def _take_terminal_back() -> None:
    with contextlib.suppress(OSError):
        _with_sigttou_ignored(lambda: os.tcsetpgrp(0, os.getpgrp()))


def _with_sigttou_ignored(action: Callable[[], None]) -> None:
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        action()
    finally:
        signal.signal(signal.SIGTTOU, previous)


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _warn(message: str, *, level: str = "warning: ") -> None:
    sys.stderr.write(f"{PROG}: {level}{message}\n")
    sys.stderr.flush()


def _supervise(store: SecretStore, args: argparse.Namespace, rules: Sequence[Mapping_],
               first: Resolved, command: Sequence[str]) -> int:
    events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()

    def environment(resolved: Resolved) -> dict[str, str]:
        return child_environment(os.environ, resolved.variables, pristine=args.pristine,
                                 allow=args.allow, deny=args.deny)

    def callback(_old: Secret | None, new: Secret) -> None:
        events.put(("rotated", f"{new.name} rotated"))

    masked: set[str] | None = set(first.values) if args.mask else None
    previous = {sig: signal.signal(sig, lambda s, _f: events.put(("signal", s)))
                for sig in FORWARDED_SIGNALS}
    watched = sorted(set(first.names)) if args.watch else []
    try:
        for name in watched:
            store.on_rotation(name, callback)
        for path in sorted(set(first.leases)) if args.watch else ():
            # After the new credentials were issued; the old ones stay valid for the overlap.
            store.lease(path).on_reissue(lambda _old, new: events.put(("rotated", f"{new.path} re-issued")))
        current = first
        generation = 0
        child = _Child(command, environment(current), masked, events, generation)
        pending: Resolved | None = None
        restart_at: float | None = None
        kill_at: float | None = None
        stopping_for_restart = quitting = False
        rotated: set[str] = set()
        while True:
            now = time.monotonic()
            if restart_at is not None and now >= restart_at:  # the splay is over: stop it
                restart_at, stopping_for_restart = None, True
                child.signal(args.stop_signal)
                kill_at = now + args.kill_timeout
            if kill_at is not None and now >= kill_at:
                kill_at = None
                child.signal(signal.SIGKILL)
            deadlines = [t - now for t in (restart_at, kill_at) if t is not None]
            try:
                kind, data = events.get(timeout=max(0.0, min([1.0, *deadlines])))
            except queue.Empty:
                continue
            if kind == "signal":
                child.signal(data)
                if data in _STOPPING:
                    quitting, pending, restart_at = True, None, None
            elif kind == "rotated" and not quitting:
                try:
                    fresh = resolve(store, rules, strict=args.strict, warn=_warn,
                                    required=current.names)
                except (CLIError, HeliumError) as exc:  # the next rotation tries again
                    reason = exc.message if isinstance(exc, CLIError) else str(exc)
                    _warn(f"{data}, but reading the new values failed; not restarting: "
                          f"{reason}")
                    continue
                if fresh.variables == current.variables:
                    continue
                pending = fresh
                rotated.add(data)
                if masked is not None:
                    masked |= fresh.values
                if restart_at is None and not stopping_for_restart:
                    restart_at = time.monotonic() + random.uniform(0, args.splay)
            elif kind == "exited":
                exited_generation, code = data
                if exited_generation != generation:
                    continue
                child.release_terminal()
                if stopping_for_restart and pending is not None and not quitting:
                    _warn(f"restarting the command: {', '.join(sorted(rotated))}",
                          level="")
                    current, pending = pending, None
                    rotated.clear()
                    generation += 1
                    stopping_for_restart, kill_at = False, None
                    child = _Child(command, environment(current), masked, events, generation)
                    continue
                return _exit_code(code)
    finally:
        for name in watched:
            store.remove_rotation_listener(name, callback)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- the command -------------------------------------------------------------------------------


def _cmd_run(store: SecretStore, args: argparse.Namespace) -> int:
    command = list(args.child)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise CLIError("no command to run: put it after --, e.g. run --env DB=app/db -- app",
                       ExitCode.USAGE)
    if args.allow and not args.pristine:
        raise CLIError("--allow widens --pristine's allow-list; give --pristine too",
                       ExitCode.USAGE)
    if args.mask is None:
        args.mask = args.watch
    rules = _rules(args)
    resolved = resolve(store, rules, strict=args.strict, warn=_warn)
    if not (args.watch or args.mask):
        env = child_environment(os.environ, resolved.variables, pristine=args.pristine,
                                allow=args.allow, deny=args.deny)
        return _exec(store, command, env)
    return _supervise(store, args, rules, resolved, command)


def _store_options(args: argparse.Namespace) -> dict[str, Any]:
    # An exec'd command keeps using its leased credentials: they are not revoked when the CLI
    # goes (nobody renews them either). A supervised one has exited when the CLI closes.
    supervised = bool(args.watch or args.mask)
    return {"poll": PollPolicy(interval=args.interval if args.watch else None),
            "lease": LeasePolicy(revoke_on_close=supervised)}


def register(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``run`` to the parser (``command`` is the parser's subcommand factory)."""
    run = command("run", "run a command with secrets in its environment", _cmd_run)
    run.set_defaults(store_options=_store_options)
    mapping = run.add_argument_group("mapping (repeatable; a collision is an error)")
    mapping.add_argument("--env", action="append", default=[], metavar="[VAR=]NAME[#FIELD]",
                         help="one variable from a secret, or from one field of its JSON value")
    mapping.add_argument("--expand", action="append", default=[], metavar="[PREFIX=]NAME",
                         help="a JSON object secret as PREFIX_KEY variables")
    mapping.add_argument("--prefix", action="append", default=[], metavar="[PREFIX=]NAMES/",
                         help="every secret under a name prefix, named from the rest of its name")
    mapping.add_argument("--lease", action="append", default=[], metavar="[PREFIX=]PATH",
                         help="credentials issued under a lease (Vault's database/creds/ROLE) "
                         "as PREFIX_USERNAME, PREFIX_PASSWORD, ...")
    mapping.add_argument("--mapping", metavar="FILE", type=str, default=None,
                         help="a TOML file with [env], [expand], [prefix] and [lease] tables")
    env = run.add_argument_group("the environment")
    env.add_argument("--pristine", action="store_true",
                     help=f"inherit only {', '.join(DEFAULT_ALLOW)} (and --allow)")
    env.add_argument("--allow", action="append", default=[], metavar="GLOB",
                     help="with --pristine, inherit the variables matching GLOB too")
    env.add_argument("--deny", action="append", default=[], metavar="GLOB",
                     help="do not inherit the variables matching GLOB")
    env.add_argument("--strict", action="store_true",
                     help="a mapped secret that is missing is an error before the command starts")
    sup = run.add_argument_group("supervision")
    sup.add_argument("--watch", action="store_true",
                     help="supervise the command and restart it when a secret rotates or a "
                     "lease is re-issued")
    sup.add_argument("--mask", action=argparse.BooleanOptionalAction, default=None,
                     help="mask secret values in the command's stdout and stderr "
                     "(default: with --watch)")
    sup.add_argument("--interval", type=duration, default=60.0, metavar="DURATION",
                     help="with --watch, how often to check for rotations (default: 60s)")
    sup.add_argument("--stop-signal", type=signal_number, default=signal.SIGTERM, metavar="SIG",
                     help="the signal that stops the command for a restart (default: TERM)")
    sup.add_argument("--kill-timeout", type=duration, default=10.0, metavar="DURATION",
                     help="then SIGKILL after this long (default: 10s)")
    sup.add_argument("--splay", type=duration, default=0.0, metavar="DURATION",
                     help="wait a random time up to this long before a restart (default: 0)")
    run.add_argument("child", nargs=argparse.REMAINDER, metavar="-- CMD ARGS",
                     help="the command and its arguments")
