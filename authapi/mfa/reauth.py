"""Confirming a sensitive change while signed in: the password or a current TOTP code.

Turning TOTP off, replacing the recovery codes (and removing a passkey, changing
one's own email address or deleting the account, which also take a passkey's answer:
:func:`authapi.passkeys.service.confirm_change`) need one of them;
each check spends one attempt of the account's budget first
(:mod:`authapi.mfa.attempts`), like a code at sign-in.
"""

from __future__ import annotations

from authapi import events, passwords
from authapi.errors import ValidationFailed
from authapi.mfa import attempts, totp
from authapi.models import User

INVALID_CODE = "Invalid code"
INVALID_PASSWORD = "Invalid password"
CODE_OR_PASSWORD = "Give your password or a current code (one of them)"


def confirm_presence(user: User, *, code: str | None, password: str | None, via: str) -> str:
    """Check the code (TOTP, used up like at sign-in) or the password; 400 if wrong.

    Exactly one of them: the rule of ``CodeOrPasswordSchema``, which every route
    asking for them loads (TOTP off, new recovery codes, removing a passkey).

    Returns what was checked: ``"totp"`` or ``"password"``.
    """
    if (code is None) == (password is None):
        raise ValidationFailed(CODE_OR_PASSWORD)
    user_id = str(user.id)
    attempts.spend(user_id)
    if code is not None:
        outcome = totp.use_code(user.id, code, via=via)
        if outcome is not totp.Outcome.ACCEPTED:
            events.emit(
                events.mfa_failed, user_id=user_id, factor=totp.NAME, via=via, reason=outcome.value
            )
            raise ValidationFailed(
                INVALID_CODE, errors={"code": [INVALID_CODE]}, code="invalid_code"
            )
        events.emit(events.mfa_used, user_id=user_id, factor=totp.NAME, via=via)
        attempts.refund(user_id)
        return totp.NAME
    if not _password_ok(user_id, password or "", user.password):
        events.emit(
            events.mfa_failed, user_id=user_id, factor="password", via=via, reason="wrong_password"
        )
        raise ValidationFailed(
            INVALID_PASSWORD, errors={"password": [INVALID_PASSWORD]}, code="invalid_password"
        )
    attempts.refund(user_id)
    return "password"


def _password_ok(user_id: str, password: str, password_hash: str) -> bool:
    """The check, whose attempt a full hashing pool (503, nothing checked) gives back."""
    try:
        return passwords.verify_password(password, password_hash)
    except passwords.HashingBusy:
        attempts.refund(user_id)
        raise
