"""Hostile input to the provider and email-code routes: every answer is the JSON
envelope with a 4xx (or a redirect to the front end for browsers), never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.helpers import assert_fail, login, register

JSON = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html"}
FRONTEND = "http://app.example.com"


@pytest.fixture
def provider_app(make_app: Callable[..., Flask]) -> Flask:
    """Providers configured, none reachable: the checks before any network call."""
    return make_app(
        OAUTH_PROVIDERS=("test",),
        OAUTH_TEST_ISSUER="http://127.0.0.1:9",
        OAUTH_TEST_CLIENT_ID="id",
        OAUTH_TEST_CLIENT_SECRET="secret",
        FRONTEND_URL=FRONTEND,
    )


@pytest.mark.parametrize(
    "query",
    [
        "",
        "state=",
        "state=" + "A" * 5000,
        "state=%00&code=%00",
        "state=a&state=b&code=c&code=d",
        "code=" + "x" * 3000,
        "error=access_denied",
        "error=%ff%fe&state=%c3%28",
        "state=%E2%80%AE&code=%0d%0aSet-Cookie:%20x=y",
    ],
)
def test_callback_junk_is_a_400_or_a_redirect_home(provider_app: Flask, query: str) -> None:
    client = provider_app.test_client()
    client.set_cookie("oauth_flow", "A" * 4000, path="/api/auth/oauth")
    url = "/api/auth/oauth/test/callback?" + query
    assert_fail(client.get(url, headers=JSON), 400)
    browser = client.get(url, headers=BROWSER)
    assert browser.status_code == 302
    assert browser.headers["Location"] == FRONTEND + "?error=invalid_state"
    assert "\n" not in browser.headers["Location"]


@pytest.mark.parametrize(
    "provider", ["TEST", "te%00st", "..%2f..%2fadmin", "x" * 300, "%E2%80%AE", "test%20"]
)
def test_unknown_provider_names_are_404(provider_app: Flask, provider: str) -> None:
    client = provider_app.test_client()
    for action in ("authorize", "callback"):
        response = client.get(f"/api/auth/oauth/{provider}/{action}", headers=JSON)
        assert_fail(response, 404)


@pytest.mark.parametrize(
    "redirect_to",
    ["%00", "http://app.example.com%00.evil", "x" * 3000, "http://app.example.com:99999/"],
)
def test_authorize_junk_redirects_are_400(provider_app: Flask, redirect_to: str) -> None:
    client = provider_app.test_client()
    response = client.get(
        f"/api/auth/oauth/test/authorize?redirect_to={redirect_to}", headers=BROWSER
    )
    assert_fail(response, 400)


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ("[]", "application/json", 400),
        ('{"redirect_to": 5}', "application/json", 400),
        ('{"redirect_to": "' + "a" * 3000 + '"}', "application/json", 400),
        ("redirect_to=x", "application/x-www-form-urlencoded", 415),
        ("{", "application/json", 400),
    ],
)
def test_link_bodies(provider_app: Flask, body: str, content_type: str, status: int) -> None:
    client = provider_app.test_client()
    register(client)
    login(client)
    response = client.post("/api/auth/identities/test/link", data=body, content_type=content_type)
    assert_fail(response, status)


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "a@example.com", "code": "١٢٣٤٥٦"},  # Arabic-Indic digits
        {"email": "a@example.com", "code": "12345\u0000"},
        {"email": "a@example.com", "code": " 123456"},
        {"email": "a@example.com", "code": {"$ne": ""}},
        {"email": "a@example.com", "code": ["123456"]},
        {"email": "a@example.com" * 30, "code": "123456"},
    ],
)
def test_otp_verify_junk_is_a_400(client: Any, payload: dict[str, Any]) -> None:
    assert_fail(client.post("/api/auth/otp/verify", json=payload), 400)


def test_otp_bodies_that_are_not_objects(client: Any) -> None:
    for path in ("/api/auth/otp", "/api/auth/otp/verify"):
        assert_fail(client.post(path, data="[1]", content_type="application/json"), 400)
        assert_fail(client.post(path, data="x" * 20_000, content_type="application/json"), 413)
