"""Passkeys as a second factor: the ``passkey`` kind registered with
:mod:`authapi.mfa.factors` (imported by the passkey routes, so every app has it).

Having a passkey makes a password login ask for a second factor (``standalone``), and
``POST /api/auth/login/mfa {"mfa_token", "credential"}`` accepts an assertion made for
options from ``POST /api/auth/login/mfa/passkey-options``. The mfa package counts the
attempt before :meth:`PasskeyFactor.verify_login` runs, and audits the outcome.
"""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import ValidationError

from authapi.errors import ValidationFailed
from authapi.mfa import factors
from authapi.passkeys import service
from authapi.passkeys.schemas import AuthenticationCredentialSchema, flatten

NAME = "passkey"
_credential_schema = AuthenticationCredentialSchema()


class PasskeyFactor:
    name = NAME
    proof_field = "credential"
    proof_type = dict
    summary_field = "passkeys"
    standalone = True

    def enabled(self, user_id: uuid.UUID) -> bool:
        return service.count(user_id) > 0

    def summary(self, user_id: uuid.UUID) -> int:
        return service.count(user_id)

    def verify_login(
        self, pending: factors.PendingLogin, proof: Any
    ) -> factors.Verified | factors.Rejected:
        try:
            credential = _credential_schema.load(proof)
        except ValidationError as error:
            raise ValidationFailed(
                "Invalid input", errors=flatten(error.messages, "credential")
            ) from None
        try:
            passkey = service.verify_second_factor(
                str(pending.user.id), pending.token_id, credential
            )
        except service.Refused as refused:
            return factors.Rejected(refused.reason)
        return factors.Verified(amr=(service.key_kind(passkey),))

    def remove_all(self, user_id: uuid.UUID) -> int:
        return service.remove_all(user_id)


factors.register(PasskeyFactor())
