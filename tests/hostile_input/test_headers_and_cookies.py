"""The Authorization header and cookies."""

from __future__ import annotations

import pytest

from tests.helpers import assert_fail
from tests.hostile_input.common import (
    ME,
    NOT_LOGGED_IN,
)

AUTHORIZATION_VARIANTS = [
    # (header built from the valid token or None, send the valid cookie too, status, message)
    pytest.param(lambda t: f"Bearer {t}", False, 200, None, id="bearer"),
    pytest.param(lambda t: f"bearer {t}", False, 200, None, id="bearer-lower-case-scheme"),
    pytest.param(lambda t: f"BEARER {t}", False, 200, None, id="bearer-upper-case-scheme"),
    pytest.param(lambda t: f"Bearer   {t}  ", False, 200, None, id="bearer-extra-spaces"),
    pytest.param(lambda t: "Basic xyz", True, 200, None, id="basic-plus-valid-cookie"),
    pytest.param(lambda t: "", True, 200, None, id="empty-header-plus-valid-cookie"),
    pytest.param(lambda t: "Bearer", True, 401, None, id="bearer-without-token-plus-cookie"),
    pytest.param(lambda t: "Bearer ", True, 401, None, id="bearer-space-plus-cookie"),
    pytest.param(lambda t: "Bearer garbage", True, 401, "forged", id="bearer-garbage-plus-cookie"),
    pytest.param(lambda t: "Bearer", False, 401, NOT_LOGGED_IN, id="bearer-without-token"),
    pytest.param(lambda t: f"Basic {t}", False, 401, NOT_LOGGED_IN, id="token-under-basic"),
    pytest.param(lambda t: t, False, 401, NOT_LOGGED_IN, id="token-without-scheme"),
    pytest.param(lambda t: f"Token {t}", False, 401, NOT_LOGGED_IN, id="token-scheme"),
    pytest.param(lambda t: f"Bearer {t} {t}", False, 401, "forged", id="token-twice"),
    pytest.param(lambda t: f"Bearer {t}, Basic xyz", False, 401, "forged", id="comma-list"),
    pytest.param(lambda t: f"Bearer {t[:-1]}", False, 401, "forged", id="token-one-char-short"),
    pytest.param(lambda t: "Bearer " + "A" * 20_000, False, 401, "forged", id="bearer-20-kb"),
    pytest.param(
        lambda t: "Bearer " + "A" * 20_000, True, 401, "forged", id="bearer-20-kb-plus-cookie"
    ),
]


@pytest.mark.parametrize(("header", "with_cookie", "status", "message"), AUTHORIZATION_VARIANTS)
def test_authorization_header_variants(app, client, victim, header, with_cookie, status, message):
    if with_cookie:
        client.set_cookie("access_token", victim.access_token)
    response = client.get(ME, headers={"Authorization": header(victim.access_token)})
    if status == 200:
        assert response.status_code == 200, response.json
        assert response.json["data"]["user"]["id"] == victim.user_id
        return
    assert_fail(response, status, None if message == "forged" else message)
    if message == "forged":
        assert response.json["message"] != NOT_LOGGED_IN


@pytest.mark.parametrize("name", ["access_token", "token", "jwt", "Authorization"])
def test_a_token_in_the_query_string_is_never_read(app, client, victim, name):
    response = client.get(ME, query_string={name: victim.access_token})
    assert_fail(response, 401, NOT_LOGGED_IN)


def _cookie_header(count: int, extra: str = "") -> str:
    cookies = [f"c{index}={'v' * 100}" for index in range(count)]
    return "; ".join([*cookies, extra] if extra else cookies)


COOKIE_CASES = [
    pytest.param(lambda t: "access_token=" + "A" * 20_000, 401, "forged", id="20-kb-access-cookie"),
    pytest.param(
        lambda t: "access_token=" + "ey" * 10_000, 401, "forged", id="20-kb-jwt-like-cookie"
    ),
    pytest.param(lambda t: _cookie_header(100), 401, NOT_LOGGED_IN, id="100-cookies-no-token"),
    pytest.param(
        lambda t: _cookie_header(100, f"access_token={t}"), 200, None, id="100-cookies-and-token"
    ),
    pytest.param(
        lambda t: f"junk={'j' * 20_000}; access_token={t}", 200, None, id="20-kb-junk-and-token"
    ),
    pytest.param(lambda t: "access_token=", 401, NOT_LOGGED_IN, id="empty-access-cookie"),
    pytest.param(lambda t: 'access_token=""', 401, NOT_LOGGED_IN, id="quoted-empty-cookie"),
    pytest.param(lambda t: "access_token=%00", 401, "forged", id="percent-nul-cookie"),
    pytest.param(lambda t: f"access_token={t}==", 200, None, id="padded-token-cookie"),
    pytest.param(lambda t: f"ACCESS_TOKEN={t}", 401, NOT_LOGGED_IN, id="cookie-name-other-case"),
    pytest.param(lambda t: f"refresh_token={t}", 401, NOT_LOGGED_IN, id="token-in-refresh-cookie"),
]


@pytest.mark.parametrize(("cookie", "status", "message"), COOKIE_CASES)
def test_hostile_cookie_headers(app, victim, cookie, status, message):
    fresh = app.test_client(use_cookies=False)  # no jar: the raw header is what arrives
    response = fresh.get(ME, headers={"Cookie": cookie(victim.access_token)})
    if status == 200:
        assert response.status_code == 200, response.json
        assert response.json["data"]["user"]["id"] == victim.user_id
        return
    assert_fail(response, status, None if message == "forged" else message)
    if message == "forged":
        assert response.json["message"] != NOT_LOGGED_IN
