"""Where a password login meets the second factor: 403 ``mfa_required`` instead of a
session for an account that has one (called by :func:`authapi.auth.service.login`
once the password is right and the account may sign in)."""

from __future__ import annotations

from authapi import events
from authapi.errors import Forbidden
from authapi.mfa import challenge, factors
from authapi.models import User

SECOND_FACTOR_REQUIRED = "Second factor required"
MFA_REQUIRED_CODE = "mfa_required"


def require_second_factor(user: User) -> None:
    """Raise 403 with an mfa_token and the usable methods if the account has a factor.

    An account without a second factor passes untouched (one small query).
    """
    if not factors.standalone_names(user.id):
        return
    methods = [factor.name for factor in factors.enabled(user.id)]
    user_id = str(user.id)
    token = challenge.issue(user_id, user.password)
    events.emit(events.mfa_required, user_id=user_id)
    raise Forbidden(
        SECOND_FACTOR_REQUIRED,
        code=MFA_REQUIRED_CODE,
        extra={"mfa_token": token, "methods": methods},
    )
