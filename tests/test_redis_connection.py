"""The single-server Redis connection (``KernelTimeoutConnection``): the reply timeout
kept by the kernel instead of a poll before each send and receive, and the pool's
hand-out check without a poll. Real sockets and the test Redis."""

from __future__ import annotations

import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit
from urllib.request import Request

import pytest
import redis

from authapi.extensions import limiter
from authapi.redis_connection import (
    KernelTimeoutConnection,
    KernelTimeoutPool,
    make_redis_client,
)
from authapi.redis_keys import PooledScript, script
from config import Config
from tests.helpers import bearer, login, register, status_of
from tests.support.stalling_proxy import stalling_proxy


def _client(url: str, **overrides: object) -> redis.Redis:
    return make_redis_client({**vars(Config), "REDIS_URL": url, **overrides})


def test_plain_tcp_uses_the_kernel_timeout_connection_and_tls_keeps_redis_pys(redis_url):
    plain = _client(redis_url).connection_pool
    assert plain.connection_class is KernelTimeoutConnection
    connection = plain.make_connection()
    assert connection.reply_timeout == Config.REDIS_SOCKET_TIMEOUT
    assert connection.socket_timeout is None  # Python never polls before send/recv
    tls = _client("rediss://127.0.0.1:6380/0").connection_pool
    assert tls.connection_class is redis.SSLConnection


def test_plain_tcp_hands_connections_out_from_the_lean_pool(redis_url, redis_client):
    """KernelTimeoutPool: one connection, handed out connected and reused; a connection
    left with the bytes of a reply nobody read is replaced, so no caller reads another
    command's reply."""
    client = _client(redis_url)
    pool = client.connection_pool
    key = f"test:connection:{uuid.uuid4()}"
    try:
        assert type(pool) is KernelTimeoutPool
        client.set(key, "value")
        first = pool.get_connection()
        assert first._sock is not None
        first.send_command("PING")
        first.read_response()
        first.send_command("ECHO", "a reply nobody reads")
        first._parser._reader.feed(first._sock.recv(4096))  # read in, not parsed
        pool.release(first)
        assert client.get(key) == "value"
        assert len(pool._available_connections) == 1
    finally:
        redis_client.delete(key)
        client.close()


def test_the_lean_pool_keeps_its_limit_and_releases_what_failed_to_connect(redis_url):
    refused = KernelTimeoutPool.from_url(
        "redis://127.0.0.1:1/0", connection_class=KernelTimeoutConnection, max_connections=1
    )
    for _ in range(2):  # the failed connection went back: no MaxConnectionsError
        with pytest.raises(redis.ConnectionError) as error:
            refused.get_connection()
        assert not isinstance(error.value, redis.exceptions.MaxConnectionsError)
    one = KernelTimeoutPool.from_url(
        redis_url, connection_class=KernelTimeoutConnection, max_connections=1
    )
    held = one.get_connection()
    with pytest.raises(redis.exceptions.MaxConnectionsError):
        one.get_connection()
    one.release(held)
    assert one.get_connection() is held
    one.disconnect()


def test_the_lean_pool_starts_afresh_in_a_forked_process(redis_url):
    """After a fork (a pid other than the pool's), the pool makes new connections and
    takes none of the parent's back."""
    pool = KernelTimeoutPool.from_url(redis_url, connection_class=KernelTimeoutConnection)
    parents = pool.get_connection()
    pool.pid = -1  # as the pool finds itself in a child process
    childs = pool.get_connection()
    assert childs is not parents
    pool.release(parents)
    pool.release(childs)
    assert pool._available_connections == [childs]
    parents.disconnect()
    pool.disconnect()


def test_the_socket_carries_the_timeout_as_kernel_options(redis_url):
    client = _client(redis_url, REDIS_SOCKET_TIMEOUT=1.5)
    connection = client.connection_pool.get_connection()
    try:
        connection.connect()
        raw = connection._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)
        assert raw[:16] != bytes(16)  # a timeout is set, not "block forever"
        assert connection._sock.gettimeout() is None
    finally:
        client.connection_pool.release(connection)
        client.close()


def test_a_reply_that_never_comes_is_a_redis_timeout(unanswering_port):
    client = _client(f"redis://127.0.0.1:{unanswering_port}/0", REDIS_SOCKET_TIMEOUT=0.2)
    with pytest.raises(redis.TimeoutError):
        client.get("anything")
    client.close()


def test_a_redis_that_stops_answering_costs_two_timeouts_not_four(redis_url):
    """A Redis that accepts connections and never answers (frozen, SIGSTOPped): the one
    retry means two connections, each waiting REDIS_SOCKET_TIMEOUT once. redis-py also
    retried the whole connection (and its handshake) inside each attempt: four
    connections and four timeouts, 4 s for a request instead of 2."""
    target = urlsplit(redis_url)
    with stalling_proxy((target.hostname or "", target.port or 6379)) as proxy:
        client = _client(f"redis://127.0.0.1:{proxy.port}{target.path}", REDIS_SOCKET_TIMEOUT=0.2)
        proxy.stall()
        with pytest.raises(redis.TimeoutError):
            client.get("anything")
        client.close()
        assert proxy.accepted == 2


def test_a_connection_the_server_closed_is_replaced_without_an_error(redis_url, redis_client):
    """The hand-out check no longer polls the socket: a connection Redis closed while it
    sat in the pool fails its next command, which the one retry sends on a new one."""
    client = _client(redis_url)
    key = f"test:connection:{uuid.uuid4()}"
    try:
        client.set(key, "kept")
        killed = redis_client.client_kill_filter(_id=client.client_id())
        assert killed == 1
        assert client.get(key) == "kept"
        assert client.set(key, "written again") is True
        assert redis_client.get(key) == "written again"
    finally:
        redis_client.delete(key)
        client.close()


def test_commands_from_many_threads_each_get_their_own_reply(redis_url, redis_client):
    """No reply is ever read by the wrong caller: 8 threads, each reading back its own
    values through the shared pool."""
    client = _client(redis_url)
    prefix = f"test:connection:{uuid.uuid4()}"

    def round_trips(worker: int) -> bool:
        for step in range(200):
            key = f"{prefix}:{worker}"
            client.set(key, f"{worker}:{step}")
            if client.get(key) != f"{worker}:{step}":
                return False
        return True

    try:
        with ThreadPoolExecutor(8) as pool:
            assert all(pool.map(round_trips, range(8)))
    finally:
        redis_client.delete(*(f"{prefix}:{worker}" for worker in range(8)))
        client.close()


def test_the_rate_limiter_counts_through_the_same_connection_class(make_app, redis_client):
    """limits' RedisStorage builds its own client from the options: its connections are
    KernelTimeoutConnections too, and the counts it keeps are real."""
    app = make_app(RATELIMIT_ENABLED=True)
    assert limiter._storage.storage.connection_pool.connection_class is KernelTimeoutConnection
    client = app.test_client()
    client.post("/api/auth/login", json={"email": "nobody@example.com", "password": "x"})
    assert list(redis_client.scan_iter("LIMITS*"))  # flushed before the test: these are ours


# Sets KEYS[1] to ARGV[1] and returns it with the key's old value; errors when ARGV[1]
# is "fail" (a Lua error: redis.ResponseError).
SET_AND_ECHO = """
if ARGV[1] == 'fail' then return redis.error_reply('asked to fail') end
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
return {old, ARGV[1]}
"""


def test_an_app_on_plain_tcp_runs_its_scripts_on_the_pool_others_through_redis_py(make_app):
    with make_app().app_context():
        assert isinstance(script(SET_AND_ECHO), PooledScript)
    with make_app(REDIS_URL="rediss://127.0.0.1:6380/0").app_context():
        assert isinstance(script(SET_AND_ECHO), redis.commands.core.Script)


def test_a_pooled_script_answers_as_redis_pys_script(redis_url, redis_client):
    """Same replies (decoded), the same errors, and a connection an error reply
    interrupted goes back to the pool in working order."""
    client = _client(redis_url)
    key = f"test:script:{uuid.uuid4()}"
    run = PooledScript(client, SET_AND_ECHO)
    try:
        assert run(keys=[key], args=["one"]) == [None, "one"]
        assert run(keys=[key], args=[2]) == ["one", "2"]
        assert client.register_script(SET_AND_ECHO)(keys=[key], args=["three"]) == ["2", "three"]
        with pytest.raises(redis.ResponseError, match="asked to fail"):
            run(keys=[key], args=["fail"])
        assert run(keys=[key], args=["four"]) == ["three", "four"]
        assert len(client.connection_pool._available_connections) == 1  # one, reused
    finally:
        redis_client.delete(key)
        client.close()


def test_a_pooled_script_loads_itself_again_into_a_redis_that_lost_it(redis_url, redis_client):
    """After a restart or SCRIPT FLUSH, EVALSHA says NOSCRIPT: the script is sent by EVAL,
    which caches it again. (SCRIPT FLUSH empties the cache of the whole server; every
    client of this project's reloads a script it lost.)"""
    client = _client(redis_url)
    key = f"test:script:{uuid.uuid4()}"
    run = PooledScript(client, SET_AND_ECHO)
    try:
        run(keys=[key], args=["before"])
        redis_client.script_flush()
        assert redis_client.script_exists(run.sha) == [False]
        assert run(keys=[key], args=["after"]) == ["before", "after"]
        assert redis_client.script_exists(run.sha) == [True]
    finally:
        redis_client.delete(key)
        client.close()


def test_a_pooled_script_retries_once_on_a_new_connection_and_times_out_as_redis_py(
    redis_url, redis_client
):
    client = _client(redis_url)
    key = f"test:script:{uuid.uuid4()}"
    run = PooledScript(client, SET_AND_ECHO)
    try:
        run(keys=[key], args=["kept"])
        assert redis_client.client_kill_filter(_id=client.client_id()) == 1
        assert run(keys=[key], args=["again"]) == ["kept", "again"]  # the one retry
    finally:
        redis_client.delete(key)
        client.close()
    target = urlsplit(redis_url)
    with stalling_proxy((target.hostname or "", target.port or 6379)) as proxy:
        stalled = _client(f"redis://127.0.0.1:{proxy.port}{target.path}", REDIS_SOCKET_TIMEOUT=0.2)
        stalled_run = PooledScript(stalled, SET_AND_ECHO)
        proxy.stall()
        with pytest.raises(redis.TimeoutError):
            stalled_run(keys=[key], args=["never"])
        stalled.close()
        assert proxy.accepted == 2


def test_the_session_check_survives_a_redis_that_lost_its_scripts(client, redis_client):
    register(client)
    token = login(client)
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200
    redis_client.script_flush()
    response = client.get("/api/users/me", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    client.get("/api/auth/logout", headers=bearer(token))
    redis_client.script_flush()
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 401


def _kill_app_connections(redis_client: redis.Redis) -> int:
    """Close every connection to the test db but this client's, as a Redis restart or a
    proxy dropping idle connections would; other dbs (other test runs) are left alone."""
    db, me = redis_client.connection_pool.connection_kwargs.get("db", 0), redis_client.client_id()
    ids = [c["id"] for c in redis_client.client_list() if int(c["db"]) == db and c["id"] != me]
    return sum(redis_client.client_kill_filter(_id=id_) for id_ in ids)


def _get_status(url: str, token: str) -> int:
    return status_of(Request(url, headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.live_server
def test_connections_dropped_mid_traffic_give_200s_or_503s_never_500(
    app, live_server, redis_client
):
    server = live_server(app)
    client = app.test_client()
    register(client)
    token = login(client)
    url = f"{server.url}/api/users/me"
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(_get_status, url, token) for _ in range(200)]
        killed = sum(_kill_app_connections(redis_client) for _ in range(5))
        statuses = [future.result() for future in futures]
    assert killed >= 1
    assert set(statuses) <= {200, 503}, statuses
    assert _get_status(url, token) == 200
