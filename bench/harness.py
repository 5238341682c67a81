"""The machinery around a benchmark: keys, database, Redis, the gunicorn process,
its memory, and an HTTP client to seed accounts and sessions.

Everything here talks to loopback only: PostgreSQL and Redis on 127.0.0.1, and the
server is bound to 127.0.0.1 (the ``-b`` option overrides gunicorn.conf.py's
all-interfaces bind, which is meant for containers).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
# The app to serve: this checkout, or a snapshot of it (``git archive HEAD | tar -x -C
# DIR``) so that a long series of runs measures one version while people keep editing.
APP_ROOT = Path(os.environ.get("BENCH_APP_ROOT") or ROOT).resolve()
BIN = Path(sys.executable).parent  # the venv that runs this script (make bench: .venv/bin)

LOOPBACK = "127.0.0.1"
# Two people benchmarking at once each need their own database and Redis db (every
# run drops the one and flushes the other): BENCH_DATABASE_NAME, BENCH_REDIS_URL.
BENCH_DATABASE = os.environ.get("BENCH_DATABASE_NAME", "").strip() or "authapi_bench"
DATABASE_URL = f"postgresql://postgres@{LOOPBACK}:5432/{BENCH_DATABASE}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "").strip() or f"redis://{LOOPBACK}:6379/14"
# BENCH_PRELOAD=1: gunicorn --preload (the app is imported once, in the master, and the
# workers share its pages until they write to them), to measure preload_app against not.
PRELOAD = os.environ.get("BENCH_PRELOAD", "").strip().lower() in {"1", "true", "yes"}
PASSWORD = "bench-password-1234"  # throwaway accounts in a throwaway database


# --- configuration ------------------------------------------------------------------


def _b64(pem: bytes) -> str:
    return base64.b64encode(pem).decode("ascii")


def generate_token_keys() -> dict[str, str]:
    """Fresh RSA-2048 key pairs, base64 of PEM, as ``flask keys generate`` prints them,
    and an MFA encryption key as ``flask keys mfa`` does."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    values = {}
    for kind in ("ACCESS", "REFRESH"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        values[f"{kind}_TOKEN_PRIVATE_KEY"] = _b64(private_pem)
        values[f"{kind}_TOKEN_PUBLIC_KEY"] = _b64(public_pem)
    # Production also needs the key that encrypts TOTP secrets (`flask keys mfa`).
    values["MFA_ENCRYPTION_KEY"] = base64.b64encode(os.urandom(32)).decode("ascii")
    return values


def server_environment(port: int, token_keys: Mapping[str, str]) -> dict[str, str]:
    """Production settings; the caller's WEB_CONCURRENCY, GUNICORN_*, MAX_CONCURRENT_HASHES
    and HASHING_NICE pass through, which is how the alternatives are measured."""
    env = dict(os.environ)
    env.update(token_keys)
    env.update(
        {
            "APP_ENV": "production",
            "COOKIE_SECURE": "true",
            # The login scenarios measure bcrypt, not the limiter (BENCH_RATELIMIT_ENABLED=true
            # measures it on the routes without limits: login and refresh then meet theirs).
            "RATELIMIT_ENABLED": os.environ.get("BENCH_RATELIMIT_ENABLED", "false"),
            "DATABASE_URL": DATABASE_URL,
            "REDIS_URL": REDIS_URL,
            "PORT": str(port),
            "PYTHONDONTWRITEBYTECODE": "1",
            # As docker/entrypoint.sh and `make run` serve (no docstrings); "0" keeps them.
            "PYTHONOPTIMIZE": os.environ.get("BENCH_PYTHONOPTIMIZE", "2"),
        }
    )
    return env


def gunicorn_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The values gunicorn.conf.py yields under ``env`` (plus the app's hash bound)."""
    saved_environ, saved_path = dict(os.environ), list(sys.path)
    try:
        os.environ.clear()
        os.environ.update(env)
        sys.path.insert(0, str(APP_ROOT))
        namespace = runpy.run_path(str(APP_ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        sys.path[:] = saved_path
    worker_class = str(namespace.get("worker_class", "sync"))
    threads = int(namespace.get("threads", 1))
    # gunicorn itself switches a sync worker with threads > 1 to gthread.
    effective_class = "gthread" if worker_class == "sync" and threads > 1 else worker_class
    sys.path.insert(0, str(APP_ROOT))
    try:
        from config import ProductionConfig

        default_hashes = ProductionConfig.MAX_CONCURRENT_HASHES
        default_nice = ProductionConfig.HASHING_NICE
    finally:
        sys.path.remove(str(APP_ROOT))
    return {
        "workers": int(namespace.get("workers", 1)),
        "worker_class": effective_class,
        "threads": threads if effective_class == "gthread" else 1,
        "preload": PRELOAD or bool(namespace.get("preload_app", False)),
        "timeout": namespace.get("timeout"),
        "keepalive": namespace.get("keepalive"),
        "max_concurrent_hashes": int(env.get("MAX_CONCURRENT_HASHES") or default_hashes),
        "hashing_nice": int(env.get("HASHING_NICE") or default_nice),
        "python_optimize": int(env.get("PYTHONOPTIMIZE") or 0),
        "rate_limits": env.get("RATELIMIT_ENABLED", "true").strip().lower() == "true",
    }


def app_version() -> dict[str, Any]:
    """Which code was measured: the commit, and whether the app's files were edited."""

    def git(*args: str) -> str:
        completed = subprocess.run(  # noqa: S603 - read-only git queries
            ["git", *args],  # noqa: S607
            cwd=APP_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        return completed.stdout.strip() if completed.returncode == 0 else ""

    snapshot = APP_ROOT / "SNAPSHOT"
    if snapshot.exists():
        return {"root": str(APP_ROOT), "commit": snapshot.read_text().strip(), "edited": 0}
    changed = git("status", "--porcelain", "--", "authapi", "config.py", "wsgi.py",
                  "gunicorn.conf.py", "migrations")  # fmt: skip
    return {
        "root": str(APP_ROOT),
        "commit": git("rev-parse", "--short", "HEAD"),
        "edited": len(changed.splitlines()),
    }


def free_port(variable: str = "BENCH_PORT") -> int:
    """The port in ``variable`` (BENCH_PORT, BENCH_BARE_PORT) if set, else a free one."""
    requested = os.environ.get(variable, "").strip()
    if requested:
        return int(requested)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def _cpu_times() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields), idle


def cpu_busy(seconds: float = 0.5) -> float:
    """Share of all CPUs busy over ``seconds``: something else is running if this is high."""
    total_before, idle_before = _cpu_times()
    time.sleep(seconds)
    total_after, idle_after = _cpu_times()
    total = total_after - total_before
    return 0.0 if total <= 0 else round(1 - (idle_after - idle_before) / total, 3)


def wait_quiet(max_wait: float, threshold: float = 0.15) -> float:
    """Wait (up to ``max_wait`` s) until the CPUs are nearly idle; returns the busy share."""
    deadline = time.monotonic() + max_wait
    busy = cpu_busy(1.0)
    while busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy(1.0)
    return busy


_TICK = os.sysconf("SC_CLK_TCK")
_PG_BACKEND = re.compile(r"\(\d+\)|\[local\]")  # "postgres: 15/main: user db 127.0.0.1(5000) idle"


def _processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, utime + stime in ticks, command line), for every process."""
    out = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
            raw = Path(f"/proc/{entry.name}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        command = raw.replace(b"\0", b" ").decode(errors="replace").strip()
        out[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]), command)
    return out


class CpuWatch:
    """Where the CPU went while a run was measured, and how much other people took.

    The machine may be shared (other jobs, test suites): a run during which they
    took a noticeable share of the CPU measures them as much as the server. Ours
    are this process's descendants (the servers, wrk, py-spy), Redis, PostgreSQL's
    own background processes and its backends for authapi_bench, and kernel
    threads. Processes that both start and end between the two snapshots are not
    seen. ``split_s`` is CPU seconds by kind, ``stat_s`` the kernel's own totals
    (user, system, softirq, idle) over all CPUs.
    """

    STAT_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")

    def __init__(self) -> None:
        self.before = _processes()
        self.stat_before = self._stat()
        self.reaped_before = self._reaped()
        self.started = time.monotonic()

    @staticmethod
    def _reaped() -> float:
        """CPU seconds of our children that exited and were waited for (wrk, pools)."""
        times = os.times()
        return times.children_user + times.children_system

    @staticmethod
    def _stat() -> list[int]:
        return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]

    @staticmethod
    def _kind(pid: int, table: dict[int, tuple[int, int, str]]) -> str:
        command = table[pid][2]
        if not command:
            return "kernel_threads"
        if "redis-server" in command:
            return "redis"
        if command.startswith("postgres"):
            background = not _PG_BACKEND.search(command)
            return "postgres" if background or BENCH_DATABASE in command else "foreign"
        me, walk, seen = os.getpid(), pid, 0
        while walk in table and seen < 64:
            if walk == me:
                if "gunicorn" in command:
                    return "server"
                return "wrk" if Path(command.split(" ", 1)[0]).name == "wrk" else "bench"
            walk, seen = table[walk][0], seen + 1
        return "foreign"

    def stop(self) -> dict[str, Any]:
        after = _processes()
        stat_after = self._stat()
        wall = time.monotonic() - self.started
        split: dict[str, float] = {}
        foreign: dict[str, float] = {}
        for pid, (_, ticks, command) in after.items():
            previous = self.before.get(pid)
            used = ticks - previous[1] if previous and previous[2] == command else ticks
            if used <= 0:
                continue
            kind = self._kind(pid, after)
            split[kind] = split.get(kind, 0.0) + used / _TICK
            if kind == "foreign":
                foreign[command[:80]] = foreign.get(command[:80], 0.0) + used / _TICK
        reaped = self._reaped() - self.reaped_before
        if reaped > 0:
            split["wrk"] = split.get("wrk", 0.0) + reaped  # wrk has exited by now
        stat = {
            name: round((b - a) / _TICK, 2)
            for name, a, b in zip(self.STAT_FIELDS, self.stat_before, stat_after, strict=True)
        }
        # Busy time no process we saw accounts for: processes that came and went
        # (a test suite's short-lived servers), counted as someone else's.
        busy = stat["user"] + stat["nice"] + stat["system"]
        unseen = max(0.0, busy - sum(split.values()))
        if unseen > 0:
            foreign["(processes that started and exited meanwhile)"] = unseen
        total = sum(foreign.values())
        capacity = wall * (os.cpu_count() or 1)
        top = sorted(foreign.items(), key=lambda item: -item[1])[:3]
        return {
            "cpu_s": round(total, 2),
            "share": round(total / capacity, 3) if capacity else 0.0,
            "top": [[name, round(seconds, 2)] for name, seconds in top],
            "wall_s": round(wall, 2),
            "split_s": {kind: round(seconds, 2) for kind, seconds in sorted(split.items())},
            "stat_s": stat,
        }


# --- PostgreSQL and Redis ---------------------------------------------------------------


def drop_database() -> None:
    import psycopg2

    connection = psycopg2.connect(host=LOOPBACK, port=5432, user="postgres", dbname="postgres")
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
    finally:
        connection.close()


def create_database(env: Mapping[str, str]) -> None:
    """``flask --app wsgi deploy``: creates the bench database and runs the migrations."""
    completed = subprocess.run(  # noqa: S603 - fixed argv, our own venv
        [str(BIN / "flask"), "--app", "wsgi", "deploy"],
        cwd=APP_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"flask deploy failed:\n{completed.stdout}\n{completed.stderr}")


def flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.flushdb()
    finally:
        client.close()


def redis_dbsize() -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        return int(client.dbsize())
    finally:
        client.close()


def session_exists(access_token: str, prefix: str = "authapi") -> bool:
    """Does the session an access token names still exist in Redis (sessions.py's key)?"""
    import redis

    payload = access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    key = f"{prefix}:{{u:{claims['sub']}}}:session:{claims['sid']}"
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        return bool(client.exists(key))
    finally:
        client.close()


# --- the gunicorn process -----------------------------------------------------------------


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Server:
    """One gunicorn master (and its workers), started in its own process group.

    The app logs a line per request to stderr (as in production, where a log
    driver reads the pipe); a thread drains the pipe and keeps the last lines,
    which go to ``log_path`` when the server stops, so a long run leaves no huge file.
    """

    LOG_LINES_KEPT = 400

    def __init__(self, app_spec: str, port: int, env: Mapping[str, str], log_path: Path):
        self.app_spec = app_spec
        self.port = port
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.log_tail: deque[bytes] = deque(maxlen=self.LOG_LINES_KEPT)
        self.log_lines = 0
        self._drain: threading.Thread | None = None

    def _drain_output(self, stream: Any) -> None:
        for line in stream:
            self.log_tail.append(line)
            self.log_lines += 1

    def _write_log(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"--- {self.app_spec}: last {len(self.log_tail)} of ".encode())
            log.write(f"{self.log_lines} lines ---\n".encode())
            log.writelines(self.log_tail)

    def start(self, expected_workers: int, ready_path: str, timeout: float = 60) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv, our own venv
            [
                str(BIN / "gunicorn"),
                "-c",
                "gunicorn.conf.py",
                "-b",
                f"{LOOPBACK}:{self.port}",
                *(["--preload"] if PRELOAD else []),
                # a module of bench/ such as bare_app.py (nothing else is imported)
                *([] if self.app_spec == "wsgi:app" else ["--pythonpath", str(BENCH_DIR)]),
                self.app_spec,
            ],
            cwd=APP_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._drain = threading.Thread(
            target=self._drain_output, args=(self.process.stdout,), daemon=True
        )
        self._drain.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"gunicorn exited early; see {self.log_path}")
            try:
                status, _, _ = request(self.port, "GET", ready_path, timeout=2)
            except OSError:
                status = 0
            if status == 200 and len(self.worker_pids()) >= expected_workers:
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn not ready after {timeout:.0f} s; see {self.log_path}")

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            stopped = any(b"Handling signal: term" in line for line in self.log_tail)
            cause = "something outside the bench sent it SIGTERM" if stopped else "it crashed"
            raise RuntimeError(f"gunicorn exited during the run ({cause}); see {self.log_path}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def worker_pids(self) -> list[int]:
        return _children(self.pid) if self.process is not None else []

    def memory(self) -> dict[str, Any]:
        """RSS (the sum counts shared pages once per process) and PSS (shared pages split
        between the processes that map them: what the server really costs, and where
        preload_app shows) of the master, each worker and all of them."""
        pids = [self.pid, *self.worker_pids()]
        rss = [_status_kb(pid, "VmRSS") / 1024 for pid in pids]
        pss = [_pss_kb(pid) / 1024 for pid in pids]
        return {
            "processes": len(pids),
            "rss_mb": round(sum(rss), 1),
            "pss_mb": round(sum(pss), 1),
            "master_rss_mb": round(rss[0], 1),
            "master_pss_mb": round(pss[0], 1),
            "worker_rss_mb": [round(mb, 1) for mb in rss[1:]],
            "worker_pss_mb": [round(mb, 1) for mb in pss[1:]],
        }

    def stop(self) -> None:
        """SIGTERM to the master (it stops its workers); SIGKILL the group if it hangs."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)  # the group we created for it
                process.wait(timeout=10)
        if self._drain is not None:
            self._drain.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()
        self._write_log()


@contextmanager
def running(server: Server, expected_workers: int, ready_path: str) -> Iterator[Server]:
    try:
        server.start(expected_workers, ready_path)
        yield server
    finally:
        server.stop()


# --- HTTP seeding -------------------------------------------------------------------------


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30,
) -> tuple[int, list[tuple[str, str]], bytes]:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        all_headers = dict(headers or {})
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


@dataclass(frozen=True)
class Account:
    email: str
    password: str


@dataclass(frozen=True)
class Session:
    """What a browser holds after logging in."""

    access_token: str  # the access_token cookie, also sent as Bearer
    refresh_token: str  # the refresh_token cookie


def hashing_request(
    port: int, path: str, body: Any, attempts: int = 60
) -> tuple[int, list[tuple[str, str]], bytes]:
    """POST a request that hashes a password, as a polite client: a 503 of the hashing
    admission control (every slot and queue place taken) is asked again after its
    Retry-After, so that seeding in parallel does not fail on a busy server."""
    for _ in range(attempts - 1):
        status, headers, payload = request(port, "POST", path, body)
        if status != 503 or b"hashing_busy" not in payload:
            return status, headers, payload
        wait = next((v for k, v in headers if k.lower() == "retry-after"), "1")
        time.sleep(float(wait) if wait.isdigit() else 1.0)
    return request(port, "POST", path, body)


def register(port: int, email: str) -> Account:
    body = {"name": "Bench", "email": email, "password": PASSWORD, "passwordConfirm": PASSWORD}
    status, _, payload = hashing_request(port, "/api/auth/register", body)
    if status != 201:
        raise RuntimeError(f"register {email}: HTTP {status} {payload[:200]!r}")
    return Account(email, PASSWORD)


def login(port: int, account: Account) -> Session:
    """A browser-style (cookie) login; the tokens come from the Set-Cookie headers."""
    body = {"email": account.email, "password": account.password}
    status, headers, payload = hashing_request(port, "/api/auth/login", body)
    if status != 200:
        raise RuntimeError(f"login {account.email}: HTTP {status} {payload[:200]!r}")
    cookies: SimpleCookie = SimpleCookie()
    for name, value in headers:
        if name.lower() == "set-cookie":
            cookies.load(value)
    access = json.loads(payload)["access_token"]
    if cookies["access_token"].value != access:
        raise RuntimeError("login: the access_token cookie differs from the body's token")
    return Session(access_token=access, refresh_token=cookies["refresh_token"].value)


def register_accounts(port: int, count: int, tag: str, parallel: int = 4) -> list[Account]:
    emails = [f"bench{index}-{tag}@example.com" for index in range(count)]
    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(lambda email: register(port, email), emails))


def login_sessions(port: int, accounts: list[Account], count: int, parallel: int = 4) -> list:
    chosen = [accounts[index % len(accounts)] for index in range(count)]
    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(lambda account: login(port, account), chosen))
