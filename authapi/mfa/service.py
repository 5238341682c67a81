"""Second-factor rules: enrolling and removing TOTP, recovery codes, admin resets.

Plain functions the views call; every enrolment, removal, use and failure is an
event (audited), and the user is mailed when a factor is added or removed.
"""

from __future__ import annotations

import uuid
from typing import Any

from authapi import clock, events, sessions
from authapi.errors import APIError, Conflict, Forbidden, NotFound
from authapi.extensions import db
from authapi.mfa import attempts, factors, notify, recovery, totp
from authapi.mfa.reauth import INVALID_CODE, confirm_presence
from authapi.models import User
from authapi.webhooks import catalog, outbox

TOTP_ALREADY_ENABLED = "TOTP is already enabled: turn it off first to set up a new one"
NO_PENDING_TOTP = "No TOTP setup in progress (or it expired): start again"
TOTP_NOT_ENABLED = "TOTP is not enabled"
NO_SECOND_FACTOR = "Set up a second factor first"


def status(user_id: str) -> dict[str, Any]:
    """GET /api/auth/mfa: ``{"totp": bool, "passkeys": N, "recovery_codes_left": N}``."""
    return factors.summary(uuid.UUID(user_id))


def start_totp(user: User) -> dict[str, str]:
    """A new secret to scan (pending until confirmed); not while TOTP is enabled."""
    if totp.is_enabled(user.id):
        raise Conflict(TOTP_ALREADY_ENABLED, code="totp_already_enabled")
    secret = totp.begin(str(user.id))
    return totp.provisioning(secret, user.email)


def confirm_totp(user: User, code: str) -> list[str]:
    """Activate the pending secret with a code from it; returns new recovery codes."""
    user_id = str(user.id)
    if totp.is_enabled(user.id):
        raise Conflict(TOTP_ALREADY_ENABLED, code="totp_already_enabled")
    secret = totp.pending_secret(user_id)
    if secret is None:
        raise Conflict(NO_PENDING_TOTP, code="no_totp_setup")
    attempts.spend(user_id)
    step = totp.matching_step(secret, code, clock.now())
    if step is None:
        events.emit(
            events.mfa_failed,
            user_id=user_id,
            factor=totp.NAME,
            via="totp_confirm",
            reason="wrong_code",
        )
        raise APIError(INVALID_CODE, errors={"code": [INVALID_CODE]}, code="invalid_code")
    if not totp.activate(user_id, secret, step):
        raise Conflict(TOTP_ALREADY_ENABLED, code="totp_already_enabled")
    totp.forget_pending(user_id)
    attempts.refund(user_id)
    outbox.queue(catalog.MFA_ENROLLED, user_id, factor=totp.NAME)
    codes = recovery.replace(user.id)  # commits the new factor with the codes and events
    factor_added(user, totp.NAME)
    events.emit(events.recovery_codes_generated, user_id=user_id, left=len(codes))
    return codes


def disable_totp(user: User, *, code: str | None, password: str | None) -> None:
    if not totp.is_enabled(user.id):
        raise NotFound(TOTP_NOT_ENABLED, code="totp_not_enabled")
    confirm_presence(user, code=code, password=password, via="totp_disable")
    totp.remove(user.id)
    outbox.queue(catalog.MFA_REMOVED, str(user.id), factor=totp.NAME, by=None)
    db.session.commit()
    factor_removed(user, totp.NAME)


def replace_recovery_codes(user: User, *, code: str | None, password: str | None) -> list[str]:
    """A new set of codes; the old ones stop working at once."""
    if not factors.standalone_names(user.id):
        raise Conflict(NO_SECOND_FACTOR, code="no_second_factor")
    confirm_presence(user, code=code, password=password, via="recovery_codes")
    codes = recovery.replace(user.id)
    events.emit(events.recovery_codes_generated, user_id=str(user.id), left=len(codes))
    return codes


def factor_names(user_id: str) -> list[str]:
    """The account's second factors by name (``/api/users/me`` shows them)."""
    return factors.standalone_names(uuid.UUID(user_id))


def factor_added(user: User, factor: str) -> None:
    """After a factor was stored (its ``mfa.enrolled`` event queued with it): audit,
    mail, and refresh the cached user."""
    user_id = str(user.id)
    sessions.forget_user(user_id)
    events.emit(events.mfa_enrolled, user_id=user_id, factor=factor)
    notify.factor_added(user, factor)


def factor_removed(user: User, factor: str, *, by: str | None = None) -> None:
    """After a factor was deleted (its ``mfa.removed`` event queued with it): drop the
    recovery codes if no factor is left, audit, mail, refresh the cached user. ``by``:
    the admin who removed it, if one did."""
    user_id = str(user.id)
    if not factors.standalone_names(user.id):
        recovery.remove(user.id)
        db.session.commit()
    sessions.forget_user(user_id)
    events.emit(events.mfa_removed, user_id=user_id, factor=factor, by=by)
    notify.factor_removed(user, factor, by_admin=by is not None)


def queue_removals(user_id: uuid.UUID, removed: dict[str, int], *, by: str | None) -> list[str]:
    """After :func:`authapi.mfa.factors.remove_all`, in its transaction: one
    ``mfa.removed`` webhook per kind that had any (nothing removed, no event); the
    names of those kinds."""
    gone = [name for name, count in removed.items() if count]
    for name in gone:
        outbox.queue(catalog.MFA_REMOVED, str(user_id), factor=name, by=by)
    return gone


def removed_before_proof(user: User, names: list[str]) -> None:
    """After the first proof of the address removed (and committed) the factors set up
    before it (:func:`authapi.accounts.service.mailbox_proven`): audit each kind, refresh
    the cached user, and tell the owner in one mail."""
    user_id = str(user.id)
    sessions.forget_user(user_id)
    for name in names:
        events.emit(events.mfa_removed, user_id=user_id, factor=name, by=None, reason="unverified")
    notify.removed_before_proof(user, names)


OWN_FACTORS = "Remove your own second factors from your settings"


def admin_remove_all(actor_id: str, target_id: uuid.UUID) -> dict[str, int]:
    """Every second factor of every kind goes; the user is signed out everywhere.

    Not on the admin's own account: turning one's own factor off needs the password or
    a current code, which this reset does not ask for (a stolen admin access token
    would strip the admin's factors).
    """
    if str(target_id) == str(actor_id):
        raise Forbidden(OWN_FACTORS, code="own_factors")
    user = db.session.get(User, target_id)
    if user is None:
        raise NotFound("User not found", code="user_not_found")
    removed = factors.remove_all(user.id)
    gone = queue_removals(user.id, removed, by=actor_id)
    user_id = str(user.id)
    names = gone or ["none"]  # the audit log records the reset itself, even of nothing
    db.session.commit()
    sessions.forget_user(user_id)
    ended = sessions.delete_all(user_id, scope=sessions.MFA_RESET)
    for name in names:
        events.emit(events.mfa_removed, user_id=user_id, factor=name, by=actor_id, ended=ended)
    notify.all_factors_removed_by_admin(user)
    return removed
