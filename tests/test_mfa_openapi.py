"""The second-factor answers, each validated against the OpenAPI document (the
documented statuses, bodies and headers, 403 mfa_required included)."""

from __future__ import annotations

import time

from tests.helpers import PASSWORD, bearer
from tests.support.mfa import STEP, code_at, frozen_now, move_clock
from tests.test_openapi import Documented


def test_second_factor_answers_are_documented(make_app) -> None:
    app = make_app(
        CLOCK_FROZEN_AT=(int(time.time()) // STEP) * STEP + 5, MFA_ATTEMPTS_PER_ACCOUNT=6
    )
    call = Documented(app.test_client())
    body = {"name": "Erin", "email": "erin@example.com", "password": PASSWORD}
    user = call("POST", "/api/auth/register", 201, json={**body, "passwordConfirm": PASSWORD})
    credentials = {"email": "erin@example.com", "password": PASSWORD}
    call("POST", "/api/auth/login", 200, json=credentials)
    call("GET", "/api/auth/mfa", 200)
    call("GET", "/api/users/me", 200)
    call("POST", "/api/auth/mfa/totp/confirm", 409, json={"code": "123456"})
    call("POST", "/api/auth/mfa/recovery-codes", 409, json={"password": PASSWORD})
    call("DELETE", "/api/auth/mfa/totp", 404, json={"password": PASSWORD})
    secret = call("POST", "/api/auth/mfa/totp", 200).json["data"]["secret"]
    call("POST", "/api/auth/mfa/totp/confirm", 400, json={"code": "000000"})
    call("POST", "/api/auth/mfa/totp/confirm", 400, json={})
    code = code_at(secret, frozen_now(app))
    call("POST", "/api/auth/mfa/totp/confirm", 200, json={"code": code})
    call("POST", "/api/auth/mfa/totp", 409)
    call("POST", "/api/auth/mfa/recovery-codes", 400, json={"password": "wrong password"})
    codes = call("POST", "/api/auth/mfa/recovery-codes", 200, json={"password": PASSWORD})
    call("GET", "/api/users/me", 200)

    other = Documented(app.test_client(use_cookies=False))
    required = other("POST", "/api/auth/login", 403, json=credentials).json
    assert required["code"] == "mfa_required"
    token = required["mfa_token"]
    other("POST", "/api/auth/login/mfa", 400, json={"mfa_token": token, "code": "000000"})
    other("POST", "/api/auth/login/mfa", 400, json={"mfa_token": token})
    other("POST", "/api/auth/login/mfa", 401, json={"mfa_token": "nope", "code": "000000"})
    move_clock(app, STEP)
    pair = other(
        "POST",
        "/api/auth/login/mfa",
        200,
        json={"mfa_token": token, "code": code_at(secret, frozen_now(app))},
        headers={"X-Auth-Mode": "token"},
    ).json
    other("GET", "/api/users/me", 200, headers=bearer(pair["access_token"]))
    recovered = other("POST", "/api/auth/login", 403, json=credentials).json["mfa_token"]
    first_code = codes.json["data"]["recovery_codes"][0]
    other(
        "POST",
        "/api/auth/login/mfa",
        200,
        json={"mfa_token": recovered, "recovery_code": first_code},
    )

    call("DELETE", "/api/auth/mfa/totp", 400, json={})
    for _ in range(3):
        call("DELETE", "/api/auth/mfa/totp", 400, json={"code": "000000"})
    call("DELETE", "/api/auth/mfa/totp", 429, json={"password": PASSWORD})
    call("POST", "/api/auth/mfa/totp", 403, headers={"Sec-Fetch-Site": "cross-site"})
    assert user.json["data"]["user"]["email"] == "erin@example.com"


def test_admin_mfa_reset_answers_are_documented(app) -> None:
    call = Documented(app.test_client(use_cookies=False))
    body = {"name": "F", "email": "frank@example.com", "password": PASSWORD}
    frank = call("POST", "/api/auth/register", 201, json={**body, "passwordConfirm": PASSWORD})
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "root@example.com", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    admin = call(
        "POST",
        "/api/auth/login",
        200,
        json={"email": "root@example.com", "password": PASSWORD},
        headers={"X-Auth-Mode": "token"},
    ).json["access_token"]
    user = call(
        "POST",
        "/api/auth/login",
        200,
        json={"email": "frank@example.com", "password": PASSWORD},
        headers={"X-Auth-Mode": "token"},
    ).json["access_token"]
    frank_id = frank.json["data"]["user"]["id"]
    path = "/api/users/{user_id}/mfa"
    call("DELETE", path, 403, params={"user_id": frank_id}, headers=bearer(user))
    call("DELETE", path, 200, params={"user_id": frank_id}, headers=bearer(admin))
    call("GET", "/api/users/me", 401, headers=bearer(user))  # the reset ended the sessions
    call("DELETE", path, 401, params={"user_id": frank_id})
    missing = "00000000-0000-4000-8000-000000000000"
    call("DELETE", path, 404, params={"user_id": missing}, headers=bearer(admin))
