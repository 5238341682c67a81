"""The "Also" list: an oversized body gets its 413 JSON, always. The server reads (and
drops) a bounded amount of what the client is still sending before it closes, so the
close is no TCP reset that could destroy the answer on its way."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from tests.helpers import raw_http_exchange
from tests.support.gunicorn_server import Instance, server_environment
from tests.support.servers import running

NESTED = b'{"email": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"  # 100 kB of nested JSON


@pytest.fixture(scope="module")
def gunicorn(app, database_url, redis_url, key_config, tmp_path_factory) -> Iterator[Instance]:
    env = server_environment(database_url, redis_url, key_config)
    with running(Instance("oversized", env, tmp_path_factory.mktemp("oversized"))) as instance:
        yield instance


def _assert_413(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 413, (status, body[:200])
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["status"] == "fail"


def test_a_100_kb_body_always_gets_the_413_json(gunicorn):
    head = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: " + str(len(NESTED)).encode() + b"\r\n\r\n"
    )
    for _ in range(20):
        _assert_413(*raw_http_exchange(gunicorn.port, head + NESTED))


def test_a_chunked_oversized_body_gets_the_413_json(gunicorn):
    chunks = b"".join(
        f"{len(NESTED[i : i + 8192]):x}\r\n".encode() + NESTED[i : i + 8192] + b"\r\n"
        for i in range(0, len(NESTED), 8192)
    )
    request = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunks
        + b"0\r\n\r\n"
    )
    for _ in range(20):
        _assert_413(*raw_http_exchange(gunicorn.port, request))


def test_a_client_still_sending_when_refused_reads_the_413(gunicorn):
    """600 kB through a small send buffer: the client is still sending when the server
    decides. Without draining, the server's close resets the connection under the
    client's send and the 413 is lost; with it, the client finishes and reads it."""
    body = b'{"email": "' + b"a" * 600_000 + b'"}'
    head = (
        b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        connection.settimeout(30)
        connection.connect(("127.0.0.1", gunicorn.port))
        connection.sendall(head + body)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head_part, _, answer = received.partition(b"\r\n\r\n")
    assert head_part.split(b" ")[1] == b"413", received[:200]
    assert json.loads(answer)["status"] == "fail"
