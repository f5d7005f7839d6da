"""Test infrastructure: a loopback HTTP reverse proxy that injects faults into chosen requests.

The SDK talks real HTTP to the proxy, which forwards to the real server (OpenBao here) and, for
the requests a test picked by method and path, answers an error itself, drops the connection
before the server sees the request, or forwards it and then drops the connection without the
answer (a write that took effect although the client never heard so). Nothing in the SDK is
mocked: it parses a real answer, or a real broken connection.
"""

from __future__ import annotations

import collections
import http.client
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FaultProxy"]

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length",
               "proxy-connection", "upgrade", "te", "trailer"}
#: ``status``: answer ``status`` and ``body`` without forwarding; ``drop``: close the connection
#: before the server sees the request; ``lost``: forward it, then close without the answer.
KINDS = frozenset({"status", "drop", "lost"})


@dataclass(frozen=True)
class _Fault:
    kind: str
    method: str | None
    path: re.Pattern[str] | None
    status: int
    body: bytes
    content_type: str

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or self.path.fullmatch(path.split("?", 1)[0]) is not None)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # dozens of threads connect at once in the contention tests


class FaultProxy:
    """A reverse proxy on ``127.0.0.1`` in front of ``upstream_port``; a context manager.

    :attr:`url` is the proxy's address: point the SDK there. :attr:`requests` lists the
    ``(method, path)`` of every request that reached the proxy, faulted or not.
    """

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self._lock = threading.Lock()
        self._faults: collections.deque[_Fault] = collections.deque()
        self.requests: list[tuple[str, str]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FaultProxy:
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fault-proxy")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(
        self,
        count: int = 1,
        kind: str = "status",
        *,
        method: str | None = None,
        path: str | None = None,
        status: int = 500,
        body: bytes = b"",
        content_type: str = "application/json",
    ) -> None:
        """Fault the next ``count`` requests that match ``method`` and ``path`` (a regular
        expression the whole path, without the query, must match; ``None``: any).

        :param kind: ``status``, ``drop`` or ``lost`` (see :data:`KINDS`).
        :param status: the HTTP status a ``status`` fault answers, with ``body``.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}: one of {sorted(KINDS)}")
        fault = _Fault(kind, method, re.compile(path) if path is not None else None, status,
                       body, content_type)
        with self._lock:
            self._faults.extend([fault] * count)

    def clear(self) -> None:
        """Cancel the pending faults."""
        with self._lock:
            self._faults.clear()

    def pending(self) -> int:
        """How many faults are still waiting for their request."""
        with self._lock:
            return len(self._faults)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            self.requests.append((method, path.split("?", 1)[0]))
            for index, fault in enumerate(self._faults):
                if fault.matches(method, path):
                    del self._faults[index]
                    return fault
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self
        local = threading.local()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: request lines carry no values, but tests need no noise

            def _upstream(self) -> http.client.HTTPConnection:
                conn: http.client.HTTPConnection | None = getattr(local, "conn", None)
                if conn is None:
                    conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                    local.conn = conn
                return conn

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._take_fault(self.command, self.path)
                if fault is not None and fault.kind == "drop":
                    self.close_connection = True
                    return
                if fault is not None and fault.kind == "status":
                    self._answer(fault.status, [("Content-Type", fault.content_type)],
                                 fault.body)
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in _HOP_BY_HOP}
                for attempt in range(2):  # a kept-alive upstream connection may have closed
                    conn = self._upstream()
                    try:
                        conn.request(self.command, self.path, body=body, headers=headers)
                        response = conn.getresponse()
                        data = response.read()
                        break
                    except (http.client.HTTPException, OSError):
                        conn.close()
                        local.conn = None
                        if attempt:
                            raise
                if fault is not None:  # "lost": the server did the work; the answer never arrives
                    self.close_connection = True
                    return
                kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
                self._answer(response.status, kept, data)

            def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_LIST = _forward

        return Handler
