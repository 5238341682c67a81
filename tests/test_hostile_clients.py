"""Hostile clients on raw sockets against the production stack: a real gunicorn, and
the shipped nginx in front of it. Each request is sent to both; each answer must be
the API's JSON envelope with a fitting 4xx (never a 5xx, HTML, a trace or a server's
name in the body), and the connection must end. Found by the black-box review
(docs/testing.md, "Hostile clients"): nginx's own HTML pages for TRACE, an unknown
Transfer-Encoding and an HTTP/2.0 request line; gunicorn's 501 and its 431 without
the stable code; compressed bodies, NaN and duplicate keys taken as JSON."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import raw_http_exchange
from tests.support.gunicorn_server import Instance, server_environment
from tests.support.nginx_server import Nginx, gunicorn_behind_nginx

pytestmark = [pytest.mark.live_server, pytest.mark.subprocess]

CORS_ORIGINS = "http://localhost:3000"
FRONTS = ("gunicorn", "nginx")
LOGIN = b"/api/auth/login"
ME = b"/api/users/me"
HEALTH = b"/api/healthChecker"
CREDENTIALS = json.dumps({"email": "nobody@example.com", "password": "whatever pw"}).encode()
# Words a body must never carry: a server's or library's name, a page, a trace.
TELLTALES = (b"<html", b"nginx", b"gunicorn", b"werkzeug", b"traceback", b"psycopg", b"sqlalchemy")


@pytest.fixture(scope="module")
def servers(
    app, database_url, redis_url, key_config, tmp_path_factory
) -> Iterator[dict[str, Instance | Nginx]]:
    """gunicorn (one worker, four threads) on loopback, and nginx in front of it."""
    env = server_environment(
        database_url, redis_url, key_config, TRUSTED_PROXY_COUNT="1", CORS_ORIGINS=CORS_ORIGINS
    )
    workdir = tmp_path_factory.mktemp("hostile-clients")
    with gunicorn_behind_nginx(env, workdir, CORS_ORIGINS) as (gunicorn, nginx):
        yield {"gunicorn": gunicorn, "nginx": nginx}


def request(
    method: bytes,
    target: bytes,
    *headers: bytes,
    body: bytes = b"",
    version: bytes = b"HTTP/1.1",
    host: bytes | None = b"localhost",
) -> bytes:
    """One request as raw bytes; ``Connection: close`` so the answer ends the exchange."""
    lines = [method + b" " + target + b" " + version]
    if host is not None:
        lines.append(b"Host: " + host)
    lines += [*headers, b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def post_json(body: bytes, *headers: bytes, length: int | None = None) -> bytes:
    """A login POST: JSON content type, and a Content-Length (the body's own by default)."""
    size = len(body) if length is None else length
    return request(
        b"POST",
        LOGIN,
        b"Content-Type: application/json",
        b"Content-Length: %d" % size,
        *headers,
        body=body,
    )


def post_chunked(body: bytes, *headers: bytes, coding: bytes = b"chunked") -> bytes:
    """A login POST with the body in one chunk and no Content-Length."""
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    return request(
        b"POST",
        LOGIN,
        b"Content-Type: application/json",
        b"Transfer-Encoding: " + coding,
        *headers,
        body=chunks,
    )


def get(target: bytes, *headers: bytes, **kwargs: Any) -> bytes:
    return request(b"GET", target, *headers, **kwargs)


OVER_10_KB = CREDENTIALS[:-1] + b', "padding": "' + b"x" * 12_000 + b'"}'

# name: (raw request, (status, code)) or a per-front dict of them.
CASES: dict[str, tuple[bytes, Any]] = {
    # Bodies: framing
    "chunked-under-10-kb": (post_chunked(CREDENTIALS), (400, "invalid_credentials")),
    "chunked-over-10-kb": (post_chunked(OVER_10_KB), (413, "payload_too_large")),
    "content-length-shorter-than-the-body": (
        post_json(CREDENTIALS, length=len(CREDENTIALS) - 5),
        (400, "malformed_json"),
    ),
    "content-length-and-chunked": (
        post_chunked(CREDENTIALS, b"Content-Length: 5"),
        (400, "bad_request"),
    ),
    "two-content-lengths": (post_json(CREDENTIALS, b"Content-Length: 3"), (400, "bad_request")),
    "unknown-transfer-coding": (
        post_chunked(CREDENTIALS, coding=b"foo"),
        (400, "bad_request"),
    ),
    "expect-100-continue": (
        post_json(CREDENTIALS, b"Expect: 100-continue"),
        (400, "invalid_credentials"),
    ),
    # Bodies: content coding and type
    "gzip-body": (
        post_json(gzip.compress(CREDENTIALS), b"Content-Encoding: gzip"),
        (415, "unsupported_media_type"),
    ),
    "plain-body-marked-deflate": (
        post_json(CREDENTIALS, b"Content-Encoding: deflate"),
        (415, "unsupported_media_type"),
    ),
    "no-content-type": (
        request(b"POST", LOGIN, b"Content-Length: %d" % len(CREDENTIALS), body=CREDENTIALS),
        (415, "unsupported_media_type"),
    ),
    "charset-latin-1": (
        request(
            b"POST",
            LOGIN,
            b"Content-Type: application/json; charset=latin-1",
            b"Content-Length: %d" % len(CREDENTIALS),
            body=CREDENTIALS,
        ),
        (400, "invalid_credentials"),  # JSON is UTF-8 (RFC 8259): the charset changes nothing
    ),
    # Bodies: JSON Python reads and RFC 8259 does not, or reads its own way
    "nan": (post_json(b'{"email": NaN, "password": "whatever pw"}'), (400, "malformed_json")),
    "infinity": (
        post_json(b'{"email": "a@example.com", "password": -Infinity}'),
        (400, "malformed_json"),
    ),
    "duplicate-keys": (
        post_json(b'{"email": "a@example.com", "email": "b@example.com", "password": "pw pw pw"}'),
        (400, "malformed_json"),
    ),
    "1e400": (post_json(b'{"email": 1e400, "password": "x"}'), (400, "validation_failed")),
    "minus-zero": (post_json(b'{"email": -0, "password": -0.0}'), (400, "validation_failed")),
    "5000-digit-integer": (
        post_json(b'{"email": ' + b"9" * 5000 + b"}"),
        (400, "malformed_json"),
    ),
    "utf-8-bom": (post_json(b"\xef\xbb\xbf" + CREDENTIALS), (400, "malformed_json")),
    "invalid-utf-8": (
        post_json(b'{"email": "\xff\xfe", "password": "x"}'),
        (400, "malformed_json"),
    ),
    "lone-surrogate": (
        post_json(b'{"email": "\\ud800@example.com", "password": "whatever pw"}'),
        (400, "malformed_json"),
    ),
    "nul-in-strings": (
        post_json(b'{"email": "a\\u0000@example.com", "password": "pw\\u0000pw pw"}'),
        (400, "invalid_credentials"),
    ),
    "arrays-nested-4000-deep": (post_json(b"[" * 4000 + b"]" * 4000), (400, "malformed_json")),
    # Headers
    "two-authorization-headers": (
        get(ME, b"Authorization: Bearer a.b.c", b"Authorization: Bearer d.e.f"),
        {"gunicorn": (401, "invalid_token"), "nginx": (400, "bad_request")},
    ),
    "two-cookie-headers": (
        get(ME, b"Cookie: access_token=a.b.c", b"Cookie: logged_in=true"),
        (401, "invalid_token"),
    ),
    "an-8-kb-cookie": (get(ME, b"Cookie: access_token=" + b"A" * 8000), (401, "invalid_token")),
    "a-100-kb-bearer-token": (
        get(ME, b"Authorization: Bearer " + b"A" * 100_000),
        (431, "headers_too_large"),
    ),
    "bearer-with-nothing": (get(ME, b"Authorization: Bearer"), (401, "not_logged_in")),
    "basic-scheme": (get(ME, b"Authorization: Basic YTpi"), (401, "not_logged_in")),
    "nul-in-a-header-value": (get(ME, b"Authorization: Bearer a\x00b"), (400, "bad_request")),
    "150-header-fields": (
        get(ME, *(b"X-H%d: v" % n for n in range(150))),
        (431, "headers_too_large"),
    ),
    "forwarded-scheme-headers": (
        get(HEALTH, b"X-Forwarded-Ssl: on", b"X-Forwarded-Protocol: ssl"),
        (200, None),
    ),
    "forwarded-garbage": (
        get(HEALTH, b"X-Forwarded-For: not-an-ip, , ;;", b"X-Forwarded-Proto: gopher"),
        (200, None),
    ),
    "a-host-that-lies": (get(HEALTH, host=b"evil.example.com"), (200, None)),
    # Methods
    "trace": (request(b"TRACE", HEALTH), (405, "method_not_allowed")),
    "connect": (request(b"CONNECT", HEALTH), (405, "method_not_allowed")),
    "unknown-method": (request(b"PROPFIND", HEALTH), (405, "method_not_allowed")),
    "lower-case-method": (request(b"get", HEALTH), (400, "bad_request")),
    # Request targets and versions
    "absolute-form": (get(b"http://evil.example.com/api/healthChecker"), (200, None)),
    "double-slash": (get(b"//api/healthChecker"), (200, None)),
    "dot-segment": (get(b"/api/./healthChecker"), (404, "not_found")),
    "percent-encoded-letter": (get(b"/api/users/%6De"), (401, "not_logged_in")),
    "percent-encoded-nul": (
        get(b"/api/users/%00"),
        {"gunicorn": (404, "not_found"), "nginx": (400, "bad_request")},
    ),
    "query-string-on-me": (get(ME + b"?a=1&a=2&%ff=%00&x[]="), (401, "not_logged_in")),
    "http-2-request-line": (get(HEALTH, version=b"HTTP/2.0"), (400, "bad_request")),
    "http-3-request-line": (get(HEALTH, version=b"HTTP/3"), (400, "bad_request")),
    "h2-preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", (400, "bad_request")),
}


def _expected(case: Any, front: str) -> tuple[int, str | None]:
    return case[front] if isinstance(case, dict) else case


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize(("raw", "expected"), CASES.values(), ids=CASES.keys())
def test_a_hostile_request_gets_the_envelope_and_a_fitting_status(servers, front, raw, expected):
    status, headers, body = raw_http_exchange(servers[front].port, raw)
    want_status, want_code = _expected(expected, front)
    assert status == want_status, body[:300]
    assert headers["content-type"] == "application/json"
    assert headers.get("x-content-type-options") == "nosniff"
    assert not any(word in body.lower() for word in TELLTALES), body[:300]
    if status == 405:  # RFC 9110: the methods the route takes
        assert headers["allow"], headers
    answer = json.loads(body)
    if want_code is None:
        assert answer["status"] == "success"
    else:
        assert (answer["status"], answer["code"]) == ("fail", want_code), answer
        assert isinstance(answer["message"], str) and answer["message"]


@pytest.mark.parametrize("front", FRONTS)
def test_head_and_options_answer_without_a_body(servers, front):
    status, headers, body = raw_http_exchange(servers[front].port, request(b"HEAD", HEALTH))
    assert (status, headers["content-type"], body) == (200, "application/json", b"")
    status, _headers, body = raw_http_exchange(servers[front].port, request(b"OPTIONS", HEALTH))
    assert (status, body) == (204, b"")


GARBAGE_QUERY = b"?a=1&a=2&%ff=%00&x[]=&" + b"q=" + b"%" * 3 + b"&page=-1&per_page=1e400&scope=%c3"


def _get_targets(app) -> list[bytes]:
    """Every GET route, path parameters filled with a word."""
    return sorted(
        {
            re.sub(r"<[^<>]+>", "x", rule.rule).encode()
            for rule in app.url_map.iter_rules()
            if "GET" in (rule.methods or ())
        }
    )


@pytest.mark.parametrize("front", FRONTS)
def test_garbage_query_strings_on_every_route_are_never_a_server_error(app, servers, front):
    for target in _get_targets(app):
        status, headers, body = raw_http_exchange(servers[front].port, get(target + GARBAGE_QUERY))
        assert status < 500, (target, body[:300])
        if status >= 400:
            assert headers["content-type"] == "application/json", target
            assert json.loads(body)["status"] == "fail", (target, body[:300])
        else:  # the JSON answers and documents (JWKS, OpenAPI), the pages, the metrics
            assert status == 200, (target, headers)


def test_a_trace_body_never_becomes_part_of_the_next_request(servers):
    """nginx hands TRACE to the app (its 405 and Allow list) without the body it has
    dropped: with the client's Content-Length still on it, gunicorn would read the first
    bytes of the next request on the kept-alive connection as that body."""
    port = servers["nginx"].port
    padding = b"x" * 20
    for _ in range(3):
        traced = request(b"TRACE", HEALTH, b"Content-Length: %d" % len(padding), body=padding)
        status, headers, _body = raw_http_exchange(port, traced)
        assert (status, set(headers["allow"].split(", "))) == (405, {"GET", "HEAD", "OPTIONS"})
        status, _headers, body = raw_http_exchange(port, get(HEALTH))
        assert (status, json.loads(body)["status"]) == (200, "success"), body


def test_the_worker_kept_serving_and_logged_no_error(servers):
    """After every request above: the same worker answers, and nothing in its log says
    a request went wrong inside the app or gunicorn."""
    for front in FRONTS:
        status, _headers, body = raw_http_exchange(servers[front].port, get(b"/api/health/live"))
        assert (status, json.loads(body)["status"]) == (200, "success")
    log = servers["gunicorn"].log_path.read_text(errors="replace")
    assert "Traceback" not in log and "Error handling request" not in log, log[-3000:]
