"""Passkeys with the second factors of authapi.mfa, through HTTP on real PostgreSQL and
Redis: an account with a passkey is asked for it after its password, and a passkey
answers options made for that mfa_token and that account only; the passkey count,
``methods``, ``/users/me``, ``amr``; removal by a current code; the admin reset.
TOTP codes come from pyotp at the app's frozen clock (no sleeping)."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import select

from authapi.extensions import db
from authapi.models import AuthEvent, Role, User
from authapi.passkeys import service
from tests.helpers import PASSWORD, assert_fail, bearer, login, register
from tests.support.mfa import STEP, claims, code_at, enrol_totp, frozen_now, password_login
from tests.support.passkeys import PASSKEYS, add_passkey, login_options, passkey_login
from tests.support.soft_authenticator import SoftAuthenticator, b64url

LOGIN_MFA = "/api/auth/login/mfa"
PASSKEY_OPTIONS = "/api/auth/login/mfa/passkey-options"


@pytest.fixture
def mfa_app(make_app):
    return make_app(CLOCK_FROZEN_AT=(int(time.time()) // STEP) * STEP + 5)


def events_of(app, name):
    with app.app_context():
        rows = db.session.scalars(select(AuthEvent).where(AuthEvent.event == name)).all()
        found = [row.details or {} for row in rows]
        db.session.remove()
    return found


def with_passkey(app, email="alice@example.com", name="Alice", **authenticator_options):
    client = app.test_client()
    user = register(client, email=email, name=name)
    token = login(client, email=email)
    authenticator = SoftAuthenticator(**authenticator_options)
    passkey = add_passkey(client, authenticator, headers=bearer(token))
    return user, token, authenticator, passkey


def mfa_required(app, email="alice@example.com") -> dict:
    response = password_login(app.test_client(), email)
    assert_fail(response, 403, "Second factor required")
    assert "Set-Cookie" not in response.headers
    return response.json


def options_for(app, mfa_token: str) -> dict:
    response = app.test_client().post(PASSKEY_OPTIONS, json={"mfa_token": mfa_token})
    assert response.status_code == 200, response.json
    return response.json["data"]["options"]


def finish(app, mfa_token: str, credential: dict, client=None):
    client = client or app.test_client()
    return client.post(LOGIN_MFA, json={"mfa_token": mfa_token, "credential": credential})


def test_a_password_login_asks_for_the_passkey_which_completes_it(app):
    user, _, authenticator, passkey = with_passkey(app)
    required = mfa_required(app)
    assert required["code"] == "mfa_required"
    assert required["methods"] == ["passkey"]
    options = options_for(app, required["mfa_token"])
    [credential_id] = authenticator.credentials
    assert [item["id"] for item in options["allowCredentials"]] == [b64url(credential_id)]
    assert options["userVerification"] == "required"

    client = app.test_client()
    answer = authenticator.get(options)
    response = finish(app, required["mfa_token"], answer, client)
    assert response.status_code == 200, response.json
    assert claims(response.json["access_token"])["amr"] == ["pwd", "hwk", "mfa"]
    assert client.get("/api/users/me").json["data"]["user"]["id"] == user["id"]
    assert {"passkey_id": passkey["id"], "via": "mfa"} in events_of(app, "passkey_used")
    assert {"factor": "passkey", "via": "login"} in events_of(app, "mfa_used")
    # The mfa_token is spent by its success.
    assert_fail(finish(app, required["mfa_token"], answer), 401)


def test_a_passkey_sign_in_is_complete_and_says_how_in_amr(app):
    _, token, device_bound, _ = with_passkey(app)
    me = app.test_client().get("/api/users/me", headers=bearer(token)).json["data"]
    assert me["mfa"] == ["passkey"]
    status = app.test_client().get("/api/auth/mfa", headers=bearer(token)).json["data"]
    assert status["passkeys"] == 1
    signed_in = passkey_login(app.test_client(), device_bound, headers={"X-Auth-Mode": "token"})
    assert claims(signed_in.json["access_token"])["amr"] == ["hwk", "mfa"]
    # A refreshed token keeps it.
    refreshed = app.test_client().post(
        "/api/auth/refresh", json={"refresh_token": signed_in.json["refresh_token"]}
    )
    assert claims(refreshed.json["access_token"])["amr"] == ["hwk", "mfa"]

    _, _, synced, _ = with_passkey(app, "bob@example.com", "Bob", backup_eligible=True)
    signed_in = passkey_login(app.test_client(), synced, headers={"X-Auth-Mode": "token"})
    assert claims(signed_in.json["access_token"])["amr"] == ["swk", "mfa"]


def test_passkey_options_and_answers_belong_to_one_mfa_token_and_one_account(app):
    _, _, alice_key, _ = with_passkey(app)
    _, _, mallory_key, _ = with_passkey(app, "mallory@example.com", "Mallory")
    [mallory_credential] = mallory_key.credentials
    first, second = mfa_required(app), mfa_required(app)

    # Mallory's passkey answering Alice's options.
    options = options_for(app, first["mfa_token"])
    response = finish(app, first["mfa_token"], mallory_key.get(options, mallory_credential))
    assert_fail(response, 400)
    assert response.json["code"] == "invalid_code"
    # Alice's own passkey, answering options made for another of her mfa_tokens.
    response = finish(app, second["mfa_token"], alice_key.get(options_for(app, first["mfa_token"])))
    assert_fail(response, 400)
    # Options of a passkey sign-in (no mfa_token) are not second-factor options, and
    # second-factor options cannot sign in without the password.
    response = finish(app, first["mfa_token"], alice_key.get(login_options(app.test_client())))
    assert_fail(response, 400)
    response = app.test_client().post(
        f"{PASSKEYS}/login",
        json={"credential": alice_key.get(options_for(app, first["mfa_token"]))},
    )
    assert_fail(response, 400, service.CHALLENGE_FAILED)
    reasons = [event["reason"] for event in events_of(app, "mfa_failed")]
    assert reasons == ["other_user", "challenge", "challenge"]

    # Both tokens still finish with the right answer (each wrong one spent one attempt).
    assert (
        finish(
            app, first["mfa_token"], alice_key.get(options_for(app, first["mfa_token"]))
        ).status_code
        == 200
    )


def test_passkey_options_need_a_live_mfa_token_of_an_account_with_a_passkey(mfa_app):
    client = mfa_app.test_client()
    for token in ("not a token", "x" * 129, None, 5):
        response = client.post(PASSKEY_OPTIONS, json={"mfa_token": token})
        assert response.status_code in (400, 401)
    response = client.post(PASSKEY_OPTIONS, json={"mfa_token": "a" * 43})
    assert_fail(response, 401, "Invalid or expired mfa_token: log in again")
    assert response.json["code"] == "invalid_mfa_token"

    register(client)
    enrol_totp(client, mfa_app, login(client))
    required = mfa_required(mfa_app)
    assert "passkey" not in required["methods"]
    response = client.post(PASSKEY_OPTIONS, json={"mfa_token": required["mfa_token"]})
    assert_fail(response, 400, service.NO_PASSKEY)
    assert response.json["code"] == "no_passkey"


def test_a_malformed_credential_at_the_second_step_is_a_400(app):
    with_passkey(app)
    required = mfa_required(app)
    for credential in ({}, "credential", {"id": "!"}, [1]):
        response = finish(app, required["mfa_token"], credential)
        assert_fail(response, 400)


def test_with_totp_and_a_passkey_either_finishes_and_a_passkey_alone_signs_in(mfa_app):
    client = mfa_app.test_client()
    register(client)
    token = login(client)
    secret, _ = enrol_totp(client, mfa_app, token)
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator, headers=bearer(token))
    required = mfa_required(mfa_app)
    assert required["methods"] == ["totp", "passkey", "recovery_code"]
    answer = authenticator.get(options_for(mfa_app, required["mfa_token"]))
    assert finish(mfa_app, required["mfa_token"], answer).status_code == 200
    code = code_at(secret, frozen_now(mfa_app))
    response = client.post(
        LOGIN_MFA, json={"mfa_token": mfa_required(mfa_app)["mfa_token"], "code": code}
    )
    assert response.status_code == 200, response.json
    # A passkey sign-in asks for nothing more.
    assert passkey_login(mfa_app.test_client(), authenticator).status_code == 200


def test_a_passkey_is_removed_with_a_current_code_and_the_password_suffices_again(mfa_app):
    client = mfa_app.test_client()
    register(client)
    token = login(client)
    secret, _ = enrol_totp(client, mfa_app, token)
    passkey = add_passkey(client, SoftAuthenticator(), headers=bearer(token))
    url = f"{PASSKEYS}/{passkey['id']}"
    response = client.delete(url, json={"code": "000000"}, headers=bearer(token))
    assert_fail(response, 400, "Invalid code")
    response = client.delete(
        url, json={"code": code_at(secret, frozen_now(mfa_app))}, headers=bearer(token)
    )
    assert response.status_code == 200, response.json
    assert {"factor": "passkey"} in events_of(mfa_app, "mfa_removed")
    assert client.get("/api/auth/mfa", headers=bearer(token)).json["data"]["passkeys"] == 0

    # A passkey-only account: removing its last passkey makes the password enough.
    _, bob_token, _, bob_key = with_passkey(mfa_app, "bob@example.com", "Bob")
    mfa_required(mfa_app, "bob@example.com")
    response = client.delete(
        f"{PASSKEYS}/{bob_key['id']}", json={"password": PASSWORD}, headers=bearer(bob_token)
    )
    assert response.status_code == 200
    assert password_login(mfa_app.test_client(), "bob@example.com").status_code == 200


def test_the_admin_reset_removes_the_passkeys(app):
    user, token, authenticator, _ = with_passkey(app)
    client = app.test_client()
    register(client, email="root@example.com", name="Root")
    with app.app_context():
        db.session.execute(
            User.__table__.update().where(User.email == "root@example.com").values(role=Role.ADMIN)
        )
        db.session.commit()
        db.session.remove()
    admin = login(client, email="root@example.com")
    response = client.delete(f"/api/users/{user['id']}/mfa", headers=bearer(admin))
    assert response.status_code == 200, response.json
    assert response.json["data"]["removed"]["passkey"] == 1
    assert_fail(passkey_login(app.test_client(), authenticator), 400, service.PASSKEY_UNKNOWN)
    assert password_login(app.test_client()).status_code == 200
    assert {
        "factor": "passkey",
        "by": str(
            uuid.UUID(client.get("/api/users/me", headers=bearer(admin)).json["data"]["user"]["id"])
        ),
        "ended": 1,
    } in events_of(app, "mfa_removed")
    assert token  # her earlier session ended with the reset
    assert_fail(app.test_client().get("/api/users/me", headers=bearer(token)), 401)
