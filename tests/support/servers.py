"""Servers the tests start, one way: a free loopback port; an app (or an ``http.server``
handler) answering from a thread; waiting until a server is ready.

Every wait is bounded polling with a generous deadline, never a fixed sleep: the
machine may be slow and busy.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from typing import Any, TypeVar

from werkzeug.serving import make_server

HOST = "127.0.0.1"
#: Redis Cluster listens for its node-to-node bus on ``port + 10000``.
CLUSTER_BUS_PORT_OFFSET = 10000
#: Ports never handed out (the system Redis and the default sentinel port).
RESERVED_PORTS = frozenset({6379, 16379, 26379, 36379})
#: Ports already handed out by this process (the kernel may return a port again once it
#: is released, e.g. after a server was stopped to be restarted).
_ISSUED_PORTS: set[int] = set()
_PORT_LOCK = threading.Lock()
POLL_INTERVAL = 0.1

T = TypeVar("T")


class ServerError(RuntimeError):
    """A test server could not be started, or did not answer in time."""


def _port_is_bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """Return a currently free loopback TCP port usable for any test server.

    The port comes from binding ``127.0.0.1:0``.  It is only accepted if ``port + 10000``
    (the Redis Cluster bus port) is free as well, so the same helper is safe for cluster
    nodes.  6379 and friends are never returned, nor is a port already handed out by this
    process.
    """
    for _ in range(500):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
            bus_port = port + CLUSTER_BUS_PORT_OFFSET
            if port in RESERVED_PORTS or bus_port > 65535:
                continue
            with _PORT_LOCK:
                if port in _ISSUED_PORTS or not _port_is_bindable(bus_port):
                    continue
                _ISSUED_PORTS.add(port)
        return port
    raise ServerError("could not find a free port whose cluster bus port is also free")


def wait_until(
    predicate: Callable[[], T | None],
    timeout: float,
    description: str,
    details: Callable[[], str] | None = None,
) -> T:
    """Poll ``predicate`` every 0.1 s until it returns a truthy value, which is returned.

    Exceptions raised by ``predicate`` count as "not yet" (the last one is reported),
    except a :class:`ServerError`, which ends the wait. A :class:`ServerError` is raised
    once ``timeout`` seconds have passed, with ``details()`` (a log tail, say).
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = predicate()
        except ServerError:
            raise
        except Exception as exc:
            last_error = exc
        else:
            if result:
                return result
        if time.monotonic() >= deadline:
            message = f"timed out after {timeout:.1f}s waiting for {description}"
            if last_error is not None:
                message += f" (last error: {last_error!r})"
            if details is not None:
                message += "\n" + details()
            raise ServerError(message)
        time.sleep(POLL_INTERVAL)


# --------------------------------------------------------------------------- in a thread


class ThreadedServer:
    """An HTTP server, already listening, that answers from a daemon thread (a thread per
    request) until :meth:`stop`."""

    def __init__(self, server: HTTPServer) -> None:
        self._server = server
        self.port: int = server.server_port
        self.url = f"http://{HOST}:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def serve_app(app: Any, port: int = 0) -> ThreadedServer:
    """The WSGI ``app`` on loopback: on ``port``, or a spare one."""
    return ThreadedServer(make_server(HOST, port, app, threaded=True))


def serve_handler(handler: type[BaseHTTPRequestHandler]) -> ThreadedServer:
    """An ``http.server`` request handler on a spare loopback port."""
    server = ThreadingHTTPServer((HOST, 0), handler)
    server.daemon_threads = True
    return ThreadedServer(server)
