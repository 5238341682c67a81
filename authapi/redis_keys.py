"""The Redis plumbing the stores share (sessions, account codes, and any new one):
key names under ``REDIS_KEY_PREFIX`` and Lua scripts registered once per app.

A user's keys carry the ``{u:<user id>}`` hash tag, so a multi-key script over one
user's keys runs on a Redis Cluster without CROSSSLOT errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from flask import current_app
from hiredis import pack_command

from authapi.extensions import redis_store
from authapi.redis_connection import KernelTimeoutConnection

SCRIPTS_KEY = "authapi.scripts"


def key(*parts: str) -> str:
    """``<prefix>:<part>:<part>...``"""
    return ":".join((current_app.config["REDIS_KEY_PREFIX"], *parts))


def user_key(user_id: str, *parts: str) -> str:
    """``<prefix>:{u:<user id>}:<part>...``: one user's keys share a cluster slot."""
    return key(f"{{u:{user_id}}}", *parts)


def script(source: str) -> Any:
    """The Lua script, ready to run on this app's Redis (made on first use): called as
    ``script(source)(keys=[...], args=[...])``, by EVALSHA, loading it again if the
    server lost it."""
    scripts = current_app.extensions.setdefault(SCRIPTS_KEY, {})
    if source not in scripts:
        scripts[source] = script_for(redis_store.client, source)
    return scripts[source]


def script_for(client: Any, source: str) -> Any:
    """``source`` as a script of ``client``: a :class:`PooledScript` for a ``redis://``
    server, redis-py's own Script for the others (a Cluster, Sentinel, TLS, a Unix
    socket, the embedded fakeredis)."""
    pool = getattr(client, "connection_pool", None)
    if issubclass(getattr(pool, "connection_class", object), KernelTimeoutConnection):
        return PooledScript(client, source)
    return client.register_script(source)


class PooledScript:
    """A Lua script run on a connection of a ``redis://`` client's pool, without going
    through redis-py's command path.

    Every authenticated request runs the session check's script, and redis-py 8 wraps
    each command in work this app never uses (OpenTelemetry duration and error
    recording, a check for its HIMPORT command, closures for the retry): 53 us of
    client CPU per EVALSHA through redis-py's Script here, 31 us this way
    (docs/performance.md, change 16). What the command path is for is kept: the
    client's retry policy (one immediate retry on a connection or timeout error, after
    closing the connection that failed), the pool's hand-out and release, and the same
    errors (``redis.ConnectionError``, ``redis.TimeoutError``, ``redis.ResponseError``).
    A server that lost its scripts (a restart, ``SCRIPT FLUSH``) gets the source by
    EVAL, which caches it again.
    """

    def __init__(self, client: redis.Redis, source: str) -> None:
        self.source = source
        self.sha = client.register_script(source).sha
        self._pool = client.connection_pool

    def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        pool = self._pool
        connection = pool.get_connection()
        try:
            return connection.retry.call_with_retry(
                lambda: self._run(connection, keys, args), lambda _: connection.disconnect()
            )
        finally:
            pool.release(connection)

    def _run(self, connection: Any, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        # Packed by hiredis itself, as redis-py's packer does once it has looked at each
        # argument for bytearrays and memoryviews (ours are str, int and float).
        connection.send_packed_command(
            [pack_command(("EVALSHA", self.sha, len(keys), *keys, *args))]
        )
        try:
            return connection.read_response()
        except redis.exceptions.NoScriptError:
            connection.send_packed_command(
                [pack_command(("EVAL", self.source, len(keys), *keys, *args))]
            )
            return connection.read_response()
