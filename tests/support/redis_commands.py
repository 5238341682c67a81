"""Count the commands an app sends to Redis, whichever way they go out."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import pytest
from flask import Flask


def count_redis_commands(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on (until the test ends), the name of every command the app's Redis
    client sends, in order: its connection class's ``send_packed_command``, which every
    command goes out by (redis-py's ``send_command``, pipelines, and the scripts run on
    the pool, which pack their own), is read back. Clear the list between the steps a
    test counts. Only this thread's: the test client serves a request in the thread
    that sends it, and background jobs (mail, the outbox relay) run in their own."""
    counted_thread = threading.get_ident()
    connection_class = app.extensions["redis"].connection_pool.connection_class
    calls: list[str] = []
    real = connection_class.send_packed_command

    def counting(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.get_ident() == counted_thread:
            calls.extend(command_names(command))
        return real(self, command, *args, **kwargs)

    monkeypatch.setattr(connection_class, "send_packed_command", counting)
    return calls


def command_names(packed: bytes | str | Iterable[bytes]) -> list[str]:
    """The name of each command in what a connection sends (RESP arrays of bulk
    strings, in one piece or in chunks)."""
    if isinstance(packed, str):
        packed = packed.encode()
    data = packed if isinstance(packed, bytes) else b"".join(packed)
    names, position = [], 0
    while position < len(data):
        count, position = _header(data, position)  # *<count>
        for index in range(count):
            length, position = _header(data, position)  # $<length>
            if index == 0:
                names.append(data[position : position + length].decode())
            position += length + 2
    return names


def _header(data: bytes, position: int) -> tuple[int, int]:
    end = data.index(b"\r\n", position)
    return int(data[position + 1 : end]), end + 2
