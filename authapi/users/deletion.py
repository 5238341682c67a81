"""Deleting one's own account (``DELETE /api/users/me``): the right to erasure.

Confirmed like the other sensitive changes of a signed-in user
(:func:`authapi.passkeys.service.confirm_change`: the password, a current TOTP code or
a passkey's answer to the confirmation options), then done by the admin deletion's
rules (:func:`authapi.admin.service.delete_user`): never the last active admin, every
session ended at once (``session.revoked``, scope ``account_deleted``), the
``user.deleted`` webhook and the audit's ``user_deleted`` (``by``: the user).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from authapi import ways_in
from authapi.admin import service as admin_service
from authapi.auth.service import SESSION_ENDED
from authapi.errors import Conflict, Unauthorized
from authapi.mfa import totp
from authapi.models import User
from authapi.passkeys import service as passkeys_service
from authapi.users.repository import find_user_by_id

if TYPE_CHECKING:
    from webauthn.helpers.structs import AuthenticationCredential

NOTHING_TO_CONFIRM_WITH = (
    "Your account has no password, TOTP or passkey to confirm its deletion with: "
    "add a passkey, or set a password (forgot password), first"
)


def can_confirm(user: User) -> bool:
    """Whether the account has something to confirm a change with. An account made by a
    provider or an emailed code has no password; without TOTP or a passkey, a stolen
    access token would be all it takes to delete it."""
    return (
        ways_in.has_usable_password(user)
        or totp.is_enabled(user.id)
        or passkeys_service.count(user.id) > 0
    )


def delete_own_account(
    user_id: str,
    *,
    password: str | None = None,
    code: str | None = None,
    credential: AuthenticationCredential | None = None,
) -> None:
    """Delete the caller's account once confirmed. Refusals that need no confirmation
    (nothing to confirm with, the last admin) come first and spend no attempt."""
    user = find_user_by_id(user_id)
    if user is None:  # deleted since its session was checked
        raise Unauthorized(SESSION_ENDED, code="session_ended")
    if not can_confirm(user):
        raise Conflict(NOTHING_TO_CONFIRM_WITH, code="nothing_to_confirm_with")
    admin_service.refuse_to_delete_the_last_admin(user)
    passkeys_service.confirm_change(
        user, password=password, code=code, credential=credential, via="account_delete"
    )
    admin_service.delete_user(user_id, user.id)
