"""Single-use codes mailed to users (email verification, password reset, a new address
of a signed-in user), in Redis.

A code is ``secrets.token_urlsafe(32)`` (256 bits). Redis only ever holds its
SHA-256, so a copy of Redis (a dump, a replica, a MONITOR) reveals no usable code.

Key layout (per purpose: ``verify``, ``reset`` or ``email``):

- ``<prefix>:code:<purpose>:<sha256 hex>``   JSON ``{"user_id", "expires_at"}``, and
  for ``email`` the new address the code proves (bound to the code, so a newer
  request can never pair an older code with another address): the lookup from a
  code to its user. TTL = the lifetime.
- ``<prefix>:{u:<uid>}:code:<purpose>``      the hash of the user's current code.
  TTL = the lifetime.

Every operation touches one key, so this works unchanged on a Redis Cluster.
A code is consumed with GETDEL (two concurrent uses: exactly one wins), and counts
only while it is still its user's current code: issuing a new code, or revoking,
invalidates the previous one even if its lookup key somehow survived.
``expires_at`` is checked against :func:`authapi.clock.now` as well as the TTL, so
expiry can be tested through HTTP with a clock that runs ahead.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets

from authapi import clock
from authapi.extensions import redis_store
from authapi.redis_keys import key, script, user_key

VERIFY = "verify"
RESET = "reset"
EMAIL_CHANGE = "email"  # a signed-in user's new address (authapi.users.email_change)
PURPOSES = (VERIFY, RESET, EMAIL_CHANGE)

# token_urlsafe(32) is 43 characters of this alphabet; anything else is not ours.
_CODE_FORMAT = re.compile(r"[A-Za-z0-9_-]{32,128}")

# KEYS: the user's current-code key. ARGV: the code's hash.
# Deletes the key and returns 1 only if it still names this code.
_RELEASE_IF_CURRENT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def code_key(purpose: str, digest: str) -> str:
    return key("code", purpose, digest)


def current_key(user_id: str, purpose: str) -> str:
    return user_key(user_id, "code", purpose)


def issue(purpose: str, user_id: str, lifetime: float, *, email: str | None = None) -> str:
    """A new code for ``user_id`` valid ``lifetime`` seconds; the previous one stops
    working. ``email``: the address an ``EMAIL_CHANGE`` code proves."""
    assert purpose in PURPOSES
    code = secrets.token_urlsafe(32)
    digest = _digest(code)
    ttl = max(1, math.ceil(lifetime))
    client = redis_store.client
    data: dict[str, object] = {"user_id": user_id, "expires_at": clock.now() + lifetime}
    if email is not None:
        data["email"] = email
    payload = json.dumps(data)
    client.set(code_key(purpose, digest), payload, ex=ttl)
    previous = client.set(current_key(user_id, purpose), digest, ex=ttl, get=True)
    if previous and previous != digest:
        client.delete(code_key(purpose, previous))
    return code


def _payload(raw: str | None) -> tuple[str, float] | None:
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return str(data["user_id"]), float(data["expires_at"])
    except (ValueError, KeyError, TypeError):
        return None


def _email_of(raw: str | None) -> str | None:
    try:
        email = json.loads(raw or "").get("email")
    except (ValueError, AttributeError):
        return None
    return email if isinstance(email, str) else None


def _digest_of(purpose: str, code: str) -> str | None:
    assert purpose in PURPOSES
    if not isinstance(code, str) or not _CODE_FORMAT.fullmatch(code):
        return None
    return _digest(code)


def peek(purpose: str, code: str) -> str | None:
    """The user id a valid code was issued for, leaving it usable; None for any bad code.

    For work that may fail before the code should count as used (hashing the new
    password may be refused with a 503): look first, :func:`consume` once it is done.
    """
    found = _peek(purpose, code)
    return found[0] if found is not None else None


def peek_email_change(code: str) -> tuple[str, str] | None:
    """(user id, new address) of a valid ``EMAIL_CHANGE`` code, leaving it usable."""
    found = _peek(EMAIL_CHANGE, code)
    if found is None or found[1] is None:
        return None
    return found[0], found[1]


def _peek(purpose: str, code: str) -> tuple[str, str | None] | None:
    digest = _digest_of(purpose, code)
    if digest is None:
        return None
    client = redis_store.client
    raw = client.get(code_key(purpose, digest))
    found = _payload(raw)
    if found is None:
        return None
    user_id, expires_at = found
    if client.get(current_key(user_id, purpose)) != digest or expires_at <= clock.now():
        return None
    return user_id, _email_of(raw)


def consume(purpose: str, code: str) -> str | None:
    """The user id a valid code was issued for, using it up; None for any bad code.

    Unknown, used, superseded, revoked and expired codes are all just None: the
    caller answers them all with one message.
    """
    digest = _digest_of(purpose, code)
    if digest is None:
        return None
    found = _payload(redis_store.client.getdel(code_key(purpose, digest)))
    if found is None:
        return None
    user_id, expires_at = found
    still_current = script(_RELEASE_IF_CURRENT)(keys=[current_key(user_id, purpose)], args=[digest])
    if not still_current or expires_at <= clock.now():
        return None
    return user_id


def revoke(purpose: str, user_id: str) -> None:
    """Invalidate the user's outstanding code of this purpose, if any."""
    client = redis_store.client
    previous = client.getdel(current_key(user_id, purpose))
    if previous:
        client.delete(code_key(purpose, previous))
