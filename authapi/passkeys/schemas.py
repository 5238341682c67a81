"""What passkey requests carry and what the answers show.

A credential arrives as the browser's JSON form of a ``PublicKeyCredential``
(``credential.toJSON()``, or the same built by hand: binary fields base64url). Its
shape is checked here, field by field, and it is loaded into py_webauthn's own
structures, so the ceremony code only ever sees well-formed bytes.

py_webauthn (5 MB in each process) is imported by the first credential loaded, not
when the app starts: most processes of most deployments never see a passkey.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from typing import TYPE_CHECKING, Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from authapi import body
from authapi.errors import ValidationFailed
from authapi.mfa.schemas import CodeOrPasswordSchema
from authapi.passkeys.models import NAME_MAX
from authapi.schemas import UtcDateTime, has_control_characters, required

if TYPE_CHECKING:
    from webauthn.helpers.structs import (
        AuthenticationCredential,
        AuthenticatorAttachment,
        RegistrationCredential,
    )

# Generous caps (a credential id is at most 1023 bytes; with attestation "none" a
# registration is well under 2 kB); the 10 kB body limit caps the total anyway.
ID_MAX = 1400  # characters of base64url
FIELD_MAX = 8000
TRANSPORTS_MAX = 10
PUBLIC_KEY = "public-key"


class Base64Url(fields.String):
    """Bytes sent as base64url (padding optional)."""

    def __init__(self, *, max_length: int = FIELD_MAX, **kwargs: Any) -> None:
        super().__init__(
            validate=[
                validate.Length(min=1, max=max_length),
                validate.Regexp(r"^[A-Za-z0-9_-]*={0,2}(?![\s\S])", error="Not valid base64url"),
            ],
            **kwargs,
        )


def decode(value: str) -> bytes:
    """base64url, padding optional (as py_webauthn's ``base64url_to_bytes``)."""
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):  # a length no base64 has
        raise ValidationError("Not valid base64url") from None


def _attachment(value: str | None) -> AuthenticatorAttachment | None:
    from webauthn.helpers.structs import AuthenticatorAttachment

    try:
        return AuthenticatorAttachment(value) if value else None
    except ValueError:
        return None  # a hint only: an attachment we do not know changes nothing


class CredentialSchema(Schema):
    """What both kinds of credential share."""

    class Meta:
        unknown = EXCLUDE

    id = Base64Url(required=True, max_length=ID_MAX)
    raw_id = Base64Url(required=True, max_length=ID_MAX, data_key="rawId")
    type = fields.String(required=True, validate=validate.Equal(PUBLIC_KEY))
    authenticator_attachment = fields.String(
        load_default=None, allow_none=True, data_key="authenticatorAttachment"
    )


class AttestationResponseSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    client_data_json = Base64Url(required=True, data_key="clientDataJSON")
    attestation_object = Base64Url(required=True, data_key="attestationObject")
    transports = fields.List(
        fields.String(validate=validate.Length(max=32)),
        load_default=list,
        validate=validate.Length(max=TRANSPORTS_MAX),
    )


class AssertionResponseSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    client_data_json = Base64Url(required=True, data_key="clientDataJSON")
    authenticator_data = Base64Url(required=True, data_key="authenticatorData")
    signature = Base64Url(required=True)
    user_handle = Base64Url(
        load_default=None, allow_none=True, max_length=128, data_key="userHandle"
    )


class RegistrationCredentialSchema(CredentialSchema):
    response = fields.Nested(AttestationResponseSchema, required=True)

    @post_load
    def to_credential(self, data: dict[str, Any], **kwargs: Any) -> RegistrationCredential:
        from webauthn.helpers.structs import (
            AuthenticatorAttestationResponse,
            AuthenticatorTransport,
            RegistrationCredential,
        )

        response = data["response"]
        transports = []
        for name in response["transports"]:
            try:
                transports.append(AuthenticatorTransport(name))
            except ValueError:
                continue  # a transport this server does not know: only a hint
        return RegistrationCredential(
            id=data["id"],
            raw_id=_decoded(data["raw_id"], "rawId"),
            response=AuthenticatorAttestationResponse(
                client_data_json=_decoded(response["client_data_json"], "clientDataJSON"),
                attestation_object=_decoded(response["attestation_object"], "attestationObject"),
                transports=transports,
            ),
            authenticator_attachment=_attachment(data["authenticator_attachment"]),
        )


class AuthenticationCredentialSchema(CredentialSchema):
    response = fields.Nested(AssertionResponseSchema, required=True)

    @post_load
    def to_credential(self, data: dict[str, Any], **kwargs: Any) -> AuthenticationCredential:
        from webauthn.helpers.structs import (
            AuthenticationCredential,
            AuthenticatorAssertionResponse,
        )

        response = data["response"]
        user_handle = response["user_handle"]
        return AuthenticationCredential(
            id=data["id"],
            raw_id=_decoded(data["raw_id"], "rawId"),
            response=AuthenticatorAssertionResponse(
                client_data_json=_decoded(response["client_data_json"], "clientDataJSON"),
                authenticator_data=_decoded(response["authenticator_data"], "authenticatorData"),
                signature=_decoded(response["signature"], "signature"),
                user_handle=_decoded(user_handle, "userHandle") if user_handle else None,
            ),
            authenticator_attachment=_attachment(data["authenticator_attachment"]),
        )


def _decoded(value: str, field: str) -> bytes:
    try:
        return decode(value)
    except ValidationError:
        raise ValidationError("Not valid base64url", field) from None


def validate_passkey_name(value: str) -> None:
    if not value.strip():
        raise ValidationError("Name must not be blank")
    if len(value) > NAME_MAX:
        raise ValidationError(f"Name must be at most {NAME_MAX} characters")
    if has_control_characters(value) or any(
        unicodedata.category(char) in {"Cf", "Cs", "Co", "Cn"} for char in value
    ):
        raise ValidationError("Name must not contain control or invisible characters")


class PasskeyName(fields.String):
    """A passkey's label, trimmed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate_passkey_name, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).strip()


class RegisterSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    credential = fields.Nested(RegistrationCredentialSchema, required=True)
    name = PasskeyName(load_default=None, allow_none=True)


class LoginSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    credential = fields.Nested(AuthenticationCredentialSchema, required=True)


class RenameSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    name = PasskeyName(**required("Name is required"))


CONFIRMATION_NEEDED = (
    "Give your password, a current code or a passkey's answer to the confirmation "
    "options (one of them)"
)


class ConfirmationSchema(CodeOrPasswordSchema):
    """``{"password"}``, ``{"code"}`` (a current TOTP code) or ``{"credential"}`` (a
    passkey's answer to ``POST /api/auth/passkeys/reauth/options``): what confirms
    removing a passkey, or deleting one's own account."""

    credential = fields.Nested(AuthenticationCredentialSchema)

    @validates_schema
    def exactly_one(self, data: dict[str, Any], **kwargs: Any) -> None:
        if sum(field in data for field in ("code", "password", "credential")) != 1:
            raise ValidationError(CONFIRMATION_NEEDED)


class PasskeySchema(Schema):
    """A passkey as its owner sees it: never the credential id or the public key."""

    id = fields.UUID()
    name = fields.String()
    created_at = UtcDateTime(format="iso")
    last_used_at = UtcDateTime(format="iso", allow_none=True)
    backed_up = fields.Boolean()


register_schema = RegisterSchema()
login_schema = LoginSchema()
rename_schema = RenameSchema()
confirmation_schema = ConfirmationSchema()
passkey_schema = PasskeySchema()


def flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    """Nested field errors as the envelope has them: ``{"credential.response.x": [...]}``."""
    if not isinstance(errors, dict):
        return {prefix or "_schema": [str(message) for message in errors]}
    flat: dict[str, list[str]] = {}
    for key, value in errors.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def load(schema: Schema) -> dict[str, Any]:
    """``authapi.body.load``, with the errors of nested fields under dotted names."""
    try:
        return body.load(schema)
    except ValidationFailed as error:
        error.errors = flatten(error.errors or {})
        raise
