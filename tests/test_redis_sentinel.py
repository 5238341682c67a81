"""authapi on Redis Sentinel (one master, one replica, three sentinels), through HTTP.

The app names the sentinels and the master's name, never the master's address, so a
failover needs no change on our side: redis-py asks the sentinels where the master is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis
from flask import Flask

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
    dump,
    exists_on,
    live_status,
    require_redis_binaries,
    rewind_on_replica,
    unreplicate,
    user_keys_pattern,
)
from tests.support.limiter_state import limiter_state_restored
from tests.support.redis_servers import RedisSentinelSetup

pytestmark = pytest.mark.redis_sentinel

RATE_LIMITED = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_LOGIN_PER_ADDRESS": "100 per minute",
    "RATELIMIT_LOGIN_PER_ACCOUNT": "3 per 5 minutes",
}


@pytest.fixture(scope="module")
def sentinel_setup() -> Iterator[RedisSentinelSetup]:
    require_redis_binaries()
    with limiter_state_restored(), RedisSentinelSetup() as running:
        yield running


def _sentinel_app_factory(make_app, setup: RedisSentinelSetup) -> Callable[..., Flask]:
    sentinels = ",".join(f"{host}:{port}" for host, port in setup.sentinels)

    def build(**overrides) -> Flask:
        # REDIS_URL="" unsets the test suite's REDIS_URL: exactly one Redis may be named.
        return make_app(
            REDIS_URL="",
            REDIS_SENTINELS=sentinels,
            REDIS_SENTINEL_MASTER=setup.master_name,
            **overrides,
        )

    return build


@pytest.fixture
def on_sentinel(make_app, sentinel_setup) -> Iterator[Callable[..., Flask]]:
    sentinel_setup.current_master().execute("FLUSHALL")
    built: list[Flask] = []
    build = _sentinel_app_factory(make_app, sentinel_setup)

    def factory(**overrides) -> Flask:
        app = build(**overrides)
        built.append(app)
        return app

    yield factory
    for app in built:
        app.extensions["redis"].close()


def test_the_app_uses_a_sentinel_managed_client(on_sentinel, sentinel_setup):
    app = on_sentinel()
    client = app.extensions["redis"]
    assert isinstance(client, redis.Redis)
    assert type(client.connection_pool).__name__ == "SentinelConnectionPool"
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["retry"].get_retries()) == (1.0, 1)
    assert app.config["RATELIMIT_STORAGE_URI"].endswith(f"/{sentinel_setup.master_name}")
    assert app.config["RATELIMIT_STORAGE_URI"].startswith("redis+sentinel://")


def test_contract_flow_through_sentinel(on_sentinel, sentinel_setup, redis_client):
    client = on_sentinel().test_client()
    user = register(client)
    token = login(client)
    assert client.get("/api/users/me").json["data"]["user"]["id"] == user["id"]
    assert client.get("/api/auth/refresh").status_code == 200
    assert len(client.get("/api/auth/sessions").json["data"]["sessions"]) == 1
    session_key = f"authapi:{{u:{user['id']}}}:session:{claims(token)['sid']}"
    assert sentinel_setup.current_master().execute("EXISTS", session_key) == 1
    assert redis_client.keys("*") == []

    refresh_token = token_login(client, "alice@example.com")["refresh_token"]
    rotated = refresh_by_body(client, refresh_token)
    assert rotated.status_code == 200 and claims(rotated.json["refresh_token"])["gen"] == 1
    assert client.get("/api/auth/logout?scope=global").status_code == 200
    assert_fail(client.get("/api/users/me", headers=bearer(token)), 401, SESSION_ENDED)
    assert client.get("/api/health/ready").status_code == 200


def test_rate_limits_are_counted_on_the_sentinel_master(on_sentinel, sentinel_setup, redis_client):
    client = on_sentinel(**RATE_LIMITED).test_client()
    register(client)
    wrong = {"email": "alice@example.com", "password": "wrong password"}
    for _ in range(3):
        assert_fail(client.post("/api/auth/login", json=wrong), 400)
    assert_fail(client.post("/api/auth/login", json=wrong), 429)
    counters = sentinel_setup.current_master().execute("KEYS", "LIMITS*")
    assert any("login-account" in key for key in counters), counters
    assert redis_client.keys("LIMITS*") == []


@pytest.mark.live_server
def test_a_killed_master_costs_503s_until_sentinel_promotes_the_replica(make_app, live_server):
    """Kill the master: 503 JSON until the sentinels promote the replica, then service
    resumes on it with no restart. The session that reached the replica survives; the
    one that had not (asynchronous replication) is a clean 401."""
    require_redis_binaries()
    with limiter_state_restored(), RedisSentinelSetup() as setup:
        app = _sentinel_app_factory(make_app, setup)(**RATE_LIMITED)
        client = app.test_client()
        survivor = register(client, email="survivor@example.com")
        lost = register(client, email="lost@example.com")
        behind = register(client, email="behind@example.com")
        tokens = {
            user["email"]: token_login(client, user["email"]) for user in (survivor, lost, behind)
        }
        master, replica = setup.master, setup.replica

        # A login that never reached the replica.
        lost_keys = unreplicate(master, user_keys_pattern(lost["id"]))
        assert not any(exists_on(replica, key, cluster=False) for key in lost_keys)
        # A refresh rotation that never reached the replica: it keeps generation 0.
        rotated_session = (
            f"authapi:{{u:{behind['id']}}}:session:"
            f"{claims(tokens['behind@example.com']['access_token'])['sid']}"
        )
        before_rotation = dump(master, rotated_session)
        rotated_tokens = refresh_by_body(client, tokens["behind@example.com"]["refresh_token"])
        assert claims(rotated_tokens.json["refresh_token"])["gen"] == 1
        rewind_on_replica(master, rotated_session, before_rotation)
        with redis.Redis(port=replica.port, decode_responses=True) as on_replica:
            assert on_replica.hget(rotated_session, "gen") == "0"

        server = live_server(app)
        survivor_token = tokens["survivor@example.com"]["access_token"]
        with Traffic(server.url, survivor_token) as traffic:
            assert setup.kill_master() is master
            killed_at = time.monotonic()
            for response in (
                client.get("/api/users/me", headers=bearer(survivor_token)),
                refresh_by_body(client, tokens["survivor@example.com"]["refresh_token"]),
                client.post(
                    "/api/auth/login", json={"email": survivor["email"], "password": PASSWORD}
                ),
            ):
                assert_fail(response, 503, UNAVAILABLE)
                assert response.headers["Retry-After"]

            promoted = setup.wait_for_failover()
            gap = time.monotonic() - killed_at  # reported, never asserted
            recovered_at = traffic.mark()
            assert client.get("/api/users/me", headers=bearer(survivor_token)).status_code == 200
            for _ in range(20):
                assert live_status(server.url, "/api/users/me", survivor_token) == 200

        assert promoted is replica
        # The request in flight when the failover completed may still be a 503; every
        # request started after it is a 200.
        during, since = traffic.counts(0, recovered_at), traffic.counts(recovered_at + 1)
        print(
            f"\nsentinel failover after {gap:.1f}s: {dict(during)} during, {dict(since)} after;"
            f" slowest request {traffic.slowest():.2f}s"
        )
        assert set(during) <= {200, 503}, during
        assert during[503] >= 1
        assert set(since) <= {200}, since

        rotated = refresh_by_body(client, tokens["survivor@example.com"]["refresh_token"])
        assert rotated.status_code == 200 and claims(rotated.json["refresh_token"])["gen"] == 1

        lost_tokens = tokens["lost@example.com"]
        response = client.get("/api/users/me", headers=bearer(lost_tokens["access_token"]))
        assert_fail(response, 401, SESSION_ENDED)
        assert_fail(refresh_by_body(client, lost_tokens["refresh_token"]), 403, REFRESH_FAILED)
        again = token_login(client, lost["email"])
        assert client.get("/api/users/me", headers=bearer(again["access_token"])).status_code == 200

        # The lost rotation: the client's newest refresh token is a generation the session
        # never issued. Refused (403), without revoking: its access token keeps working
        # until it expires, then the user logs in again.
        ahead = rotated_tokens.json
        assert_fail(refresh_by_body(client, ahead["refresh_token"]), 403, REFRESH_FAILED)
        assert client.get("/api/users/me", headers=bearer(ahead["access_token"])).status_code == 200
        again = token_login(client, behind["email"])
        assert client.get("/api/users/me", headers=bearer(again["access_token"])).status_code == 200

        # Rate limiting works on the promoted master too (its counters may have restarted).
        wrong = {"email": "lost@example.com", "password": "wrong password"}
        statuses = [client.post("/api/auth/login", json=wrong).status_code for _ in range(4)]
        assert statuses[-1] == 429 and set(statuses) <= {400, 429}, statuses
        assert setup.current_master().execute("KEYS", "LIMITS*")
        app.extensions["redis"].close()
