"""Cross-site requests and logout scopes."""

from __future__ import annotations

import pytest

from tests.helpers import assert_fail, bearer
from tests.hostile_input.common import LOGOUT, ME, REFRESH, assert_no_cookies

CROSS_SITE_HEADERS = [
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="sec-fetch-site-cross-site"),
    pytest.param({"Sec-Fetch-Site": "CROSS-SITE"}, id="sec-fetch-site-upper-case"),
    pytest.param({"Origin": "http://evil.example"}, id="foreign-origin"),
    pytest.param({"Origin": "null"}, id="origin-null"),
    pytest.param({"Origin": "http://localhost:3000.evil.example"}, id="origin-allowed-prefix"),
    pytest.param({"Origin": "http://localhost:3000/"}, id="origin-trailing-slash"),
    pytest.param({"Origin": "http://LOCALHOST:3000"}, id="origin-other-case"),
]


@pytest.mark.parametrize("headers", CROSS_SITE_HEADERS)
def test_cookie_logout_from_another_site_is_403_and_keeps_the_session(app, client, victim, headers):
    client.set_cookie("access_token", victim.access_token)
    response = client.get(LOGOUT, headers=headers)
    assert_fail(response, 403)
    assert_no_cookies(response)
    assert client.get(ME).status_code == 200


@pytest.mark.parametrize("headers", CROSS_SITE_HEADERS)
def test_cookie_refresh_from_another_site_is_403(app, client, victim, headers):
    client.set_cookie("refresh_token", victim.refresh_token)
    response = client.get(REFRESH, headers=headers)
    assert_fail(response, 403)
    assert_no_cookies(response)


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param("everything", id="unknown"),
        pytest.param("GLOBAL", id="upper-case"),
        pytest.param("local\x00", id="nul-suffix"),
        pytest.param("global ", id="trailing-space"),
        pytest.param("", id="empty"),
        pytest.param("x" * 5000, id="5000-chars"),
    ],
)
def test_logout_with_a_hostile_scope_is_400_and_ends_nothing(app, client, victim, scope):
    response = client.get(
        LOGOUT, query_string={"scope": scope}, headers=bearer(victim.access_token)
    )
    assert_fail(response, 400)
    assert client.get(ME, headers=bearer(victim.access_token)).status_code == 200
