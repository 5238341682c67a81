"""Shared by the Redis Cluster and Sentinel suites: real servers, HTTP flows, failover aids."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import jwt
import pytest
import redis

from tests.helpers import HANG, bearer
from tests.support.redis_servers import RedisServer

UNAVAILABLE = "Service temporarily unavailable, please retry shortly"
SESSION_ENDED = "Invalid token or session has expired"
REFRESH_FAILED = "Could not refresh access token"


def require_redis_binaries() -> None:
    """These suites start real servers: without them they fail (never skip)."""
    missing = [name for name in ("redis-server", "redis-cli") if shutil.which(name) is None]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: the Redis Cluster and Sentinel tests start "
            "real servers. Install them (Debian/Ubuntu: apt-get install redis-server "
            "redis-tools; .ci/run does it), or deselect with -m 'not redis_cluster and "
            "not redis_sentinel'.",
            pytrace=False,
        )


# -- HTTP ------------------------------------------------------------------------------


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def user_keys_pattern(user_id: str) -> str:
    """Every key of one user carries the ``{u:<id>}`` hash tag (authapi.sessions)."""
    return f"authapi:{{u:{user_id}}}:*"


def user_tag_key(user_id: str) -> str:
    """A key in the user's hash slot (for asking the cluster who owns that slot)."""
    return f"authapi:{{u:{user_id}}}:sessions"


def live_status(url: str, path: str, token: str) -> int:
    """GET ``path`` on a live server with a Bearer token; 5xx must still be JSON."""
    request = Request(f"{url}{path}", headers=bearer(token))
    try:
        with urlopen(request, timeout=HANG) as response:
            return response.status
    except HTTPError as error:
        assert error.headers["Content-Type"] == "application/json", error.read()
        json.loads(error.read())
        return error.code


def live_refresh(url: str, refresh_token: str) -> tuple[int, dict[str, Any]]:
    request = Request(
        f"{url}/api/auth/refresh",
        data=json.dumps({"refresh_token": refresh_token}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urlopen(request, timeout=HANG) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        return error.code, json.loads(error.read())


class Traffic:
    """A background client calling GET /api/users/me in a loop (no pause: each request
    is the pace) until stopped; counts the statuses, in order of arrival."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.statuses: list[int] = []
        self.durations: list[float] = []  # seconds, for the report only
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            status = live_status(self.url, "/api/users/me", self.token)
            self.durations.append(time.monotonic() - started)
            self.statuses.append(status)

    def slowest(self) -> float:
        return max(self.durations, default=0.0)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=HANG)

    def mark(self) -> int:
        return len(self.statuses)

    def counts(self, start: int = 0, end: int | None = None) -> Counter[int]:
        return Counter(self.statuses[start:end])


# -- async replication, made deterministic ----------------------------------------------

# Copies the keys' values aside, deletes them (replicated), then restores them on this
# node only (redis.set_repl(REPL_NONE)): the master keeps the data and its replicas lose
# it, exactly what a write the master never got to send before it died looks like.
_KEEP_ON_MASTER_ONLY = """
local saved = {}
for i, key in ipairs(KEYS) do
  saved[i] = {redis.call('DUMP', key), redis.call('PTTL', key)}
  redis.call('DEL', key)
end
redis.set_repl(redis.REPL_NONE)
for i, key in ipairs(KEYS) do
  local ttl = saved[i][2]
  if ttl < 0 then ttl = 0 end
  redis.call('RESTORE', key, ttl, saved[i][1])
end
return #KEYS
"""


def unreplicate(master: RedisServer, pattern: str) -> list[str]:
    """Make the keys matching ``pattern`` exist on ``master`` only, and wait until its
    replica has everything else (WAIT on the same connection), so the test knows
    exactly what a failover keeps: every other write, and not these keys."""
    with redis.Redis(
        host=master.host,
        port=master.port,
        socket_timeout=5,
        single_connection_client=True,
        decode_responses=True,
    ) as connection:
        keys = sorted(connection.keys(pattern))
        assert keys, f"no keys match {pattern} on {master!r}"
        connection.eval(_KEEP_ON_MASTER_ONLY, len(keys), *keys)
        assert connection.execute_command("WAIT", 1, 5000) == 1
    return keys


# KEYS[1]: a key; ARGV[1]: an earlier DUMP of it. The replica gets the earlier value
# back (replicated RESTORE), the master keeps the current one (RESTORE not replicated):
# the master's last write to the key never reached the replica.
_REWIND_ON_REPLICAS = """
local current = redis.call('DUMP', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
redis.call('RESTORE', KEYS[1], ttl, ARGV[1], 'REPLACE')
redis.set_repl(redis.REPL_NONE)
redis.call('RESTORE', KEYS[1], ttl, current, 'REPLACE')
return 1
"""


def dump(master: RedisServer, key: str) -> bytes:
    with redis.Redis(host=master.host, port=master.port, socket_timeout=5) as connection:
        value = connection.dump(key)
    assert value is not None, f"{key} is not on {master!r}"
    return value


def rewind_on_replica(master: RedisServer, key: str, earlier: bytes) -> None:
    """The replica holds ``key`` as it was when ``earlier`` was dumped; the master keeps
    its current value: the write(s) since were lost to asynchronous replication."""
    with redis.Redis(
        host=master.host, port=master.port, socket_timeout=5, single_connection_client=True
    ) as connection:
        connection.eval(_REWIND_ON_REPLICAS, 1, key, earlier)
        assert connection.execute_command("WAIT", 1, 5000) == 1


def exists_on(server: RedisServer, key: str, *, cluster: bool) -> bool:
    """EXISTS on that very node (a cluster replica answers reads after READONLY)."""
    with redis.Redis(
        host=server.host, port=server.port, socket_timeout=2, single_connection_client=True
    ) as connection:
        if cluster:
            connection.execute_command("READONLY")
        return bool(connection.exists(key))
