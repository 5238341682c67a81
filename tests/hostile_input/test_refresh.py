"""GET/POST /api/auth/refresh: forged refresh tokens and hostile bodies."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable

import jwt
import pytest

from tests.helpers import assert_fail
from tests.hostile_input.common import (
    FOREIGN_JWK,
    FOREIGN_KID,
    FOREIGN_RSA,
    MISSING,
    REFRESH,
    REFRESH_FAILED,
    REQUIRED_CLAIMS,
    WRONG_TYPES,
    Victim,
    assert_no_cookies,
    hmac_token,
    post_json,
    send_refresh_token,
    unix_now,
    unsigned_token,
    with_altered_signature,
    with_payload,
)


def _refresh_missing(claim: str) -> Callable[[Victim], str]:
    return lambda v: v.sign_refresh(v.claims("refresh", **{claim: MISSING}))


REFRESH_FORGERIES = [
    pytest.param(
        lambda v: unsigned_token({"alg": "none", "kid": v.refresh.kid}, v.claims("refresh")),
        id="alg-none",
    ),
    pytest.param(
        lambda v: hmac_token(
            {"alg": "HS256", "kid": v.refresh.kid},
            v.claims("refresh"),
            v.refresh.public_pem,
            hashlib.sha256,
        ),
        id="hs256-refresh-public-pem",
    ),
    pytest.param(
        lambda v: hmac_token(
            {"alg": "HS256", "kid": v.refresh.kid},
            v.claims("refresh"),
            v.refresh.public_config_value.encode(),
            hashlib.sha256,
        ),
        id="hs256-configured-base64-public-key",
    ),
    pytest.param(
        lambda v: jwt.encode(
            v.claims("refresh"), FOREIGN_RSA, "RS256", headers={"kid": v.refresh.kid}
        ),
        id="foreign-rsa-key-with-the-real-kid",
    ),
    pytest.param(
        lambda v: jwt.encode(
            v.claims("refresh"),
            FOREIGN_RSA,
            "RS256",
            headers={"kid": FOREIGN_KID, "jwk": FOREIGN_JWK, "jku": "http://127.0.0.1:9/k"},
        ),
        id="foreign-key-in-jwk-and-jku",
    ),
    pytest.param(lambda v: v.access_token, id="access-token-as-refresh-token"),
    pytest.param(
        lambda v: v.sign_access(v.claims("refresh")), id="refresh-claims-signed-with-access-key"
    ),
    pytest.param(
        lambda v: v.sign_refresh(v.claims("access", gen=0)), id="type-access-with-refresh-key"
    ),
    pytest.param(
        lambda v: with_payload(v.refresh_token, gen=-1), id="generation-changed-signature-kept"
    ),
    pytest.param(lambda v: with_altered_signature(v.refresh_token), id="signature-altered"),
    *(
        pytest.param(_refresh_missing(claim), id=f"missing-{claim}")
        for claim in (*REQUIRED_CLAIMS, "gen")
    ),
    pytest.param(lambda v: v.sign_refresh(v.claims("refresh", gen="0")), id="gen-a-string"),
    pytest.param(lambda v: v.sign_refresh(v.claims("refresh", gen=True)), id="gen-a-bool"),
    pytest.param(lambda v: v.sign_refresh(v.claims("refresh", gen=0.0)), id="gen-a-float"),
    pytest.param(
        lambda v: v.sign_refresh(v.claims("refresh", iat=unix_now() - 7200, exp=unix_now() - 3600)),
        id="expired",
    ),
    pytest.param(
        lambda v: v.sign_refresh(v.claims("refresh", iat=unix_now() + 3600, exp=unix_now() + 7200)),
        id="issued-in-the-future",
    ),
    pytest.param(
        lambda v: v.sign_refresh(v.claims("refresh", sid=secrets.token_urlsafe(16))),
        id="unknown-session",
    ),
    pytest.param(
        lambda v: v.sign_refresh(v.claims("refresh", pad="x" * 5000)), id="over-4096-chars"
    ),
    pytest.param(lambda v: "not-a-jwt", id="not-a-jwt"),
    pytest.param(lambda v: "A" * 9000, id="9000-chars"),
    pytest.param(lambda v: "", id="empty"),
]

REFRESH_TRANSPORTS = [
    pytest.param("cookie-get", id="cookie-get"),
    pytest.param("cookie-post", id="cookie-post"),
    pytest.param("body", id="json-body"),
]


@pytest.mark.parametrize("transport", REFRESH_TRANSPORTS)
@pytest.mark.parametrize("forge", REFRESH_FORGERIES)
def test_a_forged_refresh_token_is_403(app, client, victim, transport, forge):
    response = send_refresh_token(client, transport, forge(victim))
    assert_fail(response, 403, REFRESH_FAILED)
    assert_no_cookies(response)
    assert "access_token" not in response.json
    # The genuine refresh token still works: a forgery revoked nothing.
    genuine = post_json(client, REFRESH, {"refresh_token": victim.refresh_token})
    assert genuine.status_code == 200, genuine.json


@pytest.mark.parametrize("transport", REFRESH_TRANSPORTS)
@pytest.mark.parametrize(
    "generation",
    [pytest.param(2**80, id="2-to-the-80"), pytest.param(-(2**63), id="minus-2-to-the-63")],
)
def test_a_refresh_token_with_an_absurd_generation_is_403_not_500(
    app, client, victim, transport, generation
):
    """Signed with the real key (as a leaked key would allow): an unknown generation."""
    token = victim.sign_refresh(victim.claims("refresh", gen=generation))
    response = send_refresh_token(client, transport, token)
    assert_fail(response, 403, REFRESH_FAILED)
    assert_no_cookies(response)


@pytest.mark.parametrize("transport", REFRESH_TRANSPORTS)
def test_the_refresh_forging_helpers_make_tokens_the_app_accepts(app, client, victim, transport):
    """Control for the table above."""
    response = send_refresh_token(client, transport, victim.sign_refresh(victim.claims("refresh")))
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("value", WRONG_TYPES)
def test_refresh_body_with_a_wrong_type_is_400(app, client, victim, value):
    response = post_json(client, REFRESH, {"refresh_token": value})
    assert_fail(response, 400)
    assert_no_cookies(response)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("\ud800", id="lone-surrogate"),
        pytest.param("a.\udfff.b", id="surrogate-in-jwt"),
    ],
)
def test_refresh_body_with_lone_surrogates_is_refused_not_a_500(app, client, value):
    response = post_json(client, REFRESH, {"refresh_token": value})
    assert response.status_code in (400, 403), response.get_data(as_text=True)
    assert_fail(response, response.status_code)
    assert_no_cookies(response)


def test_refresh_post_without_body_or_cookie_is_403(app, client):
    assert_fail(client.post(REFRESH), 403, REFRESH_FAILED)
    assert_fail(client.post(REFRESH, data=b"", content_type="application/json"), 403)


def test_refresh_body_object_without_the_field_falls_back_to_the_missing_cookie(app, client):
    response = post_json(client, REFRESH, {"refreshToken": "x", "token": "y"})
    assert_fail(response, 403, REFRESH_FAILED)
