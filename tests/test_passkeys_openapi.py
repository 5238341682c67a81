"""Every passkey answer a real client gets (the software authenticator's, good and bad)
is the one the OpenAPI document describes: status, content type, headers, body."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from flask import Flask

from tests.helpers import PASSWORD
from tests.support.soft_authenticator import SoftAuthenticator
from tests.test_openapi import Documented, _register

OPTIONS = "/api/auth/passkeys/register/options"
REGISTER = "/api/auth/passkeys/register"
LIST = "/api/auth/passkeys"
ONE = "/api/auth/passkeys/{passkey_id}"
LOGIN_OPTIONS = "/api/auth/passkeys/login/options"
LOGIN = "/api/auth/passkeys/login"


def test_passkey_answers_are_documented(app: Flask) -> None:
    call = Documented(app.test_client())
    _register(call, "pat@example.com")
    call("POST", OPTIONS, 401)
    call("POST", "/api/auth/login", 200, json={"email": "pat@example.com", "password": PASSWORD})
    authenticator = SoftAuthenticator()
    options = call("POST", OPTIONS, 200).json["data"]["options"]
    credential = authenticator.create(options)
    call("POST", REGISTER, 400, json={"credential": {"id": "!"}})
    passkey = call("POST", REGISTER, 201, json={"credential": credential, "name": "Pat's"}).json
    call("POST", REGISTER, 400, json={"credential": credential})  # the challenge is spent
    again = authenticator.create(
        call("POST", OPTIONS, 200).json["data"]["options"],
        credential_id=next(iter(authenticator.credentials)),
        keep=False,
    )
    call("POST", REGISTER, 409, json={"credential": again})
    call("POST", OPTIONS, 403, headers={"Origin": "https://evil.example"})

    one = {"passkey_id": passkey["data"]["passkey"]["id"]}
    call("GET", LIST, 200)
    call("PATCH", ONE, 200, params=one, json={"name": "Pat's phone"})
    call("PATCH", ONE, 400, params=one, json={"name": ""})
    call("PATCH", ONE, 404, params={"passkey_id": str(uuid.uuid4())}, json={"name": "x"})
    call("PATCH", ONE, 415, params=one, data="name=x", content_type="text/plain")

    anonymous = Documented(app.test_client())
    sign_in = anonymous("POST", LOGIN_OPTIONS, 200).json["data"]["options"]
    answer = authenticator.get(sign_in)
    anonymous("POST", LOGIN, 200, json={"credential": answer})
    anonymous("POST", LOGIN, 400, json={"credential": answer})
    token_mode = anonymous(
        "POST",
        LOGIN,
        200,
        json={
            "credential": authenticator.get(
                anonymous("POST", LOGIN_OPTIONS, 200).json["data"]["options"]
            )
        },
        headers={"X-Auth-Mode": "token"},
    )
    assert token_mode.json["token_type"] == "Bearer"
    anonymous("POST", LOGIN, 413, json={"credential": {"id": "A" * 20_000}})

    call("DELETE", ONE, 400, params=one, json={"password": "wrong password"})
    call("DELETE", ONE, 400, params=one, json={})
    call("DELETE", ONE, 200, params=one, json={"password": PASSWORD})
    call("DELETE", ONE, 404, params=one, json={"password": PASSWORD})
    anonymous(
        "POST",
        LOGIN,
        400,
        json={
            "credential": authenticator.get(
                anonymous("POST", LOGIN_OPTIONS, 200).json["data"]["options"]
            )
        },
    )


def test_rate_limited_passkey_answers_are_documented(make_app: Callable[..., Flask]) -> None:
    limited = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_LOGIN_PER_ADDRESS="1 per minute",
        MFA_ATTEMPTS_PER_ACCOUNT=1,
    )
    call = Documented(limited.test_client())
    call("POST", LOGIN_OPTIONS, 200)
    call("POST", LOGIN_OPTIONS, 429)
    call("POST", LOGIN, 429, json={})

    _register(call, "quinn@example.com")
    call("POST", "/api/auth/login", 200, json={"email": "quinn@example.com", "password": PASSWORD})
    options = call("POST", OPTIONS, 200).json["data"]["options"]
    passkey = call("POST", REGISTER, 201, json={"credential": SoftAuthenticator().create(options)})
    one = {"passkey_id": passkey.json["data"]["passkey"]["id"]}
    call("DELETE", ONE, 400, params=one, json={"password": "wrong password"})
    call("DELETE", ONE, 429, params=one, json={"password": PASSWORD})


def test_unavailable_passkey_answers_are_documented(make_app: Callable[..., Flask]) -> None:
    down = Documented(make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client())
    down("POST", LOGIN_OPTIONS, 503)
