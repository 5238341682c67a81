"""What one GET /api/users/me costs, piece by piece, in one process and one thread.

    .venv/bin/python bench/hotpath.py

No server and no wrk: the app is built with the production settings bench/run.py
uses (fresh keys, Redis db 14, which is flushed before and after: never run it beside
make bench) and each piece of the hot path is timed on its own (the session check's
script also from 4 threads at once, as a gthread worker's request threads call it,
through the app's Redis client and through one with redis-py's own Connection class),
then whole WSGI calls of /me, of the app's
/api/healthChecker, of a refresh (the cookie each answer sets sent with the next call,
so every call rotates) and of bench/bare_app.py, /me again with the access log off
(LOG_LEVEL=WARNING) and with the metrics off (METRICS_ENABLED=false), and /me and the
trivial route with the rate limits on, as production runs (the bench and the rows
above have them off, so that login measures bcrypt). Microseconds
per call, wall and CPU time, each the median of several batches. The app's log lines
go to /dev/null.

    .venv/bin/python bench/hotpath.py --cprofile   # also: where one /me call's time goes

adds a cProfile of 5,000 WSGI calls of /me (production settings), by cumulative time
(``--cprofile-refresh``: of refreshes; HOTPATH_SORT=tottime sorts by own time, and
HOTPATH_CALLERS=REGEX adds who called the functions it matches).

    .venv/bin/python bench/hotpath.py --calls      # also: Python calls per request

counts the Python function calls of one /me, one /api/healthChecker and one bare Flask
call (cProfile, over 200 calls each): unlike times, the count does not move with the
machine's load, so before/after comparisons on a busy machine stay meaningful.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import harness

BATCHES = 7
TARGET_BATCH_SECONDS = 0.25


def per_call_us(function: Callable[[], Any]) -> tuple[float, float]:
    """(wall, CPU) microseconds per call, each the median of BATCHES batches. CPU time
    (this process, all threads) leaves out the waits, e.g. for Redis, and is steadier
    than wall time on a shared machine."""
    function()
    count, start = 1, time.perf_counter()
    while time.perf_counter() - start < 0.05:  # calibrate
        function()
        count += 1
    per_batch = max(1, int(count * TARGET_BATCH_SECONDS / 0.05))
    wall, cpu = [], []
    for _ in range(BATCHES):
        start, start_cpu = time.perf_counter(), time.process_time()
        for _ in range(per_batch):
            function()
        cpu.append((time.process_time() - start_cpu) / per_batch * 1e6)
        wall.append((time.perf_counter() - start) / per_batch * 1e6)
    return statistics.median(wall), statistics.median(cpu)


def per_call_us_threads(
    function: Callable[[], Any],
    context: Callable[[], contextlib.AbstractContextManager[Any]],
    threads: int = 4,
) -> tuple[float, float]:
    """As per_call_us, with ``threads`` threads calling at once (a gthread worker's
    request threads), each inside ``context()`` (the app context): what the calls cost
    when they contend for the GIL."""
    count = 2000
    failures: list[BaseException] = []

    def batch() -> None:
        try:
            with context():
                for _ in range(count):
                    function()
        except BaseException as error:  # re-raised below, in the calling thread
            failures.append(error)

    wall, cpu = [], []
    for _ in range(BATCHES):
        workers = [threading.Thread(target=batch) for _ in range(threads)]
        start, start_cpu = time.perf_counter(), time.process_time()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        if failures:
            raise failures[0]
        cpu.append((time.process_time() - start_cpu) / (count * threads) * 1e6)
        wall.append((time.perf_counter() - start) / (count * threads) * 1e6)
    return statistics.median(wall), statistics.median(cpu)


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """The app's StderrHandler writes to whatever sys.stderr is: /dev/null here, lines
    still batched (LOG_FLUSH_SECONDS) included."""
    saved = sys.stderr
    with open(os.devnull, "w") as devnull:
        sys.stderr = devnull
        try:
            yield
        finally:
            for handler in logging.getLogger("authapi").handlers:
                handler.flush()
            sys.stderr = saved


def wsgi_get(
    app: Any, path: str, headers: dict[str, str], carry_cookie: str | None = None
) -> Callable[[], bytes]:
    """GET ``path`` again and again. With ``carry_cookie``, each call sends that cookie
    as the previous answer set it, as a browser does (a refresh: a real rotation every
    time)."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(
        path=path, headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"}
    ).get_environ()
    status: list[str] = []
    cookie = {"value": headers.get("Cookie", "").partition("=")[2]}

    def start_response(code: str, response_headers: list, exc_info: Any = None) -> None:
        status.append(code)
        for name, value in response_headers:
            if carry_cookie and name == "Set-Cookie" and value.startswith(f"{carry_cookie}="):
                cookie["value"] = value.split(";", 1)[0].split("=", 1)[1]

    def call() -> bytes:
        fresh = dict(environ, **{"wsgi.input": io.BytesIO(b"")})
        if carry_cookie:
            fresh["HTTP_COOKIE"] = f"{carry_cookie}={cookie['value']}"
        body = b"".join(app(fresh, start_response))
        if not status[-1].startswith("200"):
            raise RuntimeError(f"GET {path}: {status[-1]} {body[:200]!r}")
        return body

    call()
    return call


def calls_per_request(function: Callable[[], Any], count: int = 200) -> float:
    """Python function calls (cProfile's count, C functions included) per call."""
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [function() for _ in range(count)])
    return pstats.Stats(profiler).total_calls / count


def session_script_calls(client: Any, user_id: str, session_id: str) -> Callable[[], Any]:
    """The session check's script (sessions.touch without the app around it) through
    ``client``."""
    from authapi import sessions
    from authapi.redis_keys import script_for

    script = script_for(client, sessions._TOUCH)
    keys = [
        sessions.session_key(user_id, session_id),
        sessions.user_cache_key(user_id),
        sessions.user_generation_key(user_id),
    ]
    return lambda: script(keys=keys, args=[time.time(), sessions.LAST_USED_RESOLUTION, "0"])


def with_redis_pys_connection(client: Any) -> Any:
    """A client like ``client`` (same settings) with redis-py's own Connection class: a
    poll at hand-out and before each send and receive, which
    authapi.redis_connection.KernelTimeoutConnection does without; its scripts go
    through redis-py's Script and command path (authapi.redis_keys.PooledScript)."""
    import redis

    return redis.Redis(
        connection_pool=redis.ConnectionPool(**client.connection_pool.connection_kwargs)
    )


def build_app(**overrides: Any) -> Any:
    from authapi import create_app

    return create_app(overrides or None)


def main() -> int:
    os.environ.update(harness.server_environment(0, harness.generate_token_keys()))
    os.environ.pop("PORT", None)
    # Prometheus multiprocess mode, as gunicorn.conf.py sets it up for the server.
    metrics_dir = tempfile.TemporaryDirectory(prefix="authapi-hotpath-metrics-")
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", metrics_dir.name)
    os.environ.setdefault("LOG_FLUSH_SECONDS", "0.1")  # access lines batched, as gunicorn.conf.py
    sys.path.insert(0, str(harness.APP_ROOT))
    import jwt
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from authapi import sessions, tokens
    from authapi.auth import service as auth_service
    from authapi.extensions import redis_store

    harness.flush_redis()
    rows: list[tuple[str, tuple[float, float]]] = []
    try:
        with quiet_stderr():
            app = build_app()
            with app.app_context():
                user_id, ring = str(uuid.uuid4()), tokens._keys().access
                session_id = sessions.create(user_id, ip="127.0.0.1", user_agent="hotpath")
                # As the login caches it: the public user and its second factors (none).
                user = {"id": user_id, "name": "Bench", "email": "hotpath@example.com",
                        auth_service.CACHED_MFA_KEY: []}  # fmt: skip
                sessions.cache_user(user_id, json.dumps(user), sessions.user_generation(user_id))
                token = tokens.issue_access_token(user_id, session_id)
                public_key = ring.verifying_keys[ring.signing_kid]
                signing_input, _, signature_b64 = token.rpartition(".")
                signature = jwt.utils.base64url_decode(signature_b64)
                policy = tokens._policy()

                def rsa_verify() -> None:
                    public_key.verify(
                        signature, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
                    )

                def rsa_sign() -> bytes:
                    return ring.signing_key.sign(
                        signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
                    )

                def jwt_decode() -> dict:
                    return jwt.decode(
                        token,
                        public_key,
                        algorithms=[tokens.ALGORITHM],
                        audience=policy.audience,
                        issuer=policy.issuer,
                        options={"verify_exp": False, "verify_iat": False},
                    )

                client = redis_store.client
                rows += [
                    ("jwt.get_unverified_header(token)", per_call_us(
                        lambda: jwt.get_unverified_header(token))),
                    ("RSA-2048 PKCS1v15 verify (cryptography)", per_call_us(rsa_verify)),
                    ("RSA-2048 PKCS1v15 sign (cryptography)", per_call_us(rsa_sign)),
                    ("tokens.issue_access_token() (sign incl.)", per_call_us(
                        lambda: tokens.issue_access_token(user_id, session_id))),
                    ("jwt.decode(token, key, ...) incl. verify", per_call_us(jwt_decode)),
                    ("tokens.verify(token, ...), no cache", per_call_us(
                        lambda: tokens.verify(token, ring, kind=tokens.ACCESS,
                                              issuer=policy.issuer, audience=policy.audience))),
                    ("tokens.decode_access_token(token), cached", per_call_us(
                        lambda: tokens.decode_access_token(token))),
                    ("redis PING round trip", per_call_us(client.ping)),
                    ("sessions.touch() (EVALSHA round trip)", per_call_us(
                        lambda: sessions.touch(user_id, session_id, 0))),
                    ("session script, 4 threads, app's Redis client", per_call_us_threads(
                        session_script_calls(client, user_id, session_id),
                        contextlib.nullcontext)),
                    ("... redis-py's own Connection and Script", per_call_us_threads(
                        session_script_calls(
                            with_redis_pys_connection(client), user_id, session_id),
                        contextlib.nullcontext)),
                ]  # fmt: skip
            bearer = {"Authorization": f"Bearer {token}"}

            def refresh_calls() -> Callable[[], bytes]:
                """Refreshes of a session of their own (each one rotates its token)."""
                with app.app_context():
                    own_session = sessions.create(user_id, ip="127.0.0.1", user_agent="hotpath")
                    cookie = tokens.issue_refresh_token(
                        user_id, own_session, 0, lifetime=sessions.idle_timeout()
                    )
                return wsgi_get(app, "/api/auth/refresh", {"Cookie": f"refresh_token={cookie}"},
                                carry_cookie="refresh_token")  # fmt: skip

            if "--cprofile" in sys.argv or "--cprofile-refresh" in sys.argv:
                profiled = (
                    refresh_calls()
                    if "--cprofile-refresh" in sys.argv
                    else wsgi_get(app, "/api/users/me", bearer)
                )
                profiler = cProfile.Profile()
                profiler.runcall(lambda: [profiled() for _ in range(5000)])
                report = io.StringIO()
                stats = pstats.Stats(profiler, stream=report).strip_dirs()
                stats.sort_stats(os.environ.get("HOTPATH_SORT", "cumulative")).print_stats(45)
                if os.environ.get("HOTPATH_CALLERS"):
                    stats.print_callers(os.environ["HOTPATH_CALLERS"])
                print(report.getvalue(), file=sys.__stdout__)
            rows += [
                ("WSGI GET /api/users/me (production settings)",
                 per_call_us(wsgi_get(app, "/api/users/me", bearer))),
                ("WSGI GET /api/healthChecker (same app)",
                 per_call_us(wsgi_get(app, "/api/healthChecker", {}))),
                ("WSGI GET /api/auth/refresh (rotating cookie)",
                 per_call_us(refresh_calls())),
            ]  # fmt: skip
            no_metrics = build_app(METRICS_ENABLED=False)
            rows.append(
                (
                    "WSGI GET /api/users/me, METRICS_ENABLED=false",
                    per_call_us(wsgi_get(no_metrics, "/api/users/me", bearer)),
                )
            )
            # The authapi logger's level is process-wide: the last app built decides.
            no_access_log = build_app(LOG_LEVEL="WARNING")
            rows.append(
                (
                    "WSGI GET /api/users/me, LOG_LEVEL=WARNING",
                    per_call_us(wsgi_get(no_access_log, "/api/users/me", bearer)),
                )
            )
            neither = build_app(LOG_LEVEL="WARNING", METRICS_ENABLED=False)
            rows.append(
                (
                    "WSGI GET /api/users/me, both off",
                    per_call_us(wsgi_get(neither, "/api/users/me", bearer)),
                )
            )
            # As production runs: the bench turns the limits off for its login scenarios.
            limits_on = build_app(RATELIMIT_ENABLED=True)
            rows += [
                ("WSGI GET /api/users/me, RATELIMIT_ENABLED=true",
                 per_call_us(wsgi_get(limits_on, "/api/users/me", bearer))),
                ("WSGI GET /api/healthChecker, RATELIMIT_ENABLED=true",
                 per_call_us(wsgi_get(limits_on, "/api/healthChecker", {}))),
            ]  # fmt: skip
            from bare_app import app as bare

            rows.append(
                (
                    "WSGI GET /api/healthChecker, bare Flask",
                    per_call_us(wsgi_get(bare, "/api/healthChecker", {})),
                )
            )
            if "--calls" in sys.argv:
                counting = build_app()  # the production log level again (see above)
                counted = {
                    "/api/users/me": wsgi_get(counting, "/api/users/me", bearer),
                    "/api/healthChecker": wsgi_get(counting, "/api/healthChecker", {}),
                    "bare Flask": wsgi_get(bare, "/api/healthChecker", {}),
                }
                calls = ", ".join(
                    f"{name} {calls_per_request(call):.0f}" for name, call in counted.items()
                )
                print(f"Python calls per request: {calls}", file=sys.__stdout__)
    finally:
        harness.flush_redis()
        metrics_dir.cleanup()
    width = max(len(name) for name, _ in rows)
    print(f"{'microseconds per call'.ljust(width)}  {'wall':>8}  {'CPU':>8}")
    for name, (wall, cpu) in rows:
        print(f"{name.ljust(width)}  {wall:8.1f}  {cpu:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
