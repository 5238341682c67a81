"""gunicorn settings: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Every value can be overridden with the environment variables named below, in the
environment or in ``.env`` (read here too: gunicorn reads this file before wsgi.py).
The defaults are measured on a 2-core machine: see docs/performance.md.
"""

import gc
import glob
import json
import multiprocessing
import os
import re
import runpy
import socket
import tempfile
import threading

from dotenv import load_dotenv
from gunicorn import util
from gunicorn.http.message import Request

load_dotenv()
# This process and its workers serve HTTP: create_app leaves out what only the `flask`
# commands need (authapi.WEB_SERVER_ENV; this file must not import authapi).
os.environ["AUTHAPI_WEB_SERVER"] = "gunicorn"
# Access lines are written together, every 0.1 s, rather than one write per request
# (LOG_FLUSH_SECONDS; docs/performance.md). An operator's own value wins.
os.environ.setdefault("LOG_FLUSH_SECONDS", "0.1")
_port = os.environ.get("PORT", "8000")
# Prometheus multiprocess mode: workers share metrics through files in this folder,
# so every scrape of /metrics sees the whole server. An operator's own value wins.
# Set before any worker imports prometheus_client (this file must not import authapi:
# authapi/private_dir.py is loaded by path, on its own). The folder is this user's own,
# mode 0700; one made by someone else first, or a link, stops the start.
_private_dir = runpy.run_path(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "authapi", "private_dir.py")
)
os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    os.path.join(tempfile.gettempdir(), f"authapi-metrics-{os.geteuid()}-{_port}"),
)


def _expects_memory_redis() -> bool:
    """Will the app use the in-process Redis (embedded development mode, see README)?"""
    url = os.environ.get("REDIS_URL", "")
    if url:
        return url.startswith("memory://")
    if _production or os.environ.get("REDIS_CLUSTER_NODES") or os.environ.get("REDIS_SENTINELS"):
        return False
    try:  # the default REDIS_URL, redis://127.0.0.1:6379/0
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return True
    return False


_production = os.environ.get("APP_ENV", "development").strip().lower() == "production"
# Development listens on loopback only; production (the container) on every interface.
_host = os.environ.get("HOST", "0.0.0.0" if _production else "127.0.0.1")  # noqa: S104
bind = f"{_host}:{_port}"
# One gthread worker per core with 4 threads: the best /me throughput in the measured
# sweep, every target met, at half the memory of 2 workers per core.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Bound request line and header sizes (431/400 instead of unbounded buffering). A
# header may be 16 kB, the size Node's HTTP server (the tutorial's) takes for a whole
# request head: a browser sends every cookie of localhost (other apps on other ports
# leave theirs) in one Cookie header, and at 8 kB the tutorial's front ends failed.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 16384
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Several servers on one machine must not share (and delete) one control socket.
control_socket_disable = True
# Each worker listens on its own socket (SO_REUSEPORT) and the kernel spreads new
# connections over them. On one shared socket the worker that wakes first took them, and
# keep-alive connections stay where they landed: wrk's 32 were split up to 34/2, the
# busier worker held to one core by its GIL while the other idled (during a login storm,
# /me at 0.35 of its rate instead of 0.7: docs/performance.md). Off, the second server
# started on a busy port fails instead of sharing it.
reuse_port = os.environ.get("GUNICORN_REUSE_PORT", "true").strip().lower() in {"1", "true", "yes"}
# Build the app once, in the master, and fork the workers from it: they share its memory
# pages until they write to them (whole-server PSS about 40% lower: docs/performance.md).
# A HUP then restarts the workers on the code the master loaded; restart the master
# (the container) to deploy new code or settings.
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").strip().lower() in {"1", "true", "yes"}

# The embedded development mode keeps Redis inside the process: one worker only.
if _expects_memory_redis():
    workers = 1


# The API's stable codes for the statuses gunicorn answers itself, as nginx's own answers
# name them (deploy/nginx); any other 4xx is "bad_request".
_GUNICORN_CODES = {414: "headers_too_large", 431: "headers_too_large"}


# The head of the request each thread is reading, kept for json_error: gunicorn's own
# refusals come before any request object exists, and so before its Origin is known.
_reading = threading.local()
_read_into = Request.read_into
_parse = Request.parse


def _parse_remembering_the_head(self, unreader):
    _reading.head = None
    return _parse(self, unreader)


def _read_into_remembering_the_head(self, unreader, buf, stop=False):
    _read_into(self, unreader, buf, stop)
    _reading.head = buf


Request.parse = _parse_remembering_the_head
Request.read_into = _read_into_remembering_the_head

# The app's CORS_ORIGINS, read from the app each worker loaded (post_worker_init).
_cors_origins = frozenset()
_ORIGIN = re.compile(rb"\r\norigin:[ \t]*([^\r\n]*?)[ \t]*\r\n", re.IGNORECASE)


def _cors_lines():
    """The app's CORS headers, for an Origin of CORS_ORIGINS (as the app would answer):
    without them a front end on another origin sees a network error, not this JSON.
    The Origin is compared exactly with the configured ones, so nothing a client sent
    is written back unless it is one of them."""
    head = getattr(_reading, "head", None)
    found = _ORIGIN.search(bytes(head)) if head else None
    origin = found.group(1).decode("latin-1") if found else ""
    if origin not in _cors_origins:
        return ""
    return (
        f"Access-Control-Allow-Origin: {origin}\r\n"
        "Access-Control-Allow-Credentials: true\r\n"
        "Access-Control-Expose-Headers: Retry-After, WWW-Authenticate, X-Request-ID\r\n"
        "Vary: Origin\r\n"
    )


def json_error(sock, status_int, reason, mesg):
    """gunicorn's own answers to requests it cannot parse (a malformed request line, too
    large headers...) never reach the app. gunicorn writes them as HTML, with no setting
    to change that (benoitc/gunicorn#993), so ``util.write_error`` is replaced: the same
    status, in the API's JSON envelope, with the app's CORS headers.

    Except its 501 for a Transfer-Encoding it does not take: that is the client's
    request, so a 400 (never a 5xx for bad input; nginx in front answers the same)."""
    if status_int == 501:
        status_int, reason = 400, "Bad Request"
    body = json.dumps(
        {
            "status": "fail" if status_int < 500 else "error",
            "code": _GUNICORN_CODES.get(status_int, "bad_request")
            if status_int < 500
            else "internal_error",
            "message": f"{reason}: {mesg}" if mesg else reason,
        }
    ).encode("ascii")
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Cache-Control: no-store\r\n"
        f"{_cors_lines()}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


util.write_error = json_error


def _prepare_metrics_dir() -> None:
    """Start from zero: the folder, private, without the files a previous gunicorn left."""
    path = _private_dir["ensure_private_dir"](os.environ["PROMETHEUS_MULTIPROC_DIR"])
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)


if preload_app:  # the master builds the app, and its metrics files, before on_starting
    _prepare_metrics_dir()


def on_starting(server):
    if not preload_app:
        _prepare_metrics_dir()


def when_ready(server):
    """With reuse_port the master opens no socket (each worker opens its own), and
    gunicorn's "Listening at:" line names none: name the addresses here."""
    if server.cfg.reuse_port:
        addresses = ",".join(
            address if address.startswith(("unix:", "fd://")) else f"http://{address}"
            for address in server.cfg.bind
        )
        server.log.info("Listening at: %s (each worker on its own socket)", addresses)


def _release_free_heap() -> None:
    """Give back to the kernel the pages of the heap that malloc holds free (glibc's
    ``malloc_trim``; nothing with another C library).

    A worker's RSS counts every page of the master's heap it starts with, free or not:
    building the app (compiling its modules from source, loading keys...) leaves about
    1 MB freed in the master's heap, which every worker would carry (docs/performance.md,
    change 24)."""
    import ctypes  # here: only a master that forks needs it

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)


def pre_fork(server, worker):
    """Move everything built so far out of the garbage collector's reach: a collection in a
    worker then never writes to (and so copies) the pages it shares with the master. And
    fork no free heap pages into it."""
    gc.freeze()
    _release_free_heap()


def post_fork(server, worker):
    """A preloaded app's database pool was made in the master: the worker starts its own
    (SQLAlchemy's advice for fork; the master never connects, this is a safety net)."""
    app = getattr(server.app, "callable", None)
    if "sqlalchemy" in getattr(app, "extensions", {}):  # an authapi app (not bench's bare one)
        from authapi.extensions import db  # the app is loaded: importing authapi is safe here

        with app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)


def post_worker_init(worker):
    """The worker's app is loaded: its CORS_ORIGINS for json_error. The app and its
    modules live as long as the worker: out of the collector's way, so the long-lived
    objects are not traversed by every full collection (shorter pauses)."""
    global _cors_origins
    config = getattr(worker.wsgi, "config", {})  # bench's bare app has none
    _cors_origins = frozenset(config.get("CORS_ORIGINS", ()))
    gc.freeze()


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, os.environ["PROMETHEUS_MULTIPROC_DIR"])
