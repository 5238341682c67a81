"""Over real HTTP: chunked bodies and big cookies (a live server)."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from tests.helpers import raw_http_exchange
from tests.hostile_input.common import (
    BODY_LIMIT,
    ME,
    REGISTER,
    register_body,
    user_count,
)


def _post_chunked(url: str, path: str, raw: bytes) -> tuple[int, str, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)
    try:
        chunks = (raw[start : start + 1024] for start in range(0, len(raw), 1024))
        connection.request(
            "POST",
            path,
            body=chunks,
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


@pytest.mark.live_server
def test_a_small_chunked_body_is_read(app, live_server):
    server = live_server(app)
    status, content_type, _ = _post_chunked(
        server.url, REGISTER, json.dumps(register_body()).encode()
    )
    assert (status, content_type) == (201, "application/json")
    assert user_count(app) == 1


@pytest.mark.live_server
def test_a_chunked_body_over_10_kb_is_413_not_silently_truncated(app, live_server):
    """Without Content-Length the size cap must still be a 413, not "read 10 kB and go on"."""
    raw = json.dumps(register_body()).encode() + b" " * (2 * BODY_LIMIT)
    server = live_server(app)
    status, content_type, payload = _post_chunked(server.url, REGISTER, raw)
    assert (status, content_type) == (413, "application/json"), payload
    assert json.loads(payload)["status"] == "fail"
    assert user_count(app) == 0


@pytest.mark.live_server
def test_a_malformed_chunked_body_is_400_json_not_500(app, live_server):
    server = live_server(app)
    status, _, body = raw_http_exchange(
        urlsplit(server.url).port,
        f"POST {REGISTER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n".encode(),
    )
    assert status == 400, body
    answer = json.loads(body)  # werkzeug's server reports it itself, as a 400 for the app
    assert answer["status"] == "fail"
    assert answer["message"] in {"Bad request", "Malformed request body"}
    assert user_count(app) == 0


@pytest.mark.live_server
def test_a_20_kb_access_token_cookie_over_real_http_is_401_json(app, live_server):
    server = live_server(app)
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)
    try:
        connection.request("GET", ME, headers={"Cookie": "access_token=" + "A" * 20_000})
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    assert (response.status, response.getheader("Content-Type")) == (401, "application/json")
    assert json.loads(payload)["status"] == "fail"
