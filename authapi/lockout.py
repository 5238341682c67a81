"""Password-guessing budgets that an attacker cannot turn against the account's owner.

Every password check (a login, the current password of a password change) spends
from two counters in the shared Redis, BEFORE the check, in one atomic step:

- per (account, client address): a hard limit (``RATELIMIT_LOGIN_PER_ACCOUNT_ADDRESS``).
  An attacker's address runs out; the owner's address has its own budget.
- per account: a much higher ceiling (``RATELIMIT_LOGIN_PER_ACCOUNT``) against guessing
  from many addresses. Once it is reached, only browsers that have signed in to the
  account before (a signed device cookie, :mod:`authapi.devices`) and signed-in
  callers may still try; everyone else is asked to come back later or reset the
  password.

A successful check refunds what it spent, so the counters hold failures. Counting
before the check is what makes the limit exact: twenty concurrent guesses against a
budget of ten get ten checks, never more.

The account is the SHA-256 of the normalised email, known or not, so an answer never
tells whether an account exists; both counters share a hash tag (Redis Cluster).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import current_app
from limits import parse

from authapi.emails import normalize_email
from authapi.errors import APIError
from authapi.redis_keys import key, script

TOO_MANY_FROM_HERE = "Too many failed attempts for this account from your address: try again later"
ACCOUNT_CEILING = (
    "Too many failed attempts for this account: try again later, from a device you have "
    "signed in with before, or reset your password"
)

# KEYS: pair counter, account counter. ARGV: pair limit, pair window, account limit,
# account window, enforce the account ceiling (1/0).
# Returns {0, 0} when the attempt may go on (both counters spent), else
# {1 (pair) or 2 (account), seconds until that counter expires}.
_SPEND = """
local pair = tonumber(redis.call('GET', KEYS[1]) or '0')
if pair >= tonumber(ARGV[1]) then return {1, redis.call('TTL', KEYS[1])} end
if ARGV[5] == '1' then
  local account = tonumber(redis.call('GET', KEYS[2]) or '0')
  if account >= tonumber(ARGV[3]) then return {2, redis.call('TTL', KEYS[2])} end
end
if redis.call('INCR', KEYS[1]) == 1 or redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
if redis.call('INCR', KEYS[2]) == 1 or redis.call('TTL', KEYS[2]) < 0 then
  redis.call('EXPIRE', KEYS[2], ARGV[4])
end
return {0, 0}
"""

# KEYS: pair counter, account counter. Gives back one attempt to each (never below 0).
_REFUND = """
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 0
"""


class TooManyAttempts(APIError):
    status_code = 429
    code = "rate_limited"


@dataclass(frozen=True)
class Attempt:
    """One spent attempt, to refund when the password turns out right."""

    keys: tuple[str, str]


def account_digest(email: str) -> str:
    """The account a budget belongs to: never the address itself in Redis or a cookie."""
    normalized = normalize_email(email) if isinstance(email, str) else ""
    return hashlib.sha256(normalized.encode("utf-8", "replace")).hexdigest()[:32]


def _keys(digest: str, address: str) -> tuple[str, str]:
    tag = f"{{lockout:{digest}}}"  # both counters in one cluster slot
    return key(tag, "address", address[:64]), key(tag, "account")


def enabled() -> bool:
    return bool(current_app.config["RATELIMIT_ENABLED"])


def spend(digest: str, address: str, *, known_device: bool) -> Attempt | None:
    """Spend one attempt before checking a password, or raise 429 with Retry-After.

    ``known_device``: the caller proved an earlier sign-in to this account (a device
    cookie, or a live session): the account ceiling does not apply to it, only the
    per-address limit. Returns None when limits are off.
    """
    if not enabled():
        return None
    config = current_app.config
    pair = parse(config["RATELIMIT_LOGIN_PER_ACCOUNT_ADDRESS"])
    account = parse(config["RATELIMIT_LOGIN_PER_ACCOUNT"])
    keys = _keys(digest, address)
    refused, ttl = script(_SPEND)(
        keys=list(keys),
        args=[
            pair.amount,
            pair.get_expiry(),
            account.amount,
            account.get_expiry(),
            0 if known_device else 1,
        ],
    )
    if refused:
        message = TOO_MANY_FROM_HERE if int(refused) == 1 else ACCOUNT_CEILING
        raise TooManyAttempts(message, headers={"Retry-After": str(max(1, int(ttl)))})
    return Attempt(keys=keys)


def refund(attempt: Attempt | None) -> None:
    """The password was right (or never checked): give the attempt back."""
    if attempt is not None:
        script(_REFUND)(keys=list(attempt.keys), args=[])
