"""Security review item 4: the refresh limit is keyed on the VERIFIED session (the token
the view uses), plus a per-address limit; a junk or foreign ``sid`` reaches nothing."""

from __future__ import annotations

import jwt

from tests.helpers import PASSWORD, assert_fail, register

LIMITED = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_REFRESH_PER_SESSION": "2 per minute",
    "RATELIMIT_REFRESH_PER_ADDRESS": "1000 per minute",
}
TOKEN_MODE = {"X-Auth-Mode": "token"}


def _token_login(client) -> str:
    answer = client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers=TOKEN_MODE,
    )
    assert answer.status_code == 200, answer.json
    return answer.json["refresh_token"]


def _forged(session_id: str) -> str:
    """A token naming someone's session, signed by nobody we trust."""
    return jwt.encode({"sid": session_id, "sub": "x", "type": "refresh"}, "k" * 32, "HS256")


def test_junk_refresh_cookies_create_no_counters(make_app, redis_client):
    client = make_app(**LIMITED).test_client()
    for index in range(5):
        client.set_cookie("refresh_token", _forged(f"junk-session-{index}"), path="/api/auth")
        assert_fail(client.get("/api/auth/refresh"), 403)
    keys = list(redis_client.scan_iter("*junk-session*"))
    assert keys == []


def test_a_junk_cookie_next_to_a_real_body_token_does_not_bypass_the_session_limit(make_app):
    client = make_app(**LIMITED).test_client()
    register(client)
    token = _token_login(client)
    for index in range(2):
        client.set_cookie("refresh_token", _forged(f"other-{index}"), path="/api/auth")
        answer = client.post("/api/auth/refresh", json={"refresh_token": token})
        assert answer.status_code == 200, answer.json
        token = answer.json["refresh_token"]
    client.set_cookie("refresh_token", _forged("other-3"), path="/api/auth")
    refused = client.post("/api/auth/refresh", json={"refresh_token": token})
    assert_fail(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1


def test_a_known_sid_cannot_be_rate_limited_out_of_refreshing(make_app):
    app = make_app(**LIMITED)
    victim = app.test_client()
    register(victim)
    token = _token_login(victim)
    session_id = jwt.decode(token, options={"verify_signature": False})["sid"]
    attacker = app.test_client()
    for _ in range(5):
        attacker.set_cookie("refresh_token", _forged(session_id), path="/api/auth")
        assert_fail(attacker.get("/api/auth/refresh"), 403)
    answer = victim.post("/api/auth/refresh", json={"refresh_token": token})
    assert answer.status_code == 200, answer.json


def test_refresh_is_limited_per_client_address(make_app):
    client = make_app(**{**LIMITED, "RATELIMIT_REFRESH_PER_ADDRESS": "3 per minute"}).test_client()
    for index in range(3):
        client.set_cookie("refresh_token", _forged(f"s{index}"), path="/api/auth")
        assert_fail(client.get("/api/auth/refresh"), 403)
    assert_fail(client.get("/api/auth/refresh"), 429)
