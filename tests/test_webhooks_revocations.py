"""Every session an account change ends is announced: ``session.revoked`` with a scope
that says why, appended to the Redis outbox by the script that ends the sessions, and
delivered to a real receiver. None when no session ended."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from flask import Flask

from authapi import sessions
from tests.helpers import (
    FETCH_METADATA,
    PASSWORD,
    bearer,
    login,
    register,
    token_login,
    update_all_users,
)
from tests.support.receiver import Receiver
from tests.support.smtp_sink import otp_code, reset_by_mail
from tests.support.webhooks import (
    WEBHOOK_SETTINGS,
    create_webhook,
    make_admin,
    payloads,
    run_worker,
)

NEW_PASSWORD = "another good password"


@pytest.fixture
def wh_app(make_app, smtp_sink) -> Flask:
    return make_app(**WEBHOOK_SETTINGS, **smtp_sink.config)


@pytest.fixture
def admin(wh_app) -> str:
    return make_admin(wh_app)


@pytest.fixture
def secret(wh_app, admin, receiver) -> str:
    return create_webhook(wh_app.test_client(), admin, receiver.url, ["session.revoked"])["secret"]


def revoked(app: Flask, receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """The session.revoked data delivered so far (one worker round first)."""
    run_worker(app)
    return [payload["data"] for payload in payloads(receiver, secret)]


def change_password(client, token: str) -> Any:
    return client.patch(
        "/api/users/me/password",
        json={
            "currentPassword": PASSWORD,
            "password": NEW_PASSWORD,
            "passwordConfirm": NEW_PASSWORD,
        },
        headers=bearer(token),
    )


def test_a_password_change_reports_the_other_sessions_it_ended(wh_app, secret, receiver):
    client = wh_app.test_client()
    user = register(client)
    alone = login(client)
    assert change_password(client, alone).status_code == 200
    assert revoked(wh_app, receiver, secret) == []  # no other session: nothing ended

    # Three more devices (a sign-in in this browser would end the first login's session).
    current = login(wh_app.test_client(), password=NEW_PASSWORD)
    login(wh_app.test_client(), password=NEW_PASSWORD)
    login(wh_app.test_client(), password=NEW_PASSWORD)
    changed = client.patch(
        "/api/users/me/password",
        json={"currentPassword": NEW_PASSWORD, "password": PASSWORD, "passwordConfirm": PASSWORD},
        headers=bearer(current),
    )
    assert changed.status_code == 200, changed.json
    assert revoked(wh_app, receiver, secret) == [
        # the session that changed it stays; the first login's, and the two others, end
        {"user_id": user["id"], "scope": "password_changed", "ended": 3}
    ]


def test_a_password_reset_reports_the_sessions_it_ended(wh_app, secret, receiver, smtp_sink):
    client = wh_app.test_client()
    user = register(client)
    token_login(client)
    token_login(client)
    reset_by_mail(client, wh_app, smtp_sink, "alice@example.com", NEW_PASSWORD)
    assert revoked(wh_app, receiver, secret) == [
        {"user_id": user["id"], "scope": "password_reset", "ended": 2}
    ]


def test_disabling_an_account_reports_its_sessions(wh_app, admin, secret, receiver):
    client = wh_app.test_client()
    user = register(client)
    token_login(client)
    response = client.patch(
        f"/api/users/{user['id']}", json={"disabled": True}, headers=bearer(admin)
    )
    assert response.status_code == 200, response.json
    assert revoked(wh_app, receiver, secret) == [
        {"user_id": user["id"], "scope": "account_disabled", "ended": 1}
    ]


def test_an_admin_mfa_reset_reports_the_sessions_it_ended(wh_app, admin, secret, receiver):
    client = wh_app.test_client()
    user = register(client)
    token_login(client)
    token_login(client)
    response = client.delete(f"/api/users/{user['id']}/mfa", headers=bearer(admin))
    assert response.status_code == 200, response.json
    assert revoked(wh_app, receiver, secret) == [
        {"user_id": user["id"], "scope": "mfa_reset", "ended": 2}
    ]


def test_deleting_an_account_reports_its_sessions(wh_app, admin, secret, receiver):
    """user.deleted says the account is gone; a receiver that tracks sessions learns
    from session.revoked (as from any other end) that its sessions went with it."""
    client = wh_app.test_client()
    alice = register(client)
    token_login(client)
    assert client.delete(f"/api/users/{alice['id']}", headers=bearer(admin)).status_code == 200
    bob = register(client, email="bob@example.com", name="Bob")
    token_login(client, email="bob@example.com")
    token_login(client, email="bob@example.com")
    result = wh_app.test_cli_runner().invoke(args=["users", "delete", "bob@example.com", "--yes"])
    assert result.exit_code == 0, result.output
    assert revoked(wh_app, receiver, secret) == [
        {"user_id": alice["id"], "scope": "account_deleted", "ended": 1},
        {"user_id": bob["id"], "scope": "account_deleted", "ended": 2},
    ]


def test_deleting_an_account_without_sessions_reports_none(wh_app, admin, secret, receiver):
    user = register(wh_app.test_client())
    client = wh_app.test_client()
    assert client.delete(f"/api/users/{user['id']}", headers=bearer(admin)).status_code == 200
    assert revoked(wh_app, receiver, secret) == []


def test_an_emailed_code_taking_an_account_over_reports_the_squatters_sessions(
    wh_app, secret, receiver, smtp_sink
):
    squatter = wh_app.test_client()
    user = register(squatter, email="vera@example.com")
    token_login(squatter, email="vera@example.com")
    owner = wh_app.test_client()
    assert owner.post("/api/auth/otp", json={"email": "vera@example.com"}).status_code == 200
    code = otp_code(wh_app, smtp_sink, "vera@example.com")
    signed_in = owner.post("/api/auth/otp/verify", json={"email": "vera@example.com", "code": code})
    assert signed_in.status_code == 200, signed_in.json
    assert revoked(wh_app, receiver, secret) == [
        {"user_id": user["id"], "scope": "email_verified", "ended": 1}
    ]


def test_the_session_check_reports_a_session_of_an_account_disabled_behind_its_back(
    wh_app, secret, receiver
):
    client = wh_app.test_client()
    user = register(client)
    tokens = token_login(client)
    update_all_users(wh_app, disabled=True)
    with wh_app.app_context():
        sessions.forget_user(user["id"])
    me = client.get("/api/users/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401
    [data] = revoked(wh_app, receiver, secret)
    assert data == {
        "user_id": user["id"],
        "scope": "account_disabled",
        "ended": 1,
        "session_id": data["session_id"],
    }
    with wh_app.app_context():
        assert sessions.list_sessions(user["id"]) == []


def test_signing_in_again_in_one_browser_reports_the_session_it_replaced(wh_app, secret, receiver):
    """The new cookies overwrite the browser's: the session they named ends (scope
    ``replaced``, with its id) if it was the same account's; a Bearer client's sign-ins
    end none."""
    client = wh_app.test_client()
    client.environ_base.update(FETCH_METADATA)  # only a browser's sign-ins replace
    alice = register(client)
    register(client, email="bob@example.com", name="Bob")
    token_login(client)
    token_login(client)
    assert revoked(wh_app, receiver, secret) == []

    first = login(client)
    second = login(client)
    assert revoked(wh_app, receiver, secret) == [
        {"user_id": alice["id"], "scope": "replaced", "ended": 1, "session_id": sid(first)}
    ]
    login(client, email="bob@example.com")  # switching accounts leaves Alice's
    login(client)  # and back to Alice: Bob's session is not hers to end
    assert revoked(wh_app, receiver, secret)[1:] == []
    assert wh_app.test_client().get("/api/users/me", headers=bearer(second)).status_code == 200


def sid(access_token: str) -> str:
    return jwt.decode(access_token, options={"verify_signature": False})["sid"]
