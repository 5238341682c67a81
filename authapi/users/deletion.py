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

from authapi.admin import service as admin_service
from authapi.auth.service import caller_account
from authapi.passkeys import service as passkeys_service

if TYPE_CHECKING:
    from webauthn.helpers.structs import AuthenticationCredential


def delete_own_account(
    user_id: str,
    *,
    password: str | None = None,
    code: str | None = None,
    credential: AuthenticationCredential | None = None,
) -> None:
    """Delete the caller's account once confirmed. Refusals that need no confirmation
    (the last admin, nothing to confirm with) come first and spend no attempt."""
    user = caller_account(user_id)
    admin_service.refuse_to_delete_the_last_admin(user)
    passkeys_service.confirm_change(
        user, password=password, code=code, credential=credential, via="account_delete"
    )
    admin_service.delete_user(user_id, user.id)
