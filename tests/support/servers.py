"""Servers the tests start, one way: a free loopback port; an app (or an ``http.server``
handler) answering from a thread; a command run as a process, its output kept in a
log; waiting until it answers; stopping it and reaping it.

Every wait is bounded polling with a generous deadline, never a fixed sleep: the
machine may be slow and busy.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.error import HTTPError
from urllib.request import urlopen

from werkzeug.serving import make_server

from tests.helpers import HANG

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


# --------------------------------------------------------------------------- a process


def start_process(
    command: Sequence[str], log: Path, *, stderr_log: Path | None = None, **options: Any
) -> subprocess.Popen[bytes]:
    """Start ``command`` in its own session (so :func:`stop_process` can kill all it
    starts), stdin closed, its output appended to ``log`` (stderr to ``stderr_log`` if
    given). ``options`` go to ``Popen`` (``cwd``, ``env``...)."""
    with ExitStack() as files:
        out = files.enter_context(open(log, "ab"))
        err = files.enter_context(open(stderr_log, "ab")) if stderr_log else subprocess.STDOUT
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
            **options,
        )


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log (empty if there is none yet)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_for_http(
    url: str,
    process: subprocess.Popen[bytes],
    name: str,
    log: Callable[[], str],
    *,
    any_status: bool = False,
    timeout: float = HANG,
) -> None:
    """Poll until GET ``url`` answers 200 (``any_status``: answers at all, an error page
    too). A :class:`ServerError` with ``log()`` if ``process`` exits first or time runs
    out."""

    def answered() -> bool:
        if process.poll() is not None:
            raise ServerError(f"{name} exited with code {process.returncode}:\n{log()}")
        try:
            with urlopen(url, timeout=1) as response:
                return response.status == 200
        except HTTPError:
            if any_status:
                return True
            raise

    wait_until(answered, timeout, f"{name} to answer {url}", log)


def stop_process(
    process: subprocess.Popen[bytes],
    timeout: float = HANG,
    signals: Sequence[int] = (signal.SIGTERM,),
) -> None:
    """Send ``signals`` (a graceful stop) and reap the process; if it lingers past
    ``timeout``, SIGKILL its whole session (started by :func:`start_process`)."""
    if process.poll() is not None:
        return
    for number in signals:
        process.send_signal(number)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)


class _Server(Protocol):
    def wait_until_live(self) -> None: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=_Server)


@contextmanager
def running(server: S) -> Iterator[S]:
    """``server``, once it answers, for the ``with`` block; stopped after, and also when
    it never came up."""
    try:
        server.wait_until_live()
        yield server
    finally:
        server.stop()
