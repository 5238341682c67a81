"""Access tokens: forgeries, tampering, foreign keys, expiry."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
from flask import Flask, jsonify

from authapi import tokens
from tests.helpers import PASSWORD, TOKEN_MODE, assert_fail, bearer, register
from tests.hostile_input.common import (
    EMAIL,
    FOREIGN_EC,
    FOREIGN_JWK,
    FOREIGN_KID,
    FOREIGN_RSA,
    LOGIN,
    LOGOUT,
    ME,
    MISSING,
    NOT_LOGGED_IN,
    REFRESH,
    REFRESH_FAILED,
    REQUIRED_CLAIMS,
    Victim,
    hmac_token,
    post_json,
    rs256_token,
    send_access_token,
    unix_now,
    unsigned_token,
    with_altered_signature,
    with_payload,
)


def _hs(digest: Any, alg: str, secret: Callable[[Victim], bytes]) -> Callable[[Victim], str]:
    return lambda v: hmac_token(
        {"alg": alg, "typ": "JWT", "kid": v.access.kid}, v.claims(), secret(v), digest
    )


def _missing(claim: str) -> Callable[[Victim], str]:
    return lambda v: v.sign_access(v.claims(**{claim: MISSING}))


ACCESS_FORGERIES = [
    pytest.param(
        lambda v: unsigned_token({"alg": "none", "typ": "JWT", "kid": v.access.kid}, v.claims()),
        id="alg-none",
    ),
    pytest.param(
        lambda v: unsigned_token({"alg": "None", "kid": v.access.kid}, v.claims()),
        id="alg-None-capitalised",
    ),
    pytest.param(
        lambda v: unsigned_token(
            {"alg": "none", "kid": v.access.kid},
            v.claims(),
            v.access_token.rsplit(".", 1)[1],
        ),
        id="alg-none-with-a-real-signature",
    ),
    pytest.param(
        _hs(hashlib.sha256, "HS256", lambda v: v.access.public_pem), id="hs256-public-pem"
    ),
    pytest.param(
        _hs(hashlib.sha256, "HS256", lambda v: v.access.public_pem.strip()),
        id="hs256-public-pem-stripped",
    ),
    pytest.param(
        _hs(hashlib.sha256, "HS256", lambda v: v.access.public_config_value.encode()),
        id="hs256-configured-base64-public-key",
    ),
    pytest.param(
        _hs(hashlib.sha512, "HS512", lambda v: v.access.public_pem), id="hs512-public-pem"
    ),
    pytest.param(lambda v: v.sign_access(v.claims(), "PS256"), id="ps256-with-the-real-key"),
    pytest.param(lambda v: v.sign_access(v.claims(), "RS512"), id="rs512-with-the-real-key"),
    pytest.param(
        lambda v: jwt.encode(v.claims(), FOREIGN_EC, "ES256", headers={"kid": v.access.kid}),
        id="es256-foreign-ec-key",
    ),
    pytest.param(
        lambda v: jwt.encode(v.claims(), FOREIGN_RSA, "RS256", headers={"kid": v.access.kid}),
        id="foreign-rsa-key-with-the-real-kid",
    ),
    pytest.param(
        lambda v: jwt.encode(v.claims(), FOREIGN_RSA, "RS256", headers={"kid": FOREIGN_KID}),
        id="foreign-rsa-key-with-its-own-kid",
    ),
    pytest.param(lambda v: jwt.encode(v.claims(), FOREIGN_RSA, "RS256"), id="foreign-rsa-no-kid"),
    pytest.param(
        lambda v: jwt.encode(
            v.claims(), FOREIGN_RSA, "RS256", headers={"kid": FOREIGN_KID, "jwk": FOREIGN_JWK}
        ),
        id="foreign-key-embedded-as-jwk",
    ),
    pytest.param(
        lambda v: jwt.encode(
            v.claims(), FOREIGN_RSA, "RS256", headers={"kid": v.access.kid, "jwk": FOREIGN_JWK}
        ),
        id="foreign-key-embedded-as-jwk-real-kid",
    ),
    pytest.param(
        lambda v: rs256_token(
            {"alg": "RS256", "kid": {"$ne": None}}, v.claims(), v.access.private_key
        ),
        id="kid-an-object-real-key",
    ),
    pytest.param(
        lambda v: rs256_token(
            {"alg": "RS256", "kid": [v.access.kid]}, v.claims(), v.access.private_key
        ),
        id="kid-a-list-real-key",
    ),
    pytest.param(
        lambda v: rs256_token({"alg": "RS256", "kid": None}, v.claims(), v.access.private_key),
        id="kid-null-real-key",
    ),
    pytest.param(
        lambda v: rs256_token(
            {"alg": ["RS256"], "kid": v.access.kid}, v.claims(), v.access.private_key
        ),
        id="alg-a-list-real-key",
    ),
    pytest.param(
        lambda v: jwt.encode(
            v.claims(), FOREIGN_RSA, "RS256", headers={"kid": "../../../../dev/null"}
        ),
        id="kid-a-path",
    ),
    pytest.param(lambda v: v.refresh_token, id="refresh-token-as-access-token"),
    pytest.param(
        lambda v: jwt.encode(
            v.claims(), v.refresh.private_key, "RS256", headers={"kid": v.refresh.kid}
        ),
        id="access-claims-signed-with-the-refresh-key",
    ),
    pytest.param(
        lambda v: v.sign_access(v.claims("refresh")), id="type-refresh-signed-with-access-key"
    ),
    pytest.param(lambda v: v.sign_access(v.claims(type="Access")), id="type-wrong-case"),
    pytest.param(lambda v: v.sign_access(v.claims(type=None)), id="type-null"),
    pytest.param(
        lambda v: with_payload(v.access_token, sub=str(uuid.uuid4())),
        id="payload-changed-signature-kept",
    ),
    pytest.param(
        lambda v: with_payload(v.access_token, exp=unix_now() + 10**6),
        id="exp-extended-signature-kept",
    ),
    pytest.param(lambda v: with_altered_signature(v.access_token), id="signature-altered"),
    pytest.param(lambda v: v.access_token.rsplit(".", 1)[0] + ".", id="signature-stripped"),
    pytest.param(lambda v: v.access_token.rsplit(".", 1)[0], id="two-segments"),
    pytest.param(lambda v: v.access_token + ".e30", id="four-segments"),
    pytest.param(lambda v: v.access_token[::-1], id="reversed"),
    pytest.param(lambda v: "not-a-jwt", id="not-a-jwt"),
    pytest.param(lambda v: "..", id="only-dots"),
    pytest.param(lambda v: "e30.e30.", id="empty-header-and-payload"),
    pytest.param(lambda v: "W10.W10.", id="array-header-and-payload"),
    pytest.param(lambda v: v.sign_access(v.claims(iss="https://evil.example")), id="wrong-issuer"),
    pytest.param(lambda v: v.sign_access(v.claims(aud="another-service")), id="wrong-audience"),
    *(pytest.param(_missing(claim), id=f"missing-{claim}") for claim in REQUIRED_CLAIMS),
    pytest.param(lambda v: v.sign_access(v.claims(sub=12345)), id="sub-not-a-string"),
    pytest.param(lambda v: v.sign_access(v.claims(sid=None)), id="sid-null"),
    pytest.param(lambda v: v.sign_access(v.claims(jti=["x"])), id="jti-a-list"),
    pytest.param(lambda v: v.sign_access(v.claims(exp=str(unix_now() + 600))), id="exp-a-string"),
    pytest.param(lambda v: v.sign_access(v.claims(iat="now")), id="iat-a-string"),
    pytest.param(
        lambda v: v.sign_access(v.claims(sid=secrets.token_urlsafe(16))), id="unknown-session"
    ),
    pytest.param(
        lambda v: v.sign_access(v.claims(sub=str(uuid.uuid4()))), id="session-of-another-user-id"
    ),
    pytest.param(
        lambda v: v.sign_access(v.claims(iat=unix_now() + 3600, exp=unix_now() + 4500)),
        id="issued-an-hour-in-the-future",
    ),
    pytest.param(
        lambda v: jwt.encode(
            v.claims(iat=unix_now() - 7200, exp=unix_now() - 3600),
            FOREIGN_RSA,
            "RS256",
            headers={"kid": v.access.kid},
        ),
        id="expired-and-forged",
    ),
    pytest.param(
        lambda v: v.sign_access(v.claims(pad="x" * 5000)), id="over-4096-chars-validly-signed"
    ),
]

ACCESS_TRANSPORTS = [
    pytest.param(ME, "bearer", id="me-bearer"),
    pytest.param(ME, "cookie", id="me-cookie"),
    pytest.param(LOGOUT, "cookie", id="logout-cookie"),
]


@pytest.mark.parametrize(("route", "transport"), ACCESS_TRANSPORTS)
@pytest.mark.parametrize("forge", ACCESS_FORGERIES)
def test_a_forged_or_tampered_access_token_is_401_but_not_the_refresh_hint(
    app, client, victim, route, transport, forge
):
    token = forge(victim)
    response = send_access_token(client, route, transport, token)
    assert_fail(response, 401)
    # Front ends refresh on "You are not logged in": a forgery must not trigger that.
    assert response.json["message"] != NOT_LOGGED_IN
    # ...and it ended nothing: the genuine token still works.
    genuine = app.test_client().get(ME, headers=bearer(victim.access_token))
    assert genuine.status_code == 200, genuine.json


@pytest.mark.parametrize(("route", "transport"), ACCESS_TRANSPORTS)
def test_the_forging_helpers_make_tokens_the_app_accepts(app, client, victim, route, transport):
    """Control for the table above: the real key with the right claims passes."""
    response = send_access_token(client, route, transport, victim.sign_access(victim.claims()))
    assert response.status_code == 200, response.json


@pytest.mark.parametrize(("route", "transport"), ACCESS_TRANSPORTS)
def test_an_expired_genuine_access_token_says_exactly_you_are_not_logged_in(
    app, client, victim, route, transport
):
    lifetime = int(float(app.config["ACCESS_TOKEN_EXPIRES_IN"]) * 60)
    issued_at = time.time() - lifetime - int(app.config["JWT_LEEWAY"]) - 60
    with app.app_context():
        expired = tokens.issue_access_token(victim.user_id, victim.session_id, now=issued_at)
    response = send_access_token(client, route, transport, expired)
    assert_fail(response, 401, NOT_LOGGED_IN)


@pytest.mark.parametrize(("route", "transport"), ACCESS_TRANSPORTS)
def test_a_genuine_access_token_issued_in_the_future_is_401(app, client, victim, route, transport):
    with app.app_context():
        future = tokens.issue_access_token(
            victim.user_id, victim.session_id, now=time.time() + 3600
        )
    response = send_access_token(client, route, transport, future)
    assert_fail(response, 401)
    assert response.json["message"] != NOT_LOGGED_IN


def _attacker_app(hits: list[str]) -> Flask:
    attacker = Flask("attacker")

    @attacker.route("/<path:anything>")
    def anything(anything: str) -> Any:
        hits.append(anything)
        return jsonify(keys=[{**FOREIGN_JWK, "use": "sig"}])

    return attacker


@pytest.mark.live_server
@pytest.mark.parametrize(
    ("header", "own_kid"),
    [
        pytest.param("jku", True, id="jku-foreign-kid"),
        pytest.param("jku", False, id="jku-real-kid"),
        pytest.param("x5u", True, id="x5u-foreign-kid"),
        pytest.param("x5u", False, id="x5u-real-kid"),
    ],
)
def test_a_token_pointing_at_a_foreign_key_url_is_401_and_the_url_is_never_fetched(
    app, client, victim, live_server, header, own_kid
):
    hits: list[str] = []
    attacker = live_server(_attacker_app(hits))
    assert urlsplit(attacker.url).hostname  # the attacker's key server is really up
    headers = {"kid": FOREIGN_KID if own_kid else victim.access.kid, header: attacker.url + "/k"}
    token = jwt.encode(victim.claims(), FOREIGN_RSA, "RS256", headers=headers)
    for transport in ("bearer", "cookie"):
        response = send_access_token(client, ME, transport, token)
        assert_fail(response, 401)
        assert response.json["message"] != NOT_LOGGED_IN
    assert hits == []


def test_a_token_with_padding_appended_dies_with_its_session(app, client, victim):
    """PyJWT accepts ``==`` after a token: revocation must not key on the raw string."""
    padded = victim.access_token + "=="
    before = client.get(ME, headers=bearer(padded))
    assert before.status_code in (200, 401), before.json
    if before.status_code == 200:
        assert before.json["data"]["user"]["id"] == victim.user_id
    assert client.get(LOGOUT, headers=bearer(victim.access_token)).status_code == 200
    for token in (padded, victim.access_token + "=", victim.access_token):
        for transport in ("bearer", "cookie"):
            assert_fail(send_access_token(client, ME, transport, token), 401)
    padded_refresh = post_json(client, REFRESH, {"refresh_token": victim.refresh_token + "=="})
    assert_fail(padded_refresh, 403, REFRESH_FAILED)


def test_a_padded_refresh_token_replayed_after_rotation_counts_as_reuse(make_app):
    strict = make_app(REFRESH_REUSE_INTERVAL=0)
    client = strict.test_client()
    register(client)
    issued = client.post(LOGIN, json={"email": EMAIL, "password": PASSWORD}, headers=TOKEN_MODE)
    first = issued.json["refresh_token"]
    rotated = post_json(client, REFRESH, {"refresh_token": first})
    assert rotated.status_code == 200, rotated.json
    me = client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {rotated.json['access_token']}"}
    )
    assert me.status_code == 200  # the client got the rotation's answer
    replay = post_json(client, REFRESH, {"refresh_token": first + "=="})
    assert_fail(replay, 403, REFRESH_FAILED)
    # Reuse revokes the session: the legitimately rotated token is dead too.
    assert_fail(post_json(client, REFRESH, {"refresh_token": rotated.json["refresh_token"]}), 403)
