"""Dependency faults with real processes: Redis stopped or frozen, PostgreSQL unreachable,
silent or killing our connections, pools exhausted. Always 503 JSON (never a 500, never a
grant without the session check), and service resumes by itself."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg2
import pytest
from sqlalchemy.engine import make_url

from tests.helpers import HANG, PASSWORD, assert_fail, bearer, login, post_json_status, register
from tests.support.redis_servers import RedisServer
from tests.support.servers import wait_until
from tests.support.stalling_proxy import stalling_proxy

UNAVAILABLE = "Service temporarily unavailable, please retry shortly"


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def own_redis_app(make_app, redis_server):
    return make_app(REDIS_URL=redis_server.url(), RATELIMIT_ENABLED=True)


@pytest.mark.subprocess
def test_redis_stopped_is_503_and_service_resumes_when_it_is_back(own_redis_app, redis_server):
    client = own_redis_app.test_client()
    register(client)
    token = login(client)
    redis_server.stop()
    for response in (
        client.get("/api/users/me", headers=bearer(token)),
        client.post("/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}),
        client.get("/api/auth/refresh"),
        client.get("/api/health/ready"),
    ):
        assert_fail(response, 503, UNAVAILABLE)
        assert response.headers["Retry-After"]
    redis_server.start()  # back, empty: the old session is gone (fails closed), login works
    assert_fail(client.get("/api/users/me", headers=bearer(token)), 401)
    login(client)
    assert client.get("/api/users/me").status_code == 200
    assert client.get("/api/health/ready").status_code == 200


@pytest.mark.subprocess
def test_redis_not_answering_is_503_and_recovers(own_redis_app, redis_server):
    client = own_redis_app.test_client()
    register(client)
    token = login(client)
    redis_server.pause()  # accepts connections, never replies
    try:
        assert_fail(client.get("/api/users/me", headers=bearer(token)), 503, UNAVAILABLE)
        response = client.post(
            "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
        )
        assert_fail(response, 503, UNAVAILABLE)
    finally:
        redis_server.resume()
    # The same session is still there: the very next request succeeds.
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200


@pytest.fixture
def configurable_redis() -> Iterator[RedisServer]:
    """A Redis of our own whose protected settings (``dir``) CONFIG SET may change."""
    with RedisServer(["--enable-protected-configs", "yes"]) as server:
        yield server


def _writes_refused_then_back(app, refuse, allow) -> None:
    """Redis answers but refuses writes: login, refresh and register are 503s, not 500s;
    once it takes writes again the same session goes on, with no restart."""
    client = app.test_client()
    register(client)
    token = login(client)  # the client keeps the refresh cookie
    credentials = {"email": "alice@example.com", "password": PASSWORD}
    refuse()
    try:
        for response in (
            client.post("/api/auth/login", json=credentials),
            client.get("/api/auth/refresh"),
            client.post(
                "/api/auth/register",
                json={
                    "name": "Bob",
                    "email": "bob@example.com",
                    "password": PASSWORD,
                    "passwordConfirm": PASSWORD,
                },
            ),
        ):
            assert_fail(response, 503, UNAVAILABLE)
            assert response.headers["Retry-After"]
    finally:
        allow()
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200
    assert client.get("/api/auth/refresh").status_code == 200
    login(client)


@pytest.mark.subprocess
def test_redis_out_of_memory_is_503_and_recovers(make_app, configurable_redis):
    """maxmemory reached with the default noeviction policy: every write is an OOM error."""
    app = make_app(REDIS_URL=configurable_redis.url(), RATELIMIT_ENABLED=True)
    redis_client = configurable_redis.client()
    _writes_refused_then_back(
        app,
        refuse=lambda: redis_client.config_set("maxmemory", 1),
        allow=lambda: redis_client.config_set("maxmemory", 0),
    )


@pytest.mark.subprocess
def test_redis_that_cannot_persist_is_503_and_recovers(make_app, configurable_redis):
    """A Redis that snapshots to disk and failed its last save (a full disk) refuses every
    write with MISCONF (stop-writes-on-bgsave-error, on by default) until a save works."""
    app = make_app(REDIS_URL=configurable_redis.url(), RATELIMIT_ENABLED=True)
    redis_client = configurable_redis.client()
    writable_dir = redis_client.config_get("dir")["dir"]

    def refuse() -> None:
        redis_client.config_set("save", "3600 1")
        redis_client.config_set("dir", "/proc")  # no one can create a file there
        redis_client.bgsave()  # a foreground SAVE that fails does not stop writes
        wait_until(
            lambda: redis_client.info("persistence")["rdb_last_bgsave_status"] == "err",
            HANG,
            "the background save to fail",
        )

    def allow() -> None:
        redis_client.config_set("dir", writable_dir)
        redis_client.save()

    _writes_refused_then_back(app, refuse, allow)


def test_redis_on_a_closed_port_is_503(make_app):
    client = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    register(client)  # registration needs only PostgreSQL
    response = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert_fail(response, 503, UNAVAILABLE)
    assert "Set-Cookie" not in response.headers


def test_postgres_on_a_closed_port_is_503(make_app, app):
    client = make_app(
        SQLALCHEMY_DATABASE_URI="postgresql+psycopg2://postgres@127.0.0.1:1/authapi_test"
    ).test_client()
    response = client.post(
        "/api/auth/register",
        json={
            "name": "A",
            "email": "a@example.com",
            "password": PASSWORD,
            "passwordConfirm": PASSWORD,
        },
    )
    assert_fail(response, 503, UNAVAILABLE)
    assert_fail(
        client.post("/api/auth/login", json={"email": "a@example.com", "password": PASSWORD}), 503
    )
    assert_fail(client.get("/api/health/ready"), 503)


def test_postgres_that_refuses_writes_is_503(make_app, app):
    """A PostgreSQL that answers but takes no writes (the standby a failover left the app
    on, or default_transaction_read_only) refuses with SQLSTATE 25006: a retryable 503,
    as Redis READONLY is, not a 500. Reads (the login) still work."""
    register(app.test_client())
    options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    connect_args = dict(options.get("connect_args", {}))
    connect_args["options"] = (
        connect_args.get("options", "") + " -c default_transaction_read_only=on"
    ).strip()
    options["connect_args"] = connect_args
    client = make_app(SQLALCHEMY_ENGINE_OPTIONS=options).test_client()
    response = client.post(
        "/api/auth/register",
        json={
            "name": "Bob",
            "email": "bob@example.com",
            "password": PASSWORD,
            "passwordConfirm": PASSWORD,
        },
    )
    assert_fail(response, 503, UNAVAILABLE)
    assert response.headers["Retry-After"]
    login(client)  # a read: fine
    response = client.patch(
        "/api/users/me/password",
        json={
            "currentPassword": PASSWORD,
            "password": "another good password",
            "passwordConfirm": "another good password",
        },
    )
    assert_fail(response, 503, UNAVAILABLE)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                accepted.append(connection)
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_postgres_that_never_answers_is_503(make_app, silent_port):
    engine_options = {
        "pool_pre_ping": True,
        "connect_args": {"connect_timeout": 1},
    }
    client = make_app(
        SQLALCHEMY_DATABASE_URI=f"postgresql+psycopg2://postgres@127.0.0.1:{silent_port}/x_test",
        SQLALCHEMY_ENGINE_OPTIONS=engine_options,
    ).test_client()
    response = client.post("/api/auth/login", json={"email": "a@example.com", "password": PASSWORD})
    assert_fail(response, 503, UNAVAILABLE)


def test_postgres_that_stops_answering_mid_pool_is_503_and_recovers(make_app, database_url):
    """PostgreSQL stops answering while the pool holds connections to it (frozen, or a
    network path that drops packets: no error, no reset). Neither connect_timeout nor
    statement_timeout covers a pooled connection: without a deadline on every wait, the
    pre-ping waits for as long as the stall lasts, one gunicorn thread per request, until
    none is left for anything (/me and refresh, which need only Redis, included)."""
    url = make_url(database_url)
    with stalling_proxy((url.host, url.port or 5432)) as proxy:
        through_proxy = url.set(port=proxy.port).render_as_string(hide_password=False)
        client = make_app(SQLALCHEMY_DATABASE_URI=through_proxy).test_client()
        register(client)
        login(client)  # the pool now holds a connection through the proxy
        payload = {"email": "alice@example.com", "password": PASSWORD}
        proxy.stall()
        connections_before = proxy.accepted
        with ThreadPoolExecutor(max_workers=1) as pool:
            during = pool.submit(client.post, "/api/auth/login", json=payload)
            try:
                response = during.result(timeout=HANG)
            finally:
                connections_after = proxy.accepted
                proxy.resume()
        assert_fail(response, 503, UNAVAILABLE)
        assert response.headers["Retry-After"]
        # One wait of DATABASE_TIMEOUT, not two: the ping that timed out is not followed
        # by a new connection that would wait the deadline again.
        assert connections_after == connections_before
        assert client.post("/api/auth/login", json=payload).status_code == 200


def test_a_request_waits_for_a_silent_postgres_once(make_app, database_url):
    """Logout needs only Redis, but three of its steps ask PostgreSQL on the side (does a
    webhook want the event, the audit row, the event's relay), each falling back when its
    own deadline passed: during a stall a logout answered after three deadlines, 9 s.
    Once PostgreSQL has not answered within a request, the rest of the request does not
    wait for it again (nor open connections to it)."""
    url = make_url(database_url)
    with stalling_proxy((url.host, url.port or 5432)) as proxy:
        through_proxy = url.set(port=proxy.port).render_as_string(hide_password=False)
        client = make_app(SQLALCHEMY_DATABASE_URI=through_proxy).test_client()
        register(client)
        token = login(client)  # the pool now holds a connection through the proxy
        proxy.stall()
        connections_before = proxy.accepted
        with ThreadPoolExecutor(max_workers=1) as pool:
            during = pool.submit(client.get, "/api/auth/logout", headers=bearer(token))
            try:
                response = during.result(timeout=HANG)
            finally:
                connections_after = proxy.accepted
                proxy.resume()
        assert response.status_code == 200, response.json
        assert connections_after == connections_before
        assert (
            client.post(
                "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
            ).status_code
            == 200
        )


def _terminate_app_connections(database_url: str) -> int:
    """Terminate every connection to the test database, from a connection of its own
    (outside the app's pool, so the app's pooled connections are all among the victims)."""
    connection = psycopg2.connect(database_url.replace("+psycopg2", ""))
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]
    finally:
        connection.close()


def test_killed_postgres_connections_are_replaced_transparently(app, database_url):
    client = app.test_client()
    register(client)
    login(client)
    # The login's connection went back to the app's pool: it is one of those killed.
    assert _terminate_app_connections(database_url) >= 1
    # pool_pre_ping notices the dead connection and opens a new one.
    assert (
        client.post(
            "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
        ).status_code
        == 200
    )


@pytest.mark.live_server
def test_connections_killed_mid_traffic_give_200s_or_503s_never_500(app, database_url, live_server):
    server = live_server(app)
    client = app.test_client()
    register(client)
    payload = {"email": "alice@example.com", "password": PASSWORD}
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [
            pool.submit(post_json_status, f"{server.url}/api/auth/login", payload)
            for _ in range(40)
        ]
        for _ in range(5):
            _terminate_app_connections(database_url)
        statuses = [future.result() for future in futures]
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) > 0
    assert post_json_status(f"{server.url}/api/auth/login", payload) == 200


@pytest.mark.live_server
def test_exhausted_pools_give_200s_or_503s_never_500(make_app, live_server):
    tiny_pool = {
        "pool_pre_ping": True,
        "pool_size": 1,
        "max_overflow": 0,
        "pool_timeout": 0.05,
    }
    app = make_app(SQLALCHEMY_ENGINE_OPTIONS=tiny_pool)
    server = live_server(app)
    client = app.test_client()
    register(client)
    payload = {"email": "alice@example.com", "password": PASSWORD}
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(
            pool.map(lambda _: post_json_status(f"{server.url}/api/auth/login", payload), range(48))
        )
    assert set(statuses) <= {200, 503}, statuses
    assert 200 in statuses
