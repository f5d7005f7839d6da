"""``helium-secrets run``: real child processes (``sys.executable -c ...``) on a file store.

The CLI runs as a subprocess too (exec mode replaces the process that runs it). Nothing here
waits a fixed time: a test reads the child's lines as they come, with generous deadlines.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import pytest

from helium_secrets import open_store
from helium_secrets.cli import ExitCode, main
from helium_secrets.cli._mask import MASK, MIN_MASK_LENGTH, StreamMasker
from helium_secrets.cli.run import child_environment, variable_name

CANARY = "canary-run-7f3e-never-print-me"
DEADLINE = 60.0


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"file://{tmp_path}/store"
    monkeypatch.setenv("HELIUM_SECRETS_URL", url)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with open_store(url) as store:
        store.put("app/db-password", CANARY)
        store.put("app/config", '{"host": "db.internal", "port": 5432, "2fa": true}')
    return url


class Cli:
    """The CLI as a child process, with its stdout and stderr read line by line."""

    def __init__(self, *argv: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "helium_secrets", *argv],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, text=True)
        self.lines: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.errors: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.stderr = ""
        self._seen: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._readers = [threading.Thread(target=self._read, args=(s, q), daemon=True)
                         for s, q in ((self.proc.stdout, self.lines),
                                      (self.proc.stderr, self.errors))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], lines: queue.SimpleQueue[str]) -> None:
        for line in stream:
            lines.put(line.rstrip("\n"))

    def line(self) -> str:
        return self.lines.get(timeout=DEADLINE)

    def error_containing(self, text: str) -> str:
        """The next stderr line that contains ``text`` (a deadline, never a hang)."""
        while True:
            line = self.errors.get(timeout=DEADLINE)
            self._seen.append(line)
            if text in line:
                return line

    def wait(self) -> int:
        code = self.proc.wait(timeout=DEADLINE)
        for reader in self._readers:
            reader.join(timeout=DEADLINE)
        while not self.errors.empty():
            self._seen.append(self.errors.get())
        self.stderr = "\n".join(self._seen)
        assert CANARY not in self.stderr
        return code


def child(code: str) -> list[str]:
    return ["--", sys.executable, "-c", code]


def cli_run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "helium_secrets", *argv], capture_output=True,
                            text=True, env=env, timeout=DEADLINE, check=False)
    assert CANARY not in result.stderr
    return result


PRINT_ENV = ("import os, json; print(json.dumps({k: v for k, v in os.environ.items() "
             "if k.isupper() and k not in ('PATH', 'HOME')}))")


def child_env(*argv: str, env: dict[str, str] | None = None) -> dict[str, str]:
    import json

    result = cli_run("run", *argv, *child(PRINT_ENV), env=env)
    assert result.returncode == 0, result.stderr
    document: dict[str, str] = json.loads(result.stdout)
    return document


# -- the mapping ---------------------------------------------------------------------------


def test_default_variable_names() -> None:
    assert variable_name("app/db-password") == "APP_DB_PASSWORD"
    assert variable_name("2fa") == "_2FA"
    assert variable_name("ünï.code") == "_N__CODE"
    assert variable_name("") == "_"


def test_the_child_sees_the_mapped_variables(url: str) -> None:
    env = child_env("--env", "app/db-password", "--env", "HOST=app/config#host",
                    "--env", "app/config#port", "--expand", "DB=app/config",
                    "--prefix", "ALL=app/")
    assert env["APP_DB_PASSWORD"] == CANARY
    assert env["HOST"] == "db.internal"
    assert env["APP_CONFIG_PORT"] == "5432"
    assert (env["DB_HOST"], env["DB_PORT"], env["DB__2FA"]) == ("db.internal", "5432", "true")
    assert env["ALL_DB_PASSWORD"] == CANARY
    assert env["ALL_CONFIG"].startswith("{")


def test_a_mapping_file(url: str, tmp_path: Path) -> None:
    mapping = tmp_path / "env.toml"
    mapping.write_text('[env]\nPASSWORD = "app/db-password"\nPORT = "app/config#port"\n'
                       '[expand]\nC = "app/config"\n[prefix]\n"" = "app/"\n', encoding="utf-8")
    env = child_env("--mapping", str(mapping))
    assert (env["PASSWORD"], env["PORT"], env["C_HOST"], env["C__2FA"], env["DB_PASSWORD"]) == (
        CANARY, "5432", "db.internal", "true", CANARY)


def test_a_bad_mapping_file_is_a_usage_error(url: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    mapping = tmp_path / "env.toml"
    mapping.write_text('[vars]\nA = "x"\n', encoding="utf-8")
    assert main(["run", "--mapping", str(mapping), "--", "true"]) == ExitCode.USAGE
    assert "unknown table(s) vars" in capsys.readouterr().err


def test_a_collision_is_an_error_before_the_child_starts(
        url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "started"
    code = main(["run", "--env", "HOST=app/config#host", "--expand", "app/config",
                 "--env", "APP_CONFIG_HOST=app/db-password",
                 *child(f"open({str(marker)!r}, 'w')")])
    assert code == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "variable APP_CONFIG_HOST is set by both" in err
    assert CANARY not in err
    assert not marker.exists()


def test_strict_fails_on_a_missing_secret_before_the_child_starts(
        url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "started"
    code = main(["run", "--strict", "--env", "A=app/missing", *child(
        f"open({str(marker)!r}, 'w')")])
    assert code == ExitCode.NOT_FOUND
    assert "app/missing" in capsys.readouterr().err
    assert not marker.exists()


def test_without_strict_a_missing_secret_is_a_warning(url: str) -> None:
    result = cli_run("run", "--env", "A=app/missing", "--env", "B=app/db-password",
                     *child("import os; print('A' in os.environ, os.environ['B'] != '')"))
    assert result.returncode == 0
    assert result.stdout.strip() == "False True"
    assert "warning: --env A=app/missing: secret app/missing not found" in result.stderr


def test_pristine_allow_and_deny(url: str) -> None:
    env = dict(os.environ, KEEP_ME="1", DROP_ME="1", OTHER="1")
    seen = child_env("--pristine", "--allow", "KEEP_*", "--env", "P=app/db-password", env=env)
    assert set(seen) <= {"P", "KEEP_ME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "TZ",
                         "TMPDIR"} | {k for k in seen if k.startswith("LC_")}
    assert seen["KEEP_ME"] == "1" and "HELIUM_SECRETS_URL" not in seen
    seen = child_env("--deny", "DROP_*", "--env", "P=app/db-password", env=env)
    assert "DROP_ME" not in seen and seen["OTHER"] == "1"


def test_the_environment_filters() -> None:
    parent = {"PATH": "/bin", "SECRET_TOKEN": "x", "LC_ALL": "C", "P": "old"}
    assert child_environment(parent, {"P": "new"}, pristine=True, allow=(), deny=()) == {
        "PATH": "/bin", "LC_ALL": "C", "P": "new"}
    assert child_environment(parent, {}, pristine=False, allow=(), deny=("SECRET_*",)) == {
        "PATH": "/bin", "LC_ALL": "C", "P": "old"}


def test_allow_needs_pristine(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--allow", "X", "--env", "app/db-password", "--", "true"]) == 2
    assert "--pristine" in capsys.readouterr().err


def test_no_command_is_a_usage_error(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--env", "app/db-password"]) == ExitCode.USAGE
    assert "no command to run" in capsys.readouterr().err


def test_a_missing_command(url: str) -> None:
    result = cli_run("run", "--env", "app/db-password", "--", "no-such-command-here")
    assert result.returncode == ExitCode.COMMAND_NOT_FOUND.value == 127
    assert "command not found: no-such-command-here" in result.stderr
    result = cli_run("run", "--mask", "--env", "app/db-password", "--", "no-such-command-here")
    assert result.returncode == 127


# -- exec mode -----------------------------------------------------------------------------


def test_exec_mode_replaces_the_process(url: str) -> None:
    cli = Cli("run", "--env", "app/db-password", *child(
        "import os, sys; print(os.getpid()); sys.stdout.flush(); sys.exit(7)"))
    assert int(cli.line()) == cli.proc.pid
    assert cli.wait() == 7


def test_exec_mode_signals_are_native(url: str) -> None:
    cli = Cli("run", "--env", "app/db-password", *child(
        "import time; print('ready', flush=True); time.sleep(120)"))
    assert cli.line() == "ready"
    cli.proc.send_signal(signal.SIGTERM)
    assert cli.wait() == -signal.SIGTERM  # the process itself died of it


# -- supervised mode -----------------------------------------------------------------------


SIGNAL_CHILD = """
import os, signal, sys, time
def report(signum, frame):
    print('got', signal.Signals(signum).name, flush=True)
for s in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT, signal.SIGINT):
    signal.signal(s, report)
print(os.getpid(), flush=True)
time.sleep(120)
"""


def test_supervised_mode_forwards_signals_and_exits_128_plus_signal(url: str) -> None:
    cli = Cli("run", "--watch", "--env", "app/db-password", *child(SIGNAL_CHILD))
    assert int(cli.line()) != cli.proc.pid  # a child, not an exec
    for sig in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT, signal.SIGINT):
        cli.proc.send_signal(sig)
        assert cli.line() == f"got {sig.name}"
    cli.proc.send_signal(signal.SIGTERM)
    assert cli.wait() == 128 + signal.SIGTERM


def test_supervised_mode_passes_the_exit_code(url: str) -> None:
    result = cli_run("run", "--mask", "--env", "app/db-password", *child("raise SystemExit(9)"))
    assert result.returncode == 9


SPLIT_CHILD = """
import os, sys
value = os.environ['APP_DB_PASSWORD']
half = len(value) // 2
for out in (sys.stdout, sys.stderr):
    out.write('before ' + value[:half]); out.flush()
    out.write(value[half:] + ' after\\n'); out.flush()
print('short:', os.environ['SHORT'], flush=True)
"""


def test_mask_replaces_values_split_across_chunks(url: str) -> None:
    with open_store(url) as store:
        store.put("app/short", "ab")
    result = cli_run("run", "--mask", "--env", "app/db-password", "--env", "SHORT=app/short",
                     *child(SPLIT_CHILD))
    assert result.returncode == 0, result.stderr
    expected = f"before {MASK.decode()} after"
    assert result.stdout.splitlines()[0] == expected
    assert expected in result.stderr
    assert "short: ab" in result.stdout  # shorter than the minimum: left alone
    assert CANARY not in result.stdout


def test_no_mask_shows_what_the_child_prints(url: str) -> None:
    result = cli_run("run", "--watch", "--no-mask", "--env", "app/db-password",
                     *child("import os; print(os.environ['APP_DB_PASSWORD'])"))
    assert result.stdout.strip() == CANARY


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_the_masker_on_every_split(size: int) -> None:
    values = [b"s3cr3t-value", b"s3cr3t", b"other-longer-value", b"abc"]
    data = b"x s3cr3t-value y s3cr3t z s3cr3t-valu other-longer-value abc s3cr3"
    expected = (b"x " + MASK + b" y " + MASK + b" z " + MASK + b"-valu " + MASK + b" abc s3cr3")
    masker = StreamMasker(values)
    out = b"".join(masker.feed(data[i:i + size]) for i in range(0, len(data), size))
    assert out + masker.flush() == expected
    assert len(b"abc") < MIN_MASK_LENGTH


def test_the_masker_does_not_hold_back_plain_output() -> None:
    masker = StreamMasker([b"s3cr3t-value"])
    assert masker.feed(b"hello\n") == b"hello\n"
    assert masker.feed(b"tail s3c") == b"tail "
    assert masker.feed(b"r3t-value!") == MASK + b"!"


# -- restarts on rotation ------------------------------------------------------------------


WATCH_CHILD = """
import os, signal, sys, time
if os.environ.get('IGNORE_TERM'):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print(os.getpid(), os.environ['VALUE'], flush=True)
time.sleep(120)
"""


def _watch(*extra: str) -> Cli:
    cli = Cli("run", "--watch", "--no-mask", "--interval", "0.2", "--env", "VALUE=app/rotating",
              "--env", "HOST=app/config#host", *extra, *child(WATCH_CHILD))
    return cli


@pytest.fixture
def rotating(url: str) -> str:
    with open_store(url) as store:
        store.put("app/rotating", "first-value")
    return url


def test_a_rotation_restarts_the_child_with_the_new_values(rotating: str) -> None:
    cli = _watch()
    pid, value = cli.line().split()
    assert value == "first-value"
    with open_store(rotating) as store:
        store.put("app/rotating", "second-value")
    new_pid, value = cli.line().split()
    assert value == "second-value" and new_pid != pid
    cli.proc.send_signal(signal.SIGTERM)
    assert cli.wait() == 128 + signal.SIGTERM
    assert "helium-secrets: restarting the command: app/rotating rotated" in cli.stderr


def test_no_restart_when_the_new_values_cannot_be_read(rotating: str) -> None:
    cli = _watch()
    pid, _ = cli.line().split()
    with open_store(rotating) as store:
        store.put("app/config", "not json any more")  # HOST=app/config#host now fails
    # The failure is reported; then a good rotation restarts it, so the child did not restart
    # in between (the next line is the restarted child's, with the good value).
    cli.error_containing("not restarting")
    with open_store(rotating) as store:
        store.put("app/config", '{"host": "db2"}')
        store.put("app/rotating", "third-value")
    new_pid, value = cli.line().split()
    assert new_pid != pid and value == "third-value"
    cli.proc.send_signal(signal.SIGINT)
    assert cli.wait() == 128 + signal.SIGINT


def test_the_kill_timeout_stops_a_child_that_ignores_the_stop_signal(rotating: str) -> None:
    cli = Cli("run", "--watch", "--no-mask", "--interval", "0.2", "--kill-timeout", "0.5",
        "--splay", "0.2", "--env", "VALUE=app/rotating", *child(WATCH_CHILD),
        env=dict(os.environ, IGNORE_TERM="1"))
    pid, _ = cli.line().split()
    with open_store(rotating) as store:
        store.put("app/rotating", "second-value")
    new_pid, value = cli.line().split()
    assert (new_pid != pid, value) == (True, "second-value")
    cli.proc.send_signal(signal.SIGUSR1)  # the default action: the child dies of it
    assert cli.wait() == 128 + signal.SIGUSR1


def test_the_stop_signal_is_configurable(rotating: str) -> None:
    cli = _watch("--stop-signal", "USR2")
    pid, _ = cli.line().split()
    with open_store(rotating) as store:
        store.put("app/rotating", "second-value")
    new_pid, _ = cli.line().split()
    assert new_pid != pid
    cli.proc.send_signal(signal.SIGTERM)
    assert cli.wait() == 128 + signal.SIGTERM


def test_a_bad_duration_or_signal_is_a_usage_error(url: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--splay", "soon", "--env", "a", "--", "true"]) == ExitCode.USAGE
    assert "is not a duration" in capsys.readouterr().err
    assert main(["run", "--stop-signal", "SIGNOPE", "--env", "a", "--", "true"]) == 2
    assert "not a signal" in capsys.readouterr().err


def test_no_restart_when_a_secret_of_the_running_command_is_gone(rotating: str) -> None:
    cli = _watch()
    pid, _ = cli.line().split()
    with open_store(rotating) as store:
        store.delete("app/rotating")
        store.put("app/config", '{"host": "db3"}')  # a rotation, but VALUE's secret is gone
    assert "app/rotating" in cli.error_containing("not restarting")
    with open_store(rotating) as store:
        store.put("app/rotating", "back-again")  # created again: now the fetch succeeds
    new_pid, value = cli.line().split()
    assert new_pid != pid and value == "back-again"
    cli.proc.send_signal(signal.SIGTERM)
    assert cli.wait() == 128 + signal.SIGTERM


# -- leases (--lease; end to end against OpenBao in tests/integration/test_dynamic_secrets.py) --


def test_a_lease_on_a_backend_without_leases_fails_before_the_child_starts(url: str) -> None:
    result = cli_run("run", "--lease", "DB=database/creds/app", *child("print('started')"))
    assert result.returncode != 0 and "started" not in result.stdout
    assert "issues no leases" in result.stderr


def test_lease_rules_from_options_and_the_mapping_file(tmp_path: Path) -> None:
    import argparse

    from helium_secrets.cli.run import _rules

    path = tmp_path / "env.toml"
    path.write_text('[lease]\nPG = "database/creds/app"\n', encoding="utf-8")
    args = argparse.Namespace(mapping=str(path), env=[], expand=[], prefix=[],
                              lease=["database/creds/other", "=database/creds/x"])
    rules = {(r.kind, r.target, r.source) for r in _rules(args)}
    assert rules == {("lease", "PG", "database/creds/app"),
                     ("lease", None, "database/creds/other"), ("lease", "", "database/creds/x")}


def test_a_bad_lease_rule_is_a_usage_error(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--lease", "1DB=database/creds/app", "--", "true"]) == ExitCode.USAGE
    assert "not a variable prefix" in capsys.readouterr().err
    assert main(["run", "--lease", "DB=", "--", "true"]) == ExitCode.USAGE
    assert "no lease path" in capsys.readouterr().err
