"""Emailed one-time codes in Redis: 6 digits, one current code per email address.

Key ``<prefix>:otp:{e:<sha256 of the address>}``: a hash with the code's SHA-256
(salted with the address digest), ``expires_at`` and ``attempts``; its TTL is the
lifetime. One key per address, so it works unchanged on a Redis Cluster.

A check runs in one Lua script, so concurrent tries are counted exactly (Zitadel's
parallel-bypass advisory): a right code deletes the key (single use); a wrong one
counts, and the MAX_WRONG_TRIES-th wrong one deletes the key, so the next try, even
with the right code, fails. ``expires_at`` is compared with :func:`authapi.clock.now`
as well as the TTL, so expiry is tested through HTTP with a clock that runs ahead.

A check may keep a right code for later (``keep``: a sign-up waiting for the
before-user-created hook), to be used up by :func:`use`.
"""

from __future__ import annotations

import hashlib
import math
import secrets

from flask import current_app

from authapi import clock
from authapi.extensions import redis_store
from authapi.redis_keys import key, script

MAX_WRONG_TRIES = 5
CODE_DIGITS = 6

# KEYS: the address's key. ARGV: the tried code's hash, now, MAX_WRONG_TRIES, keep
# ('1': a right code stays).
_CHECK = """
local stored = redis.call('HGET', KEYS[1], 'hash')
if not stored then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'expires_at')) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 0
end
if stored == ARGV[1] then
  if ARGV[4] ~= '1' then redis.call('DEL', KEYS[1]) end
  return 1
end
if redis.call('HINCRBY', KEYS[1], 'attempts', 1) >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
end
return 0
"""


def _digest(email: str) -> str:
    return hashlib.sha256(email.encode("utf-8", "replace")).hexdigest()[:32]


def code_key(email: str) -> str:
    return key("otp", f"{{e:{_digest(email)}}}")


def _hash(email: str, code: str) -> str:
    return hashlib.sha256(f"{_digest(email)}:{code}".encode()).hexdigest()


def lifetime() -> float:
    return float(current_app.config["OTP_EXPIRES_IN"]) * 60


def issue(email: str) -> str:
    """A new code for ``email`` (the previous one stops working)."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    seconds = lifetime()
    pipe = redis_store.client.pipeline(transaction=True)
    pipe.delete(code_key(email))
    pipe.hset(
        code_key(email),
        mapping={"hash": _hash(email, code), "expires_at": clock.now() + seconds, "attempts": 0},
    )
    pipe.expire(code_key(email), max(1, math.ceil(seconds)))
    pipe.execute()
    return code


# KEYS: the address's key. ARGV: the code's hash, now. Deletes the key if it still holds
# this code, unexpired; returns 1 then.
_USE = """
if redis.call('HGET', KEYS[1], 'hash') ~= ARGV[1] then return 0 end
local live = tonumber(redis.call('HGET', KEYS[1], 'expires_at')) > tonumber(ARGV[2])
redis.call('DEL', KEYS[1])
if live then return 1 end
return 0
"""


def check(email: str, code: str, *, keep: bool = False) -> bool:
    """True once for the right code within its lifetime and tries; False otherwise.

    ``keep``: a right code is not used up yet (:func:`use` does it); a wrong one counts
    as always.
    """
    if not (len(code) == CODE_DIGITS and code.isascii() and code.isdigit()):
        code = ""  # still counted as a wrong try: the format says nothing to the guesser
    tried = _hash(email, code)
    ok = script(_CHECK)(
        keys=[code_key(email)], args=[tried, clock.now(), MAX_WRONG_TRIES, int(keep)]
    )
    return bool(ok)


def use(email: str, code: str) -> bool:
    """Use up a code a :func:`check` kept; False if it is gone meanwhile (a concurrent
    request used it, a new code replaced it, it expired)."""
    return bool(script(_USE)(keys=[code_key(email)], args=[_hash(email, code), clock.now()]))
