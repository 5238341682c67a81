"""WebAuthn challenges in Redis: random, single use, five minutes.

Each options request makes a fresh 32-byte challenge. The browser signs it inside
``clientDataJSON``, so the answer names its own challenge and no cookie or id has to
travel with it. Redis holds one key per challenge, under its SHA-256 and its purpose:

- ``<prefix>:webauthn:<purpose>:<sha256 hex>``  JSON ``{"user_id", "bound_to",
  "expires_at"}``, TTL = the lifetime.

It is consumed with GETDEL before anything else is checked, so a challenge is
spent even by a failed attempt and two concurrent answers cannot both use it.
``expires_at`` is checked against :func:`authapi.clock.now` as well as the TTL, so
expiry is testable through HTTP with a clock that runs ahead.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass

from authapi import clock, redis_keys
from authapi.extensions import redis_store

REGISTER = "register"
LOGIN = "login"
SECOND_FACTOR = "mfa"
REAUTH = "reauth"  # a signed-in user confirming a change (a passkey removed, an email, a deletion)

LIFETIME = 300  # seconds: the issue's five minutes, also the browser's timeout hint
CHALLENGE_BYTES = 32


@dataclass(frozen=True)
class Challenge:
    value: bytes
    user_id: str | None  # whose ceremony it is (None: a passkey sign-in, anyone's)
    bound_to: str | None  # what else it belongs to (the mfa_token of a second factor)


def _key(purpose: str, challenge: bytes) -> str:
    return redis_keys.key("webauthn", purpose, hashlib.sha256(challenge).hexdigest())


def issue(purpose: str, *, user_id: str | None = None, bound_to: str | None = None) -> bytes:
    challenge = secrets.token_bytes(CHALLENGE_BYTES)
    record = {"user_id": user_id, "bound_to": bound_to, "expires_at": clock.now() + LIFETIME}
    redis_store.client.set(_key(purpose, challenge), json.dumps(record), ex=LIFETIME)
    return challenge


def consume(purpose: str, challenge: bytes) -> Challenge | None:
    """The challenge's record, removed; None if unknown, already used or expired."""
    raw = redis_store.client.getdel(_key(purpose, challenge))
    if raw is None:
        return None
    record = json.loads(raw)
    if float(record["expires_at"]) <= clock.now():
        return None
    return Challenge(value=challenge, user_id=record["user_id"], bound_to=record["bound_to"])
