"""Blocking hooks against a real local receiver: before a user is created (may refuse)
and custom access-token claims; each request verified with the Standard Webhooks
package, timeouts by a receiver that holds past a short HOOK_TIMEOUT."""

from __future__ import annotations

import jwt
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from authapi import create_app
from authapi.configuration import ConfigurationError
from authapi.extensions import db
from authapi.models import User
from authapi.webhooks import signing
from tests.helpers import PASSWORD, assert_fail, login, register
from tests.support.receiver import Answer

SECRET = signing.new_secret()
REGISTER = {
    "name": "Mallory",
    "email": "mallory@blocked.example",
    "password": PASSWORD,
    "passwordConfirm": PASSWORD,
}


def hook_count(hook: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "authapi_hook_calls_total", {"hook": hook, "outcome": outcome}
    )
    return value or 0.0


def users(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


@pytest.fixture
def hooked(make_app, receiver):
    """An app whose hooks call ``receiver`` (with extra settings)."""

    def build(**settings):
        return make_app(**{"HOOK_SECRET": SECRET, "HOOK_TIMEOUT": 5.0, **settings})

    return build


# --- before a user is created ------------------------------------------------------------


def test_the_hook_can_refuse_a_sign_up_with_its_message(hooked, receiver):
    app = hooked(HOOK_BEFORE_USER_CREATED_URL=receiver.url + "/before")
    receiver.answer(
        Answer(200, {"decision": "reject", "message": "No sign-ups from blocked.example"})
    )
    before = hook_count("before_user_created", "rejected")
    response = app.test_client().post("/api/auth/register", json=REGISTER)
    assert_fail(response, 403, "No sign-ups from blocked.example")
    assert response.json["code"] == "sign_up_rejected"
    assert users(app) == 0
    assert hook_count("before_user_created", "rejected") == before + 1
    [call] = receiver.received
    assert call.path == "/before"
    payload = call.verified(SECRET)
    assert payload["type"] == "hook.before_user_created"
    assert payload["data"] == {
        "user": {"email": "mallory@blocked.example", "name": "Mallory"},
        "source": "register",
    }


def test_a_refusal_message_is_cleaned_and_capped(hooked, receiver):
    app = hooked(HOOK_BEFORE_USER_CREATED_URL=receiver.url)
    receiver.answer(Answer(200, {"decision": "reject", "message": "bad\x00\x1b[31m" + "x" * 500}))
    response = app.test_client().post("/api/auth/register", json=REGISTER)
    assert_fail(response, 403)
    message = response.json["message"]
    assert message.startswith("bad[31m") and len(message) == 200
    receiver.answer(Answer(200, {"decision": "reject", "message": 42}))
    assert_fail(app.test_client().post("/api/auth/register", json=REGISTER), 403, "Sign-up refused")


def test_the_hook_can_let_a_sign_up_through(hooked, receiver):
    app = hooked(HOOK_BEFORE_USER_CREATED_URL=receiver.url)
    receiver.answer(Answer(200, {"decision": "continue"}))
    before = hook_count("before_user_created", "accepted")
    user = register(app.test_client(), email="ok@example.com")
    assert user["email"] == "ok@example.com"
    assert hook_count("before_user_created", "accepted") == before + 1
    receiver.received[0].verified(SECRET)


def test_a_duplicate_email_is_409_without_asking_the_hook(hooked, receiver):
    app = hooked(HOOK_BEFORE_USER_CREATED_URL=receiver.url)
    register(app.test_client())
    assert len(receiver.received) == 1
    response = app.test_client().post(
        "/api/auth/register",
        json={**REGISTER, "email": "alice@example.com"},
    )
    assert_fail(response, 409)
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    "answer",
    [
        Answer(200, hold=True),  # no answer within HOOK_TIMEOUT
        Answer(500, {"decision": "continue"}),
        Answer(200, ["not", "an", "object"]),
        Answer(200, {"decision": "perhaps"}),
        Answer(302, {"decision": "continue"}),
    ],
)
def test_a_failing_hook_refuses_sign_ups_by_default(hooked, receiver, answer):
    # A short timeout only where the receiver holds: a busy machine must not turn an
    # error answer into a timeout.
    app = hooked(HOOK_BEFORE_USER_CREATED_URL=receiver.url, HOOK_TIMEOUT=0.2 if answer.hold else 5)
    receiver.answer(answer)
    outcome = "timeout" if answer.hold else "error"
    before = hook_count("before_user_created", outcome)
    response = app.test_client().post("/api/auth/register", json=REGISTER)
    assert_fail(response, 503, "Sign-up is unavailable right now, please try again later")
    assert response.json["code"] == "sign_up_unavailable"
    assert response.headers["Retry-After"]
    assert users(app) == 0
    assert hook_count("before_user_created", outcome) == before + 1


def test_with_fail_open_a_timeout_lets_the_sign_up_through(hooked, receiver):
    app = hooked(HOOK_BEFORE_USER_CREATED_URL=receiver.url, HOOK_TIMEOUT=0.2, HOOK_FAIL_OPEN=True)
    receiver.answer(Answer(200, {"decision": "reject", "message": "too late"}, hold=True))
    before = hook_count("before_user_created", "timeout")
    register(app.test_client())
    assert users(app) == 1
    assert hook_count("before_user_created", "timeout") == before + 1


def test_with_fail_open_an_unreachable_hook_lets_the_sign_up_through(hooked, receiver):
    app = hooked(HOOK_BEFORE_USER_CREATED_URL="http://127.0.0.1:9/", HOOK_FAIL_OPEN=True)
    register(app.test_client())
    assert users(app) == 1


# --- custom access-token claims ------------------------------------------------------------


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_the_hook_adds_claims_under_the_namespace_at_login_and_refresh(hooked, receiver):
    app = hooked(HOOK_CUSTOM_ACCESS_TOKEN_URL=receiver.url + "/claims")
    client = app.test_client()
    user = register(client)
    receiver.answer(
        Answer(200, {"claims": {"tenant": "acme", "roles": ["editor"]}}),
        Answer(200, {"claims": {"tenant": "acme", "roles": ["owner"]}}),
    )
    tokens = client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers={"X-Auth-Mode": "token"},
    ).json
    claims = claims_of(tokens["access_token"])
    assert claims["app"] == {"tenant": "acme", "roles": ["editor"]}
    assert claims["sub"] == user["id"] and claims["type"] == "access"
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200

    refreshed = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert claims_of(refreshed.json["access_token"])["app"]["roles"] == ["owner"]

    login_call, refresh_call = (item.verified(SECRET) for item in receiver.received)
    assert login_call["type"] == "hook.custom_access_token"
    assert login_call["data"]["grant"] == "login" and refresh_call["data"]["grant"] == "refresh"
    assert login_call["data"]["user_id"] == user["id"]
    assert login_call["data"]["session_id"] == claims["sid"]


def test_a_custom_namespace(hooked, receiver):
    app = hooked(HOOK_CUSTOM_ACCESS_TOKEN_URL=receiver.url, HOOK_CLAIMS_NAMESPACE="https://acme/")
    register(app.test_client())
    receiver.answer(Answer(200, {"claims": {"plan": "pro"}}))
    token = login(app.test_client())
    assert claims_of(token)["https://acme/"] == {"plan": "pro"}


@pytest.mark.parametrize("claim", ["sub", "sid", "exp", "iss", "aud", "type", "iat", "jti"])
def test_claims_that_would_shadow_the_tokens_own_are_refused(hooked, receiver, claim):
    app = hooked(HOOK_CUSTOM_ACCESS_TOKEN_URL=receiver.url)
    user = register(app.test_client())
    receiver.answer(Answer(200, {"claims": {claim: "attacker", "tenant": "acme"}}))
    before = hook_count("custom_access_token", "refused")
    token = login(app.test_client())
    claims = claims_of(token)
    assert "app" not in claims and claims["sub"] == user["id"]
    assert hook_count("custom_access_token", "refused") == before + 1


def test_oversized_claims_are_refused(hooked, receiver):
    app = hooked(HOOK_CUSTOM_ACCESS_TOKEN_URL=receiver.url)
    register(app.test_client())
    receiver.answer(Answer(200, {"claims": {"blob": "x" * 5000}}))
    token = login(app.test_client())
    assert "app" not in claims_of(token)
    assert (
        app.test_client()
        .get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
        .status_code
        == 200
    )


@pytest.mark.parametrize(
    "answer",
    [Answer(200, hold=True), Answer(500), Answer(200, {"claims": "tenant=acme"})],
)
def test_a_failing_claims_hook_keeps_the_token_without_extra_claims(hooked, receiver, answer):
    app = hooked(HOOK_CUSTOM_ACCESS_TOKEN_URL=receiver.url, HOOK_TIMEOUT=0.2 if answer.hold else 5)
    user = register(app.test_client())
    receiver.answer(answer)
    outcome = "timeout" if answer.hold else "error"
    before = hook_count("custom_access_token", outcome)
    token = login(app.test_client())
    claims = claims_of(token)
    assert "app" not in claims and claims["sub"] == user["id"]
    assert hook_count("custom_access_token", outcome) == before + 1


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"HOOK_BEFORE_USER_CREATED_URL": "http://127.0.0.1/"}, "HOOK_SECRET"),
        (
            {"HOOK_CUSTOM_ACCESS_TOKEN_URL": "http://127.0.0.1/", "HOOK_SECRET": "nope"},
            "HOOK_SECRET",
        ),
        ({"HOOK_CUSTOM_ACCESS_TOKEN_URL": "ftp://x/", "HOOK_SECRET": SECRET}, "http"),
        ({"HOOK_CLAIMS_NAMESPACE": "sub"}, "HOOK_CLAIMS_NAMESPACE"),
        ({"HOOK_TIMEOUT": 0}, "HOOK_TIMEOUT"),
        ({"WEBHOOK_RETRY_JITTER": 1.5}, "WEBHOOK_RETRY_JITTER"),
        ({"WEBHOOK_MAX_ATTEMPTS": 0}, "WEBHOOK_MAX_ATTEMPTS"),
    ],
)
def test_bad_hook_settings_refuse_to_start(base_config, settings, message):
    with pytest.raises(ConfigurationError, match=message):
        create_app({**base_config, **settings})


def test_production_hooks_must_be_https(base_config):
    production = {**base_config, "APP_ENV": "production", "COOKIE_SECURE": True}
    with pytest.raises(ConfigurationError, match="https"):
        create_app(
            {**production, "HOOK_BEFORE_USER_CREATED_URL": "http://hooks/", "HOOK_SECRET": SECRET}
        )
