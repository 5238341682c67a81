"""JWT issue/decode per token kind.

``encode``, ``verify`` and ``check_lifetime`` are pure functions with explicit keys,
times and settings; ``TokenVerifier`` adds a cache of verified tokens, and the
``issue_*``/``decode_*`` wrappers read keys and settings from the current app. Each kind
has its own key pair AND a ``type`` claim, so neither kind passes as the other.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from flask import Flask, current_app

from authapi import clock
from authapi.durations import durations, seconds
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


def _unverified_kid(token: str) -> object:
    """The ``kid`` of the JOSE header, read from the header segment alone.

    Only picks the key: ``jwt.decode`` then parses and checks the whole token strictly,
    so a header this lenient reading misunderstands fails there.
    """
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error, RecursionError):
        raise TokenError("malformed token") from None
    return header.get("kid") if isinstance(header, dict) else None


def verify(token: str, ring: KeyRing, *, kind: str, issuer: str, audience: str) -> dict:
    """Everything about a token that does not depend on the time: signature (by a
    configured key, RS256 only), issuer, audience, type and the shape of the claims."""
    kid = _unverified_kid(token)
    # Only keys from configuration: jku/x5u/jwk headers are never consulted.
    key = ring.verifying_keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise TokenError("unknown key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            # exp/iat are checked by check_lifetime against the caller's clock.
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
    return claims


def check_lifetime(claims: dict, *, leeway: int, now: float) -> None:
    if claims["iat"] > now + leeway:
        raise TokenError("issued in the future")
    if claims["exp"] <= now - leeway:
        raise TokenExpired("token expired")


class TokenVerifier:
    """Decodes one kind's tokens, remembering the last ``cache_size`` that verified.

    What ``verify`` checks depends only on the token's bytes, the keys, the issuer and
    the audience, so a token that verified once verifies again: a repeated access token
    (a client sends the same one until it expires) skips PyJWT's parsing and the RSA
    verification, most of an authenticated request's own CPU time. Only successes are
    kept; the lifetime is checked on every call, and revocation is the session check
    in Redis, which is never cached.
    """

    def __init__(self, ring: KeyRing, kind: str, cache_size: int = 0) -> None:
        self.ring = ring
        self.kind = kind
        self._verify = (
            functools.lru_cache(maxsize=cache_size)(self._verify_uncached)
            if cache_size > 0
            else self._verify_uncached
        )

    def _verify_uncached(self, token: str, issuer: str, audience: str) -> dict:
        return verify(token, self.ring, kind=self.kind, issuer=issuer, audience=audience)

    def decode(self, token: str, *, policy: TokenPolicy, now: float) -> dict:
        if not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("token missing or too long")
        claims = self._verify(token, policy.issuer, policy.audience)
        check_lifetime(claims, leeway=policy.leeway, now=now)
        return dict(claims)  # the cached dict stays as verified


@dataclass(frozen=True)
class TokenKeys:
    access: KeyRing
    refresh: KeyRing


def init_app(app: Flask, keys: TokenKeys) -> None:
    app.extensions["authapi.tokens"] = keys
    # Refresh tokens are single-use (they rotate): caching them would only cost memory.
    app.extensions["authapi.token_verifiers"] = {
        ACCESS: TokenVerifier(keys.access, ACCESS, app.config["ACCESS_TOKEN_CACHE_SIZE"]),
        REFRESH: TokenVerifier(keys.refresh, REFRESH),
    }


def _policy(app: Flask | None = None) -> TokenPolicy:
    """Read from the config on each use: a test may change it under a running app."""
    app = current_app if app is None else app
    config = app.config
    return TokenPolicy(
        issuer=config["JWT_ISSUER"],
        audience=config["JWT_AUDIENCE"],
        leeway=seconds(durations(app).jwt_leeway),
    )


def _keys() -> TokenKeys:
    return current_app.extensions["authapi.tokens"]


def _verifier(kind: str, app: Flask | None = None) -> TokenVerifier:
    app = current_app if app is None else app
    return app.extensions["authapi.token_verifiers"][kind]


def access_lifetime() -> int:
    return seconds(durations().access_token)


def issue_access_token(
    user_id: str,
    session_id: str,
    *,
    generation: int = 0,
    amr: tuple[str, ...] | None = None,
    now: float | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """``generation``: the session's refresh generation the token was issued with
    (``gen``): its first use confirms that the client got that rotation's answer.
    ``amr``: RFC 8176 authentication methods (``pwd``, ``otp``, ``mfa``...), as a claim.
    ``extra``: more claims (a hook's); the token's own claims always win over them."""
    now = clock.now() if now is None else now
    claims: dict[str, Any] = {
        **(extra or {}),
        "sub": user_id,
        "sid": session_id,
        "gen": generation,
    }
    if amr:
        claims["amr"] = list(amr)
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
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    now = clock.now() if now is None else now
    return _verifier(ACCESS, app).decode(token, policy=_policy(app), now=now)


def decode_refresh_token(token: str, *, now: float | None = None) -> dict:
    now = clock.now() if now is None else now
    claims = _verifier(REFRESH).decode(token, policy=_policy(), now=now)
    if not isinstance(claims.get("gen"), int) or isinstance(claims.get("gen"), bool):
        raise TokenError("malformed generation")
    return claims


def access_jwks() -> list[dict[str, Any]]:
    """Public JWKs of every access key that verifies, the signing key first."""
    ring = _keys().access
    ordered = sorted(ring.verifying_keys.items(), key=lambda item: item[0] != ring.signing_kid)
    return [{**public_jwk(key), "kid": kid, "alg": ALGORITHM, "use": "sig"} for kid, key in ordered]
