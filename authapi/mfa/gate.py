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


def require_second_factor(
    user: User, first_amr: tuple[str, ...] = ("pwd",), *, password_hash: str | None = None
) -> None:
    """Raise 403 with an mfa_token and the usable methods if the account has a factor.

    An account without a second factor passes untouched (one small query).
    ``first_amr``: how the first step signed in (a password, a provider, an emailed
    code); the session gets it plus the factor's values. ``password_hash``: the hash
    the token is bound to (a password change voids it), when the password step has
    just upgraded it; by default the one ``user`` was read with.
    """
    if not factors.standalone_names(user.id):
        return
    bound_to = user.password if password_hash is None else password_hash
    methods = [factor.name for factor in factors.enabled(user.id)]
    user_id = str(user.id)
    token = challenge.issue(user_id, bound_to, first_amr)
    events.emit(events.mfa_required, user_id=user_id)
    raise Forbidden(
        SECOND_FACTOR_REQUIRED,
        code=MFA_REQUIRED_CODE,
        extra={"mfa_token": token, "methods": methods},
    )
