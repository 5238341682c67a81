"""authapi on a real Redis Cluster (3 masters, 3 replicas), through HTTP.

The cluster is started once for the module (each test empties it); the failover test
starts its own, since it kills a master. Every user's keys share the ``{u:<id>}`` hash
tag, so one user's keys live in one slot on one node, and different users spread over
the masters (see docs/scaling.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from flask import Flask
from redis.cluster import RedisCluster as RedisClusterClient
from redis.exceptions import RedisClusterException

from authapi import sessions
from tests.helpers import (
    PASSWORD,
    assert_fail,
    bearer,
    login,
    refresh_by_body,
    register,
    token_login,
)
from tests.redis_topology import (
    REFRESH_FAILED,
    SESSION_ENDED,
    UNAVAILABLE,
    Traffic,
    claims,
    exists_on,
    live_refresh,
    live_status,
    require_redis_binaries,
    unreplicate,
    user_keys_pattern,
    user_tag_key,
)
from tests.support.limiter_state import limiter_state_restored
from tests.support.redis_servers import RedisCluster, RedisServer

pytestmark = pytest.mark.redis_cluster

RATE_LIMITED = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_LOGIN_PER_ADDRESS": "100 per minute",
    "RATELIMIT_LOGIN_PER_ACCOUNT": "3 per 5 minutes",
    "RATELIMIT_REFRESH_PER_SESSION": "2 per minute",
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    require_redis_binaries()
    with limiter_state_restored(), RedisCluster() as running:
        yield running


def _empty(cluster: RedisCluster) -> None:
    for master in cluster.masters():
        master.execute("FLUSHALL")


def _cluster_app_factory(make_app, cluster: RedisCluster) -> Callable[..., Flask]:
    def build(**overrides) -> Flask:
        # REDIS_URL="" unsets the test suite's REDIS_URL: exactly one Redis may be named.
        return make_app(REDIS_URL="", REDIS_CLUSTER_NODES=",".join(cluster.nodes), **overrides)

    return build


@pytest.fixture
def on_cluster(make_app, cluster) -> Iterator[Callable[..., Flask]]:
    """Build apps on the (emptied) module cluster; their Redis clients are closed after."""
    _empty(cluster)
    built: list[Flask] = []
    build = _cluster_app_factory(make_app, cluster)

    def factory(**overrides) -> Flask:
        app = build(**overrides)
        built.append(app)
        return app

    yield factory
    for app in built:
        app.extensions["redis"].close()


def _register_until_every_master_has_users(
    client, cluster: RedisCluster, *, with_a_pair: bool = False, limit: int = 60
) -> dict[int, list[dict]]:
    """Register users until each master owns the slot of at least one of them (and, with
    ``with_a_pair``, one master owns two). User ids are random UUIDs, so where a user
    lands is random too; 60 users miss a master with probability about 1e-10."""
    by_master: dict[int, list[dict]] = {}
    for number in range(limit):
        user = register(client, email=f"user{number}@example.com", name=f"User {number}")
        by_master.setdefault(cluster.master_for_key(user_tag_key(user["id"])).port, []).append(user)
        if len(by_master) == 3 and (
            not with_a_pair or any(len(users) >= 2 for users in by_master.values())
        ):
            return by_master
    pytest.fail(f"{limit} users did not spread over the 3 masters: {by_master.keys()}")


def test_the_app_uses_redis_py_cluster_client_with_explicit_limits(on_cluster):
    app = on_cluster()
    client = app.extensions["redis"]
    assert isinstance(client, RedisClusterClient)
    assert client.retry.get_retries() == 1  # not redis-py's 10
    node_kwargs = client.nodes_manager.connection_kwargs
    assert (node_kwargs["socket_timeout"], node_kwargs["socket_connect_timeout"]) == (1.0, 1.0)
    assert app.config["RATELIMIT_STORAGE_URI"].startswith("redis+cluster://")


def test_a_cluster_with_a_password(cluster, on_cluster):
    """REDIS_PASSWORD reaches every node, for the sessions and for the rate limiter."""
    secret = "cluster-test-password"
    for server in cluster.servers:
        server.execute("CONFIG", "SET", "masterauth", secret)
        server.execute("CONFIG", "SET", "requirepass", secret)
    try:
        with pytest.raises(RedisClusterException, match="cannot be connected"):
            on_cluster()  # no password: no node lets it read the slot map
        client = on_cluster(REDIS_PASSWORD=secret, **RATE_LIMITED).test_client()
        register(client)
        token = login(client)
        assert client.get("/api/users/me", headers=bearer(token)).status_code == 200
        assert client.get("/api/auth/refresh").status_code == 200
    finally:
        for server in cluster.servers:
            with redis.Redis(host=server.host, port=server.port, password=secret) as admin:
                admin.config_set("requirepass", "")
                admin.config_set("masterauth", "")


def test_contract_flow_on_the_cluster(cluster, on_cluster, redis_client):
    client = on_cluster().test_client()
    user = register(client)
    token = login(client)  # browser mode: cookies
    me = client.get("/api/users/me")
    assert me.status_code == 200 and me.json["data"]["user"]["email"] == "alice@example.com"
    assert client.get("/api/users/me", headers=bearer(token)).status_code == 200
    assert client.get("/api/auth/refresh").status_code == 200
    listed = client.get("/api/auth/sessions").json["data"]["sessions"]
    assert [session["current"] for session in listed] == [True]

    # The session and its index live on the cluster, on the master owning the user's slot.
    session_key = f"authapi:{{u:{user['id']}}}:session:{claims(token)['sid']}"
    owner = cluster.master_for_key(session_key)
    assert owner.execute("EXISTS", session_key) == 1
    assert owner.execute("EXISTS", user_tag_key(user["id"])) == 1
    assert redis_client.keys("*") == []  # nothing went to the single test server

    assert client.get("/api/auth/logout").status_code == 200
    assert_fail(client.get("/api/users/me", headers=bearer(token)), 401, SESSION_ENDED)
    assert owner.execute("EXISTS", session_key) == 0
    assert client.get("/api/health/ready").status_code == 200


@pytest.mark.parametrize(
    ("scope", "survivors"),
    [("local", {"laptop", "tablet"}), ("others", {"phone"}), ("global", set())],
)
def test_sessions_and_logout_scopes_for_users_on_every_master(
    cluster, on_cluster, scope, survivors
):
    app = on_cluster()
    by_master = _register_until_every_master_has_users(app.test_client(), cluster)
    for port, users in by_master.items():
        user = users[0]
        devices = {name: app.test_client() for name in ("phone", "laptop", "tablet")}
        tokens = {name: login(device, email=user["email"]) for name, device in devices.items()}

        # One user's keys (sessions, index, cached user) share one slot on one master.
        master = cluster.server_for_port(port)
        keys = master.execute("KEYS", user_keys_pattern(user["id"]))
        prefix = f"authapi:{{u:{user['id']}}}"
        assert {f"{prefix}:session:{claims(token)['sid']}" for token in tokens.values()} | {
            f"{prefix}:sessions",
            f"{prefix}:user",
        } <= set(keys)
        assert {cluster.keyslot(key) for key in keys} == {cluster.keyslot(keys[0])}

        listed = devices["phone"].get("/api/auth/sessions").json["data"]["sessions"]
        assert sorted(session["id"] for session in listed) == sorted(
            claims(token)["sid"] for token in tokens.values()
        )
        assert devices["phone"].get(f"/api/auth/logout?scope={scope}").status_code == 200
        alive = {
            name
            for name, token in tokens.items()
            if app.test_client().get("/api/users/me", headers=bearer(token)).status_code == 200
        }
        assert alive == survivors, (port, scope)
    # Ending one user's sessions never touched another user's, on any node.
    for users in by_master.values():
        for other in users[1:]:
            assert login(app.test_client(), email=other["email"])


def test_ending_another_device_session_on_the_cluster(cluster, on_cluster):
    app = on_cluster()
    phone, laptop = app.test_client(), app.test_client()
    register(phone)
    login(phone)
    laptop_token = login(laptop)
    laptop_session = claims(laptop_token)["sid"]
    assert phone.delete(f"/api/auth/sessions/{laptop_session}").status_code == 200
    assert_fail(laptop.get("/api/users/me", headers=bearer(laptop_token)), 401, SESSION_ENDED)
    assert phone.get("/api/users/me").status_code == 200


def test_the_user_cache_and_its_generation_on_the_cluster(cluster, on_cluster):
    """The user cache's scripts (the session check's miss, the fill, the change's bump)
    run on the master owning the user's slot: a change shows at once, and a fill that
    read the user before a change writes nothing."""
    app = on_cluster()
    client = app.test_client()
    user = register(client)
    token = login(client)
    renamed = client.patch("/api/users/me", json={"name": "Alice B"}, headers=bearer(token))
    assert renamed.status_code == 200
    me = client.get("/api/users/me", headers=bearer(token))
    assert me.json["data"]["user"]["name"] == "Alice B"
    prefix = f"authapi:{{u:{user['id']}}}"
    owner = cluster.master_for_key(user_tag_key(user["id"]))
    assert owner.execute("EXISTS", f"{prefix}:user") == 1  # filled again by the miss
    first = owner.execute("GET", f"{prefix}:user:gen")
    assert first  # set by the rename
    with app.app_context():
        sessions.forget_user(user["id"])
        alive, cached, generation = sessions.touch(user["id"], claims(token)["sid"])
        assert (alive, cached) == (True, None) and generation not in ("", first)
        sessions.forget_user(user["id"])
        assert not sessions.cache_user(user["id"], '{"name": "stale"}', generation)
    assert owner.execute("EXISTS", f"{prefix}:user") == 0


def test_refresh_rotation_and_reuse_detection_on_the_cluster(on_cluster):
    app = on_cluster()
    client = app.test_client()
    register(client)
    first = token_login(client, "alice@example.com")["refresh_token"]
    second = refresh_by_body(client, first).json["refresh_token"]
    third_body = refresh_by_body(client, second).json
    third = third_body["refresh_token"]
    assert [claims(token)["gen"] for token in (first, second, third)] == [0, 1, 2]

    # Within the grace window the previous token answers with the current generation.
    again = refresh_by_body(client, second)
    assert again.status_code == 200 and claims(again.json["refresh_token"])["gen"] == 2

    # Outside it, reuse of an old token revokes the whole session.
    later = on_cluster(REFRESH_REUSE_INTERVAL=0)  # the same cluster, the window long gone
    assert_fail(refresh_by_body(later.test_client(), first), 403, REFRESH_FAILED)
    assert_fail(refresh_by_body(client, third), 403, REFRESH_FAILED)
    response = client.get("/api/users/me", headers=bearer(third_body["access_token"]))
    assert_fail(response, 401, SESSION_ENDED)


@pytest.mark.live_server
def test_twenty_concurrent_refreshes_converge_on_the_cluster(on_cluster, live_server):
    app = on_cluster()
    server = live_server(app)
    client = app.test_client()
    register(client)
    refresh_token = token_login(client, "alice@example.com")["refresh_token"]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: live_refresh(server.url, refresh_token), range(20)))
    assert [status for status, _ in results] == [200] * 20, results
    assert {claims(body["refresh_token"])["gen"] for _, body in results} == {1}
    current = results[0][1]["refresh_token"]
    assert claims(refresh_by_body(client, current).json["refresh_token"])["gen"] == 2


def test_rate_limits_are_counted_on_the_cluster(cluster, on_cluster, redis_client):
    app = on_cluster(**RATE_LIMITED)  # built last: Flask-Limiter keeps one storage per process
    client = app.test_client()
    register(client)
    wrong = {"email": "alice@example.com", "password": "wrong password"}
    for _ in range(3):
        assert_fail(client.post("/api/auth/login", json=wrong), 400)
    blocked = client.post("/api/auth/login", json=wrong)
    assert_fail(blocked, 429)
    assert 1 <= int(blocked.headers["Retry-After"]) <= 301
    right = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert_fail(right, 429)

    # Refresh per session: 2 per minute.
    register(client, email="bob@example.com")
    refresh_token = token_login(client, "bob@example.com")["refresh_token"]
    for _ in range(2):
        response = refresh_by_body(client, refresh_token)
        assert response.status_code == 200
        refresh_token = response.json["refresh_token"]
    assert_fail(refresh_by_body(client, refresh_token), 429)

    # The counters are on the cluster's masters, not on the single test server.
    counters = [key for master in cluster.masters() for key in master.execute("KEYS", "LIMITS*")]
    assert any("refresh" in key for key in counters), counters
    assert redis_client.keys("LIMITS*") == []
    # Failed password checks are counted by authapi.lockout's own script, on the cluster.
    lockout = [key for master in cluster.masters() for key in master.execute("KEYS", "*lockout*")]
    assert any(key.endswith(":account") for key in lockout), lockout
    assert redis_client.keys("*lockout*") == []


# -- failover --------------------------------------------------------------------------


def _replica_of(cluster: RedisCluster, master: RedisServer) -> RedisServer:
    for server in cluster.live_servers():
        role = server.execute("ROLE")
        if role[0] == "slave" and int(role[2]) == master.port:
            return server
    raise AssertionError(f"no replica of {master!r}")


@pytest.mark.live_server
def test_a_killed_master_costs_503s_until_its_replica_takes_over(make_app, live_server):
    """Kill the master owning two users' slots. Until its replica is promoted, requests
    for those users are 503 JSON (never 500); then service resumes with no restart. The
    session that reached the replica survives; the one that had not (replication is
    asynchronous) is gone: a clean 401, and the user logs in again."""
    require_redis_binaries()
    with limiter_state_restored(), RedisCluster() as cluster:
        app = _cluster_app_factory(make_app, cluster)()
        client = app.test_client()
        by_master = _register_until_every_master_has_users(client, cluster, with_a_pair=True)
        doomed_port = next(port for port, users in by_master.items() if len(users) >= 2)
        survivor, lost = by_master[doomed_port][:2]
        bystander = next(users[0] for port, users in by_master.items() if port != doomed_port)
        tokens = {
            user["email"]: token_login(client, user["email"])
            for user in (survivor, lost, bystander)
        }
        doomed = cluster.server_for_port(doomed_port)
        replica = _replica_of(cluster, doomed)

        # The lost user's keys exist on the master only; everything else reached the replica.
        lost_keys = unreplicate(doomed, user_keys_pattern(lost["id"]))
        assert not any(exists_on(replica, key, cluster=True) for key in lost_keys)
        survivor_session = (
            f"authapi:{{u:{survivor['id']}}}:session:"
            f"{claims(tokens[survivor['email']]['access_token'])['sid']}"
        )
        assert exists_on(replica, survivor_session, cluster=True)

        server = live_server(app)
        survivor_token = tokens[survivor["email"]]["access_token"]
        bystander_token = tokens[bystander["email"]]["access_token"]
        with (
            Traffic(server.url, survivor_token) as traffic,
            Traffic(server.url, bystander_token) as elsewhere,
        ):
            killed = cluster.kill_master_for_key(user_tag_key(survivor["id"]))
            killed_at = time.monotonic()
            assert killed is doomed
            # The slot has no reachable master: a clean 503, for reads and for refresh.
            for response in (
                client.get("/api/users/me", headers=bearer(survivor_token)),
                refresh_by_body(client, tokens[survivor["email"]]["refresh_token"]),
                client.post(
                    "/api/auth/login", json={"email": survivor["email"], "password": PASSWORD}
                ),
            ):
                assert_fail(response, 503, UNAVAILABLE)
                assert response.headers["Retry-After"]

            promoted = cluster.wait_for_failover(user_tag_key(survivor["id"]))
            gap = time.monotonic() - killed_at  # reported, never asserted
            recovered_at, elsewhere_recovered_at = traffic.mark(), elsewhere.mark()
            # The very next requests succeed, on the same app: no restart.
            assert client.get("/api/users/me", headers=bearer(survivor_token)).status_code == 200
            for _ in range(20):
                assert live_status(server.url, "/api/users/me", survivor_token) == 200
                assert live_status(server.url, "/api/users/me", bystander_token) == 200

        assert promoted is replica
        # The request each client had in flight when the failover completed may still
        # be a 503; every request started after it is a 200.
        during, since = traffic.counts(0, recovered_at), traffic.counts(recovered_at + 1)
        # Users on the other masters: served, or 503 while the cluster says it is down.
        elsewhere_during = elsewhere.counts(0, elsewhere_recovered_at)
        elsewhere_since = elsewhere.counts(elsewhere_recovered_at + 1)
        print(
            f"\ncluster failover after {gap:.1f}s: the killed master's user "
            f"{dict(during)} during the gap, {dict(since)} after; another master's user "
            f"{dict(elsewhere_during)} during, {dict(elsewhere_since)} after; slowest "
            f"requests {traffic.slowest():.2f}s and {elsewhere.slowest():.2f}s"
        )
        assert set(during) <= {200, 503}, during
        assert during[503] >= 1
        assert set(since) <= {200}, since
        assert set(elsewhere_during) <= {200, 503}, elsewhere_during
        assert set(elsewhere_since) <= {200}, elsewhere_since

        refreshed = refresh_by_body(client, tokens[survivor["email"]]["refresh_token"])
        assert refreshed.status_code == 200
        assert claims(refreshed.json["refresh_token"])["gen"] == 1

        # The session that had not reached the replica is gone: 401/403, never a 500.
        lost_tokens = tokens[lost["email"]]
        response = client.get("/api/users/me", headers=bearer(lost_tokens["access_token"]))
        assert_fail(response, 401, SESSION_ENDED)
        assert_fail(refresh_by_body(client, lost_tokens["refresh_token"]), 403, REFRESH_FAILED)
        again = token_login(client, lost["email"])
        assert client.get("/api/users/me", headers=bearer(again["access_token"])).status_code == 200

        assert client.get("/api/users/me", headers=bearer(bystander_token)).status_code == 200

        # No node left at all: redis-py raises RedisClusterException (not a RedisError).
        for node in cluster.live_servers():
            node.kill()
        assert_fail(client.get("/api/users/me", headers=bearer(bystander_token)), 503, UNAVAILABLE)
        assert_fail(client.get("/api/health/ready"), 503, UNAVAILABLE)
        app.extensions["redis"].close()
