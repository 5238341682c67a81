"""The mfa_token: a sign-in whose password was right, waiting for its second factor.

``POST /api/auth/login`` issues it (instead of a session) for an account with a
second factor; ``POST /api/auth/login/mfa`` spends it. In Redis only as the SHA-256
of the token, so a copy of Redis holds nothing usable:

``<prefix>:mfa:login:<sha256 hex>`` hash: user_id, pw (a SHA-256 of the password
hash that was checked: a password change or reset voids the token), expires_at,
attempts. TTL = ``MFA_TOKEN_EXPIRES_IN`` (5 minutes); ``expires_at`` is also checked
against :func:`authapi.clock.now`, so expiry is testable without sleeping.

Each check first increments ``attempts`` atomically (Lua); past
``MFA_TOKEN_MAX_ATTEMPTS`` the token is deleted and nothing is checked. A success
deletes it (single use: of two concurrent successes one wins).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass

from flask import current_app

from authapi import clock
from authapi.extensions import redis_store
from authapi.redis_keys import key, script

# KEYS: token. ARGV: max attempts, now.
# Returns {0} gone or expired, {-1, user_id} out of attempts (token deleted), or
# {attempt number, user_id, pw}.
_ATTEMPT = """
local h = redis.call('HMGET', KEYS[1], 'user_id', 'pw', 'expires_at')
if not h[1] then return {0} end
if tonumber(h[3]) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return {0}
end
local n = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if n > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return {-1, h[1]}
end
return {n, h[1], h[2]}
"""


@dataclass(frozen=True)
class Attempt:
    outcome: str  # "ok" | "gone" | "exhausted"
    token_id: str
    user_id: str = ""
    password_digest: str = ""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def password_digest(password_hash: str) -> str:
    return _digest(password_hash)


def _key(token_id: str) -> str:
    return key("mfa", "login", token_id)


def token_id(token: str) -> str:
    """The non-secret id of a token: its SHA-256 (what Redis stores)."""
    return _digest(token)


def issue(user_id: str, password_hash: str) -> str:
    lifetime = int(current_app.config["MFA_TOKEN_EXPIRES_IN"])
    token = secrets.token_urlsafe(32)
    token_key = _key(token_id(token))
    pipe = redis_store.client.pipeline(transaction=True)
    pipe.hset(
        token_key,
        mapping={
            "user_id": user_id,
            "pw": password_digest(password_hash),
            "expires_at": clock.now() + lifetime,
            "attempts": 0,
        },
    )
    pipe.expire(token_key, max(1, math.ceil(lifetime)))
    pipe.execute()
    return token


def attempt(token: str) -> Attempt:
    """Count one attempt against the token, before anything is checked."""
    tid = token_id(token)
    max_attempts = int(current_app.config["MFA_TOKEN_MAX_ATTEMPTS"])
    result = script(_ATTEMPT)(keys=[_key(tid)], args=[max_attempts, clock.now()])
    if int(result[0]) == 0:
        return Attempt("gone", tid)
    if int(result[0]) < 0:
        return Attempt("exhausted", tid, user_id=result[1])
    return Attempt("ok", tid, user_id=result[1], password_digest=result[2])


@dataclass(frozen=True)
class Pending:
    token_id: str
    user_id: str
    password_digest: str


def peek(token: str) -> Pending | None:
    """The pending sign-in, without spending an attempt (e.g. to build passkey options)."""
    tid = token_id(token)
    user_id, pw, expires_at = redis_store.client.hmget(_key(tid), "user_id", "pw", "expires_at")
    if not user_id or float(expires_at or 0) <= clock.now():
        return None
    return Pending(token_id=tid, user_id=user_id, password_digest=pw)


def consume(token_id: str) -> bool:
    """Spend the token after a good proof; False if another request already did."""
    return bool(redis_store.client.delete(_key(token_id)))


def discard(token_id: str) -> None:
    redis_store.client.delete(_key(token_id))
