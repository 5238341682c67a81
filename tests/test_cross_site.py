"""CORS for the configured front end, and refusal of cross-site cookie state changes."""

from __future__ import annotations

import pytest

from tests.helpers import assert_fail, bearer, login, register

FRONT_END = "http://localhost:3000"


def test_allowed_origin_gets_credentialed_cors_headers_on_success_and_errors(client):
    for response in (
        client.get("/api/healthChecker", headers={"Origin": FRONT_END}),
        client.get("/api/users/me", headers={"Origin": FRONT_END}),
        client.get("/no/such/route", headers={"Origin": FRONT_END}),
    ):
        assert response.headers["Access-Control-Allow-Origin"] == FRONT_END
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        assert "Origin" in response.headers.get("Vary", "")


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "null",
        "http://localhost:3000.evil.example",
        "http://localhost:30000",
        "https://localhost:3000",
    ],
)
def test_other_origins_get_no_allow_origin(client, origin):
    response = client.get("/api/healthChecker", headers={"Origin": origin})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"]  # caches must not reuse it for allowed ones


def test_preflight_for_json_post_succeeds(client):
    response = client.options(
        "/api/auth/login",
        headers={
            "Origin": FRONT_END,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert response.status_code == 204
    assert "Content-Type" not in response.headers  # no body, so no (HTML) content type
    assert response.headers["Access-Control-Allow-Origin"] == FRONT_END
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()


def test_every_response_has_nosniff(client):
    for response in (client.get("/api/healthChecker"), client.get("/missing")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/auth/logout"), ("POST", "/api/auth/logout"), ("GET", "/api/auth/refresh")],
)
@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "http://evil.example"}, {"Origin": "null"}],
)
def test_cross_site_cookie_state_changes_are_refused(client, method, path, headers):
    register(client)
    login(client)
    response = client.open(path, method=method, headers=headers)
    assert_fail(response, 403, "Cross-site request refused")
    assert client.get("/api/users/me").status_code == 200  # the session survived


def test_cross_site_password_change_and_session_delete_are_refused(client):
    register(client)
    login(client)
    session_id = client.get("/api/auth/sessions").json["data"]["sessions"][0]["id"]
    cross = {"Sec-Fetch-Site": "cross-site"}
    assert_fail(client.delete(f"/api/auth/sessions/{session_id}", headers=cross), 403)
    response = client.patch(
        "/api/users/me/password",
        json={"currentPassword": "x", "password": "y" * 8, "passwordConfirm": "y" * 8},
        headers=cross,
    )
    assert_fail(response, 403)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-site", "Origin": FRONT_END},
        {"Origin": FRONT_END},
        {"Origin": "http://localhost"},  # the API's own origin in the test client
    ],
)
def test_same_site_and_curl_style_requests_pass(client, headers):
    register(client)
    login(client)
    assert client.get("/api/auth/refresh", headers=headers).status_code == 200
    assert client.get("/api/auth/logout", headers=headers).status_code == 200


def test_bearer_requests_are_not_subject_to_the_cross_site_check(app):
    client = app.test_client()
    register(client)
    token = login(client)
    response = app.test_client().get(
        "/api/auth/logout",
        headers={**bearer(token), "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_simple_request_content_types_are_415(client, content_type):
    response = client.post(
        "/api/auth/login",
        data='{"email": "a@example.com", "password": "whatever1"}',
        headers={"Content-Type": content_type},
    )
    assert_fail(response, 415, "Content-Type must be application/json")
