"""Test infrastructure: moto's server on loopback, behind a small fault-injecting reverse proxy.

boto3 talks real HTTP to the proxy, which forwards to moto's ``ThreadedMotoServer``. moto has
no switch for throttling or server errors, so the proxy answers those itself, in the AWS JSON
1.1 wire format (``{"__type": ..., "message": ...}``), and the real botocore parses a real
answer. The proxy also counts the requests per operation (from ``X-Amz-Target``), which is how
tests and the benchmark count backend calls without touching the SDK. It imports no pytest: the
benchmarks use it too (the fixtures the AWS test modules share are in ``aws_shared.py``).
"""

from __future__ import annotations

import collections
import http.client
import json
import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from helium_secrets.testing.moto import patch_moto

__all__ = ["FAULTS", "MotoServer"]

REGION = "us-east-1"

#: Fault kinds: HTTP status, AWS error code, message.
FAULTS: dict[str, tuple[int, str, str]] = {
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
    "internal": (500, "InternalServiceError", "An internal error occurred"),
    "unavailable": (503, "ServiceUnavailable", "Service unavailable"),
    "denied": (400, "AccessDeniedException", "not authorized to perform this operation"),
    "decryption": (400, "DecryptionFailure", "cannot decrypt with the KMS key"),
    "expired": (400, "ExpiredTokenException", "The security token included is expired"),
    "limit": (400, "LimitExceededException", "quota exceeded"),
    "encryption": (400, "EncryptionFailure", "cannot encrypt with the KMS key"),
    "unrecognized": (400, "UnrecognizedClientException", "The security token is invalid"),
    "validation": (400, "ValidationException", "1 validation error detected"),
    "invalid-parameter": (400, "InvalidParameterException", "invalid parameter"),
    "invalid-request": (400, "InvalidRequestException", "You can't perform this operation"),
    "exists": (400, "ResourceExistsException", "the secret already exists"),
    "http-429": (429, "SlowDown", "Please reduce your request rate"),
    "http-502": (502, "BadGateway", "Bad gateway"),
}

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length",
               "proxy-connection", "upgrade", "te", "trailer"}


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # 32 threads connect at once in the cold-read tests


@dataclass
class _Fault:
    kind: str
    operations: frozenset[str] | None
    retry_after: float | None
    message: str | None


class MotoServer:
    """moto on ``127.0.0.1`` plus the proxy in front of it; a context manager.

    :attr:`endpoint_url` is the proxy's URL: point boto3 there.
    """

    def __init__(self) -> None:
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._lock = threading.Lock()
        self._faults: collections.deque[_Fault] = collections.deque()
        self._denied: set[str] = set()
        #: Requests that reached the proxy, per operation ("GetSecretValue", ...).
        self.requests: collections.Counter[str] = collections.Counter()
        self._proxy: _ProxyServer | None = None
        self._thread: threading.Thread | None = None
        self.moto_port = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> MotoServer:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        patch_moto()  # moto's defects that reach the store, fixed as users fix them
        self._moto.start()
        self.moto_port = self._moto.get_host_and_port()[1]
        self._proxy = _ProxyServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._proxy.serve_forever, daemon=True,
                                        name="moto-proxy")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.shutdown()
            self._proxy.server_close()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._moto.stop()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        assert self._proxy is not None, "start() first"
        return f"http://127.0.0.1:{self._proxy.server_address[1]}"

    # -- clients ---------------------------------------------------------------------------

    def session(self) -> boto3.Session:
        """A boto3 session with dummy credentials (never the environment's)."""
        return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                             aws_session_token="testing", region_name=REGION)

    def aio_session(self) -> Any:
        """An aiobotocore ``AioSession`` with the same dummy credentials and region."""
        from aiobotocore.session import AioSession

        session = AioSession()
        session.set_credentials("testing", "testing", "testing")
        session.set_config_variable("region", REGION)
        return session

    def client(self, **config: Any) -> Any:
        """A raw ``secretsmanager`` client on the proxy (botocore retries off by default)."""
        config.setdefault("retries", {"total_max_attempts": 1, "mode": "standard"})
        return self.session().client("secretsmanager", endpoint_url=self.endpoint_url,
                                     config=Config(**config))

    # -- switches --------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        kind: str = "internal",
        *,
        operations: Iterable[str] | None = None,
        retry_after: float | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests (of ``operations``, default any) with a fault.

        :param kind: a key of :data:`FAULTS`; ``"drop"`` closes the connection before moto sees
            the request; ``"lost"`` forwards it to moto and then closes the connection without
            the answer (a write that happened but whose answer was lost).
        :param retry_after: add a ``Retry-After`` header (seconds).
        :param message: the error message to send (tests put canaries here).
        """
        if kind not in FAULTS and kind not in ("drop", "lost"):
            raise ValueError(f"unknown fault kind {kind!r}")
        ops = frozenset(operations) if operations is not None else None
        with self._lock:
            self._faults.extend([_Fault(kind, ops, retry_after, message)] * count)

    def deny(self, *operations: str) -> None:
        """Answer every request for ``operations`` with AccessDeniedException (a policy)."""
        with self._lock:
            self._denied.update(operations)

    def allow_all(self) -> None:
        """Cancel :meth:`deny` and any pending :meth:`fail_next` faults."""
        with self._lock:
            self._denied.clear()
            self._faults.clear()

    def clear_faults(self) -> int:
        """Cancel the pending :meth:`fail_next` faults; return how many there were."""
        with self._lock:
            left = len(self._faults)
            self._faults.clear()
            return left

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    def _take_fault(self, operation: str) -> _Fault | None:
        with self._lock:
            self.requests[operation] += 1
            if operation in self._denied:
                return _Fault("denied", None, None, None)
            for index, fault in enumerate(self._faults):
                if fault.operations is None or operation in fault.operations:
                    del self._faults[index]
                    return fault
        return None

    # -- the proxy -------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self
        local = threading.local()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: request lines carry no values, but tests need no noise

            def _upstream(self) -> http.client.HTTPConnection:
                conn: http.client.HTTPConnection | None = getattr(local, "conn", None)
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", server.moto_port, timeout=60)
                    local.conn = conn
                return conn

            def _forward(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                target = self.headers.get("X-Amz-Target", "")
                operation = target.rpartition(".")[2] or method
                fault = server._take_fault(operation)
                if fault is not None and fault.kind != "lost":
                    self._fail(fault)
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in _HOP_BY_HOP}
                for attempt in range(2):
                    conn = self._upstream()
                    try:
                        conn.request(method, self.path, body=body, headers=headers)
                        response = conn.getresponse()
                        data = response.read()
                        break
                    except (http.client.HTTPException, OSError):
                        conn.close()
                        local.conn = None
                        if attempt:
                            raise
                if fault is not None:  # "lost": moto did the work; the answer never arrives
                    self.close_connection = True
                    return
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _fail(self, fault: _Fault) -> None:
                if fault.kind == "drop":
                    self.close_connection = True
                    return
                status, code, message = FAULTS[fault.kind]
                payload = json.dumps({"__type": code, "message": fault.message or message})
                data = payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                if fault.retry_after is not None:
                    self.send_header("Retry-After", f"{fault.retry_after:g}")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self._forward("POST")

            def do_GET(self) -> None:
                self._forward("GET")

        return Handler
