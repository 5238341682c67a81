"""Rules about accounts: changing a profile or a password, deleting a user."""

from __future__ import annotations

from typing import Any

from authapi import account_tokens, events, passwords, sessions
from authapi.auth.service import caller_account
from authapi.errors import ValidationFailed
from authapi.extensions import db
from authapi.models import User

WRONG_CURRENT_PASSWORD = "Current password is incorrect"


def update_profile(user_id: str, changes: dict[str, Any]) -> User:
    """Apply the caller's own ``name`` / ``photo`` (validated by ``ProfileUpdateSchema``).

    The ``user.updated`` webhook, with its ``changes``, is written with the row (the
    outbox's ``after_flush`` listener), as for the admin update. The cached copy the
    session check reads is dropped once the row is committed, so every session of the
    user sees the change on its next request.
    """
    user = caller_account(user_id, lock=True)
    if "name" in changes:
        user.name = changes["name"].strip()
    if "photo" in changes:
        user.photo = changes["photo"]
    db.session.commit()
    sessions.forget_user(user_id)
    return user


def change_password(user: User, current_password: str, new_password: str, *, keep: str) -> int:
    """Re-hash the password and end every other session; returns how many ended."""
    if not passwords.verify_password(current_password, user.password):
        raise ValidationFailed(
            WRONG_CURRENT_PASSWORD,
            errors={"currentPassword": [WRONG_CURRENT_PASSWORD]},
            code="wrong_current_password",
        )
    user.password = passwords.hash_password(new_password)
    db.session.commit()
    user_id = str(user.id)
    sessions.forget_user(user_id)
    ended = sessions.delete_all(user_id, keep=keep, scope=sessions.PASSWORD_CHANGED)
    account_tokens.revoke(account_tokens.RESET, user_id)  # an older reset link stops working
    events.emit(events.password_changed, user_id=user_id, ended=ended)
    return ended


def delete_user(user: User, *, by: str | None = None) -> None:
    """Delete the account; every session and cached copy goes with it at once.

    Its sessions are ended before the row goes as well as after. With Redis unreachable
    the deletion stops (503) before anything is gone, instead of leaving a deleted
    account's sessions alive with the cached copy the session check trusts; the second
    pass ends any session a login opened in between. ``by``: the admin who did it (None
    from the CLI).
    """
    user_id = str(user.id)
    _end_sessions_and_cache(user_id)
    db.session.delete(user)
    db.session.commit()
    _end_sessions_and_cache(user_id)
    events.emit(events.user_deleted, user_id=user_id, by=by)


def _end_sessions_and_cache(user_id: str) -> None:
    sessions.delete_all(user_id, scope=sessions.ACCOUNT_DELETED)
    sessions.forget_user(user_id)
