"""The per-account budget of second-factor checks, spent BEFORE each check.

Every check of a code, recovery code or confirming password (login/mfa, TOTP
confirm and disable, new recovery codes) first increments the account's counter
in one atomic Redis step and is refused, unchecked, once the counter is over
``MFA_ATTEMPTS_PER_ACCOUNT`` in the window: concurrent guesses cannot slip past
(Zitadel GHSA-7h8m-vrxx-vr4m). A successful check gives its attempt back, so a
user who signs in often is never locked out by their own successes.

Key: ``<prefix>:{u:<uid>}:mfa:attempts`` (TTL: the window, from the first attempt).
"""

from __future__ import annotations

from flask import current_app

from authapi.errors import APIError
from authapi.redis_keys import script, user_key

TOO_MANY_ATTEMPTS = "Too many attempts, please try again later"

# KEYS: counter. ARGV: window seconds. Returns {count, ttl}.
_SPEND = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
if ttl < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""

# KEYS: counter. Gives one attempt back (never below zero).
_REFUND = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class TooManyAttempts(APIError):
    status_code = 429
    message = TOO_MANY_ATTEMPTS
    code = "too_many_attempts"


def _key(user_id: str) -> str:
    return user_key(user_id, "mfa", "attempts")


def spend(user_id: str) -> None:
    """Count one attempt now; raise 429 (nothing checked) when over the budget."""
    config = current_app.config
    count, ttl = script(_SPEND)(keys=[_key(user_id)], args=[int(config["MFA_ATTEMPTS_WINDOW"])])
    if int(count) > int(config["MFA_ATTEMPTS_PER_ACCOUNT"]):
        raise TooManyAttempts(headers={"Retry-After": str(max(1, int(ttl)))})


def refund(user_id: str) -> None:
    script(_REFUND)(keys=[_key(user_id)], args=[])
