"""The registry of second-factor kinds: the extension point of second-factor sign-in.

Everything that asks "which second factors does this account have?" or "is this proof
good?" goes through the factors registered here, never through a hard-coded list:

- ``POST /api/auth/login`` asks for a second factor when any *standalone* factor is
  enabled for the account, and lists every enabled factor's ``name`` in ``methods``;
- ``POST /api/auth/login/mfa`` picks the factor whose ``proof_field`` is in the body
  (``code`` -> TOTP, ``recovery_code`` -> recovery codes, ``credential`` -> a passkey
  once registered) and calls its ``verify_login``, after the attempt limits (per
  account and per mfa_token) have been counted: a factor never counts attempts itself;
- ``GET /api/auth/mfa`` merges every factor's ``summary`` under its ``summary_field``;
- ``/api/users/me`` lists the enabled standalone factors' names (``"mfa"``);
- ``DELETE /api/users/<id>/mfa`` (admins) calls every factor's ``remove_all``.

Adding a kind (the passkeys package does this for ``"passkey"``)::

    from authapi.mfa import factors

    class PasskeyFactor:
        name = "passkey"            # in `methods` and in /users/me "mfa"
        proof_field = "credential"  # the /login/mfa body field carrying the proof
        proof_type = dict           # its JSON type (str for a code): else a 400, no attempt
        summary_field = "passkeys"  # GET /api/auth/mfa: {"passkeys": N}
        standalone = True           # having one makes password logins ask for it

        def enabled(self, user_id: uuid.UUID) -> bool: ...
        def summary(self, user_id: uuid.UUID) -> int: ...     # the count
        def verify_login(self, pending: factors.PendingLogin, proof: Any) -> Verified | Rejected:
            # Check the assertion for pending.user (bind its challenge to pending.token_id);
            # Rejected(reason) for a wrong proof (the reason goes to the audit log),
            # raise ValidationFailed for a malformed one.
            return factors.Verified(amr=("hwk",))
        def remove_all(self, user_id: uuid.UUID) -> int: ...  # how many were removed

    factors.register(PasskeyFactor())

Register at import time of a module that ``create_app`` imports (registration is
idempotent: the same name replaces). A route that needs the pending sign-in without
spending an attempt (passkey options for an mfa_token) reads it with
:func:`authapi.mfa.challenge.peek`. When a factor is added or removed outside this
package, call :func:`authapi.mfa.service.factor_added` / ``factor_removed``: they mail
the user, write the audit event, refresh the cached user and drop the recovery codes
once no standalone factor is left. Removing the last factor must be confirmed with
the password or a current code: :func:`authapi.mfa.reauth.confirm_presence`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from authapi.models import User

# Fields of GET /api/auth/mfa that the API fixes even before their factor kind is
# registered (issue 13), with the value they have until then.
SUMMARY_PLACEHOLDERS: dict[str, Any] = {"passkeys": 0}


@dataclass(frozen=True)
class PendingLogin:
    """A sign-in whose password was right, waiting for its second factor."""

    user: User
    token_id: str  # a stable, non-secret id of the mfa_token (a hash of it)


@dataclass(frozen=True)
class Verified:
    """A good proof: the RFC 8176 ``amr`` values it adds (``otp``, ``hwk``, ``swk``)."""

    amr: tuple[str, ...]


@dataclass(frozen=True)
class Rejected:
    """A wrong proof; ``reason`` (e.g. ``wrong_code``) is what the audit log records."""

    reason: str


class SecondFactor(Protocol):
    name: str
    proof_field: str
    proof_type: type  # the JSON type of the proof: str (a code) or dict (a credential)
    summary_field: str
    standalone: bool

    def enabled(self, user_id: uuid.UUID) -> bool: ...

    def summary(self, user_id: uuid.UUID) -> Any: ...

    def verify_login(self, pending: PendingLogin, proof: Any) -> Verified | Rejected: ...

    def remove_all(self, user_id: uuid.UUID) -> int: ...


_registry: dict[str, SecondFactor] = {}


def register(factor: SecondFactor) -> None:
    _registry[factor.name] = factor


def registered() -> list[SecondFactor]:
    return list(_registry.values())


def proof_fields() -> list[str]:
    return [factor.proof_field for factor in _registry.values()]


def by_proof_field(field: str) -> SecondFactor | None:
    return next((f for f in _registry.values() if f.proof_field == field), None)


def enabled(user_id: uuid.UUID) -> list[SecondFactor]:
    """Every factor the account can use now, standalone ones first (recovery codes last)."""
    usable = [factor for factor in _registry.values() if factor.enabled(user_id)]
    return sorted(usable, key=lambda factor: not factor.standalone)


def standalone_names(user_id: uuid.UUID) -> list[str]:
    """The account's real second factors: what makes a password login ask for more."""
    return [f.name for f in _registry.values() if f.standalone and f.enabled(user_id)]


def summary(user_id: uuid.UUID) -> dict[str, Any]:
    data = dict(SUMMARY_PLACEHOLDERS)
    for factor in _registry.values():
        data[factor.summary_field] = factor.summary(user_id)
    return data


def remove_all(user_id: uuid.UUID) -> dict[str, int]:
    """Remove every factor of every kind; how many of each went."""
    return {factor.name: factor.remove_all(user_id) for factor in _registry.values()}
