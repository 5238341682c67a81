"""Real ``redis-server`` processes for tests: standalone, cluster and sentinel.

Nothing here is mocked.  Every class starts genuine ``redis-server`` processes on spare
loopback ports, each in its own temporary directory, and tears them down again
(``stop()`` / context manager exit, with an ``atexit`` hook as a safety net).  Where the
platform allows it the child processes are also told to die with the test process
(``PR_SET_PDEATHSIG``), so a killed pytest run does not leave servers behind.

Port 6379 (the system Redis) is never used.

Typical use::

    with RedisServer() as server:
        client = redis.Redis.from_url(server.url())
        server.pause()    # TCP connects, but commands never answer
        server.resume()
        server.stop()     # dependency gone
        server.start()    # ...and back, on the same port, with no data

All waits are bounded polling loops (``tests.support.servers.wait_until``); on timeout
a :class:`~tests.support.servers.ServerError` is raised with the relevant server log
tails.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode
from redis.retry import Retry

from tests.helpers import HANG
from tests.support.servers import (
    HOST,
    RESERVED_PORTS,
    ServerError,
    free_port,
    log_tail,
    start_process,
    stop_process,
    wait_until,
)

__all__ = [
    "HOST",
    "RedisCluster",
    "RedisSentinelSetup",
    "RedisServer",
    "RedisSupportError",
    "SentinelServer",
]

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"

DEFAULT_STARTUP_TIMEOUT = HANG
STOP_TIMEOUT = 5.0


class RedisSupportError(ServerError):
    """A test Redis process could not be started, reached or reconfigured in time."""


# --------------------------------------------------------------------------- helpers


def _admin_client(port: int, timeout: float = 1.0) -> redis.Redis:
    """A short-timeout, no-retry RESP2 client used by the support code itself."""
    return redis.Redis(
        host=HOST,
        port=port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        protocol=2,
        decode_responses=True,
        single_connection_client=True,
    )


def _command(port: int, *args: Any, timeout: float = 1.0) -> Any:
    """Run one raw command against ``127.0.0.1:port`` and return the unparsed reply."""
    with _admin_client(port, timeout) as client:
        return client.execute_command(*args)


def _parse_info(text: str) -> dict[str, str]:
    """Parse ``CLUSTER INFO`` text (``key:value`` lines) into a dict."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            key, _, value = line.partition(":")
            result[key.strip()] = value.strip()
    return result


def _pairs_to_dict(reply: Sequence[Any]) -> dict[str, Any]:
    """Turn a flat RESP2 ``[k1, v1, k2, v2, ...]`` reply into a dict."""
    return {str(reply[i]): reply[i + 1] for i in range(0, len(reply) - 1, 2)}


_LIBC: Any = None
with contextlib.suppress(OSError, AttributeError):
    if os.uname().sysname == "Linux":
        _LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _pdeathsig_preexec(parent_pid: int) -> Callable[[], None] | None:
    """Return a ``preexec_fn`` that SIGKILLs the child when the test process dies.

    Only used from the main thread: the kernel delivers the signal when the *thread*
    that forked exits, which would be wrong for servers started from a worker thread.
    """
    if _LIBC is None or threading.current_thread() is not threading.main_thread():
        return None
    libc = _LIBC

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent_pid:  # parent already gone before prctl took effect
            os._exit(1)

    return preexec


# Safety net: every started server is tracked until it is closed.
_LIVE_SERVERS: dict[int, RedisServer] = {}
_LIVE_LOCK = threading.Lock()


def _cleanup_all_servers() -> None:
    with _LIVE_LOCK:
        servers = list(_LIVE_SERVERS.values())
    for server in servers:
        with contextlib.suppress(Exception):
            server.close(graceful=False)


atexit.register(_cleanup_all_servers)


# --------------------------------------------------------------------------- standalone


class RedisServer:
    """One real ``redis-server`` process on a spare loopback port.

    The process is started by the constructor (``start=False`` to defer) and runs with
    ``--save "" --appendonly no``, so a restart always comes back empty.  Its stdout is
    written to ``<tmpdir>/redis.log``.  ``extra_args`` are appended to the command line
    (e.g. ``["--replicaof", "127.0.0.1", "12345"]``) and may override the defaults.

    ``stop()``/``start()`` keep the port and temp dir, so "dependency went away and came
    back" can be tested; ``close()`` (also called on context-manager exit) stops the
    process for good and removes the temp dir.
    """

    def __init__(
        self,
        extra_args: Sequence[str] = (),
        *,
        port: int | None = None,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
        name: str = "redis",
        start: bool = True,
    ) -> None:
        if port in RESERVED_PORTS:
            raise ValueError(f"refusing to use reserved port {port}")
        self.host: str = HOST
        self.port: int = port if port is not None else free_port()
        self.name = name
        self.extra_args: list[str] = [str(arg) for arg in extra_args]
        self.startup_timeout = startup_timeout
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"authapi-{name}-{self.port}-"))
        self.log_path = self.tmpdir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._paused = False
        self._closed = False
        with _LIVE_LOCK:
            _LIVE_SERVERS[id(self)] = self
        try:
            self._prepare()
            if start:
                self.start()
        except BaseException:
            self.close(graceful=False)
            raise

    # -- overridable hooks -------------------------------------------------------------

    def _prepare(self) -> None:
        """Hook for subclasses to write config files before the first start."""

    def command(self) -> list[str]:
        """The full ``redis-server`` command line."""
        return [
            REDIS_SERVER,
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.tmpdir),
            "--save", "",
            "--appendonly", "no",
            "--repl-diskless-sync-delay", "0",
            "--daemonize", "no",
            "--logfile", "",
            *self.extra_args,
        ]  # fmt: skip

    # -- properties --------------------------------------------------------------------

    @property
    def address(self) -> str:
        """``"127.0.0.1:<port>"``."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """PID of the running process, or ``None``."""
        return self.process.pid if self.is_running else None  # type: ignore[union-attr]

    @property
    def is_running(self) -> bool:
        """True while the process exists (it may be paused)."""
        return self.process is not None and self.process.poll() is None

    @property
    def is_paused(self) -> bool:
        """True between :meth:`pause` and :meth:`resume`."""
        return self.is_running and self._paused

    def url(self, db: int = 0) -> str:
        """``redis://127.0.0.1:<port>/<db>``."""
        return f"redis://{self.host}:{self.port}/{db}"

    def client(self, **kwargs: Any) -> redis.Redis:
        """A ``redis.Redis`` client for this server (kwargs are passed through)."""
        kwargs.setdefault("host", self.host)
        kwargs.setdefault("port", self.port)
        return redis.Redis(**kwargs)

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server log (empty string if none)."""
        return log_tail(self.log_path, lines)

    def execute(self, *args: Any, timeout: float = 1.0) -> Any:
        """Run one raw command on this server (no retries, RESP2, decoded strings)."""
        return _command(self.port, *args, timeout=timeout)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> RedisServer:
        """Start the process (again) on the same port and wait until PING answers."""
        if self._closed:
            raise RedisSupportError(f"{self!r} was closed; create a new server")
        if self.is_running:
            return self
        self._paused = False
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== starting: {' '.join(self.command())}\n".encode())
        self.process = start_process(
            self.command(),
            self.log_path,
            cwd=self.tmpdir,
            preexec_fn=_pdeathsig_preexec(os.getpid()),
        )
        try:
            self._wait_ready(self.startup_timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def _ping(self) -> bool:
        if not self.is_running:
            code = self.process.returncode if self.process is not None else None
            raise RedisSupportError(
                f"{self.name} on port {self.port} exited with code {code}\n"
                f"--- log tail ({self.log_path}) ---\n{self.log_tail()}"
            )
        return bool(_command(self.port, "PING", timeout=0.5))

    def _wait_ready(self, timeout: float) -> None:
        wait_until(
            self._ping,
            timeout,
            f"{self.name} on port {self.port} to answer PING",
            lambda: f"--- log tail ({self.log_path}) ---\n{self.log_tail()}",
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the process (SIGKILL after ``timeout`` s) and wait for it to exit.

        The port and temp dir are kept so :meth:`start` can bring it back.
        """
        if self.process is None:
            return
        # A stopped (paused) process only acts on SIGTERM once continued.
        signals = (signal.SIGTERM, signal.SIGCONT) if self._paused else (signal.SIGTERM,)
        stop_process(self.process, timeout, signals)
        self._paused = False

    def kill(self) -> None:
        """SIGKILL the process (simulated crash) and wait for it to exit."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            process.wait(STOP_TIMEOUT)
        self._paused = False

    def pause(self) -> None:
        """SIGSTOP: the kernel still accepts TCP connections, but nothing is answered."""
        if not self.is_running:
            raise RedisSupportError(f"{self!r} is not running")
        self.process.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
        self._paused = True

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        if not self.is_running:
            raise RedisSupportError(f"{self!r} is not running")
        self.process.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
        self._paused = False

    def close(self, graceful: bool = True) -> None:
        """Stop the process for good and remove the temp dir.  Idempotent."""
        try:
            if graceful:
                self.stop()
            else:
                self.kill()
        finally:
            self._closed = True
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            with _LIVE_LOCK:
                _LIVE_SERVERS.pop(id(self), None)

    def __enter__(self) -> RedisServer:
        try:
            self.start()
        except BaseException:
            self.close(graceful=False)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "paused" if self.is_paused else "running" if self.is_running else "stopped"
        return f"<{type(self).__name__} {self.name} {self.address} {state}>"


# --------------------------------------------------------------------------- cluster


class RedisCluster:
    """A real Redis Cluster: 3 masters + 3 replicas on spare loopback ports.

    Each node runs with ``--cluster-enabled yes --cluster-node-timeout 2000`` in its own
    temp dir; the cluster is formed with ``redis-cli --cluster create ... --cluster-replicas
    1 --cluster-yes`` and the constructor returns only once every node reports
    ``cluster_state:ok``, knows all nodes and every replica's link to its master is up.
    """

    def __init__(
        self,
        masters: int = 3,
        replicas_per_master: int = 1,
        *,
        node_timeout_ms: int = 2000,
        startup_timeout: float = HANG,
    ) -> None:
        self.node_timeout_ms = node_timeout_ms
        self.servers: list[RedisServer] = []
        try:
            for _ in range(masters * (1 + replicas_per_master)):
                port = free_port()
                cluster_args = [
                    "--cluster-enabled", "yes",
                    "--cluster-config-file", f"nodes-{port}.conf",
                    "--cluster-node-timeout", str(node_timeout_ms),
                ]  # fmt: skip
                self.servers.append(RedisServer(cluster_args, port=port, name="cluster"))
            self._create(replicas_per_master, startup_timeout)
            self._wait_until_ready(startup_timeout)
        except BaseException:
            self.stop()
            raise

    # -- setup -------------------------------------------------------------------------

    def _create(self, replicas_per_master: int, timeout: float) -> None:
        cmd = [
            REDIS_CLI, "--cluster", "create", *self.nodes,
            "--cluster-replicas", str(replicas_per_master), "--cluster-yes",
        ]  # fmt: skip
        try:
            result = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise RedisSupportError(f"redis-cli --cluster create timed out:\n{exc}") from exc
        output = result.stdout + result.stderr
        if result.returncode != 0 or "All 16384 slots covered" not in output:
            raise RedisSupportError(
                f"redis-cli --cluster create failed (rc={result.returncode}):\n{output}"
            )

    def _node_ready(self, server: RedisServer) -> bool:
        info = _parse_info(server.execute("CLUSTER", "INFO"))
        if info.get("cluster_state") != "ok":
            return False
        if info.get("cluster_known_nodes") != str(len(self.servers)):
            return False
        if info.get("cluster_slots_assigned") != "16384":
            return False
        role = server.execute("ROLE")
        if role[0] == "slave":
            return role[3] == "connected"
        return True

    def _wait_until_ready(self, timeout: float) -> None:
        wait_until(
            lambda: all(self._node_ready(server) for server in self.servers),
            timeout,
            "all cluster nodes to report cluster_state:ok",
            self._logs,
        )

    def _logs(self) -> str:
        return "\n".join(f"--- {server!r} ---\n{server.log_tail(15)}" for server in self.servers)

    # -- topology ----------------------------------------------------------------------

    @property
    def nodes(self) -> list[str]:
        """``"host:port"`` of every node (masters and replicas), usable as startup nodes."""
        return [server.address for server in self.servers]

    @property
    def startup_nodes(self) -> list[ClusterNode]:
        """``redis.cluster.ClusterNode`` for every node, for ``RedisCluster(startup_nodes=)``."""
        return [ClusterNode(server.host, server.port) for server in self.servers]

    def server_for_port(self, port: int) -> RedisServer:
        """The :class:`RedisServer` listening on ``port``."""
        for server in self.servers:
            if server.port == int(port):
                return server
        raise KeyError(port)

    def live_servers(self) -> list[RedisServer]:
        """Nodes whose process is running and not paused."""
        return [s for s in self.servers if s.is_running and not s.is_paused]

    def _query(self, *args: Any) -> Any:
        """Run a command on the first live node that answers."""
        errors: list[str] = []
        for server in self.live_servers():
            try:
                return server.execute(*args)
            except redis.RedisError as exc:
                errors.append(f"{server.address}: {exc!r}")
        raise RedisSupportError(f"no live cluster node answered {args!r}: {errors}")

    def keyslot(self, key: str | bytes) -> int:
        """Hash slot of ``key`` (via ``CLUSTER KEYSLOT``)."""
        return int(self._query("CLUSTER", "KEYSLOT", key))

    @staticmethod
    def _master_port_in_slots(slots_reply: Sequence[Any], slot: int) -> int | None:
        for entry in slots_reply:
            start, end, master = int(entry[0]), int(entry[1]), entry[2]
            if start <= slot <= end:
                return int(master[1])
        return None

    def master_for_slot(self, slot: int) -> RedisServer:
        """The node a live node's ``CLUSTER SLOTS`` names as master for ``slot``."""
        port = self._master_port_in_slots(self._query("CLUSTER", "SLOTS"), slot)
        if port is None:
            raise RedisSupportError(f"slot {slot} is not served by any node")
        return self.server_for_port(port)

    def master_for_key(self, key: str | bytes) -> RedisServer:
        """The master node currently owning ``key``'s slot."""
        return self.master_for_slot(self.keyslot(key))

    def masters(self) -> list[RedisServer]:
        """Live nodes that currently say (``ROLE``) they are masters."""
        return [s for s in self.live_servers() if s.execute("ROLE")[0] == "master"]

    # -- failure injection -------------------------------------------------------------

    def kill_master_for_key(self, key: str | bytes) -> RedisServer:
        """SIGKILL the master owning ``key``'s slot and return it (it stays dead)."""
        master = self.master_for_key(key)
        master.kill()
        return master

    def wait_for_failover(
        self, slot_or_key: int | str | bytes, timeout: float = HANG
    ) -> RedisServer:
        """Wait until a live node, promoted to master, serves the slot; return it.

        Polls until every live node reports ``cluster_state:ok`` and names the same live
        node as master of the slot in ``CLUSTER SLOTS``, and that node's ``ROLE`` says
        master.  (Returns at once if the slot's master was never killed.)
        """
        slot = slot_or_key if isinstance(slot_or_key, int) else self.keyslot(slot_or_key)

        def settled() -> RedisServer | None:
            live = self.live_servers()
            owners: set[int | None] = set()
            for server in live:
                info = _parse_info(server.execute("CLUSTER", "INFO"))
                if info.get("cluster_state") != "ok":
                    return None
                owners.add(self._master_port_in_slots(server.execute("CLUSTER", "SLOTS"), slot))
            if len(owners) != 1:
                return None
            port = owners.pop()
            if port is None:
                return None
            master = self.server_for_port(port)
            if master not in live or master.execute("ROLE")[0] != "master":
                return None
            return master

        return wait_until(settled, timeout, f"failover of slot {slot}", self._logs)

    # -- teardown ----------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every node and remove all temp dirs.  Idempotent."""
        errors: list[BaseException] = []
        for server in self.servers:
            try:
                server.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise RedisSupportError(f"errors while stopping cluster: {errors!r}")

    def __enter__(self) -> RedisCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __iter__(self) -> Iterator[RedisServer]:
        return iter(self.servers)


# --------------------------------------------------------------------------- sentinel


class SentinelServer(RedisServer):
    """A ``redis-server sentinel.conf --sentinel`` process monitoring one master."""

    def __init__(
        self,
        master_name: str,
        master_host: str,
        master_port: int,
        *,
        quorum: int = 2,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    ) -> None:
        self.master_name = master_name
        self.master_host = master_host
        self.master_port = master_port
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        super().__init__(startup_timeout=startup_timeout, name="sentinel")

    @property
    def config_path(self) -> Path:
        """The sentinel config file (sentinel rewrites it at runtime)."""
        return self.tmpdir / "sentinel.conf"

    def _prepare(self) -> None:
        name = self.master_name
        self.config_path.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    f"bind {self.host}",
                    f'dir "{self.tmpdir}"',
                    "daemonize no",
                    'logfile ""',
                    "sentinel resolve-hostnames no",
                    f"sentinel monitor {name} {self.master_host} {self.master_port} {self.quorum}",
                    f"sentinel down-after-milliseconds {name} {self.down_after_ms}",
                    f"sentinel failover-timeout {name} {self.failover_timeout_ms}",
                    f"sentinel parallel-syncs {name} 1",
                    "",
                ]
            )
        )

    def command(self) -> list[str]:
        """``redis-server <tmp>/sentinel.conf --sentinel``."""
        return [REDIS_SERVER, str(self.config_path), "--sentinel", *self.extra_args]

    def master_state(self) -> dict[str, Any]:
        """``SENTINEL MASTER <name>`` as a dict."""
        return _pairs_to_dict(self.execute("SENTINEL", "MASTER", self.master_name))

    def master_address(self) -> tuple[str, int] | None:
        """``SENTINEL GET-MASTER-ADDR-BY-NAME <name>`` as ``(host, port)``."""
        reply = self.execute("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name)
        return (str(reply[0]), int(reply[1])) if reply else None


class RedisSentinelSetup:
    """One master, one replica (``--replicaof``) and three sentinels (quorum 2).

    Sentinels use ``down-after-milliseconds 1000`` and ``failover-timeout 5000``.  The
    constructor returns once the replica is in sync and every sentinel sees the replica
    and the two other sentinels, i.e. once a failover can actually happen.
    """

    master_name = "mymaster"

    def __init__(
        self,
        *,
        quorum: int = 2,
        sentinel_count: int = 3,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 5000,
        startup_timeout: float = HANG,
    ) -> None:
        self.sentinel_servers: list[SentinelServer] = []
        self.master: RedisServer | None = None
        self.replica: RedisServer | None = None
        try:
            self.master = RedisServer(name="sentinel-master")
            self.replica = RedisServer(
                ["--replicaof", self.master.host, str(self.master.port)],
                name="sentinel-replica",
            )
            wait_until(
                self._replica_in_sync,
                startup_timeout,
                "the replica to sync with the master",
                self._logs,
            )
            for _ in range(sentinel_count):
                self.sentinel_servers.append(
                    SentinelServer(
                        self.master_name,
                        self.master.host,
                        self.master.port,
                        quorum=quorum,
                        down_after_ms=down_after_ms,
                        failover_timeout_ms=failover_timeout_ms,
                    )
                )
            wait_until(
                self._sentinels_ready,
                startup_timeout,
                "sentinels to discover the replica and each other",
                self._logs,
            )
        except BaseException:
            self.stop()
            raise

    # -- readiness ---------------------------------------------------------------------

    def _replica_in_sync(self) -> bool:
        assert self.master is not None and self.replica is not None
        replica_role = self.replica.execute("ROLE")
        master_role = self.master.execute("ROLE")
        return (
            replica_role[0] == "slave"
            and replica_role[3] == "connected"
            and master_role[0] == "master"
            and [int(r[1]) for r in master_role[2]] == [self.replica.port]
        )

    def _sentinels_ready(self) -> bool:
        others = len(self.sentinel_servers) - 1
        for sentinel in self.sentinel_servers:
            state = sentinel.master_state()
            if state.get("flags") != "master":
                return False
            if int(state.get("num-slaves", 0)) < 1:
                return False
            if int(state.get("num-other-sentinels", 0)) < others:
                return False
        return True

    def _logs(self) -> str:
        servers = [self.master, self.replica, *self.sentinel_servers]
        return "\n".join(f"--- {s!r} ---\n{s.log_tail(15)}" for s in servers if s is not None)

    # -- topology ----------------------------------------------------------------------

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        """``(host, port)`` of every sentinel, for ``redis.sentinel.Sentinel(...)``."""
        return [(s.host, s.port) for s in self.sentinel_servers]

    @property
    def servers(self) -> list[RedisServer]:
        """The data nodes: ``[master, replica]`` as originally started."""
        return [s for s in (self.master, self.replica) if s is not None]

    def _live_sentinels(self) -> list[SentinelServer]:
        return [s for s in self.sentinel_servers if s.is_running and not s.is_paused]

    def current_master(self) -> RedisServer:
        """The data node the first answering sentinel currently reports as master."""
        for sentinel in self._live_sentinels():
            try:
                address = sentinel.master_address()
            except redis.RedisError:
                continue
            if address is not None:
                for server in self.servers:
                    if server.port == address[1]:
                        return server
        raise RedisSupportError("no sentinel reported a known master address")

    # -- failure injection -------------------------------------------------------------

    def kill_master(self) -> RedisServer:
        """SIGKILL the current master (as reported by sentinel) and return it."""
        master = self.current_master()
        master.kill()
        return master

    def wait_for_failover(self, timeout: float = HANG) -> RedisServer:
        """Wait until the sentinels promote a live node and it says it is master.

        Polls until every live sentinel's ``SENTINEL GET-MASTER-ADDR-BY-NAME`` names the
        same live data node (the replica, after the first failover) and that node
        answers ``ROLE`` as master.  Returns that node.
        """

        def settled() -> RedisServer | None:
            addresses = {s.master_address() for s in self._live_sentinels()}
            if len(addresses) != 1:
                return None
            address = addresses.pop()
            if address is None:
                return None
            for server in self.servers:
                if (
                    (server.host, server.port) == address
                    and server.is_running
                    and server.execute("ROLE")[0] == "master"
                ):
                    return server
            return None

        return wait_until(settled, timeout, "sentinel failover", self._logs)

    # -- teardown ----------------------------------------------------------------------

    def stop(self) -> None:
        """Stop sentinels first (so they don't react), then data nodes; remove temp dirs."""
        errors: list[BaseException] = []
        servers: list[RedisServer | None] = [*self.sentinel_servers, self.replica, self.master]
        for server in servers:
            if server is None:
                continue
            try:
                server.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise RedisSupportError(f"errors while stopping sentinel setup: {errors!r}")

    def __enter__(self) -> RedisSentinelSetup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
