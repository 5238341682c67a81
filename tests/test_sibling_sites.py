"""Security review item 8: a page on a sibling subdomain (Sec-Fetch-Site: same-site)
cannot log a user out or refresh through their cookies, while the tutorial's front
ends (another port: same-site, with an allowed Origin) and clients without Fetch
Metadata keep working."""

from __future__ import annotations

import pytest

from authapi import create_app
from authapi.auth.guard import CROSS_SITE_MESSAGE
from authapi.configuration import ConfigurationError
from tests.helpers import assert_fail, login, register

SIBLING = {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate"}


def _signed_in(client) -> str:
    register(client)
    return login(client)


def _alive(client, token: str) -> bool:
    return (
        client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )


@pytest.mark.parametrize("path", ["/api/auth/logout", "/api/auth/refresh"])
def test_a_navigation_from_a_sibling_subdomain_is_refused(client, path):
    token = _signed_in(client)
    assert_fail(client.get(path, headers=SIBLING), 403, CROSS_SITE_MESSAGE)
    other = {**SIBLING, "Origin": "https://evil.example.com"}
    assert_fail(client.get(path, headers=other), 403, CROSS_SITE_MESSAGE)
    assert _alive(client, token)


@pytest.mark.parametrize("path", ["/api/auth/refresh", "/api/auth/logout"])
def test_the_front_end_on_another_port_keeps_working(client, path):
    _signed_in(client)
    headers = {"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:3000"}
    assert client.get(path, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers", [{}, {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}]
)
def test_same_origin_typed_urls_and_clients_without_fetch_metadata_keep_working(client, headers):
    _signed_in(client)
    assert client.get("/api/auth/refresh", headers=headers).status_code == 200
    assert client.get("/api/auth/logout", headers=headers).status_code == 200


def test_the_refresh_cookie_can_be_samesite_strict(make_app):
    client = make_app(REFRESH_COOKIE_SAMESITE="Strict").test_client()
    register(client)
    answer = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "correct horse battery"}
    )
    cookies = answer.headers.getlist("Set-Cookie")
    refresh = [cookie for cookie in cookies if cookie.startswith("refresh_token=")]
    assert refresh and "SameSite=Strict" in refresh[0]
    access = [cookie for cookie in cookies if cookie.startswith("access_token=")]
    assert "SameSite=Lax" in access[0]  # the contract's cookies are unchanged
    cleared = client.get("/api/auth/logout").headers.getlist("Set-Cookie")
    assert any(c.startswith("refresh_token=;") and "SameSite=Strict" in c for c in cleared)


def test_the_refresh_cookie_samesite_setting_is_checked_at_start(base_config):
    with pytest.raises(ConfigurationError, match="REFRESH_COOKIE_SAMESITE"):
        create_app({**base_config, "REFRESH_COOKIE_SAMESITE": "None"})
