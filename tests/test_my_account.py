"""Self-service account management through HTTP on real PostgreSQL and Redis: changing
one's own name and photo (PATCH /api/users/me) and deleting one's own account
(DELETE /api/users/me), with the admin API's rules, webhooks and audit trail."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from sqlalchemy import text

from authapi.admin import service as admin_service
from authapi.extensions import db
from authapi.mfa import reauth
from authapi.models import User
from authapi.passkeys import service as passkeys_service
from authapi.users import email_change
from tests.helpers import (
    PASSWORD,
    TOKEN_MODE,
    assert_fail,
    bearer,
    login,
    refresh_by_body,
    register,
    token_login,
)
from tests.support.mfa import code_at, enrol_totp, frozen_now
from tests.support.passkeys import PASSKEYS, add_passkey
from tests.support.smtp_sink import delivered, sign_in_by_code
from tests.support.soft_authenticator import SoftAuthenticator
from tests.support.webhooks import (
    WEBHOOK_SETTINGS,
    create_webhook,
    make_admin,
    payloads,
    run_worker,
)

ME = "/api/users/me"
PUBLIC_USER_FIELDS = {
    "id",
    "name",
    "email",
    "role",
    "photo",
    "verified",
    "created_at",
    "updated_at",
}


def audit_events(app, name: str) -> list[dict]:
    with app.app_context():
        result = db.session.execute(
            text("SELECT * FROM auth_events WHERE event = :name ORDER BY created_at, id"),
            {"name": name},
        )
        found = [dict(row._mapping) for row in result]
        db.session.remove()
    return found


def user_row(app, user_id: str) -> User | None:
    with app.app_context():
        row = db.session.get(User, uuid.UUID(user_id))
        if row is not None:
            db.session.expunge(row)
        db.session.remove()
    return row


# --- PATCH /api/users/me: name and photo ---------------------------------------------


def test_a_user_changes_their_name_and_photo(client):
    user = register(client)
    token = login(client)
    response = client.patch(
        ME,
        json={"name": "  Alice Liddell ", "photo": "https://cdn.example.com/alice.png"},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "success"
    changed = response.json["data"]["user"]
    assert set(changed) == PUBLIC_USER_FIELDS
    assert changed["name"] == "Alice Liddell"  # trimmed, as at registration
    assert changed["photo"] == "https://cdn.example.com/alice.png"
    assert {changed[key] for key in ("id", "email", "role")} == {
        user["id"],
        "alice@example.com",
        "user",
    }
    assert changed["updated_at"] > user["updated_at"]
    only_photo = client.patch(ME, json={"photo": "default.png"}, headers=bearer(token))
    assert only_photo.status_code == 200, only_photo.json
    assert only_photo.json["data"]["user"]["name"] == "Alice Liddell"
    assert only_photo.json["data"]["user"]["photo"] == "default.png"


def test_every_session_sees_the_new_name_at_once(client, app):
    """/me is answered from the user cached in Redis for the session check: the change
    must drop it, so the next /me of every session of the user reads the new name."""
    register(client)
    cookie_token = login(client)  # this client's cookie jar holds one session
    other_device = token_login(app.test_client())["access_token"]
    for me in (client.get(ME), client.get(ME, headers=bearer(other_device))):
        assert me.json["data"]["user"]["name"] == "Alice"  # cached now
    changed = client.patch(ME, json={"name": "Alice B"}, headers=bearer(cookie_token))
    assert changed.status_code == 200, changed.json
    assert client.get(ME).json["data"]["user"]["name"] == "Alice B"
    assert client.get(ME, headers=bearer(other_device)).json["data"]["user"]["name"] == "Alice B"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "_schema"),
        ({"role": "admin"}, "role"),
        ({"verified": True}, "verified"),
        ({"email": "new@example.com"}, "email"),
        ({"id": str(uuid.uuid4())}, "id"),
        ({"password": "another good password"}, "password"),
        ({"disabled": False}, "disabled"),
        ({"nickname": "Al"}, "nickname"),
        ({"name": "Al", "role": "admin"}, "role"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": None}, "name"),
        ({"name": 42}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "Al\u202eice"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"photo": None}, "photo"),
        ({"photo": ""}, "photo"),
        ({"photo": 7}, "photo"),
        ({"photo": "javascript:alert(1)"}, "photo"),
        ({"photo": "http://cdn.example.com/a.png"}, "photo"),
        ({"photo": "//cdn.example.com/a.png"}, "photo"),
        ({"photo": "../../etc/passwd"}, "photo"),
        ({"photo": "https://user:pass@cdn.example.com/a.png"}, "photo"),
        ({"photo": "https://[::1/a.png"}, "photo"),
        ({"photo": "https://cdn.example.com/a b.png"}, "photo"),
        ({"photo": "a\x00.png"}, "photo"),
        ({"photo": "https://cdn.example.com/" + "a" * 250}, "photo"),
    ],
)
def test_bad_profile_changes_are_400_and_change_nothing(client, app, payload, field):
    user = register(client)
    token = login(client)
    response = client.patch(ME, json=payload, headers=bearer(token))
    assert_fail(response, 400, "Invalid input")
    assert response.json["code"] == "validation_failed"
    assert field in response.json["errors"]
    row = user_row(app, user["id"])
    assert (row.name, row.photo, row.role.value, row.email, row.verified) == (
        "Alice",
        "default.png",
        "user",
        "alice@example.com",
        False,
    )


def test_a_profile_change_needs_a_json_object_a_session_and_the_same_site(client, app):
    register(client)
    token = login(client)
    assert_fail(client.patch(ME, data="name=x", headers=bearer(token)), 415)
    bad_json = client.patch(ME, data="[1]", content_type="application/json", headers=bearer(token))
    assert_fail(bad_json, 400)
    assert_fail(client.patch(ME, json={"name": "X"}, headers=bearer("not.a.token")), 401)
    anonymous = app.test_client().patch(ME, json={"name": "X"})
    assert_fail(anonymous, 401, "You are not logged in")
    cross = client.patch(ME, json={"name": "X"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert_fail(cross, 403, "Cross-site request refused")
    assert client.get(ME).json["data"]["user"]["name"] == "Alice"


def test_a_profile_change_sends_user_updated_with_its_changes(make_app, receiver):
    app = make_app(**WEBHOOK_SETTINGS)
    client = app.test_client()
    webhook = create_webhook(client, make_admin(app), receiver.url, ["user.updated"])
    user = register(client)
    token = login(client)
    for changes in ({"name": "Alice B", "photo": "alice.png"}, {"photo": "alice2.png"}):
        assert client.patch(ME, json=changes, headers=bearer(token)).status_code == 200
    run_worker(app)
    sent = [payload["data"] for payload in payloads(receiver, webhook["secret"])]
    assert [data["changes"] for data in sent] == [["name", "photo"], ["photo"]]
    assert sent[0]["user"]["id"] == user["id"]
    assert (sent[0]["user"]["name"], sent[1]["user"]["photo"]) == ("Alice B", "alice2.png")


# --- DELETE /api/users/me ------------------------------------------------------------


def delete_me(client, headers=None, **proof):
    return client.delete(ME, json=proof, headers=headers or {})


def test_a_user_deletes_their_account_with_their_password(client, app):
    user = register(client)
    login(client)  # the browser's session: cookies
    app_session = token_login(app.test_client())  # an app's session: tokens in the body
    logged_out = client.get("/api/auth/logout")
    expected_cookies = sorted(logged_out.headers.getlist("Set-Cookie"))
    login(client)

    response = delete_me(client, password=PASSWORD)
    assert response.status_code == 200, response.json
    assert response.json == {"status": "success"}
    assert response.mimetype == "application/json"
    # The three cookies cleared exactly as a logout clears them.
    assert sorted(response.headers.getlist("Set-Cookie")) == expected_cookies

    # Every session is over: the access token 401, the refresh token 403.
    gone = client.get(ME, headers=bearer(app_session["access_token"]))
    assert_fail(gone, 401, "Invalid token or session has expired")
    assert gone.json["code"] == "session_ended"
    assert_fail(refresh_by_body(client, app_session["refresh_token"]), 403)
    assert user_row(app, user["id"]) is None
    wrong = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert_fail(wrong, 400, "Invalid email or password")
    [deleted] = audit_events(app, "user_deleted")
    assert deleted["user_id"] is None
    assert deleted["details"] == {"user_id": user["id"], "by": user["id"]}

    again = register(client)  # the address is free again: a new account
    assert again["id"] != user["id"]


def test_the_old_cookies_of_a_deleted_account_are_refused(client):
    """A browser that kept its cookies (another tab, a saved copy) gets 401 on the
    access cookie and 403 on the refresh cookie."""
    register(client)
    login(client)
    saved = {cookie.key: cookie.value for cookie in client._cookies.values()}
    assert delete_me(client, password=PASSWORD).status_code == 200
    for name, value in saved.items():
        client.set_cookie(name, value, path="/api/auth" if name == "refresh_token" else "/")
    assert_fail(client.get(ME), 401, "Invalid token or session has expired")
    assert_fail(client.get("/api/auth/refresh"), 403, "Could not refresh access token")


@pytest.mark.parametrize(
    ("proof", "message", "code"),
    [
        ({"password": "wrong password"}, reauth.INVALID_PASSWORD, "invalid_password"),
        ({"code": "123456"}, reauth.INVALID_CODE, "invalid_code"),
        ({}, "Invalid input", "validation_failed"),
        ({"password": PASSWORD, "code": "123456"}, "Invalid input", "validation_failed"),
        ({"password": 12345678}, "Invalid input", "validation_failed"),
        ({"password": ""}, "Invalid input", "validation_failed"),
        ({"credential": {"id": "x"}}, "Invalid input", "validation_failed"),
    ],
)
def test_a_deletion_that_is_not_confirmed_deletes_nothing(client, app, proof, message, code):
    user = register(client)
    token = login(client)
    response = delete_me(client, bearer(token), **proof)
    assert_fail(response, 400, message)
    assert response.json["code"] == code
    assert user_row(app, user["id"]) is not None
    assert client.get(ME, headers=bearer(token)).status_code == 200


def test_a_deletion_needs_a_json_body_a_session_and_the_same_site(client, app):
    user = register(client)
    login(client)
    assert_fail(client.delete(ME), 415)
    assert_fail(client.delete(ME, data="[]", content_type="application/json"), 400)
    cross = client.delete(ME, json={"password": PASSWORD}, headers={"Origin": "https://evil.test"})
    assert_fail(cross, 403, "Cross-site request refused")
    anonymous = app.test_client().delete(ME, json={"password": PASSWORD})
    assert_fail(anonymous, 401, "You are not logged in")
    assert user_row(app, user["id"]) is not None


def test_the_last_admin_cannot_delete_their_account(client, app):
    """The admin deletion's rule, refused before the password is even checked."""
    root = make_admin(app)
    refused = delete_me(client, bearer(root), password="wrong password")
    assert_fail(refused, 409, admin_service.LAST_ADMIN)
    assert refused.json["code"] == "last_admin"
    assert_fail(delete_me(client, bearer(root), password=PASSWORD), 409, admin_service.LAST_ADMIN)
    assert client.get(ME, headers=bearer(root)).status_code == 200

    second = make_admin(app, email="second@example.com")
    assert delete_me(client, bearer(root), password=PASSWORD).status_code == 200
    assert_fail(delete_me(client, bearer(second), password=PASSWORD), 409)


def test_an_account_with_totp_confirms_with_a_current_code(make_app):
    app = make_app(CLOCK_FROZEN_AT=(int(time.time()) // 30) * 30 + 5)
    client = app.test_client(use_cookies=False)
    user = register(client)
    token = login(client)
    secret, _ = enrol_totp(client, app, token)
    stale = code_at(secret, frozen_now(app) - 30)  # the code that confirmed TOTP: used up
    assert_fail(delete_me(client, bearer(token), code=stale), 400, reauth.INVALID_CODE)
    [failed] = audit_events(app, "mfa_failed")
    assert failed["details"]["via"] == "account_delete"
    fresh = code_at(secret, frozen_now(app))
    assert delete_me(client, bearer(token), code=fresh).status_code == 200
    assert user_row(app, user["id"]) is None


def test_an_account_without_a_password_confirms_with_a_passkey(make_app, smtp_sink):
    """Made by an emailed code, the account has no password: its passkey's answer to the
    confirmation options confirms; a sign-in's options do not."""
    app = make_app(OTP_SIGNUP=True, **smtp_sink.config)
    client = app.test_client()
    signed_in = sign_in_by_code(client, app, smtp_sink, "pia@example.com", **TOKEN_MODE)
    headers = bearer(signed_in.json["access_token"])
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator, headers=headers)
    assert_fail(delete_me(client, headers, password="none set"), 400, reauth.INVALID_PASSWORD)

    login_options = client.post(f"{PASSKEYS}/login/options").json["data"]["options"]
    not_for_this = delete_me(client, headers, credential=authenticator.get(login_options))
    assert_fail(not_for_this, 400, passkeys_service.CHALLENGE_FAILED)

    options = client.post(f"{PASSKEYS}/reauth/options", headers=headers).json["data"]["options"]
    response = delete_me(client, headers, credential=authenticator.get(options))
    assert response.status_code == 200, response.json
    assert_fail(client.get(ME, headers=headers), 401)
    with app.app_context():
        assert db.session.scalar(text("SELECT count(*) FROM passkeys")) == 0
        db.session.remove()


def test_an_account_with_nothing_to_confirm_with_is_told_what_to_do(make_app, smtp_sink):
    """No password, TOTP or passkey: a stolen access token alone must not delete it."""
    app = make_app(OTP_SIGNUP=True, **smtp_sink.config)
    client = app.test_client()
    signed_in = sign_in_by_code(client, app, smtp_sink, "kim@example.com", **TOKEN_MODE)
    headers = bearer(signed_in.json["access_token"])
    refused = delete_me(client, headers, password="anything at all")
    assert_fail(refused, 409, passkeys_service.NOTHING_TO_CONFIRM_WITH)
    assert refused.json["code"] == "nothing_to_confirm_with"
    assert client.get(ME, headers=headers).status_code == 200
    assert audit_events(app, "mfa_failed") == []  # refused before any check


def test_a_deletion_sends_user_deleted_and_the_sessions_it_ended(make_app, receiver):
    app = make_app(**WEBHOOK_SETTINGS)
    client = app.test_client()
    events = ["user.deleted", "session.revoked"]
    webhook = create_webhook(client, make_admin(app), receiver.url, events)
    user = register(client)
    token_login(client)
    token = login(client)
    assert delete_me(client, bearer(token), password=PASSWORD).status_code == 200
    run_worker(app)
    sent = {payload["type"]: payload["data"] for payload in payloads(receiver, webhook["secret"])}
    assert sent == {
        "user.deleted": {"user": {"id": user["id"], "email": "alice@example.com"}},
        "session.revoked": {"user_id": user["id"], "scope": "account_deleted", "ended": 2},
    }


def test_wrong_passwords_at_deletion_are_rate_limited_like_a_password_change(make_app):
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_LOGIN_PER_ACCOUNT_ADDRESS="1000 per hour",
        RATELIMIT_PASSWORD_CHANGE_PER_SESSION="3 per 15 minutes",
    )
    client = app.test_client()
    user = register(client)
    token = login(client)
    for _ in range(3):
        assert_fail(delete_me(client, bearer(token), password="wrong password"), 400)
    refused = delete_me(client, bearer(token), password=PASSWORD)  # right, but too late
    assert_fail(refused, 429)
    assert int(refused.headers["Retry-After"]) >= 1
    assert user_row(app, user["id"]) is not None


def test_wrong_passwords_at_deletion_spend_the_login_budget(make_app):
    """A stolen access token is no free oracle: its guesses count against the same
    per-account-and-address budget as logins."""
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_PER_ACCOUNT_ADDRESS="3 per 15 minutes")
    client = app.test_client()
    register(client)
    token = login(client)
    for _ in range(3):
        assert_fail(delete_me(client, bearer(token), password="wrong password"), 400)
    assert_fail(delete_me(client, bearer(token), password=PASSWORD), 429)
    right = {"email": "alice@example.com", "password": PASSWORD}
    assert_fail(client.post("/api/auth/login", json=right), 429)
    assert client.get(ME, headers=bearer(token)).status_code == 200  # still there


# --- POST /api/users/me/email and /confirm: a new address, proven ------------------

EMAIL = f"{ME}/email"
NEW = "alice.new@example.com"


def emailed_code(app, sink, to: str) -> str:
    """The code of the latest 'Confirm your new email address' mail to ``to``."""
    mail = next(
        m
        for m in reversed(delivered(app, sink))
        if to in m.envelope_to and m.subject == "Confirm your new email address"
    )
    return re.search(r"^([A-Za-z0-9_-]{43})\r?$", mail.text, re.M).group(1)


@pytest.fixture
def alice_signed_in(mail_app):
    client = mail_app.test_client()
    user = register(client)
    return client, user, bearer(login(client))


def test_a_user_changes_their_email_once_the_new_address_is_proven(
    mail_app, smtp_sink, alice_signed_in
):
    client, user, headers = alice_signed_in
    other_device = bearer(token_login(mail_app.test_client())["access_token"])
    client.get(ME, headers=other_device)  # the user is cached now
    asked = client.post(EMAIL, json={"email": " Alice.New@Example.COM ", "password": PASSWORD})
    assert asked.status_code == 200, asked.json
    assert asked.json["message"].startswith("A code is on its way to the new address")
    code = emailed_code(mail_app, smtp_sink, NEW)
    # Nothing changed yet: the account keeps its address until the code comes back.
    assert client.get(ME, headers=headers).json["data"]["user"]["email"] == "alice@example.com"

    confirmed = client.post(f"{EMAIL}/confirm", json={"code": code}, headers=headers)
    assert confirmed.status_code == 200, confirmed.json
    changed = confirmed.json["data"]["user"]
    assert (changed["id"], changed["email"], changed["verified"]) == (user["id"], NEW, True)
    assert client.get(ME, headers=other_device).json["data"]["user"]["email"] == NEW
    assert login(mail_app.test_client(), email=NEW)
    old = mail_app.test_client().post(
        "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert_fail(old, 400, "Invalid email or password")
    # The old address is told, with no new address in the mail.
    [notice] = [m for m in delivered(mail_app, smtp_sink) if "alice@example.com" in m.envelope_to][
        -1:
    ]
    assert notice.subject == "Your email address was changed"
    assert NEW not in notice.text
    assert audit_events(mail_app, "email_changed")[0]["user_id"] == uuid.UUID(user["id"])
    # The code worked once.
    again = client.post(f"{EMAIL}/confirm", json={"code": code}, headers=headers)
    assert_fail(again, 400, email_change.CHANGE_FAILED)


def test_the_code_counts_only_from_the_account_that_asked(mail_app, smtp_sink, alice_signed_in):
    """Pre-account hijacking: Alice asks to move her account to Bob's address. Bob, the
    owner of that mailbox, can do nothing with the code (signed in to his own account,
    or not at all) but ignore it, and Alice never sees it."""
    client, _, headers = alice_signed_in
    register(client, email="bob.old@example.com", name="Bob")
    bob = bearer(login(mail_app.test_client(), email="bob.old@example.com"))  # his browser
    asked = client.post(
        EMAIL, json={"email": "bob@example.com", "password": PASSWORD}, headers=headers
    )
    assert asked.status_code == 200, asked.json
    code = emailed_code(mail_app, smtp_sink, "bob@example.com")
    refused = client.post(f"{EMAIL}/confirm", json={"code": code}, headers=bob)
    assert_fail(refused, 400, email_change.CHANGE_FAILED)
    anonymous = mail_app.test_client().post(f"{EMAIL}/confirm", json={"code": code})
    assert_fail(anonymous, 401, "You are not logged in")
    assert client.get(ME, headers=bob).json["data"]["user"]["email"] == "bob.old@example.com"
    assert client.get(ME, headers=headers).json["data"]["user"]["email"] == "alice@example.com"
    # There is no GET: opening anything in a mail changes nothing.
    assert_fail(client.get(f"{EMAIL}/confirm", query_string={"code": code}), 405)


def test_a_taken_or_look_alike_address_is_refused_as_at_registration(
    mail_app, smtp_sink, alice_signed_in
):
    client, _, headers = alice_signed_in
    register(client, email="ace@example.com", name="Ace")
    # The same address in another case, or in look-alike letters of another script
    # (Cyrillic a, s, e): one account, as at registration.
    for taken in ("ace@example.com", " ACE@example.com", "\u0430\u0441\u0435@example.com"):
        refused = client.post(EMAIL, json={"email": taken, "password": PASSWORD}, headers=headers)
        assert_fail(refused, 409, "User with that email already exists")
        assert refused.json["code"] == "email_taken"
    same = client.post(
        EMAIL, json={"email": "alice@example.com", "password": PASSWORD}, headers=headers
    )
    assert_fail(same, 400, email_change.SAME_EMAIL)
    bad = client.post(
        EMAIL, json={"email": "not an address", "password": PASSWORD}, headers=headers
    )
    assert_fail(bad, 400)
    assert "email" in bad.json["errors"]

    # Free when asked, taken before the code came back: the registration's 409.
    asked = client.post(
        EMAIL, json={"email": "zed@example.com", "password": PASSWORD}, headers=headers
    )
    assert asked.status_code == 200, asked.json
    code = emailed_code(mail_app, smtp_sink, "zed@example.com")
    register(client, email="zed@example.com", name="Zed")
    late = client.post(f"{EMAIL}/confirm", json={"code": code}, headers=headers)
    assert_fail(late, 409, "User with that email already exists")
    assert client.get(ME, headers=headers).json["data"]["user"]["email"] == "alice@example.com"


def test_an_email_change_needs_a_confirmation(mail_app, smtp_sink, alice_signed_in):
    client, _, headers = alice_signed_in
    for proof in ({"password": "wrong password"}, {}, {"code": "123456"}):
        refused = client.post(EMAIL, json={"email": NEW, **proof}, headers=headers)
        assert_fail(refused, 400)
    assert [m for m in delivered(mail_app, smtp_sink) if NEW in m.envelope_to] == []
    [failed, *_] = audit_events(mail_app, "mfa_failed")
    assert failed["details"]["via"] == "email_change"


def test_a_newer_request_replaces_the_code_and_the_reset_links_of_the_old_address_die(
    mail_app, smtp_sink, alice_signed_in
):
    client, _, headers = alice_signed_in
    assert (
        client.post("/api/auth/forgotpassword", json={"email": "alice@example.com"}).status_code
        == 200
    )
    delivered(mail_app, smtp_sink)
    reset_token = smtp_sink.last_with("/resetpassword/", "alice@example.com")
    for address in ("first@example.com", NEW):
        body = {"email": address, "password": PASSWORD}
        assert client.post(EMAIL, json=body, headers=headers).status_code == 200
    first = emailed_code(mail_app, smtp_sink, "first@example.com")
    assert_fail(client.post(f"{EMAIL}/confirm", json={"code": first}, headers=headers), 400)
    latest = emailed_code(mail_app, smtp_sink, NEW)
    assert (
        client.post(f"{EMAIL}/confirm", json={"code": latest}, headers=headers).status_code == 200
    )
    token = reset_token.link("/resetpassword/")
    reset = client.patch(
        f"/api/auth/resetpassword/{token}",
        json={"password": "hijacked password", "passwordConfirm": "hijacked password"},
    )
    assert_fail(reset, 400, "Invalid or expired password reset token")


def test_an_email_change_sends_user_updated(make_app, smtp_sink, receiver):
    app = make_app(**WEBHOOK_SETTINGS, **smtp_sink.config)
    client = app.test_client()
    webhook = create_webhook(
        client, make_admin(app), receiver.url, ["user.updated", "user.verified"]
    )
    user = register(client)
    headers = bearer(login(client))
    assert (
        client.post(EMAIL, json={"email": NEW, "password": PASSWORD}, headers=headers).status_code
        == 200
    )
    code = emailed_code(app, smtp_sink, NEW)
    assert client.post(f"{EMAIL}/confirm", json={"code": code}, headers=headers).status_code == 200
    run_worker(app)
    sent = {p["type"]: p["data"] for p in payloads(receiver, webhook["secret"])}
    assert sent["user.updated"]["changes"] == ["email"]
    assert sent["user.updated"]["user"]["email"] == NEW
    assert sent["user.verified"]["user"]["id"] == user["id"]
