"""TOTP (RFC 6238: 6 digits, 30-second steps, SHA-1, as every authenticator app expects).

- A new secret is 160 random bits (``pyotp.random_base32``). Until confirmed it waits
  in Redis, encrypted, for ``MFA_ENROLMENT_EXPIRES_IN`` seconds; once confirmed it
  lives in ``mfa_totp``, encrypted (:mod:`authapi.mfa.crypto`), and is never shown
  again.
- A code is accepted for the current step or one step either side (clock drift), and
  once only: the step it matched is remembered, and a conditional UPDATE accepts only
  steps later than the last one used, so of two concurrent uses of one code one wins.
- Codes are compared in constant time, and all three candidate steps are always
  computed.
"""

from __future__ import annotations

import hmac
import io
import uuid
from enum import Enum
from typing import Any

import pyotp
from flask import current_app
from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import IntegrityError

from authapi import clock
from authapi.extensions import db, redis_store
from authapi.mfa import crypto, factors
from authapi.mfa.models import TotpFactor
from authapi.redis_keys import user_key
from authapi.webhooks import catalog, outbox

NAME = "totp"
PERIOD = 30
DIGITS = 6
DRIFT_STEPS = 1
CODE_MAX = 16  # longer input is not a code (checked before any work)


class Outcome(Enum):
    ACCEPTED = "accepted"
    WRONG = "wrong_code"
    REPLAYED = "replayed_code"
    NOT_ENABLED = "not_enabled"


def step_at(now: float) -> int:
    return int(now // PERIOD)


def _normalize(code: Any) -> str | None:
    if not isinstance(code, str) or len(code) > CODE_MAX:
        return None
    digits = code.replace(" ", "")
    return digits if len(digits) == DIGITS and digits.isascii() and digits.isdigit() else None


def matching_step(secret: str, code: Any, now: float) -> int | None:
    """The step within the drift window whose code this is, or None."""
    candidate = _normalize(code)
    if candidate is None:  # not six digits: says nothing about the secret
        return None
    otp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    current = step_at(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(otp.generate_otp(step), candidate):
            found = step
    return found


def provisioning(secret: str, account_name: str) -> dict[str, str]:
    """What an authenticator app needs: the secret, the otpauth:// URL and its QR (SVG)."""
    url = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
        name=account_name, issuer_name=current_app.config["MFA_ISSUER"]
    )
    import segno  # QR codes are drawn at enrolment only: not loaded by every process

    # A standalone SVG document (with its namespace): usable as an <img> data: URL.
    svg = io.BytesIO()
    segno.make(url, error="m").save(
        svg, kind="svg", scale=4, border=2, xmldecl=False, svgclass=None, lineclass=None
    )
    return {"secret": secret, "otpauth_url": url, "qr_svg": svg.getvalue().decode("ascii")}


# --- pending enrolment (Redis) ---


def _pending_key(user_id: str) -> str:
    return user_key(user_id, "mfa", "totp-pending")


def begin(user_id: str) -> str:
    """A new secret waiting for confirmation (replaces an earlier unconfirmed one)."""
    secret = pyotp.random_base32()
    lifetime = int(current_app.config["MFA_ENROLMENT_EXPIRES_IN"])
    pending = _pending_key(user_id)
    pipe = redis_store.client.pipeline(transaction=True)
    pipe.delete(pending)
    pipe.hset(
        pending,
        mapping={
            "secret": crypto.encrypt(secret, user_id=user_id),
            "expires_at": clock.now() + lifetime,
        },
    )
    pipe.expire(pending, max(1, lifetime))
    pipe.execute()
    return secret


def pending_secret(user_id: str) -> str | None:
    """The unconfirmed secret, unless it expired (by its TTL or by the app's clock)."""
    sealed, expires_at = redis_store.client.hmget(_pending_key(user_id), "secret", "expires_at")
    if not sealed or float(expires_at or 0) <= clock.now():
        return None
    try:
        return crypto.decrypt(sealed, user_id=user_id)
    except crypto.DecryptionFailed:
        return None


def forget_pending(user_id: str) -> None:
    redis_store.client.delete(_pending_key(user_id))


def activate(user_id: str, secret: str, step: int) -> bool:
    """Store the confirmed secret (its confirming step already used); False on a race."""
    db.session.add(
        TotpFactor(
            user_id=uuid.UUID(user_id),
            secret_encrypted=crypto.encrypt(secret, user_id=user_id),
            last_used_step=step,
        )
    )
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


# --- the confirmed factor ---


def is_enabled(user_id: uuid.UUID) -> bool:
    return bool(db.session.scalar(select(exists().where(TotpFactor.user_id == user_id))))


def use_code(user_id: uuid.UUID, code: Any, *, via: str, now: float | None = None) -> Outcome:
    """Check a code for the user's confirmed TOTP and, if good, use up its step: the
    step commits with the ``mfa.used`` event (``via``: what the code was for)."""
    now = clock.now() if now is None else now
    row = db.session.scalar(
        select(TotpFactor)
        .where(TotpFactor.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    if row is None:
        return Outcome.NOT_ENABLED
    try:
        secret = crypto.decrypt(row.secret_encrypted, user_id=str(user_id))
    except crypto.DecryptionFailed:
        current_app.logger.error("TOTP secret of a user cannot be decrypted: key missing?")
        return Outcome.WRONG
    step = matching_step(secret, code, now)
    if step is None:
        return Outcome.WRONG
    claimed = db.session.execute(
        update(TotpFactor)
        .where(TotpFactor.user_id == user_id, TotpFactor.last_used_step < step)
        .values(last_used_step=step)
    )
    if claimed.rowcount == 1:
        outbox.queue(catalog.MFA_USED, str(user_id), factor=NAME, via=via, left=None)
    db.session.commit()
    return Outcome.ACCEPTED if claimed.rowcount == 1 else Outcome.REPLAYED


def remove(user_id: uuid.UUID) -> int:
    removed = db.session.execute(delete(TotpFactor).where(TotpFactor.user_id == user_id))
    forget_pending(str(user_id))
    return int(removed.rowcount)


class TotpSecondFactor:
    name = NAME
    proof_field = "code"
    proof_type = str
    summary_field = "totp"
    standalone = True

    def enabled(self, user_id: uuid.UUID) -> bool:
        return is_enabled(user_id)

    def summary(self, user_id: uuid.UUID) -> bool:
        return is_enabled(user_id)

    def verify_login(
        self, pending: factors.PendingLogin, proof: Any
    ) -> factors.Verified | factors.Rejected:
        outcome = use_code(pending.user.id, proof, via="login")
        if outcome is Outcome.ACCEPTED:
            return factors.Verified(amr=("otp",))
        return factors.Rejected(outcome.value)

    def remove_all(self, user_id: uuid.UUID) -> int:
        return remove(user_id)


factors.register(TotpSecondFactor())
