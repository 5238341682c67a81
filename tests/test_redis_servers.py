"""Self-tests for tests/support/redis_servers.py, against real redis-server processes."""

from __future__ import annotations

import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster as RedisClusterClient
from redis.retry import Retry
from redis.sentinel import Sentinel

from tests.support.redis_servers import RedisCluster, RedisSentinelSetup, RedisServer
from tests.support.servers import CLUSTER_BUS_PORT_OFFSET, free_port

NO_RETRY = Retry(NoBackoff(), 0)
pytestmark = pytest.mark.subprocess


def _client(server: RedisServer, **kwargs: object) -> redis.Redis:
    return redis.Redis.from_url(
        server.url(), socket_timeout=0.5, retry=NO_RETRY, decode_responses=True, **kwargs
    )


def test_free_port_is_not_6379_and_bus_port_fits() -> None:
    ports = {free_port() for _ in range(5)}
    assert len(ports) == 5
    for port in ports:
        assert port != 6379
        assert port + CLUSTER_BUS_PORT_OFFSET <= 65535


def test_server_restarts_on_same_port_without_data() -> None:
    with RedisServer() as server:
        port = server.port
        assert server.url() == f"redis://127.0.0.1:{port}/0"
        assert server.url(db=3) == f"redis://127.0.0.1:{port}/3"
        client = _client(server)
        assert client.set("key", "value")
        assert client.get("key") == "value"

        server.stop()
        assert not server.is_running
        with pytest.raises(redis.ConnectionError):
            client.ping()

        server.start()
        assert server.port == port
        assert client.ping()
        assert client.get("key") is None
        assert client.dbsize() == 0
        client.close()
    assert not server.is_running
    assert not server.tmpdir.exists()


def test_pause_times_out_clients_and_resume_recovers() -> None:
    with RedisServer() as server:
        connected = _client(server)
        assert connected.ping()  # pooled connection established before the pause

        server.pause()
        try:
            with pytest.raises(redis.TimeoutError):
                connected.get("key")
            with pytest.raises(redis.TimeoutError):  # new connection: TCP accept, no reply
                _client(server).ping()
        finally:
            server.resume()

        assert connected.ping()
        assert connected.set("key", "value")
        assert connected.get("key") == "value"
        connected.close()


def test_stop_of_paused_server_does_not_hang() -> None:
    server = RedisServer()
    try:
        server.pause()
        server.stop()  # SIGTERM is not served while paused: stop() ends it with SIGKILL
        assert not server.is_running
    finally:
        server.close()


@pytest.mark.redis_cluster
def test_cluster_set_get_across_slots_and_same_slot_multi_key_ops() -> None:
    with RedisCluster() as cluster:
        assert len(cluster.nodes) == 6
        client = RedisClusterClient(startup_nodes=cluster.startup_nodes, decode_responses=True)
        try:
            keys = [f"user:{i}" for i in range(30)]
            for key in keys:
                assert client.set(key, key.upper())
            for key in keys:
                assert client.get(key) == key.upper()
            owners = {cluster.master_for_key(key).port for key in keys}
            assert len(owners) == 3  # keys really are spread over all masters

            a, b = "{session:42}:access", "{session:42}:refresh"
            assert cluster.keyslot(a) == cluster.keyslot(b)

            pipe = client.pipeline(transaction=True)  # MULTI/EXEC on one slot
            pipe.set(a, "1")
            pipe.incr(a)
            pipe.set(b, "x")
            # redis-py 8.1 returns raw "OK" (not True) for SET inside a cluster transaction.
            assert pipe.execute() in ([True, 2, True], ["OK", 2, "OK"])
            assert client.mget(a, b) == ["2", "x"]  # multi-key read, same slot

            script = client.register_script(
                "redis.call('SET', KEYS[1], ARGV[1]); "
                "redis.call('SET', KEYS[2], ARGV[2]); "
                "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}"
            )
            assert script(keys=[a, b], args=["p", "q"]) == ["p", "q"]
            assert client.eval("return redis.call('DEL', KEYS[1], KEYS[2])", 2, a, b) == 2
        finally:
            client.close()


@pytest.mark.redis_cluster
def test_cluster_failover_of_killed_master() -> None:
    key = "failover:key"
    with RedisCluster() as cluster:
        client = RedisClusterClient(startup_nodes=cluster.startup_nodes, decode_responses=True)
        try:
            assert client.set(key, "before")
            old_master = cluster.kill_master_for_key(key)
            assert not old_master.is_running

            new_master = cluster.wait_for_failover(key)
            assert new_master.port != old_master.port
            assert new_master.is_running
            assert cluster.master_for_key(key).port == new_master.port

            # A fresh client reaches the slot's new master at once.
            fresh = RedisClusterClient(startup_nodes=cluster.startup_nodes, decode_responses=True)
            try:
                assert fresh.set(key, "after")
                assert fresh.get(key) == "after"
            finally:
                fresh.close()
            # The client that saw the old topology recovers too (it refreshes its slot map).
            assert client.set(key, "again")
            assert client.get(key) == "again"
        finally:
            client.close()


@pytest.mark.redis_sentinel
def test_sentinel_failover() -> None:
    with RedisSentinelSetup() as setup:
        assert setup.master_name == "mymaster"
        assert len(setup.sentinels) == 3
        sentinel = Sentinel(setup.sentinels, socket_timeout=0.5)
        master = sentinel.master_for(setup.master_name, socket_timeout=0.5, decode_responses=True)
        assert master.set("key", "before")
        assert sentinel.discover_master(setup.master_name)[1] == setup.master.port

        killed = setup.kill_master()
        assert killed is setup.master
        promoted = setup.wait_for_failover()
        assert promoted is setup.replica
        assert sentinel.discover_master(setup.master_name) == ("127.0.0.1", promoted.port)

        new_master = sentinel.master_for(
            setup.master_name, socket_timeout=0.5, decode_responses=True
        )
        assert new_master.set("key", "after")
        assert new_master.get("key") == "after"
        # The old client object re-discovers the master through the sentinels as well.
        assert master.set("key", "again")
        assert master.get("key") == "again"
        master.close()
        new_master.close()
        for conn in sentinel.sentinels:
            conn.close()
