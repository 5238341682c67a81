"""Security review item 3: the shipped nginx config in front of a real gunicorn keeps
the API answering while slow clients hold connections, and sets the client address."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest

from tests.helpers import login, raw_http_exchange, register
from tests.support.gunicorn_server import server_environment
from tests.support.nginx_server import Nginx, gunicorn_behind_nginx
from tests.support.servers import free_port

SLOW_CLIENTS = 50
# The front end origins, as an operator might write them (a space after the comma).
CORS_ORIGINS = "https://app.example.com, http://localhost:3000"


@pytest.fixture(scope="module")
def front(app, database_url, redis_url, key_config, tmp_path_factory) -> Iterator[Nginx]:
    """gunicorn (one worker, four threads) on loopback, nginx in front of it."""
    env = server_environment(
        database_url,
        redis_url,
        key_config,
        TRUSTED_PROXY_COUNT="1",
        RATELIMIT_ENABLED="true",
        RATELIMIT_LOGIN_PER_ADDRESS="2 per minute",
        CORS_ORIGINS=CORS_ORIGINS,
    )
    workdir = tmp_path_factory.mktemp("nginx-front")
    with gunicorn_behind_nginx(env, workdir, CORS_ORIGINS) as (_gunicorn, nginx):
        yield nginx


def _get(url: str) -> tuple[int, dict[str, Any], str]:
    return _get_with(url, {})


def _get_with(url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    try:
        with urlopen(Request(url, headers=headers), timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def _post(url: str, payload: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    request = Request(url, data=payload, method="POST", headers=headers)
    try:
        with urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def _slow_clients(port: int, count: int) -> list[socket.socket]:
    """Connections that started a request and never finish it: half stop in the
    middle of the headers, half in the middle of a body."""
    held = []
    for index in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=30)
        if index % 2:
            connection.sendall(b"GET /api/health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n")
        else:
            connection.sendall(
                b"POST /api/auth/login HTTP/1.1\r\nHost: localhost\r\n"
                b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"email": '
            )
        held.append(connection)
    return held


def test_health_answers_while_fifty_slow_clients_hold_connections(front):
    held = _slow_clients(front.port, SLOW_CLIENTS)
    try:
        for _ in range(10):  # gunicorn has 4 threads: every one of them is still free
            status, _headers, body = _get(f"{front.url}/api/health/live")
            assert status == 200, body
            assert json.loads(body)["status"] == "success"
    finally:
        for connection in held:
            connection.close()


def test_a_forged_forwarded_for_never_resets_the_address_limit(front):
    statuses = []
    for index in range(3):
        payload = json.dumps({"email": f"u{index}@example.com", "password": "whatever pw"})
        status, _headers, _body = _post(
            f"{front.url}/api/auth/login",
            payload.encode(),
            {"Content-Type": "application/json", "X-Forwarded-For": f"10.0.0.{index}"},
        )
        statuses.append(status)
    # nginx replaced the header with the real peer: one address, limit 2 per minute.
    assert statuses == [400, 400, 429]


def test_nginx_answers_its_own_errors_in_json(front):
    status, headers, body = _post(
        f"{front.url}/api/auth/login", b"x" * 200_000, {"Content-Type": "application/json"}
    )
    assert status == 413
    assert headers["Content-Type"] == "application/json"
    # The envelope's stable code too (it had none): clients match on it.
    assert json.loads(body)["status"] == "fail"
    assert json.loads(body)["code"] == "payload_too_large"
    status, headers, body = _get(f"{front.url}/metrics")
    assert status == 404
    assert json.loads(body)["status"] == "fail"
    assert json.loads(body)["code"] == "not_found"


def test_the_404_nginx_answers_for_metrics_is_documented(front, client):
    """schemathesis through nginx, as outside reviewers run it, found this 404 missing
    from the OpenAPI document (the document is the truth of the API they reach)."""
    status, _headers, _body = _get(f"{front.url}/metrics")
    responses = client.get("/api/openapi.json").get_json()["paths"]["/metrics"]["get"]
    assert str(status) in responses["responses"]


def _answer(url: str, headers: dict[str, str], payload: bytes | None = None) -> Any:
    """The status, the headers (duplicates kept) and the JSON body of one request."""
    request = Request(url, data=payload, method="POST" if payload else "GET", headers=headers)
    try:
        with urlopen(request, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read())
    except HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


ALLOWED = ("https://app.example.com", "http://localhost:3000")
REFUSED = (
    "https://evil.example.com",
    "null",
    "http://localhost:3000.evil.com",  # an allowed origin's prefix
    "https://app.example.co",  # a prefix of an allowed origin
    "app.example.com",  # an allowed origin's suffix
    "https://APP.example.com",  # the app compares exactly too
    "https://evil.example.com|https://app.example.com",  # the map key's separator
)


def _too_large(url: str, origin: str) -> Any:
    headers = {"Content-Type": "application/json", "Origin": origin}
    return _answer(f"{url}/api/auth/login", headers, b"x" * 200_000)


def _assert_cors_for(headers: Any, origin: str) -> None:
    assert headers.get_all("Access-Control-Allow-Origin") == [origin]
    assert headers.get_all("Access-Control-Allow-Credentials") == ["true"]
    assert "Retry-After" in headers["Access-Control-Expose-Headers"]
    assert "Origin" in headers["Vary"]


def test_nginx_errors_carry_cors_headers_for_the_allowed_origins_only(front):
    """Found by an audit: nginx's own answers (413 here) had no CORS headers, so a front
    end on another origin saw a network error instead of the JSON error."""
    for origin in ALLOWED:
        status, headers, body = _too_large(front.url, origin)
        assert (status, body["status"]) == (413, "fail")
        _assert_cors_for(headers, origin)
    for origin in REFUSED:
        status, headers, _body = _too_large(front.url, origin)
        assert status == 413
        assert "Access-Control-Allow-Origin" not in headers, origin
        assert "Access-Control-Allow-Credentials" not in headers, origin
    status, headers, _body = _answer(f"{front.url}/metrics", {"Origin": ALLOWED[0]})
    assert status == 404
    _assert_cors_for(headers, ALLOWED[0])
    # The app's own answers keep exactly the app's headers: nginx adds none to them.
    status, headers, _body = _answer(f"{front.url}/api/users/me", {"Origin": ALLOWED[1]})
    assert status == 401
    assert headers.get_all("Access-Control-Allow-Origin") == [ALLOWED[1]]
    assert headers.get_all("Access-Control-Allow-Credentials") == ["true"]


def test_nginx_answers_503_with_cors_headers_when_gunicorn_is_down(tmp_path):
    """Nothing listens upstream (gunicorn down): nginx's 503 JSON, readable cross-origin."""
    nginx = Nginx(f"127.0.0.1:{free_port()}", tmp_path / "nginx", CORS_ORIGINS)
    try:
        nginx.wait_until_live(upstream_down=True)
        status, headers, body = _answer(f"{nginx.url}/api/health/live", {"Origin": ALLOWED[0]})
        assert (status, body["status"], body["code"]) == (503, "error", "service_unavailable")
        assert headers["Retry-After"] == "5"
        _assert_cors_for(headers, ALLOWED[0])
        status, headers, _body = _answer(f"{nginx.url}/api/health/live", {"Origin": REFUSED[0]})
        assert status == 503 and "Access-Control-Allow-Origin" not in headers
    finally:
        nginx.stop()


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        # A request line nginx cannot parse: its own HTML 500 before (a named location
        # cannot take a request with no URI).
        (b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "bad_request"),
        (b"GET /" + b"a" * 17000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431, "headers_too_large"),
        (b"GET / HTTP/1.1\r\n\r\n", 400, "bad_request"),  # no Host
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nOrigin: http://localhost:3000\r\nX-Big: "
            + b"a" * 17000
            + b"\r\nConnection: close\r\n\r\n",
            431,
            "headers_too_large",
        ),
        # nginx's own HTML pages before (the black-box review): an HTTP version it does
        # not speak (505) and a transfer coding it does not take (501), both the client's.
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400, "bad_request"),
        (
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n"
            b"Connection: close\r\n\r\n",
            400,
            "bad_request",
        ),
        # TRACE is refused by nginx itself: the app answers it (its 405, with Allow).
        (
            b"TRACE /api/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            405,
            "method_not_allowed",
        ),
    ],
)
def test_nginx_refusals_of_malformed_requests_are_the_envelope_with_its_code(
    front, raw, status, code
):
    answered, headers, body = raw_http_exchange(front.port, raw)
    assert (answered, headers["content-type"]) == (status, "application/json")
    assert headers["x-content-type-options"] == "nosniff"
    assert json.loads(body)["code"] == code


def test_a_page_served_through_nginx_may_change_state_on_its_own_origin(front, client):
    """The demo page (or any front end on the API's own origin) behind nginx: the browser
    sends Origin http://host:port, so the app must see the Host with its port. nginx's
    `$host` drops the port, and every same-origin logout, session delete, MFA or passkey
    change was refused as cross-site."""
    register(client)
    token = login(client)
    request = Request(
        f"{front.url}/api/auth/logout",
        data=b"",
        method="POST",
        headers={
            "Cookie": f"access_token={token}",
            "Origin": front.url,
            "Sec-Fetch-Site": "same-origin",
        },
    )
    try:
        with urlopen(request, timeout=30) as response:
            status, body = response.status, response.read().decode()
    except HTTPError as error:
        status, body = error.code, error.read().decode()
    assert status == 200, body
    assert json.loads(body) == {"status": "success"}


def test_nginx_access_lines_carry_no_reset_token_or_verification_code(front):
    """The template used the default log format, whose "$request" is the whole path and
    query string: every reset token and verification code went to the container log."""
    reset_token = "ResetTokenThatMustNotBeLogged0123456789abc"
    code = "VerificationCodeThatMustNotBeLogged012345"
    _get(f"{front.url}/resetpassword/{reset_token}")
    _post(f"{front.url}/api/auth/verifyemail/{code}", b"", {})
    _post(f"{front.url}/api/auth/resetpassword/{reset_token}", b"{}", {})
    _get(f"{front.url}/api/auth/oauth/corp/callback?code={code}&state=s")
    _get(f"{front.url}/api/auth/verifyemail/resend")
    # One worker: nginx writes a request's line before it reads the next request, but
    # possibly after the client has the answer. One more request, whose own line is not
    # looked for, makes sure every line above is written.
    _get(f"{front.url}/api/health/live")
    logged = front.access_log()
    assert reset_token not in logged and code not in logged, logged
    assert "GET /resetpassword/[redacted] HTTP/1.1" in logged, logged
    assert "POST /api/auth/verifyemail/[redacted] HTTP/1.1" in logged, logged
    assert "GET /api/auth/oauth/corp/callback HTTP/1.1" in logged, logged
    assert "/api/auth/verifyemail/resend HTTP/1.1" in logged, logged


def test_a_browser_cookie_header_of_twelve_kilobytes_reaches_the_app(front):
    """Every cookie of localhost goes to every port: a front end's requests carried a
    Cookie header over 8 kB, refused by nginx and by gunicorn (the tutorial's Node
    server takes 16 kB of headers)."""
    cookie = "; ".join(f"other_app_{index}={'x' * 4000}" for index in range(3))
    status, _headers, body = _get_with(f"{front.url}/api/healthChecker", {"Cookie": cookie})
    assert status == 200, body
    assert json.loads(body)["status"] == "success"
