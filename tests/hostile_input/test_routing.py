"""Methods, unknown paths, demo file traversal, and the victim fixture itself."""

from __future__ import annotations

import jwt
import pytest

from tests.helpers import PASSWORD, TOKEN_MODE, assert_fail, bearer, register
from tests.hostile_input.common import (
    EMAIL,
    LOGIN,
    LOGOUT,
    ME,
    REFRESH,
    REGISTER,
    assert_no_cookies,
    session_keys,
)

WRONG_METHODS = [
    pytest.param("PUT", LOGIN, id="put-login"),
    pytest.param("GET", LOGIN, id="get-login"),
    pytest.param("PUT", ME, id="put-me"),  # PATCH and DELETE are the caller's own changes
    pytest.param("POST", ME, id="post-me"),
    pytest.param("PATCH", REGISTER, id="patch-register"),
    pytest.param("GET", REGISTER, id="get-register"),
    pytest.param("PUT", REFRESH, id="put-refresh"),
    pytest.param("DELETE", LOGOUT, id="delete-logout"),
    pytest.param("TRACE", ME, id="trace-me"),
    pytest.param("PROPFIND", ME, id="webdav-propfind-me"),
]


@pytest.mark.parametrize(("method", "path"), WRONG_METHODS)
def test_a_wrong_method_is_405_json_with_allow(app, client, method, path):
    response = client.open(path, method=method)
    assert_fail(response, 405)
    assert method not in response.headers["Allow"]


@pytest.mark.parametrize("header", ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"])
def test_method_override_headers_are_ignored(app, client, victim, header):
    response = client.post(ME, headers={header: "GET", **bearer(victim.access_token)})
    assert_fail(response, 405)


def test_login_credentials_in_the_query_string_are_never_read(app, client, redis_client):
    register(client)
    response = client.post(
        LOGIN, query_string={"email": EMAIL, "password": PASSWORD}, json={}, headers=TOKEN_MODE
    )
    assert_fail(response, 400)
    assert_no_cookies(response)
    assert session_keys(redis_client) == []


UNKNOWN_PATHS = [
    pytest.param("/api/nope", "/api/nope", id="unknown"),
    pytest.param("/api/auth/register/", "/api/auth/register/", id="trailing-slash"),
    pytest.param("/API/AUTH/LOGIN", "/API/AUTH/LOGIN", id="upper-case"),
    pytest.param(
        "/api/users/me/../../../etc/passwd", "/api/users/me/../../../etc/passwd", id="dots"
    ),
    pytest.param("/api/%00", "/api/\x00", id="nul"),
    pytest.param("/api/%ff", "/api/\ufffd", id="invalid-utf8"),
    pytest.param("/api/%E2%80%AE", "/api/\u202e", id="right-to-left-override"),
    pytest.param("/api/<script>alert(1)</script>", "/api/<script>alert(1)</script>", id="html"),
    pytest.param("/api/%", "/api/%", id="lone-percent"),
    pytest.param("/api/nope?x=<b>&y=%ff", "/api/nope?x=<b>&y=%ff", id="query-string"),
    pytest.param("/api/" + "a" * 5000, "/api/" + "a" * 5000, id="5000-char-path"),
]


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize(("path", "shown"), UNKNOWN_PATHS)
def test_an_unknown_path_is_404_json_naming_the_route(app, client, method, path, shown):
    response = client.open(path, method=method)
    assert_fail(response, 404, f"Route {shown} not found")


DEMO_TRAVERSALS = [
    pytest.param("/demo/..%2f..%2fconfig.py", "/demo/../../config.py", id="encoded-traversal"),
    pytest.param("/demo/%2e%2e/%2e%2e/.env", "/demo/../../.env", id="encoded-dots"),
    pytest.param("/demo/../../config.py", "/demo/../../config.py", id="plain-traversal"),
    pytest.param("/demo/%00", "/demo/\x00", id="nul"),
    pytest.param("/demo/" + "a" * 5000, "/demo/" + "a" * 5000, id="5000-char-name"),
]


@pytest.mark.parametrize(("path", "shown"), DEMO_TRAVERSALS)
def test_paths_out_of_the_demo_files_are_404_json(app, client, path, shown):
    response = client.get(path)
    assert_fail(response, 404, f"Route {shown} not found")


# --------------------------------------------------------------- the victim fixture itself


def test_the_victim_tokens_are_signed_with_the_configured_keys(app, victim):
    """The forgery tables lean on these kids: make sure they are the app's real ones."""
    assert jwt.get_unverified_header(victim.access_token)["kid"] == victim.access.kid
    assert jwt.get_unverified_header(victim.refresh_token)["kid"] == victim.refresh.kid
    assert victim.access.kid != victim.refresh.kid
