"""Signing in again in a browser that still holds a refresh cookie ends that cookie's
session: the new cookies overwrite it, so nobody could reach it any more, and left alive
it would be listed, and counted against MAX_SESSIONS_PER_USER, until it idled out.
Through the real routes, on real PostgreSQL and Redis (the webhook it sends:
test_webhooks_revocations.py; the provider sign-in's: test_oauth.py)."""

from __future__ import annotations

import logging
from typing import Any

import jwt
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from authapi import sessions
from authapi.extensions import db
from authapi.models import AuthEvent
from tests.helpers import (
    FETCH_METADATA,
    PASSWORD,
    TOKEN_MODE,
    assert_fail,
    bearer,
    login,
    refresh_by_body,
    register,
    token_login,
    update_all_users,
)
from tests.support.mfa import code_at, enrol_totp, frozen_now, password_login
from tests.support.passkeys import add_passkey, passkey_login
from tests.support.smtp_sink import sign_in_by_code
from tests.support.soft_authenticator import SoftAuthenticator
from tests.test_mfa import step_start

ME = "/api/users/me"
SESSIONS = "/api/auth/sessions"


def browser(app: Flask) -> FlaskClient:
    """A test client that sends Fetch Metadata, as a browser does."""
    client = app.test_client()
    client.environ_base.update(FETCH_METADATA)
    return client


def refresh_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("refresh_token", path="/api/auth")
    assert cookie is not None
    return cookie.value


def session_of(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["sid"]


def listed(client: FlaskClient, token: str | None = None) -> list[str]:
    """The ids of the caller's sessions (by its cookies, or ``token``)."""
    response = client.get(SESSIONS, headers=bearer(token) if token else None)
    assert response.status_code == 200, response.json
    return [session["id"] for session in response.json["data"]["sessions"]]


def alive(app: Flask, token: str) -> bool:
    """Does the access token's session still answer /me (from a client with no cookies)?"""
    status = app.test_client().get(ME, headers=bearer(token)).status_code
    assert status in (200, 401)
    return status == 200


def replaced_events(app: Flask) -> list[dict[str, Any]]:
    """The audit log's logged_out rows of sessions a sign-in replaced: (user, details)."""
    with app.app_context():
        rows = db.session.scalars(
            select(AuthEvent).where(AuthEvent.event == "logged_out").order_by(AuthEvent.created_at)
        ).all()
        found = [
            {"user_id": str(row.user_id), **row.details}
            for row in rows
            if row.details["scope"] == sessions.REPLACED
        ]
        db.session.remove()
    return found


def test_signing_in_again_ends_the_session_the_browser_held(app: Flask):
    client = browser(app)
    user = register(client)
    first = login(client)
    old_refresh = refresh_cookie(client)

    again = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert again.status_code == 200, again.json
    set_cookies = " ".join(again.headers.getlist("Set-Cookie"))
    for name in ("access_token=", "refresh_token=", "logged_in=true"):
        assert name in set_cookies
    new_session = session_of(again.json["access_token"])
    assert session_of(refresh_cookie(client)) == new_session

    # The first session is gone: its refresh token is refused, its access token too.
    assert_fail(refresh_by_body(app.test_client(), old_refresh), 403)
    assert not alive(app, first)
    assert listed(client) == [new_session]
    # The browser goes on with the new cookies.
    assert client.get(ME).status_code == 200
    assert client.get("/api/auth/refresh").status_code == 200
    assert replaced_events(app) == [
        {"user_id": user["id"], "scope": "replaced", "session_id": session_of(first), "ended": 1}
    ]


def test_a_failed_or_refused_sign_in_leaves_the_session(app: Flask):
    client = browser(app)
    register(client)
    register(app.test_client(), email="bob@example.com", name="Bob")
    first = login(client)
    with app.app_context():  # Bob's account is disabled: his right password is refused
        db.session.execute(text("UPDATE users SET disabled = true WHERE email = 'bob@example.com'"))
        db.session.commit()
        db.session.remove()
    attempts = [
        ({"email": "alice@example.com", "password": "wrong password"}, 400),
        ({"email": "nobody@example.com", "password": PASSWORD}, 400),
        ({"email": "alice@example.com"}, 400),
        ({"email": "bob@example.com", "password": PASSWORD}, 403),
    ]
    for body, status in attempts:
        assert_fail(client.post("/api/auth/login", json=body), status)
    assert alive(app, first)
    assert listed(client) == [session_of(first)]
    assert client.get("/api/auth/refresh").status_code == 200  # the cookie still works
    assert replaced_events(app) == []


def test_the_mfa_step_leaves_the_session_until_the_second_step_completes(make_app):
    app = make_app(CLOCK_FROZEN_AT=step_start())
    client = browser(app)
    register(client)
    first = login(client)
    secret, _ = enrol_totp(client, app, first)

    step = password_login(client)
    assert_fail(step, 403)
    assert step.json["code"] == "mfa_required"
    assert alive(app, first)  # the password alone signed nobody in
    wrong = client.post(
        "/api/auth/login/mfa", json={"mfa_token": step.json["mfa_token"], "code": "000000"}
    )
    assert_fail(wrong, 400)
    assert alive(app, first)

    done = client.post(
        "/api/auth/login/mfa",
        json={"mfa_token": step.json["mfa_token"], "code": code_at(secret, frozen_now(app))},
    )
    assert done.status_code == 200, done.json
    assert not alive(app, first)
    assert listed(client) == [session_of(done.json["access_token"])]


def test_bearer_clients_signing_in_twice_keep_both_sessions(app: Flask):
    client = browser(app)
    register(client)
    first = token_login(client)["access_token"]
    second = token_login(client)["access_token"]
    assert alive(app, first) and alive(app, second)
    assert sorted(listed(client, second)) == sorted([session_of(first), session_of(second)])


def test_a_script_signing_in_twice_through_one_cookie_jar_keeps_both_sessions(app: Flask):
    """No Fetch Metadata, so no browser: a test suite or a Postman run that signs in again
    through the same cookie jar may still use the first answer's token, as the tutorial
    allows; only a browser gets one session per account."""
    script = app.test_client()
    register(script)
    first = login(script)
    second = login(script)
    assert alive(app, first) and alive(app, second)
    assert sorted(listed(script)) == sorted([session_of(first), session_of(second)])
    assert replaced_events(app) == []


def test_nodes_fetch_is_no_browser(app: Flask):
    """Node's built-in fetch sends ``Sec-Fetch-Mode: cors`` (and no ``Sec-Fetch-Site``):
    a Jest or Vitest suite signing in twice through one cookie jar keeps both sessions."""
    node = app.test_client()
    node.environ_base.update({"HTTP_SEC_FETCH_MODE": "cors", "HTTP_USER_AGENT": "node"})
    register(node)
    first, second = login(node), login(node)
    assert alive(app, first) and alive(app, second)


def test_a_token_mode_sign_in_leaves_the_browsers_cookie_session(app: Flask):
    """No cookie is set, so the browser's refresh cookie still works: its session stays."""
    client = browser(app)
    register(client)
    first = login(client)
    token_login(client)
    assert alive(app, first)
    assert client.get("/api/auth/refresh").status_code == 200


def test_switching_accounts_leaves_the_other_accounts_session(app: Flask):
    """One session per account and browser: another account's session is not this
    account's to end (an API client signing several accounts in through one cookie jar
    keeps using their tokens), and it counts against no cap of this account."""
    client = browser(app)
    register(client)
    bob = register(client, email="bob@example.com", name="Bob")
    laptop = login(client)

    switched = login(client, email="bob@example.com")
    assert alive(app, laptop)
    assert client.get(ME).json["data"]["user"]["id"] == bob["id"]
    assert listed(client) == [session_of(switched)]
    assert replaced_events(app) == []
    again = login(client, email="bob@example.com")  # Bob's own earlier one ends
    assert not alive(app, switched) and alive(app, again) and alive(app, laptop)


def test_repeated_sign_ins_in_one_browser_never_push_out_another_device(make_app):
    app = make_app(MAX_SESSIONS_PER_USER=2)
    laptop = browser(app)
    register(laptop)
    phone = login(app.test_client())
    for _ in range(5):
        latest = login(laptop)
    assert alive(app, phone)
    assert sorted(listed(laptop)) == sorted([session_of(phone), session_of(latest)])


def test_another_accounts_session_is_spared_by_its_own_cap_only(make_app):
    """Switching accounts: the cap of the account signing in counts its own sessions;
    the other account's, which the cookie named, is not among them and frees no place."""
    app = make_app(MAX_SESSIONS_PER_USER=1)
    laptop = browser(app)
    register(laptop)
    register(laptop, email="bob@example.com", name="Bob")
    alice = login(laptop)
    bobs_phone = login(app.test_client(), email="bob@example.com")
    bob = login(laptop, email="bob@example.com")
    assert alive(app, alice)  # another account's: not replaced
    assert not alive(app, bobs_phone)  # Bob's cap of 1: his oldest ends, as ever
    assert listed(laptop) == [session_of(bob)]


def test_a_cookie_that_names_nothing_live_ends_nothing(app: Flask):
    """A cookie that does not verify, or whose session already ended: the sign-in
    succeeds as any other, with no event."""
    client = browser(app)
    register(client)
    client.set_cookie("refresh_token", "not-a-token", path="/api/auth")
    first = login(client)
    # Logged out from elsewhere (a Bearer logout: the browser keeps its cookies).
    assert app.test_client().get("/api/auth/logout", headers=bearer(first)).status_code == 200
    second = login(client)
    assert alive(app, second)
    assert replaced_events(app) == []


def test_a_redis_error_in_this_step_only_never_fails_the_sign_in(
    app: Flask, monkeypatch: pytest.MonkeyPatch, caplog
):
    """Failing the sign-in would leave its new session without cookies (orphaning that
    one instead): the old one idles out as before, and a warning says so."""
    client = browser(app)
    register(client)
    first = login(client)

    def unavailable(*args: Any, **kwargs: Any) -> bool:
        raise redis.ConnectionError("down for this step")

    monkeypatch.setattr(sessions, "delete", unavailable)
    with caplog.at_level(logging.WARNING, logger="authapi.auth.service"):
        again = client.post(
            "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
        )
    monkeypatch.undo()
    assert again.status_code == 200, again.json
    assert session_of(refresh_cookie(client)) == session_of(again.json["access_token"])
    assert alive(app, first) and alive(app, again.json["access_token"])
    assert "the session a sign-in replaced stays: Redis ConnectionError" in caplog.text


def test_a_sign_in_with_an_emailed_code_ends_the_session_too(mail_app: Flask, smtp_sink):
    client = browser(mail_app)
    register(client)
    # Verified: the code is no first proof of the address (which ends every session).
    update_all_users(mail_app, verified=True)
    first = login(client)
    signed_in = sign_in_by_code(client, mail_app, smtp_sink, "alice@example.com")
    assert signed_in.status_code == 200, signed_in.json
    assert not alive(mail_app, first)
    assert listed(client) == [session_of(signed_in.json["access_token"])]

    # In token mode it sets no cookie: the browser's session stays.
    kept = client.get("/api/auth/refresh")
    assert kept.status_code == 200
    in_body = sign_in_by_code(client, mail_app, smtp_sink, "alice@example.com", **TOKEN_MODE)
    assert in_body.status_code == 200, in_body.json
    assert alive(mail_app, kept.json["access_token"])


def test_a_passkey_sign_in_ends_the_session_too(app: Flask):
    client = browser(app)
    register(client)
    first = login(client)
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator)
    signed_in = passkey_login(client, authenticator)
    assert signed_in.status_code == 200, signed_in.json
    assert not alive(app, first)
    assert listed(client) == [session_of(signed_in.json["access_token"])]
