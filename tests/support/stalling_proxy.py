"""A TCP proxy in this process that can stall: the shape of a PostgreSQL that stops
answering (frozen, its disk hung, a network path that drops packets) while the app's
pool holds connections to it.

While stalled it keeps every connection open and forwards nothing in either direction,
and new connections are accepted but get no answer; ``resume()`` forwards again, bytes
held back included.
"""

from __future__ import annotations

import selectors
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class StallingProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = [self._listener]
        self.accepted = 0  # connections accepted so far
        threading.Thread(target=self._accept, daemon=True).start()

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()
        for sock in self._sockets:
            sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            self.accepted += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        self._flowing.wait()
        if self._closed.is_set():
            return
        upstream = socket.create_connection(self.target)
        self._sockets.append(upstream)
        peer = {client: upstream, upstream: client}
        with selectors.DefaultSelector() as selector:
            for sock in peer:
                selector.register(sock, selectors.EVENT_READ)
            while not self._closed.is_set():
                self._flowing.wait()
                for key, _ in selector.select(timeout=0.1):
                    if not self._flowing.is_set():
                        break  # stalled while waiting: forward nothing
                    try:
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if data:
                            peer[key.fileobj].sendall(data)  # type: ignore[index]
                    except OSError:
                        data = b""
                    if not data:
                        client.close()
                        upstream.close()
                        return


@contextmanager
def stalling_proxy(target: tuple[str, int]) -> Iterator[StallingProxy]:
    proxy = StallingProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()
