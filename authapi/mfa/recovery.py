"""Recovery codes: ten single-use codes for when the authenticator is lost.

A code is 10 characters of a 32-letter alphabet without look-alikes (50 bits),
shown as ``xxxxx-xxxxx``; input is compared case-, space- and hyphen-insensitively.
Only a keyed hash is stored (:func:`authapi.mfa.crypto.hash_code`). Checking
compares the candidate with EVERY unused code of the account in constant time (no
early exit), then claims the match with a conditional UPDATE (``used_at IS NULL``),
so a code works once even when two requests race. A new set replaces the old one in
the same transaction: the old codes stop working at once.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import delete, func, select, update

from authapi.extensions import db
from authapi.mfa import crypto, factors, notify
from authapi.mfa.models import RecoveryCode
from authapi.webhooks import catalog, outbox

NAME = "recovery_code"
COUNT = 10
LENGTH = 10
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # no i, l, o, u
INPUT_MAX = 64


def _new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def normalize(code: Any) -> str | None:
    if not isinstance(code, str) or len(code) > INPUT_MAX:
        return None
    cleaned = code.replace("-", "").replace(" ", "").lower()
    if len(cleaned) != LENGTH or any(char not in ALPHABET for char in cleaned):
        return None
    return cleaned


def replace(user_id: uuid.UUID) -> list[str]:
    """A new set of codes (the old ones are deleted in the same transaction, which also
    holds the ``mfa.recovery_codes_generated`` event)."""
    codes = [_new_code() for _ in range(COUNT)]
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    db.session.add_all(
        RecoveryCode(user_id=user_id, code_hash=crypto.hash_code(normalize(code) or ""))
        for code in codes
    )
    outbox.queue(catalog.MFA_RECOVERY_CODES_GENERATED, str(user_id), left=len(codes))
    db.session.commit()
    return codes


def left(user_id: uuid.UUID) -> int:
    query = select(func.count()).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
    )
    return int(db.session.scalar(query) or 0)


def use(user_id: uuid.UUID, code: Any) -> bool:
    """Spend a code: True once per code, compared in constant time against all of them.
    A spent code commits with its ``mfa.used`` event (codes serve at sign-in only)."""
    candidate = normalize(code)
    rows = db.session.execute(
        select(RecoveryCode.id, RecoveryCode.code_hash).where(
            RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None)
        )
    ).all()
    digests = crypto.code_digests(candidate or "")
    match = None
    for row_id, stored in rows:
        if crypto.matches(stored, digests) and candidate is not None and match is None:
            match = row_id
    if match is None:
        return False
    claimed = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == match, RecoveryCode.used_at.is_(None))
        .values(used_at=func.now())
    )
    if claimed.rowcount == 1:
        outbox.queue(catalog.MFA_USED, str(user_id), factor=NAME, via="login", left=left(user_id))
    db.session.commit()
    return claimed.rowcount == 1


def remove(user_id: uuid.UUID) -> int:
    removed = db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    return int(removed.rowcount)


class RecoveryCodes:
    """Recovery codes as a login method; not ``standalone``: having codes alone never
    makes a login ask for a second factor."""

    name = NAME
    proof_field = "recovery_code"
    proof_type = str
    summary_field = "recovery_codes_left"
    standalone = False

    def enabled(self, user_id: uuid.UUID) -> bool:
        return left(user_id) > 0

    def summary(self, user_id: uuid.UUID) -> int:
        return left(user_id)

    def verify_login(
        self, pending: factors.PendingLogin, proof: Any
    ) -> factors.Verified | factors.Rejected:
        if use(pending.user.id, proof):
            notify.recovery_code_used(pending.user, left(pending.user.id))
            return factors.Verified(amr=("otp",))
        return factors.Rejected("wrong_recovery_code")

    def remove_all(self, user_id: uuid.UUID) -> int:
        return remove(user_id)


factors.register(RecoveryCodes())
