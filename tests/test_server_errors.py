"""Requests the production server (gunicorn) refuses before the app sees them still get
the API's JSON envelope, never gunicorn's HTML page (raw sockets to a real gunicorn)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.helpers import PASSWORD, post_json_status, raw_http_exchange
from tests.support.gunicorn_server import Instance, server_environment
from tests.support.servers import running

pytestmark = [pytest.mark.live_server, pytest.mark.subprocess]


@pytest.fixture(scope="module")
def server(app, database_url, redis_url, key_config, tmp_path_factory) -> Iterator[Instance]:
    # Rate limits on: their key functions read the body before the view does.
    env = server_environment(database_url, redis_url, key_config, RATELIMIT_ENABLED="true")
    with running(Instance("errors", env, tmp_path_factory.mktemp("server-errors"))) as instance:
        yield instance


def exchange(server: Instance, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    return raw_http_exchange(server.port, raw)


MALFORMED = {
    "not-http": (b"GARBAGE\r\n\r\n", 400, "bad_request"),
    "bad-version": (b"GET / HTTP/9.x\r\nHost: x\r\n\r\n", 400, "bad_request"),
    "bad-method": (b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"),
    "request-line-too-long": (
        b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        414,
        "headers_too_large",  # the code nginx's answer to it has
    ),
    "too-many-headers": (
        b"GET / HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-H%d: v\r\n" % n for n in range(150))
        + b"\r\n",
        431,
        "headers_too_large",
    ),
    "header-too-large": (
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 17000 + b"\r\n\r\n",
        431,
        "headers_too_large",
    ),
    "bad-header-name": (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n", 400, "bad_request"),
    # gunicorn's own 501, "error" and "internal_error" before: the client's request.
    "unknown-transfer-coding": (
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\n",
        400,
        "bad_request",
    ),
}


def test_a_body_whose_later_chunk_is_malformed_is_refused_not_truncated(server):
    """gunicorn finds a bad chunk only when the app reads the body. The login's rate-limit
    key function reads it first; the view must not then get the chunks before the bad
    one as if they were the whole body (that would log in, counted per address)."""
    credentials = {"email": "chunks@example.com", "password": PASSWORD}
    status = post_json_status(
        f"{server.url}/api/auth/register",
        {**credentials, "name": "Chunks", "passwordConfirm": PASSWORD},
    )
    assert status == 201
    first = json.dumps(credentials).encode()
    code, headers, body = exchange(
        server,
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + b"%x\r\n%s\r\nZZ\r\nxx\r\n0\r\n\r\n"
        % (len(first), first),
    )
    assert (code, headers["content-type"]) == (400, "application/json")
    assert json.loads(body) == {
        "status": "fail",
        "code": "malformed_body",
        "message": "Malformed request body",
    }
    assert "set-cookie" not in headers


def test_the_log_names_the_address_the_server_listens_on(server):
    """Each worker opens its own socket (reuse_port), so gunicorn's own "Listening at:"
    line names none; gunicorn.conf.py's when_ready says where the server listens."""
    log = server.log_path.read_text(errors="replace")
    assert f"Listening at: http://127.0.0.1:{server.port} (each worker" in log


@pytest.mark.parametrize(("raw", "status", "stable_code"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_request_gunicorn_refuses_gets_a_json_error(server, raw, status, stable_code):
    code, headers, body = exchange(server, raw)
    assert code == status
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body)
    answer = json.loads(body)
    assert (answer["status"], answer["code"]) == ("fail", stable_code)
    assert isinstance(answer["message"], str) and answer["message"]
    assert b"<html" not in body.lower()


def test_the_server_still_answers_normally_afterwards(server):
    code, _, body = exchange(
        server, b"GET /api/healthChecker HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert code == 200
    assert json.loads(body)["status"] == "success"


def _too_large_from(origin: bytes) -> bytes:
    """What a browser with too many cookies for this host sends (Origin before Cookie)."""
    return (
        b"GET /api/users/me HTTP/1.1\r\nHost: localhost\r\nOrigin: "
        + origin
        + b"\r\nCookie: other_app="
        + b"x" * 20000
        + b"\r\n\r\n"
    )


def test_its_refusals_carry_the_cors_headers_for_the_allowed_origins_only(server):
    """Found with a front end in Chromium: gunicorn's own 431 had no CORS headers, so the
    page saw a network error instead of the JSON answer."""
    code, headers, body = exchange(server, _too_large_from(b"http://localhost:3000"))
    assert (code, json.loads(body)["status"]) == (431, "fail")
    assert headers["access-control-allow-origin"] == "http://localhost:3000"
    assert headers["access-control-allow-credentials"] == "true"
    assert "Retry-After" in headers["access-control-expose-headers"]
    assert headers["vary"] == "Origin"
    for refused in (b"https://evil.example.com", b"http://localhost:3000.evil.com", b"null"):
        code, headers, _body = exchange(server, _too_large_from(refused))
        assert code == 431
        assert "access-control-allow-origin" not in headers, refused
    # A request that names no Origin gets none, even after one that did.
    code, headers, _body = exchange(server, b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert code == 400 and "access-control-allow-origin" not in headers
