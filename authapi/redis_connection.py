"""The Redis client for each Redis topology: one server, a Redis Cluster, or Sentinel.

Exactly one is configured (``configuration.check_config`` refuses anything else):

- ``REDIS_URL``: one server (``redis.Redis``);
- ``REDIS_CLUSTER_NODES``: a Redis Cluster, named by some of its nodes
  (``redis.cluster.RedisCluster``, which discovers the rest and follows failovers);
- ``REDIS_SENTINELS`` + ``REDIS_SENTINEL_MASTER``: a master watched by Sentinel
  (``redis.sentinel.Sentinel(...).master_for(...)``, which asks the sentinels where
  the master is on every new connection, so it follows a failover).

Every client gets the same explicit limits: ``REDIS_SOCKET_TIMEOUT`` for connecting
and for each reply, and one retry without backoff. redis-py 8 defaults to 5 s and 10
retries with backoff, which would let one request outlive the worker timeout. Replies
are decoded to ``str``. The rate limiter gets the same topology and limits through
:func:`rate_limit_storage`.

A ``redis://`` server (the app's client and the rate limiter's) is reached through
:class:`KernelTimeoutConnection`, which keeps that timeout without a ``poll()`` before
each send and receive (see its docstring).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

URL = "url"
CLUSTER = "cluster"
SENTINEL = "sentinel"

HEALTH_CHECK_INTERVAL = 30  # seconds: a connection idle longer is PINGed before reuse


class KernelTimeoutConnection(redis.Connection):
    """A TCP connection to Redis whose reply timeout the kernel keeps.

    Python enforces a socket's timeout by polling the socket before every send and every
    receive, and redis-py's pool polls each connection it hands out for unread bytes:
    three ``poll()`` calls per command besides the send and the receive. Each lets go of
    the GIL, and under load a thread that lets go of it waits behind the worker's other
    threads to get it back (4 threads running the session check's script in one process:
    about 9 us of CPU less per call, ``bench/hotpath.py``). Here the
    socket is blocking, with the same timeout set as SO_RCVTIMEO/SO_SNDTIMEO, and the
    hand-out check only looks at bytes already read (redis-py disconnects a connection
    on any error while sending or reading, so none goes back to the pool half-read; a
    connection the server closed is found by the health check of a connection idle for
    HEALTH_CHECK_INTERVAL, or fails the command, which the one retry sends again on a new
    connection). A reply that does not come in time is still a ``redis.TimeoutError``.
    """

    def __init__(self, *, socket_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(socket_timeout=None, **kwargs)
        self.reply_timeout = socket_timeout

    def _connect(self) -> socket.socket:
        sock = super()._connect()  # connected, and blocking (socket_timeout None)
        if self.reply_timeout:
            whole, fraction = divmod(self.reply_timeout, 1)
            timeval = struct.pack("ll", int(whole), int(fraction * 1_000_000))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
        return sock

    def connect(self) -> None:
        """Connect and handshake once: the command's one retry is the only one. redis-py
        retries the whole connection with the same policy inside each attempt, so a
        Redis that accepts connections but never answers (frozen) cost four timeouts."""
        self.connect_check_health(check_health=True, retry_socket_connect=False)

    def can_read(self, timeout: float = 0) -> bool:
        if timeout or self._sock is None:
            return super().can_read(timeout)
        reader = getattr(self._parser, "_reader", None)
        return bool(reader is not None and reader.has_data())

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().read_response(*args, **kwargs)
        except redis.ConnectionError as error:
            # The kernel's timeout surfaces as EAGAIN, which redis-py reports as a
            # connection error; the connection is already closed.
            if isinstance(error.__context__, BlockingIOError):
                raise redis.TimeoutError("Timeout reading from socket") from None
            raise


class KernelTimeoutPool(redis.ConnectionPool):
    """The pool of a ``redis://`` client's :class:`KernelTimeoutConnection` s: the same
    hand-out and release, without redis-py 8's work per command that this app never uses.

    redis-py's pool records OpenTelemetry connection counts on every hand-out and release
    (four lookups that find observability off, and the pool's name built twice), passes
    each release to an event dispatcher (which re-authenticates connections for a
    streaming credential provider: this client has a password or none) and wraps
    ``get_connection`` in a deprecation check of its arguments: 7-12 us of a session
    check's 60-90 us of client CPU on a busy machine (docs/performance.md, change 20).
    What the pool is for is kept: fork safety (``_checkpid``), ``max_connections``, a
    connection handed out connected, one with unread bytes replaced, a connection not
    this pool's not taken back, one a maintenance notification marked reconnected at
    release.
    """

    def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> Any:
        self._checkpid()
        with self._lock:
            try:
                connection = self._available_connections.pop()
            except IndexError:
                connection = self.make_connection()
            self._in_use_connections.add(connection)
        try:
            connection.connect()
            if connection.can_read():  # bytes of a reply nobody read: start afresh
                connection.disconnect()
                connection.connect()
        except BaseException:
            self.release(connection)
            raise
        return connection

    def release(self, connection: Any) -> None:
        self._checkpid()
        with self._lock:
            try:
                self._in_use_connections.remove(connection)
            except KeyError:
                return  # not handed out by this pool (one made before a fork)
            if not self.owns_connection(connection):
                connection.disconnect()
                return
            if connection.should_reconnect():
                connection.disconnect()
            self._available_connections.append(connection)


def redis_mode(config: Mapping[str, Any]) -> str:
    """``"cluster"``, ``"sentinel"`` or ``"url"``: which topology the config names."""
    if config.get("REDIS_CLUSTER_NODES"):
        return CLUSTER
    if config.get("REDIS_SENTINELS"):
        return SENTINEL
    return URL


def address_list(value: str | Iterable[str]) -> list[str]:
    """The ``host:port`` entries of a comma-separated string (or of a sequence)."""
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item and item.strip()]


def parse_addresses(value: str | Iterable[str]) -> list[tuple[str, int]]:
    """``"host:port,host:port"`` -> ``[(host, port), ...]``.

    Raises ``ValueError`` naming the first entry that is not ``host:port``.
    """
    addresses = []
    for entry in address_list(value):
        host, _, port = entry.rpartition(":")
        host = host.strip("[]")  # [::1]:7000
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected host:port entries separated by commas, got {entry!r}")
        addresses.append((host, int(port)))
    if not addresses:
        raise ValueError("expected at least one host:port")
    return addresses


def _limits(config: Mapping[str, Any]) -> dict[str, Any]:
    """Socket timeouts and one immediate retry: a dead node costs about 2 timeouts."""
    timeout = float(config["REDIS_SOCKET_TIMEOUT"])
    return {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), retries=1),
    }


def _password(config: Mapping[str, Any], name: str) -> dict[str, str]:
    return {"password": config[name]} if config.get(name) else {}


def _sentinel_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """For the connections to the sentinels themselves (without these, redis-py would
    give them the library's default retries)."""
    return {**_limits(config), **_password(config, "REDIS_SENTINEL_PASSWORD")}


def make_redis_client(config: Mapping[str, Any]) -> Any:
    """The redis-py client for the configured topology (see the module docstring).

    A cluster client reads the slot map from the nodes when it is built, so a cluster
    that cannot be reached at all fails the start-up with redis-py's
    ``RedisClusterException``; the other two connect on first use.
    """
    mode = redis_mode(config)
    if mode == CLUSTER:
        return RedisCluster(
            startup_nodes=[
                ClusterNode(host, port)
                for host, port in parse_addresses(config["REDIS_CLUSTER_NODES"])
            ],
            decode_responses=True,
            **_limits(config),
            **_password(config, "REDIS_PASSWORD"),
        )
    if mode == SENTINEL:
        sentinel = Sentinel(
            parse_addresses(config["REDIS_SENTINELS"]),
            sentinel_kwargs=_sentinel_kwargs(config),
        )
        return sentinel.master_for(
            config["REDIS_SENTINEL_MASTER"],
            health_check_interval=HEALTH_CHECK_INTERVAL,
            decode_responses=True,
            **_limits(config),
            **_password(config, "REDIS_PASSWORD"),
        )
    url = config["REDIS_URL"]
    options = {
        "health_check_interval": HEALTH_CHECK_INTERVAL,
        "decode_responses": True,
        **_limits(config),
    }
    kernel_timeouts = _connection_class(url)
    if not kernel_timeouts:
        return redis.Redis.from_url(url, **options)
    pool = KernelTimeoutPool.from_url(url, **kernel_timeouts, **options)
    client = redis.Redis(connection_pool=pool)
    client.auto_close_connection_pool = True  # closed with the client, as from_url's
    return client


def _connection_class(url: str) -> dict[str, Any]:
    """KernelTimeoutConnection for a plain ``redis://`` URL; TLS and Unix sockets keep
    redis-py's own classes."""
    return {"connection_class": KernelTimeoutConnection} if urlsplit(url).scheme == "redis" else {}


def rate_limit_storage(config: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ``limits`` storage URI and options for the same topology and limits.

    ``redis+cluster://`` is limits' RedisClusterStorage (redis-py's RedisCluster);
    ``redis+sentinel://.../<master>`` is its RedisSentinelStorage, told to use the
    master only (counters read from a lagging replica would undercount).
    """
    mode = redis_mode(config)
    if mode == CLUSTER:
        nodes = ",".join(address_list(config["REDIS_CLUSTER_NODES"]))
        return f"redis+cluster://{nodes}", {
            **_limits(config),
            **_password(config, "REDIS_PASSWORD"),
        }
    if mode == SENTINEL:
        sentinels = ",".join(address_list(config["REDIS_SENTINELS"]))
        return f"redis+sentinel://{sentinels}/{config['REDIS_SENTINEL_MASTER']}", {
            **_limits(config),
            **_password(config, "REDIS_PASSWORD"),
            "sentinel_kwargs": _sentinel_kwargs(config),
            "use_replicas": False,
        }
    return config["REDIS_URL"], {**_limits(config), **_connection_class(config["REDIS_URL"])}
