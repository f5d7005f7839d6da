"""moto's server (behind the counting proxy of ``tests/backends/motoserver.py``) in a child
process, for the async benchmarks.

``ThreadedMotoServer`` runs its request handlers as threads of the process that starts it: in
the benchmark's own process they would hold the GIL while the event loop is measured, and the
loop's lag would be moto's, not the store's. Here the server has a process of its own; the
parent reads the request counts over a pipe.

Used as ``with MotoChild() as server: server.endpoint_url, server.count(), server.reset()``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class MotoChild:
    """A :class:`tests.backends.motoserver.MotoServer` in a child process; a context manager."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None
        self.endpoint_url = ""
        self.moto_url = ""

    def __enter__(self) -> MotoChild:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._motochild"], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        ready = self._ask(None)
        self.endpoint_url, self.moto_url = ready["endpoint_url"], ready["moto_url"]
        return self

    def __exit__(self, *exc_info: object) -> None:
        process, self._process = self._process, None
        if process is not None:
            assert process.stdin is not None
            process.stdin.close()  # the child stops its servers at end of input
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _ask(self, command: str | None) -> Any:
        assert self._process is not None
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        if command is not None:
            self._process.stdin.write(command + "\n")
            self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the moto child process exited")
        return json.loads(line)

    def count(self) -> int:
        """Requests that reached the proxy so far (every operation)."""
        return int(self._ask("count"))

    def reset(self) -> None:
        self._ask("reset")

    def aio_session(self) -> Any:
        """An ``AioSession`` with dummy credentials (never the environment's)."""
        from aiobotocore.session import AioSession

        session = AioSession()
        session.set_credentials("testing", "testing", "testing")
        session.set_config_variable("region", "us-east-1")
        return session


def _serve() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.backends.motoserver import MotoServer

    with MotoServer() as server:
        print(json.dumps({"endpoint_url": server.endpoint_url,
                          "moto_url": f"http://127.0.0.1:{server.moto_port}"}), flush=True)
        for line in sys.stdin:
            if line.strip() == "reset":
                server.reset_counts()
                print("null", flush=True)
            else:
                print(sum(server.requests.values()), flush=True)


if __name__ == "__main__":
    _serve()
