"""Naming Redis: exactly one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS (+ master),
each built with explicit timeouts and one retry. No Redis server needed here."""

from __future__ import annotations

import pytest
import redis
from flask import Flask
from redis.exceptions import RedisClusterException

from authapi.configuration import ConfigurationError, load_config
from authapi.redis_connection import (
    KernelTimeoutConnection,
    make_redis_client,
    parse_addresses,
    rate_limit_storage,
)
from config import Config
from tests.helpers import PASSWORD, assert_fail
from tests.redis_topology import UNAVAILABLE
from tests.support.limiter_state import limiter_state_restored

SENTINELS = {
    "REDIS_URL": "",
    "REDIS_SENTINELS": "127.0.0.1:1, 127.0.0.1:2",
    "REDIS_SENTINEL_MASTER": "mymaster",
}


def _configured(overrides: dict, tmp_path) -> dict:
    app = Flask(__name__, instance_path=str(tmp_path))
    load_config(app, {"APP_ENV": "testing", **overrides})
    return dict(app.config)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"REDIS_URL": "redis://h:6379/0", "REDIS_CLUSTER_NODES": "h:7000"}, "REDIS_URL, REDIS_"),
        ({"REDIS_URL": "redis://h:6379/0", **{k: v for k, v in SENTINELS.items() if v}}, "URL"),
        ({"REDIS_CLUSTER_NODES": "h:7000", **SENTINELS}, "REDIS_CLUSTER_NODES, REDIS_SENTINELS"),
    ],
)
def test_two_ways_of_naming_redis_is_a_startup_error(overrides, named, tmp_path):
    with pytest.raises(ConfigurationError, match="exactly one of REDIS_URL") as error:
        _configured(overrides, tmp_path)
    assert "more than once" in str(error.value) and named in str(error.value)


def test_the_same_conflict_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("REDIS_CLUSTER_NODES", "127.0.0.1:7000,127.0.0.1:7001")
    with pytest.raises(ConfigurationError, match=r"REDIS_URL, REDIS_CLUSTER_NODES"):
        _configured({}, tmp_path)
    # An empty variable is an unset one: REDIS_URL= leaves the cluster alone.
    monkeypatch.setenv("REDIS_URL", "")
    config = _configured({}, tmp_path)
    assert config["REDIS_CLUSTER_NODES"] == ("127.0.0.1:7000", "127.0.0.1:7001")
    assert config["RATELIMIT_STORAGE_URI"] == "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"


def test_the_default_redis_url_does_not_count_as_naming_redis(tmp_path):
    config = _configured({"REDIS_URL": "", "REDIS_CLUSTER_NODES": "h:7000"}, tmp_path)
    assert config["RATELIMIT_STORAGE_URI"] == "redis+cluster://h:7000"
    assert _configured({}, tmp_path)["REDIS_URL"] == "redis://127.0.0.1:6379/15"  # testing


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"REDIS_URL": "", "REDIS_SENTINELS": "h:26379"}, "needs REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINEL_MASTER": "mymaster"}, "REDIS_SENTINEL_MASTER is set but REDIS_SENT"),
        ({"REDIS_SENTINEL_PASSWORD": "x"}, "REDIS_SENTINEL_PASSWORD is set but REDIS_SENT"),
        ({"REDIS_URL": "", "REDIS_CLUSTER_NODES": "h:7000,h"}, "REDIS_CLUSTER_NODES: expected"),
        ({"REDIS_URL": "", "REDIS_CLUSTER_NODES": "h:99999"}, "got 'h:99999'"),
        ({**SENTINELS, "REDIS_SENTINELS": "h:x"}, "REDIS_SENTINELS: expected host:port"),
        ({"REDIS_PASSWORD": "x"}, "the password goes in the URL"),
        ({"REDIS_URL": ""}, "REDIS_URL is empty"),
    ],
)
def test_incomplete_or_malformed_redis_settings_say_what_to_fix(overrides, message, tmp_path):
    with pytest.raises(ConfigurationError, match=message):
        _configured(overrides, tmp_path)


def test_parse_addresses():
    assert parse_addresses(" a:1, b:2 ,") == [("a", 1), ("b", 2)]
    assert parse_addresses(("a:1", "[::1]:7000")) == [("a", 1), ("::1", 7000)]
    for bad in ("", "a", "a:", ":1", "a:0", "a:b"):
        with pytest.raises(ValueError, match="host:port"):
            parse_addresses(bad)


def _limits_of(options: dict) -> tuple[float, float, int]:
    return (
        options["socket_timeout"],
        options["socket_connect_timeout"],
        options["retry"].get_retries(),
    )


def test_rate_limit_storage_follows_the_topology():
    base = {"REDIS_SOCKET_TIMEOUT": 1.0, "REDIS_URL": "redis://h:6379/3"}
    uri, options = rate_limit_storage(base)
    assert uri == "redis://h:6379/3" and set(options) == {
        "socket_timeout",
        "socket_connect_timeout",
        "retry",
        "connection_class",
    }
    assert _limits_of(options) == (1.0, 1.0, 1)
    assert options["connection_class"] is KernelTimeoutConnection

    cluster = {**base, "REDIS_CLUSTER_NODES": ("a:7000", "b:7001"), "REDIS_PASSWORD": "pw"}
    uri, options = rate_limit_storage(cluster)
    assert uri == "redis+cluster://a:7000,b:7001"
    assert options["password"] == "pw" and _limits_of(options) == (1.0, 1.0, 1)

    sentinel = {
        **base,
        "REDIS_SENTINELS": "a:26379,b:26379",
        "REDIS_SENTINEL_MASTER": "mymaster",
        "REDIS_SENTINEL_PASSWORD": "spw",
    }
    uri, options = rate_limit_storage(sentinel)
    assert uri == "redis+sentinel://a:26379,b:26379/mymaster"
    assert options["use_replicas"] is False  # counters are read from the master
    assert "password" not in options
    assert options["sentinel_kwargs"]["password"] == "spw"
    assert _limits_of(options["sentinel_kwargs"]) == (1.0, 1.0, 1)


def test_single_server_client_keeps_explicit_timeouts_and_one_retry():
    client = make_redis_client({**vars(Config), "REDIS_URL": "redis://127.0.0.1:1/0"})
    kwargs = client.connection_pool.connection_kwargs
    assert type(client) is redis.Redis
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (1.0, 1.0)
    assert kwargs["retry"].get_retries() == 1 and kwargs["decode_responses"] is True


def test_sentinel_client_has_explicit_limits_for_master_and_sentinels():
    config = {
        **vars(Config),
        **SENTINELS,
        "REDIS_PASSWORD": "data-pw",
        "REDIS_SENTINEL_PASSWORD": "sentinel-pw",
    }
    client = make_redis_client(config)  # connects on first use: no server needed
    kwargs = client.connection_pool.connection_kwargs
    assert type(client.connection_pool).__name__ == "SentinelConnectionPool"
    assert client.connection_pool.service_name == "mymaster"
    assert (kwargs["socket_timeout"], kwargs["retry"].get_retries()) == (1.0, 1)
    assert kwargs["password"] == "data-pw" and kwargs["decode_responses"] is True
    sentinels = client.connection_pool.sentinel_manager.sentinels
    assert len(sentinels) == 2
    for sentinel in sentinels:
        sentinel_kwargs = sentinel.connection_pool.connection_kwargs
        assert sentinel_kwargs["socket_connect_timeout"] == 1.0
        assert sentinel_kwargs["retry"].get_retries() == 1
        assert sentinel_kwargs["password"] == "sentinel-pw"


def test_unreachable_sentinels_are_503_not_500(make_app):
    with limiter_state_restored():
        client = make_app(**SENTINELS, RATELIMIT_ENABLED=True).test_client()
        response = client.post(
            "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
        )
        assert_fail(response, 503, UNAVAILABLE)
        assert "Set-Cookie" not in response.headers
        assert_fail(client.get("/api/health/ready"), 503, UNAVAILABLE)
        assert_fail(client.get("/api/users/me", headers={"Authorization": "Bearer x.y.z"}), 401)


def test_an_unreachable_cluster_fails_the_start_with_redis_py_message(make_app):
    """redis-py's cluster client reads the slot map when it is built."""
    with pytest.raises(RedisClusterException, match="Redis Cluster cannot be connected"):
        make_app(REDIS_URL="", REDIS_CLUSTER_NODES="127.0.0.1:1")
