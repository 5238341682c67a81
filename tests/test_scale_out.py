"""Two real gunicorn processes on different ports, sharing PostgreSQL, Redis and the
keys, act as one service: what a load balancer in front of N instances relies on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from http.cookiejar import CookieJar
from typing import Any
from urllib.error import HTTPError
from urllib.request import HTTPCookieProcessor, OpenerDirector, Request, build_opener

import pytest

from tests.helpers import HANG, PASSWORD, TOKEN_MODE, bearer
from tests.support.gunicorn_server import Instance, server_environment
from tests.support.servers import running

pytestmark = [pytest.mark.live_server, pytest.mark.subprocess]


@pytest.fixture(scope="module")
def instances(app, database_url, redis_url, key_config, tmp_path_factory) -> Iterator[Any]:
    """Instances A and B, with rate limits on (their counters must be shared)."""
    env = server_environment(
        database_url,
        redis_url,
        key_config,
        RATELIMIT_ENABLED="true",
        RATELIMIT_LOGIN_PER_ADDRESS="100 per minute",
        RATELIMIT_LOGIN_PER_ACCOUNT="3 per 5 minutes",
        RATELIMIT_REGISTER_PER_ADDRESS="100 per hour",
        RATELIMIT_REFRESH_PER_SESSION="100 per minute",
    )
    log_dir = tmp_path_factory.mktemp("scale-out")
    with ExitStack() as stack:
        yield [stack.enter_context(running(Instance(name, env, log_dir))) for name in ("a", "b")]


def _call(
    opener: OpenerDirector,
    method: str,
    url: str,
    payload: dict | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    data = None if payload is None else json.dumps(payload).encode()
    request = Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with opener.open(request, timeout=HANG) as response:
            return response.status, json.loads(response.read())
    except HTTPError as error:
        assert error.headers["Content-Type"] == "application/json"
        return error.code, json.loads(error.read())


def _browser() -> OpenerDirector:
    """One cookie jar: cookies for 127.0.0.1 go to both ports, as behind one host name."""
    return build_opener(HTTPCookieProcessor(CookieJar()))


def _register(opener: OpenerDirector, base: str, email: str) -> None:
    payload = {"name": "Alice", "email": email, "password": PASSWORD, "passwordConfirm": PASSWORD}
    assert _call(opener, "POST", f"{base}/api/auth/register", payload)[0] == 201


def test_the_two_instances_are_separate_processes(instances):
    a, b = instances
    assert a.process.pid != b.process.pid and a.port != b.port
    assert a.process.poll() is None and b.process.poll() is None


def test_a_token_from_one_instance_works_on_the_other(instances):
    a, b = instances
    client = _browser()
    _register(client, a.url, "alice@example.com")
    login = {"email": "alice@example.com", "password": PASSWORD}
    status, tokens = _call(client, "POST", f"{a.url}/api/auth/login", login, TOKEN_MODE)
    assert status == 200
    auth = bearer(tokens["access_token"])
    status, body = _call(client, "GET", f"{b.url}/api/users/me", headers=auth)
    assert status == 200 and body["data"]["user"]["email"] == "alice@example.com"
    status, body = _call(client, "GET", f"{b.url}/api/auth/sessions", headers=auth)
    assert status == 200 and len(body["data"]["sessions"]) == 1

    # A refresh token issued by A rotates on B; the new tokens work on A.
    refresh = {"refresh_token": tokens["refresh_token"]}
    status, rotated = _call(client, "POST", f"{b.url}/api/auth/refresh", refresh)
    assert status == 200
    new_bearer = bearer(rotated["access_token"])
    assert _call(client, "GET", f"{a.url}/api/users/me", headers=new_bearer)[0] == 200

    # A browser logged in on B (cookies) is logged in on A too.
    assert _call(client, "POST", f"{b.url}/api/auth/login", login)[0] == 200
    assert _call(client, "GET", f"{a.url}/api/users/me")[0] == 200
    assert _call(client, "GET", f"{a.url}/api/auth/refresh")[0] == 200
    assert _call(client, "GET", f"{b.url}/api/users/me")[0] == 200


def test_logout_on_one_instance_revokes_on_the_other(instances):
    a, b = instances
    client = _browser()
    _register(client, a.url, "alice@example.com")
    login = {"email": "alice@example.com", "password": PASSWORD}
    status, tokens = _call(client, "POST", f"{a.url}/api/auth/login", login, TOKEN_MODE)
    auth = bearer(tokens["access_token"])
    assert _call(client, "GET", f"{b.url}/api/users/me", headers=auth)[0] == 200

    assert _call(client, "GET", f"{a.url}/api/auth/logout", headers=auth)[0] == 200
    status, body = _call(client, "GET", f"{b.url}/api/users/me", headers=auth)
    assert (status, body["message"]) == (401, "Invalid token or session has expired")
    refresh = {"refresh_token": tokens["refresh_token"]}
    assert _call(client, "POST", f"{b.url}/api/auth/refresh", refresh)[0] == 403


def test_rate_limit_counters_are_shared(instances):
    a, b = instances
    client = _browser()
    _register(client, a.url, "alice@example.com")
    wrong = {"email": "alice@example.com", "password": "wrong password"}
    # 3 failed logins per account, spread over both instances, use up the one limit.
    for base in (a.url, b.url, a.url):
        assert _call(client, "POST", f"{base}/api/auth/login", wrong)[0] == 400
    for base in (b.url, a.url):
        status, body = _call(client, "POST", f"{base}/api/auth/login", wrong)
        assert status == 429, body
    right = {"email": "alice@example.com", "password": PASSWORD}
    assert _call(client, "POST", f"{b.url}/api/auth/login", right)[0] == 429
