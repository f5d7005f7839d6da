"""Test infrastructure: a loopback HTTP reverse proxy that injects faults into chosen requests.

The SDK talks real HTTP to the proxy, which forwards to the real server (OpenBao here) and, for
the requests a test picked by method and path, answers an error itself, drops the connection
before the server sees the request, or forwards it and then drops the connection without the
answer (a write that took effect although the client never heard so), or redirects it. Nothing
in the SDK is mocked: it parses a real answer, or a real broken connection. The proxy listens
over TLS when given a server context (``tls=``), and :class:`Sink` is a listener that only
counts what reaches it: the target of a redirect that must not be followed.
"""

from __future__ import annotations

import collections
import http.client
import re
import socket
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FaultProxy", "Sink"]

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length",
               "proxy-connection", "upgrade", "te", "trailer"}
#: ``status``: answer ``status`` and ``body`` without forwarding; ``drop``: close the connection
#: before the server sees the request; ``lost``: forward it, then close without the answer;
#: ``redirect``: answer ``status`` (a 3xx; 307 unless given) with ``Location: <location><path>``.
KINDS = frozenset({"status", "drop", "lost", "redirect"})


@dataclass(frozen=True)
class _Fault:
    kind: str
    method: str | None
    path: re.Pattern[str] | None
    status: int
    body: bytes
    content_type: str
    location: str = ""

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

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1", *,
                 tls: ssl.SSLContext | None = None) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.tls = tls
        self._lock = threading.Lock()
        self._faults: collections.deque[_Fault] = collections.deque()
        self.requests: list[tuple[str, str]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FaultProxy:
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        if self.tls is not None:  # each connection's handshake runs in its own thread
            self._server.socket = self.tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False)
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
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

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
        location: str = "",
    ) -> None:
        """Fault the next ``count`` requests that match ``method`` and ``path`` (a regular
        expression the whole path, without the query, must match; ``None``: any).

        :param kind: ``status``, ``drop``, ``lost`` or ``redirect`` (see :data:`KINDS`).
        :param status: the HTTP status a ``status`` fault answers, with ``body``.
        :param location: where a ``redirect`` sends the request (its path is appended), such
            as another listener's ``http://127.0.0.1:<port>``.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}: one of {sorted(KINDS)}")
        if kind == "redirect":
            if not location:
                raise ValueError("a redirect needs location=")
            status = status if 300 <= status < 400 else 307
        fault = _Fault(kind, method, re.compile(path) if path is not None else None, status,
                       body, content_type, location)
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
                if fault is not None and fault.kind == "redirect":
                    self._answer(fault.status, [("Location", fault.location + self.path)], b"")
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


class Sink:
    """A listener on ``127.0.0.1`` that answers nothing and counts what reaches it: the
    connections accepted and the bytes received. A context manager; :attr:`url` is its
    address (``http://``, or ``https://`` with ``scheme=``: no TLS is ever spoken, so a
    client gets only a closed connection)."""

    def __init__(self, scheme: str = "http") -> None:
        self.scheme = scheme
        self.connections = 0
        self.received = 0
        self._lock = threading.Lock()
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True, name="sink")

    def __enter__(self) -> Sink:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)
        self._socket.close()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self._socket.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            with self._lock:
                self.connections += 1
            with conn:
                conn.settimeout(1.0)
                try:
                    while data := conn.recv(65536):
                        with self._lock:
                            self.received += len(data)
                except OSError:
                    pass
