"""Embedded development mode: SQLite in ``instance/`` and an in-process Redis.

On a machine with only Python, ``make run`` still serves the whole API. In
development, when DATABASE_URL / REDIS_URL are not set and the default local
server does not answer, the app falls back to SQLite and to fakeredis (a Redis
emulation that runs the same Lua scripts). ``REDIS_URL=memory://`` asks for the
emulation explicitly. The emulation lives in one process, so run one gunicorn
worker (threads are fine). Production refuses both.
"""

from __future__ import annotations

import socket
from functools import lru_cache
from pathlib import Path
from typing import Any

from redis.connection import parse_url
from sqlalchemy import make_url

MEMORY_REDIS_URL = "memory://"
SQLITE_FILE = "authapi.sqlite3"


def is_memory_redis(url: str) -> bool:
    return url.startswith(MEMORY_REDIS_URL)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    """Does something accept TCP connections there?"""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _database_reachable(url: str) -> bool:
    parsed = make_url(url)
    return reachable(parsed.host or "127.0.0.1", parsed.port or 5432)


def _redis_reachable(url: str) -> bool:
    parsed = parse_url(url)
    return reachable(parsed.get("host", "127.0.0.1"), int(parsed.get("port", 6379)))


def choose_backends(config: dict[str, Any], explicit: set[str], instance_path: str) -> None:
    """In development, fall back to embedded backends for unset, unreachable servers."""
    if config["APP_ENV"] != "development":
        return
    if "SQLALCHEMY_DATABASE_URI" not in explicit and not _database_reachable(
        config["SQLALCHEMY_DATABASE_URI"]
    ):
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(instance_path) / SQLITE_FILE}"
    redis_named_otherwise = config.get("REDIS_CLUSTER_NODES") or config.get("REDIS_SENTINELS")
    if (
        "REDIS_URL" not in explicit
        and not redis_named_otherwise
        and not _redis_reachable(config["REDIS_URL"])
    ):
        config["REDIS_URL"] = MEMORY_REDIS_URL


def describe(config: dict[str, Any]) -> list[str]:
    """The embedded backends in use, for the start-up log line (empty: none)."""
    described = []
    if is_sqlite(config["SQLALCHEMY_DATABASE_URI"]):
        described.append(f"SQLite ({config['SQLALCHEMY_DATABASE_URI']})")
    if is_memory_redis(config["REDIS_URL"]):
        described.append("an in-process Redis emulation (run a single process)")
    return described


# fakeredis (and lupa, its Lua runtime) are imported only when this mode is used.


@lru_cache(maxsize=1)
def _shared_server() -> Any:
    import fakeredis

    return fakeredis.FakeServer()


def memory_redis_client() -> Any:
    """A fakeredis client on the process-wide emulated server."""
    import fakeredis

    return fakeredis.FakeRedis(server=_shared_server(), decode_responses=True)
