"""Rotating refresh tokens, reuse detection, per-device sessions (through HTTP, real Redis)."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from urllib.request import HTTPCookieProcessor, Request, build_opener

import jwt
import pytest
from click.testing import Result

from authapi import keys
from authapi.sessions import SUPERSEDED_KEPT
from tests.helpers import (
    HANG,
    PASSWORD,
    assert_fail,
    bearer,
    login,
    refresh_by_body,
    register,
    rotate_and_use,
    token_login,
)


def generation(refresh_token: str) -> int:
    return jwt.decode(refresh_token, options={"verify_signature": False})["gen"]


def test_token_mode_login_returns_both_tokens_and_no_cookies(client):
    register(client)
    body = token_login(client)
    assert body["status"] == "success"
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900 and body["refresh_expires_in"] == 3600
    assert client.get("/api/users/me", headers=bearer(body["access_token"])).status_code == 200


def test_browser_clients_never_see_the_refresh_token_in_a_body(client):
    register(client)
    response = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert set(response.json) == {"status", "access_token"}
    refreshed = client.get("/api/auth/refresh")
    assert set(refreshed.json) == {"status", "access_token"}
    posted = client.post("/api/auth/refresh")
    assert posted.status_code == 200 and set(posted.json) == {"status", "access_token"}


def test_every_refresh_rotates_the_refresh_token(client):
    register(client)
    first = token_login(client)["refresh_token"]
    second = refresh_by_body(client, first).json["refresh_token"]
    third = refresh_by_body(client, second).json["refresh_token"]
    assert [generation(t) for t in (first, second, third)] == [0, 1, 2]


def test_cookie_refresh_rotates_the_cookie(client):
    register(client)
    login(client)
    before = client.get_cookie("refresh_token", path="/api/auth").value
    assert client.get("/api/auth/refresh").status_code == 200
    after = client.get_cookie("refresh_token", path="/api/auth").value
    assert generation(after) == generation(before) + 1


def test_chain_grace_then_reuse_revokes_the_whole_session(app, make_app):
    """first -> second -> third; second again inside the interval gets the current
    generation; first after the interval revokes, and third dies with it."""
    client = app.test_client()
    register(client)
    tokens = token_login(client)
    first = tokens["refresh_token"]
    second = refresh_by_body(client, first).json["refresh_token"]
    third_body = refresh_by_body(client, second).json
    third = third_body["refresh_token"]

    again = refresh_by_body(client, second)
    assert again.status_code == 200
    assert generation(again.json["refresh_token"]) == generation(third) == 2
    assert (
        client.get("/api/users/me", headers=bearer(again.json["access_token"])).status_code == 200
    )

    # The same session seen by an app whose grace window has already passed.
    later = make_app(REFRESH_REUSE_INTERVAL=0).test_client()
    assert_fail(refresh_by_body(later, first), 403, "Could not refresh access token")
    assert_fail(refresh_by_body(client, third), 403, "Could not refresh access token")
    response = client.get("/api/users/me", headers=bearer(third_body["access_token"]))
    assert_fail(response, 401, "Invalid token or session has expired")


def test_reuse_of_the_previous_token_after_the_interval_revokes(app, make_app):
    client = app.test_client()
    register(client)
    first = token_login(client)["refresh_token"]
    second = rotate_and_use(client, first)["refresh_token"]
    later = make_app(REFRESH_REUSE_INTERVAL=0).test_client()
    assert_fail(refresh_by_body(later, first), 403)
    assert_fail(refresh_by_body(client, second), 403)


def test_a_client_whose_rotation_answer_was_lost_stays_logged_in(app, make_app):
    """A refresh rotated the session but its answer never arrived (a dropped connection,
    a tab closed mid-refresh): the client still holds the previous token and comes back
    long after the grace window. Nobody used the generation it missed, so it gets that
    generation's tokens instead of a revoked session; its use then closes the door."""
    client = app.test_client()
    register(client)
    first = token_login(client)["refresh_token"]
    lost = refresh_by_body(client, first).json  # rotated; the client never sees it
    later = make_app(CLOCK_OFFSET=600).test_client()
    recovered = refresh_by_body(later, first)
    assert recovered.status_code == 200, recovered.json
    assert generation(recovered.json["refresh_token"]) == generation(lost["refresh_token"]) == 1
    # Asking again before using it is the same answer: no generation is minted.
    again = refresh_by_body(later, first)
    assert generation(again.json["refresh_token"]) == 1
    assert later.get("/api/users/me", headers=bearer(again.json["access_token"])).status_code == 200
    # Generation 1 is now in use: the previous token is a reuse, and revokes the session.
    assert_fail(refresh_by_body(later, first), 403, "Could not refresh access token")
    assert_fail(refresh_by_body(later, again.json["refresh_token"]), 403)


def test_the_previous_generation_is_a_reuse_once_its_successor_was_used(app, make_app):
    """A stolen token replayed after its owner refreshed and went on using the API."""
    client = app.test_client()
    register(client)
    stolen = token_login(client)["refresh_token"]
    current = rotate_and_use(client, stolen)
    thief = make_app(CLOCK_OFFSET=600).test_client()
    assert_fail(refresh_by_body(thief, stolen), 403, "Could not refresh access token")
    response = client.get("/api/users/me", headers=bearer(current["access_token"]))
    assert_fail(response, 401, "Invalid token or session has expired")


def test_a_thief_who_refreshes_first_is_caught_when_the_owner_comes_back(app, make_app):
    """The thief rotates with a copied token and uses the new access token; the owner's
    token is now the previous generation, of a successor in use: a reuse, the session
    ends for both."""
    owner = app.test_client()
    register(owner)
    copied = token_login(owner)["refresh_token"]
    thief = app.test_client()
    taken = rotate_and_use(thief, copied)
    later = make_app(CLOCK_OFFSET=600).test_client()
    assert_fail(refresh_by_body(later, copied), 403, "Could not refresh access token")
    response = thief.get("/api/users/me", headers=bearer(taken["access_token"]))
    assert_fail(response, 401, "Invalid token or session has expired")


def test_only_the_previous_generation_is_recovered(app, make_app):
    """Two rotations nobody used: the token two generations back is still a reuse."""
    client = app.test_client()
    register(client)
    first = token_login(client)["refresh_token"]
    second = refresh_by_body(client, first).json["refresh_token"]
    refresh_by_body(client, second)
    later = make_app(CLOCK_OFFSET=600).test_client()
    assert_fail(refresh_by_body(later, first), 403, "Could not refresh access token")


def test_a_cookie_client_whose_refresh_answer_was_lost_stays_logged_in(app, make_app):
    """The browser's refresh rotated the session, but the answer (with its cookies)
    was lost, as when the tab navigated away mid-request."""
    browser = app.test_client()
    register(browser)
    login(browser)
    before = browser.get_cookie("refresh_token", path="/api/auth").value
    refresh_by_body(app.test_client(), before)  # the rotation whose answer was lost
    later = make_app(CLOCK_OFFSET=600).test_client()
    later.set_cookie("refresh_token", before, path="/api/auth")
    assert later.get("/api/auth/refresh").status_code == 200
    assert later.get("/api/users/me").status_code == 200


def test_the_grace_window_never_mints_a_new_generation(client):
    register(client)
    first = token_login(client)["refresh_token"]
    second = refresh_by_body(client, first).json["refresh_token"]
    for _ in range(5):
        answer = refresh_by_body(client, first).json["refresh_token"]
        assert generation(answer) == generation(second) == 1
    # Only the current generation moves the chain on.
    assert generation(refresh_by_body(client, second).json["refresh_token"]) == 2


def test_a_late_refresh_with_a_token_two_generations_old_inside_the_interval_is_grace(client):
    """Two tabs send the same refresh token at once; the first is answered, and a third
    refresh (with the cookie it set) runs before the other tab's request does. That token
    was superseded a moment ago, inside REFRESH_REUSE_INTERVAL: docs/sessions.md says it
    gets the current generation, so the user stays logged in (it was a reuse that ended
    the session, because only the generation just before the current one had grace)."""
    register(client)
    first = token_login(client)["refresh_token"]
    second = refresh_by_body(client, first).json["refresh_token"]
    third = refresh_by_body(client, second).json["refresh_token"]
    late = refresh_by_body(client, first)
    assert late.status_code == 200, late.json
    assert generation(late.json["refresh_token"]) == generation(third) == 2
    assert client.get("/api/users/me", headers=bearer(late.json["access_token"])).status_code == 200
    # Still one chain: the grace answer minted no generation, the current one moves on.
    assert generation(refresh_by_body(client, third).json["refresh_token"]) == 3


def test_grace_covers_the_last_superseded_generations_only(client):
    """A session remembers its last SUPERSEDED_KEPT superseded generations, so a client
    rotating nonstop cannot make each rotation parse a list of hundreds: a token older
    than those is a reuse even inside the interval, the oldest remembered one is grace."""
    register(client)
    chain = [token_login(client)["refresh_token"]]
    for _ in range(SUPERSEDED_KEPT + 1):
        chain.append(refresh_by_body(client, chain[-1]).json["refresh_token"])
    oldest_remembered = refresh_by_body(client, chain[1])
    assert oldest_remembered.status_code == 200, oldest_remembered.json
    assert generation(oldest_remembered.json["refresh_token"]) == SUPERSEDED_KEPT + 1
    assert_fail(refresh_by_body(client, chain[0]), 403, "Could not refresh access token")
    assert_fail(refresh_by_body(client, chain[-1]), 403, "Could not refresh access token")


def test_an_old_token_superseded_before_the_interval_still_revokes(app, make_app):
    """Grace is per token: generation 0 superseded a minute ago is a reuse even though
    generation 1 was superseded just now."""
    client = app.test_client()
    register(client)
    first = token_login(client)["refresh_token"]
    second = refresh_by_body(client, first).json["refresh_token"]
    minute_later = make_app(CLOCK_OFFSET=60).test_client()
    third = refresh_by_body(minute_later, second).json["refresh_token"]
    assert_fail(refresh_by_body(minute_later, first), 403, "Could not refresh access token")
    assert_fail(refresh_by_body(minute_later, third), 403, "Could not refresh access token")


def _live_refresh(url: str, refresh_token: str) -> tuple[int, dict]:
    request = Request(
        f"{url}/api/auth/refresh",
        data=json.dumps({"refresh_token": refresh_token}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    opener = build_opener(HTTPCookieProcessor(CookieJar()))
    try:
        with opener.open(request, timeout=HANG) as response:
            return response.status, json.loads(response.read())
    except Exception as error:  # urllib raises HTTPError for 4xx/5xx
        status = getattr(error, "code", None)
        if status is None:
            raise
        return status, json.loads(error.read())


@pytest.mark.live_server
def test_twenty_concurrent_refreshes_converge_on_one_generation(app, live_server):
    server = live_server(app)
    client = app.test_client()
    register(client)
    refresh_token = token_login(client)["refresh_token"]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _: _live_refresh(server.url, refresh_token), range(20)))
    statuses = [status for status, _ in results]
    assert all(status < 500 for status in statuses), statuses
    assert statuses == [200] * 20, statuses
    generations = {generation(body["refresh_token"]) for _, body in results}
    assert generations == {1}
    # Exactly one chain is alive: generation 1 moves on, generation 0 is only a grace echo.
    current = results[0][1]["refresh_token"]
    assert generation(refresh_by_body(client, current).json["refresh_token"]) == 2


def test_absolute_cap_ends_a_session_that_keeps_refreshing(app, make_app):
    cap = {"SESSION_MAX_AGE": 120, "REFRESH_TOKEN_EXPIRES_IN": 2}  # refresh lifetime <= cap
    capped = make_app(**cap)
    client = capped.test_client()
    register(client)
    refresh_token = token_login(client)["refresh_token"]
    minute_later = make_app(**cap, CLOCK_OFFSET=60).test_client()
    response = refresh_by_body(minute_later, refresh_token)
    assert response.status_code == 200
    assert response.json["refresh_expires_in"] <= 60  # never past the cap
    past_cap = make_app(**cap, CLOCK_OFFSET=121).test_client()
    assert_fail(refresh_by_body(past_cap, response.json["refresh_token"]), 403)
    # The session is gone for everyone, not just for the clock that noticed.
    me = minute_later.get("/api/users/me", headers=bearer(response.json["access_token"]))
    assert_fail(me, 401, "Invalid token or session has expired")


def test_an_expired_access_token_says_not_logged_in(app, make_app):
    client = app.test_client()
    register(client)
    access_token = login(client)
    later = make_app(CLOCK_OFFSET=16 * 60).test_client()
    response = later.get("/api/users/me", headers=bearer(access_token))
    assert_fail(response, 401, "You are not logged in")
    # ...and the front end's refresh then works with the refresh token.
    assert client.get("/api/auth/refresh").status_code == 200


def test_an_expired_refresh_token_cannot_refresh(app, make_app):
    client = app.test_client()
    register(client)
    refresh_token = token_login(client)["refresh_token"]
    later = make_app(CLOCK_OFFSET=61 * 60 + 30).test_client()
    assert_fail(refresh_by_body(later, refresh_token), 403)


def _sessions(client, access_token=None) -> list[dict]:
    headers = bearer(access_token) if access_token else {}
    response = client.get("/api/auth/sessions", headers=headers)
    assert response.status_code == 200, response.json
    return response.json["data"]["sessions"]


def test_session_list_shows_each_device_and_marks_the_current_one(app):
    phone, laptop = app.test_client(), app.test_client()
    register(phone)
    phone.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers={"User-Agent": "Phone/1.0"},
    )
    laptop.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers={"User-Agent": "Laptop/2.0"},
    )
    listed = _sessions(phone)
    assert len(listed) == 2
    assert {s["user_agent"] for s in listed} == {"Phone/1.0", "Laptop/2.0"}
    assert [s["user_agent"] for s in listed if s["current"]] == ["Phone/1.0"]
    for session in listed:
        assert set(session) == {
            "id",
            "created_at",
            "last_used_at",
            "expires_at",
            "ip",
            "user_agent",
            "current",
        }
        assert session["ip"] == "127.0.0.1"


def test_ending_another_device_session(app):
    phone, laptop = app.test_client(), app.test_client()
    register(phone)
    login(phone)
    login(laptop)
    laptop_id = next(s["id"] for s in _sessions(laptop) if s["current"])
    response = phone.delete(f"/api/auth/sessions/{laptop_id}")
    assert response.status_code == 200 and response.json == {"status": "success"}
    assert_fail(laptop.get("/api/users/me"), 401)
    assert phone.get("/api/users/me").status_code == 200
    assert_fail(phone.delete(f"/api/auth/sessions/{laptop_id}"), 404, "Session not found")


def test_another_users_session_id_is_404_like_a_missing_one(app):
    alice, bob = app.test_client(), app.test_client()
    register(alice)
    register(bob, email="bob@example.com")
    login(alice)
    login(bob, email="bob@example.com")
    alice_session = _sessions(alice)[0]["id"]
    assert_fail(bob.delete(f"/api/auth/sessions/{alice_session}"), 404, "Session not found")
    assert_fail(bob.delete("/api/auth/sessions/no-such-session"), 404, "Session not found")
    assert alice.get("/api/users/me").status_code == 200


@pytest.mark.parametrize(
    ("scope", "phone_alive", "laptop_alive"),
    [("local", False, True), ("others", True, False), ("global", False, False)],
)
def test_logout_scopes(app, scope, phone_alive, laptop_alive):
    phone, laptop = app.test_client(), app.test_client()
    register(phone)
    phone_token = login(phone)
    laptop_token = login(laptop)
    response = app.test_client().post(
        f"/api/auth/logout?scope={scope}", headers=bearer(phone_token)
    )
    assert response.status_code == 200
    probe = app.test_client()
    assert (probe.get("/api/users/me", headers=bearer(phone_token)).status_code == 200) is (
        phone_alive
    )
    assert (probe.get("/api/users/me", headers=bearer(laptop_token)).status_code == 200) is (
        laptop_alive
    )


def test_logout_with_an_unknown_scope_is_400_and_ends_nothing(client):
    register(client)
    login(client)
    assert_fail(client.get("/api/auth/logout?scope=everything"), 400)
    assert client.get("/api/users/me").status_code == 200


def test_password_change_keeps_this_session_and_ends_the_others(app):
    phone, laptop = app.test_client(), app.test_client()
    register(phone)
    login(phone)
    login(laptop)
    new_password = "a brand new password"
    response = phone.patch(
        "/api/users/me/password",
        json={
            "currentPassword": PASSWORD,
            "password": new_password,
            "passwordConfirm": new_password,
        },
    )
    assert response.status_code == 200, response.json
    assert response.json["data"]["sessions_ended"] == 1
    assert phone.get("/api/users/me").status_code == 200
    assert_fail(laptop.get("/api/users/me"), 401)
    fresh = app.test_client()
    assert_fail(
        fresh.post("/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}),
        400,
        "Invalid email or password",
    )
    login(fresh, password=new_password)


def test_password_change_needs_the_current_password(client):
    register(client)
    login(client)
    response = client.patch(
        "/api/users/me/password",
        json={
            "currentPassword": "wrong-password",
            "password": "x" * 10,
            "passwordConfirm": "x" * 10,
        },
    )
    assert_fail(response, 400, "Current password is incorrect")
    assert "currentPassword" in response.json["errors"]
    login(client)  # the old password still works


def test_password_change_validates_the_new_password(client):
    register(client)
    login(client)
    response = client.patch(
        "/api/users/me/password",
        json={"currentPassword": PASSWORD, "password": "short", "passwordConfirm": "other"},
    )
    assert_fail(response, 400)
    assert {"password", "passwordConfirm"} <= set(response.json["errors"])


def test_deleting_a_user_kills_their_tokens_at_once(app):
    client = app.test_client()
    register(client)
    body = token_login(client)
    login(client)
    runner = app.test_cli_runner()
    result: Result = runner.invoke(args=["users", "delete", "ALICE@example.com", "--yes"])
    assert result.exit_code == 0, result.output
    assert "Deleted alice@example.com" in result.output
    assert_fail(client.get("/api/users/me"), 401)
    assert_fail(app.test_client().get("/api/users/me", headers=bearer(body["access_token"])), 401)
    assert_fail(refresh_by_body(client, body["refresh_token"]), 403)
    missing = runner.invoke(args=["users", "delete", "alice@example.com", "--yes"])
    assert missing.exit_code != 0 and "No user with email" in missing.output


def _b64_public(private_key) -> str:
    return base64.b64encode(keys.public_pem(private_key.public_key())).decode()


def _b64_private(private_key) -> str:
    return base64.b64encode(keys.private_pem(private_key)).decode()


def test_key_rotation_keeps_old_tokens_until_the_old_key_is_removed(app, make_app, base_config):
    client = app.test_client()
    register(client)
    old_token = login(client)
    new_key = keys.generate_private_key()
    rotated = make_app(
        ACCESS_TOKEN_PRIVATE_KEY=_b64_private(new_key),
        ACCESS_TOKEN_PUBLIC_KEY=_b64_public(new_key),
        ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS=base_config["ACCESS_TOKEN_PUBLIC_KEY"],
    ).test_client()
    assert rotated.get("/api/users/me", headers=bearer(old_token)).status_code == 200
    new_token = token_login(rotated)["access_token"]
    assert (
        jwt.get_unverified_header(new_token)["kid"] != jwt.get_unverified_header(old_token)["kid"]
    )
    assert rotated.get("/api/users/me", headers=bearer(new_token)).status_code == 200

    retired = make_app(
        ACCESS_TOKEN_PRIVATE_KEY=_b64_private(new_key),
        ACCESS_TOKEN_PUBLIC_KEY=_b64_public(new_key),
    ).test_client()
    assert_fail(retired.get("/api/users/me", headers=bearer(old_token)), 401, "Invalid token")
    assert retired.get("/api/users/me", headers=bearer(new_token)).status_code == 200


def test_jwks_publishes_access_keys_only_and_without_private_members(app, make_app, base_config):
    new_key = keys.generate_private_key()
    rotated = make_app(
        ACCESS_TOKEN_PRIVATE_KEY=_b64_private(new_key),
        ACCESS_TOKEN_PUBLIC_KEY=_b64_public(new_key),
        ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS=base_config["ACCESS_TOKEN_PUBLIC_KEY"],
    )
    response = rotated.test_client().get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=600"
    published = response.json["keys"]
    assert len(published) == 2
    for jwk in published:
        assert set(jwk) == {"kty", "n", "e", "kid", "alg", "use"}
        assert jwk["alg"] == "RS256" and jwk["use"] == "sig"
    with rotated.app_context():
        old_public = keys.load_public_key(base_config["ACCESS_TOKEN_PUBLIC_KEY"], "old")
        refresh_public = keys.load_public_key(base_config["REFRESH_TOKEN_PUBLIC_KEY"], "refresh")
    kids = [jwk["kid"] for jwk in published]
    assert kids == [keys.key_id(new_key.public_key()), keys.key_id(old_public)]
    assert keys.key_id(refresh_public) not in kids
    # A verifier using only the JWKS accepts a token signed by the current key.
    token = token_login_after_register(rotated.test_client())["access_token"]
    jwk = next(k for k in published if k["kid"] == jwt.get_unverified_header(token)["kid"])
    public_key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
    claims = jwt.decode(token, public_key, algorithms=["RS256"], audience="authapi")
    assert claims["type"] == "access"


def token_login_after_register(client) -> dict:
    register(client)
    return token_login(client)


def test_unknown_kid_is_401(app):
    client = app.test_client()
    register(client)
    token = login(client)
    other_key = keys.generate_private_key()
    claims = jwt.decode(token, options={"verify_signature": False})
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": "someone-else"})
    assert_fail(app.test_client().get("/api/users/me", headers=bearer(forged)), 401)


def test_keys_rotate_cli_prints_new_keys_that_keep_the_old_ones(app):
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    values = dict(
        line.split("=", 1) for line in result.output.splitlines() if not line.startswith("#")
    )
    assert set(values) == {
        f"{kind}_TOKEN_{part}"
        for kind in ("ACCESS", "REFRESH")
        for part in ("PRIVATE_KEY", "PUBLIC_KEY", "PREVIOUS_PUBLIC_KEYS")
    }
    assert values["ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS"] == app.config["ACCESS_TOKEN_PUBLIC_KEY"]
    assert values["ACCESS_TOKEN_PUBLIC_KEY"] != app.config["ACCESS_TOKEN_PUBLIC_KEY"]
    ring = keys.build_key_ring(
        values["ACCESS_TOKEN_PRIVATE_KEY"],
        values["ACCESS_TOKEN_PUBLIC_KEY"],
        values["ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS"],
        "ACCESS_TOKEN",
    )
    assert len(ring.verifying_keys) == 2


def test_logout_of_the_other_devices_keeps_this_ones_cookies(client):
    register(client)
    login(client)
    response = client.get("/api/auth/logout?scope=others")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert client.get("/api/users/me").status_code == 200
    assert client.get("/api/auth/refresh").status_code == 200


def test_head_never_logs_out_or_refreshes(client):
    register(client)
    login(client)
    before = client.get_cookie("refresh_token", path="/api/auth").value
    # HEAD answers carry no body: the status says it.
    assert client.head("/api/auth/refresh").status_code == 405
    assert client.head("/api/auth/logout").status_code == 405
    assert client.get_cookie("refresh_token", path="/api/auth").value == before
    assert client.get("/api/users/me").status_code == 200


def test_keys_rotate_prints_one_line_per_variable_when_keys_are_raw_pem(make_app, base_config):
    """Found by the blackbox6 audit: keys may be configured as raw PEM (multi-line), and
    ``keys rotate`` copied them as they were into *_PREVIOUS_PUBLIC_KEYS, so its output
    spread one variable over nine lines: pasted into .env, the previous key was just
    ``-----BEGIN PUBLIC KEY-----`` and the app refused to start."""
    raw = {
        name: base64.b64decode(base_config[name]).decode("ascii")
        for name in (
            "ACCESS_TOKEN_PRIVATE_KEY",
            "ACCESS_TOKEN_PUBLIC_KEY",
            "REFRESH_TOKEN_PRIVATE_KEY",
            "REFRESH_TOKEN_PUBLIC_KEY",
        )
    }
    # A retired access key, raw PEM too (the refresh tokens' key may not be one).
    retired = keys.public_pem(keys.generate_private_key().public_key()).decode("ascii")
    app = make_app(**raw, ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS=retired)
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if not line.startswith("#")]
    values = dict(line.split("=", 1) for line in lines)
    assert len(lines) == len(values) == 6
    ring = keys.build_key_ring(
        values["ACCESS_TOKEN_PRIVATE_KEY"],
        values["ACCESS_TOKEN_PUBLIC_KEY"],
        values["ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS"],
        "ACCESS_TOKEN",
    )
    with app.app_context():
        old = [
            keys.key_id(keys.load_public_key(value, "key"))
            for value in (raw["ACCESS_TOKEN_PUBLIC_KEY"], retired)
        ]
    assert set(old) < set(ring.verifying_keys) and len(ring.verifying_keys) == 3
