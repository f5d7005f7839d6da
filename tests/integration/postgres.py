"""A real PostgreSQL server for the database integrations' tests.

Debian's ``postgresql`` package (``/usr/lib/postgresql/<major>/bin``) provides ``initdb`` and
``pg_ctl``. The server runs on a temporary data directory, listens on loopback only on a free
port, keeps its unix socket in that directory, and requires passwords (``scram-sha-256``) for
TCP connections, so that a rotated password really is refused. PostgreSQL refuses to run as
root: when the tests run as root, the server runs as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from tests.backends.openbao import free_port

__all__ = ["PostgresServer", "pg_bindir"]

START_TIMEOUT = 120  # seconds: generous for a slow, shared 2-core box
ADMIN_PASSWORD = "admin-password-for-tests"


def pg_bindir() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl`` (newest major first), or ``None``."""
    on_path = shutil.which("pg_ctl")
    if on_path is not None:
        return Path(on_path).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                        key=lambda p: int(Path(p).parts[-3]), reverse=True)
    return Path(candidates[0]).parent if candidates else None


class PostgresServer:
    """``initdb`` + ``pg_ctl start`` on a fresh directory; ``stop`` removes it all."""

    def __init__(self) -> None:
        bindir = pg_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bindir = bindir
        self.port = free_port()
        self.host = "127.0.0.1"
        self.admin_user = "postgres"
        self.admin_password = ADMIN_PASSWORD
        self._root = Path(tempfile.mkdtemp(prefix="helium-pg-"))
        self.datadir = self._root / "data"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(self._root, entry.pw_uid, entry.pw_gid)
        self._root.chmod(0o700)

    def _run(self, *args: str) -> None:
        command = [*(["runuser", "-u", "postgres", "--"] if self._as_postgres else []), *args]
        subprocess.run(command, check=True, capture_output=True, timeout=START_TIMEOUT,
                       cwd=self._root)

    def start(self) -> PostgresServer:
        pwfile = self._root / "pwfile"
        pwfile.write_text(self.admin_password + "\n")
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", self.admin_user,
                  "--pwfile", str(pwfile), "--auth-local=trust", "--auth-host=scram-sha-256",
                  "-E", "UTF8", "--no-sync")
        options = (f"-c listen_addresses={self.host} -p {self.port} "
                   f"-c unix_socket_directories={self._root} -c fsync=off")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l",
                  str(self._root / "server.log"), "-o", options, "-w", "-t", str(START_TIMEOUT),
                  "start")
        return self

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast",
                      "-w", "stop")
        shutil.rmtree(self._root, ignore_errors=True)

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser (over TCP, with its password)."""
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=self.admin_user,
                             password=self.admin_password, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql.encode())

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
