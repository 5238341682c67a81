"""Second factors after a provider sign-in or an emailed code, and the ``amr`` each
session carries: ``fed`` (a provider), ``otp`` (an emailed code), plus the factor and
``mfa`` after the second step. The OpenID provider is the real one (oidc-provider)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.helpers import assert_fail
from tests.support.mfa import claims, code_at, enrol_totp, frozen_now, move_clock
from tests.support.oidc_provider import OidcProvider, query
from tests.support.smtp_sink import SmtpSink, delivered
from tests.test_oauth import (  # noqa: F401 - client_credentials is a fixture
    BROWSER,
    JSON,
    call_back,
    client_credentials,
    provider_config,
    provider_login,
    start,
)

pytestmark = pytest.mark.subprocess

TOKEN_MODE = {**JSON, "X-Auth-Mode": "token"}


@pytest.fixture
def mfa_oauth_app(
    make_app: Callable[..., Flask],
    oidc_provider: OidcProvider,
    client_credentials: tuple[str, str],  # noqa: F811 - the imported fixture
    smtp_sink: SmtpSink,
) -> Flask:
    oidc_provider.reset()
    return make_app(
        **{
            **smtp_sink.config,
            **provider_config(oidc_provider.issuer, *client_credentials, OAUTH_TEST_TRUST_MFA=True),
        },
        CLOCK_FROZEN_AT=float(int(time.time())),
    )


def sign_in_json(app: Flask, login_name: str) -> Any:
    client = app.test_client()
    callback = provider_login(start(client), login_name)
    # The clock of the app is frozen (TOTP codes); bring it to now, after the provider
    # issued its ID token, so the token is neither from the future nor expired.
    app.config["CLOCK_FROZEN_AT"] = max(frozen_now(app), float(int(time.time())) + 1)
    return call_back(client, callback, TOKEN_MODE)


def enrolled_provider_user(app: Flask, login_name: str) -> str:
    """A user created by a provider sign-in, with TOTP enrolled: the TOTP secret."""
    first = sign_in_json(app, login_name)
    assert first.status_code == 200, first.json
    assert claims(first.json["access_token"])["amr"] == ["fed"]
    secret, _ = enrol_totp(app.test_client(), app, first.json["access_token"])
    return secret


def test_a_provider_sign_in_of_a_user_with_a_second_factor_asks_for_it(
    mfa_oauth_app: Flask,
) -> None:
    secret = enrolled_provider_user(mfa_oauth_app, "mfa-user@example.com")
    response = sign_in_json(mfa_oauth_app, "mfa-user@example.com")
    assert_fail(response, 403, "Second factor required")
    assert response.json["code"] == "mfa_required"
    assert "totp" in response.json["methods"]
    done = mfa_oauth_app.test_client().post(
        "/api/auth/login/mfa",
        json={
            "mfa_token": response.json["mfa_token"],
            "code": code_at(secret, frozen_now(mfa_oauth_app)),
        },
        headers={"X-Auth-Mode": "token"},
    )
    assert done.status_code == 200, done.json
    amr = claims(done.json["access_token"])["amr"]
    assert amr[0] == "fed" and amr[-1] == "mfa" and "pwd" not in amr


def test_browsers_get_the_mfa_token_in_the_fragment(mfa_oauth_app: Flask) -> None:
    enrolled_provider_user(mfa_oauth_app, "mfa-browser@example.com")
    client = mfa_oauth_app.test_client()
    callback = provider_login(start(client), "mfa-browser@example.com")
    mfa_oauth_app.config["CLOCK_FROZEN_AT"] = float(int(time.time())) + 1
    response = call_back(client, callback, BROWSER)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert query(location.split("#")[0])["error"] == "mfa_required"
    assert re.search(r"#mfa_token=[A-Za-z0-9_-]{43}&methods=", location)
    assert "access_token" not in response.headers.get("Set-Cookie", "")


def test_a_trusted_provider_that_did_mfa_signs_in_directly(
    mfa_oauth_app: Flask, oidc_provider: OidcProvider
) -> None:
    enrolled_provider_user(mfa_oauth_app, "trusted@example.com")
    oidc_provider.patch_next_id_token(amr=["pwd", "mfa"])
    response = sign_in_json(mfa_oauth_app, "trusted@example.com")
    assert response.status_code == 200, response.json
    assert claims(response.json["access_token"])["amr"] == ["fed", "mfa"]


def test_an_untrusted_provider_mfa_does_not_count(
    make_app: Callable[..., Flask],
    oidc_provider: OidcProvider,
    client_credentials: tuple[str, str],  # noqa: F811 - the imported fixture
    mfa_oauth_app: Flask,
) -> None:
    enrolled_provider_user(mfa_oauth_app, "untrusted@example.com")
    untrusted = make_app(
        **provider_config(oidc_provider.issuer, *client_credentials),
        CLOCK_FROZEN_AT=frozen_now(mfa_oauth_app),
    )
    oidc_provider.patch_next_id_token(amr=["pwd", "mfa"])
    response = sign_in_json(untrusted, "untrusted@example.com")
    assert_fail(response, 403, "Second factor required")


def test_an_emailed_code_marks_otp_and_still_asks_for_the_second_factor(
    mfa_oauth_app: Flask, smtp_sink: SmtpSink
) -> None:
    def code_for(email: str) -> str:
        client.post("/api/auth/otp", json={"email": email})
        delivered(mfa_oauth_app, smtp_sink)
        mail = next(m for m in reversed(smtp_sink.messages) if "sign-in code" in m.subject)
        return re.search(r"Your sign-in code is (\d{6})", mail.text).group(1)

    client = mfa_oauth_app.test_client()
    first = sign_in_json(mfa_oauth_app, "coded@example.com")  # an account, no factor yet
    signed_in = client.post(
        "/api/auth/otp/verify",
        json={"email": "coded@example.com", "code": code_for("coded@example.com")},
        headers={"X-Auth-Mode": "token"},
    )
    assert claims(signed_in.json["access_token"])["amr"] == ["otp"]

    secret, _ = enrol_totp(client, mfa_oauth_app, first.json["access_token"])
    asked = client.post(
        "/api/auth/otp/verify",
        json={"email": "coded@example.com", "code": code_for("coded@example.com")},
    )
    assert_fail(asked, 403, "Second factor required")
    move_clock(mfa_oauth_app, 0)
    done = client.post(
        "/api/auth/login/mfa",
        json={
            "mfa_token": asked.json["mfa_token"],
            "code": code_at(secret, frozen_now(mfa_oauth_app)),
        },
        headers={"X-Auth-Mode": "token"},
    )
    assert done.status_code == 200, done.json
    # Two one-time codes (mailed, then TOTP) are one method: "otp" once (RFC 8176).
    assert claims(done.json["access_token"])["amr"] == ["otp", "mfa"]
