"""JWT issue/decode per token kind.

``encode``/``decode`` are pure functions with explicit keys, times and settings;
the ``issue_*``/``decode_*`` wrappers read those from the current app. Each kind
has its own key pair AND a ``type`` claim, so neither kind passes as the other.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from flask import Flask, current_app

from authapi import clock
from authapi.keys import KeyRing, public_jwk

ALGORITHM = "RS256"
ACCESS = "access"
REFRESH = "refresh"
MAX_TOKEN_LENGTH = 4096
REQUIRED_CLAIMS = ("sub", "sid", "jti", "iat", "exp", "iss", "aud", "type")


class TokenError(Exception):
    """The token cannot be trusted."""


class TokenExpired(TokenError):
    """The token was valid but its lifetime is over."""


@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    leeway: int


def encode(
    claims: dict[str, Any],
    ring: KeyRing,
    *,
    kind: str,
    lifetime: float,
    policy: TokenPolicy,
    now: float,
) -> str:
    issued_at = int(now)
    payload = {
        **claims,
        "type": kind,
        "jti": secrets.token_urlsafe(16),
        "iat": issued_at,
        "exp": int(now + lifetime),
        "iss": policy.issuer,
        "aud": policy.audience,
    }
    return jwt.encode(
        payload, ring.signing_key, algorithm=ALGORITHM, headers={"kid": ring.signing_kid}
    )


def decode(token: str, ring: KeyRing, *, kind: str, policy: TokenPolicy, now: float) -> dict:
    """Verify signature, issuer, audience, type and lifetime; raise TokenError otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("token missing or too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenError("malformed token") from None
    # Only keys from configuration: jku/x5u/jwk headers are never consulted.
    key = ring.verifying_keys.get(header.get("kid")) if isinstance(header.get("kid"), str) else None
    if key is None or header.get("alg") != ALGORITHM:
        raise TokenError("unknown key or algorithm")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=policy.audience,
            issuer=policy.issuer,
            # exp/iat are checked below against the caller's clock.
            options={"require": list(REQUIRED_CLAIMS), "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError:
        raise TokenError("invalid token") from None
    if claims.get("type") != kind:
        raise TokenError("wrong token type")
    if not all(isinstance(claims.get(name), str) for name in ("sub", "sid", "jti")):
        raise TokenError("malformed claims")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int):
        raise TokenError("malformed timestamps")
    if iat > now + policy.leeway:
        raise TokenError("issued in the future")
    if exp <= now - policy.leeway:
        raise TokenExpired("token expired")
    return claims


@dataclass(frozen=True)
class TokenKeys:
    access: KeyRing
    refresh: KeyRing


def init_app(app: Flask, keys: TokenKeys) -> None:
    app.extensions["authapi.tokens"] = keys


def _policy() -> TokenPolicy:
    config = current_app.config
    return TokenPolicy(
        issuer=config["JWT_ISSUER"], audience=config["JWT_AUDIENCE"], leeway=config["JWT_LEEWAY"]
    )


def _keys() -> TokenKeys:
    return current_app.extensions["authapi.tokens"]


def access_lifetime() -> int:
    return int(float(current_app.config["ACCESS_TOKEN_EXPIRES_IN"]) * 60)


def refresh_lifetime() -> int:
    return int(float(current_app.config["REFRESH_TOKEN_EXPIRES_IN"]) * 60)


def issue_access_token(user_id: str, session_id: str, *, now: float | None = None) -> str:
    now = clock.now() if now is None else now
    claims = {"sub": user_id, "sid": session_id}
    return encode(
        claims, _keys().access, kind=ACCESS, lifetime=access_lifetime(), policy=_policy(), now=now
    )


def issue_refresh_token(
    user_id: str, session_id: str, generation: int, *, lifetime: float, now: float | None = None
) -> str:
    now = clock.now() if now is None else now
    claims = {"sub": user_id, "sid": session_id, "gen": generation}
    return encode(
        claims, _keys().refresh, kind=REFRESH, lifetime=lifetime, policy=_policy(), now=now
    )


def decode_access_token(token: str, *, now: float | None = None) -> dict:
    now = clock.now() if now is None else now
    return decode(token, _keys().access, kind=ACCESS, policy=_policy(), now=now)


def decode_refresh_token(token: str, *, now: float | None = None) -> dict:
    now = clock.now() if now is None else now
    claims = decode(token, _keys().refresh, kind=REFRESH, policy=_policy(), now=now)
    if not isinstance(claims.get("gen"), int) or isinstance(claims.get("gen"), bool):
        raise TokenError("malformed generation")
    return claims


def access_jwks() -> list[dict[str, Any]]:
    """Public JWKs of every access key that verifies, the signing key first."""
    ring = _keys().access
    ordered = sorted(ring.verifying_keys.items(), key=lambda item: item[0] != ring.signing_kid)
    return [{**public_jwk(key), "kid": kid, "alg": ALGORITHM, "use": "sig"} for kid, key in ordered]
