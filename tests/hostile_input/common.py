"""What the hostile-input tests share: routes, messages, foreign keys, token forging
helpers, the victim user."""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from flask import Flask
from sqlalchemy import func, select

from authapi import keys
from authapi.extensions import db
from authapi.models import User
from tests.helpers import PASSWORD, bearer

REGISTER = "/api/auth/register"
LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh"
LOGOUT = "/api/auth/logout"
ME = "/api/users/me"

NOT_LOGGED_IN = "You are not logged in"
INVALID_CREDENTIALS = "Invalid email or password"
REFRESH_FAILED = "Could not refresh access token"
DUPLICATE = "User with that email already exists"
WRONG_CONTENT_TYPE = "Content-Type must be application/json"
NOT_AN_OBJECT = "Request body must be a JSON object"

BODY_LIMIT = 10 * 1024  # CONTRACT.md: request bodies of at most 10 kB
EMAIL = "alice@example.com"
REQUIRED_CLAIMS = ("sub", "sid", "jti", "iat", "exp", "iss", "aud", "type")

# Foreign keys an attacker controls (real keys, generated once per run).
FOREIGN_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
FOREIGN_EC = ec.generate_private_key(ec.SECP256R1())
FOREIGN_KID = keys.key_id(FOREIGN_RSA.public_key())
FOREIGN_JWK = {**keys.public_jwk(FOREIGN_RSA.public_key()), "kid": FOREIGN_KID, "alg": "RS256"}

# --------------------------------------------------------------------------- helpers


def user_count(app: Flask) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(User))
        db.session.remove()
        return count


def post_json(client: Any, path: str, value: Any, **kwargs: Any) -> Any:
    """POST any Python value as JSON text (ASCII-escaped, so lone surrogates travel too)."""
    return client.post(path, data=json.dumps(value), content_type="application/json", **kwargs)


def register_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Mallory",
        "email": "mallory@example.com",
        "password": PASSWORD,
        "passwordConfirm": PASSWORD,
    }
    for field, value in changes.items():
        if value is MISSING:
            body.pop(field, None)
        else:
            body[field] = value
    return body


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def passwords(value: str) -> dict[str, str]:
    """A password and a matching confirmation."""
    return {"password": value, "passwordConfirm": value}


def assert_no_cookies(response: Any) -> None:
    assert response.headers.getlist("Set-Cookie") == []


def session_keys(redis_client: Any) -> list[str]:
    return redis_client.keys("*:session:*")


def assert_nothing_happened(app: Flask, response: Any, users: int = 0) -> None:
    """No account written, no cookie set."""
    assert_no_cookies(response)
    assert user_count(app) == users


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def segment(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    return f"{segment(header)}.{segment(claims)}.{signature}"


def hmac_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes, digest: Any) -> str:
    """An HS* token built by hand: PyJWT refuses to use a PEM as an HMAC secret."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = hmac.new(secret, signing_input.encode("ascii"), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def rs256_token(header: dict[str, Any], claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    """An RS256 token with any header at all (PyJWT refuses e.g. a non-string kid)."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def with_payload(token: str, **changes: Any) -> str:
    """Change claims but keep the original header and signature (tampering)."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    return f"{header}.{segment(claims)}.{signature}"


def with_altered_signature(token: str) -> str:
    """Flip a character in the middle of the signature (the last one may be padding bits)."""
    head, signature = token.rsplit(".", 1)
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


@dataclass(frozen=True)
class Signer:
    """One token kind's real configured keys, as an attacker would love to have them."""

    private_key: rsa.RSAPrivateKey
    public_pem: bytes
    public_config_value: str
    kid: str

    @classmethod
    def from_config(cls, app: Flask, prefix: str) -> Signer:
        private_key = keys.load_private_key(app.config[f"{prefix}_PRIVATE_KEY"], prefix)
        public_value = app.config[f"{prefix}_PUBLIC_KEY"]
        return cls(
            private_key=private_key,
            public_pem=keys.decode_pem(public_value, prefix),
            public_config_value=public_value,
            kid=keys.key_id(private_key.public_key()),
        )


@dataclass(frozen=True)
class Victim:
    """A registered, logged-in user, the tokens of that login, and the app's keys."""

    user_id: str
    session_id: str
    access_token: str
    refresh_token: str
    access: Signer
    refresh: Signer
    issuer: str
    audience: str

    def claims(self, kind: str = "access", **changes: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": self.user_id,
            "sid": self.session_id,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + 600,
            "iss": self.issuer,
            "aud": self.audience,
            "type": kind,
        }
        if kind == "refresh":
            claims["gen"] = 0
        for name, value in changes.items():
            if value is MISSING:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    def sign_access(self, claims: dict[str, Any], algorithm: str = "RS256") -> str:
        return jwt.encode(
            claims, self.access.private_key, algorithm=algorithm, headers={"kid": self.access.kid}
        )

    def sign_refresh(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims, self.refresh.private_key, algorithm="RS256", headers={"kid": self.refresh.kid}
        )


def send_access_token(client: Any, route: str, transport: str, token: str) -> Any:
    if transport == "bearer":
        return client.get(route, headers=bearer(token))
    client.set_cookie("access_token", token)
    return client.get(route)


def send_refresh_token(client: Any, transport: str, token: str) -> Any:
    if transport == "body":
        return client.post(REFRESH, json={"refresh_token": token})
    client.set_cookie("refresh_token", token)
    return client.get(REFRESH) if transport == "cookie-get" else client.post(REFRESH)


WRONG_TYPES = [
    pytest.param(12345, id="number"),
    pytest.param(1.5, id="float"),
    pytest.param(["Alice"], id="list"),
    pytest.param({"$ne": ""}, id="object"),
    pytest.param(None, id="null"),
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
]


# 73 UTF-8 bytes in several scripts, and the 72-byte versions that must be accepted.
PASSWORDS_72_BYTES = {
    "ascii": "a" * 72,
    "2-byte-e-acute": "é" * 36,
    "3-byte-cjk": "密" * 24,
    "4-byte-emoji": "😀" * 18,
}
PASSWORDS_73_BYTES = {
    "ascii": "a" * 73,
    "2-byte-e-acute": "x" + "é" * 36,
    "3-byte-cjk": "x" + "密" * 24,
    "4-byte-emoji": "😀" * 18 + "x",
    "emoji-straddling-byte-72": "x" + "😀" * 18,
}
for _value in PASSWORDS_72_BYTES.values():
    assert len(_value.encode()) == 72
for _value in PASSWORDS_73_BYTES.values():
    assert len(_value.encode()) == 73


def unix_now() -> int:
    return int(time.time())
