"""The single-server Redis connection (``KernelTimeoutConnection``): the reply timeout
kept by the kernel instead of a poll before each send and receive, and the pool's
hand-out check without a poll. Real sockets and the test Redis."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest
import redis

from authapi.redis_connection import KernelTimeoutConnection, make_redis_client
from config import Config


@pytest.fixture
def unanswering_port() -> Iterator[int]:
    """A port whose listener never accepts: connections complete, replies never come."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


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
    from concurrent.futures import ThreadPoolExecutor

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
