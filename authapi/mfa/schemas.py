"""Request bodies of the second-factor routes (shapes only; wrong values are 400s from
the service, after the attempt is counted)."""

from __future__ import annotations

from typing import Any

from marshmallow import (
    EXCLUDE,
    INCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from authapi.mfa.reauth import CODE_OR_PASSWORD
from authapi.schemas import required

PROOF_MAX = 64  # a TOTP code is 6 digits, a recovery code 11 characters
TOKEN_MAX = 128
PASSWORD_MAX = 1024  # longer is simply wrong; bcrypt sees at most 72 bytes anyway


class CodeSchema(Schema):
    """``{"code"}``: confirming a new TOTP secret."""

    class Meta:
        unknown = EXCLUDE

    code = fields.String(
        **required("code is required"),
        validate=validate.Length(min=1, max=PROOF_MAX),
    )


class CodeOrPasswordSchema(Schema):
    """``{"code"}`` (a current TOTP code) or ``{"password"}``: confirming a change."""

    class Meta:
        unknown = EXCLUDE

    code = fields.String(validate=validate.Length(min=1, max=PROOF_MAX))
    password = fields.String(validate=validate.Length(min=1, max=PASSWORD_MAX))

    @validates_schema
    def exactly_one(self, data: dict[str, Any], **kwargs: Any) -> None:
        if ("code" in data) == ("password" in data):
            raise ValidationError(CODE_OR_PASSWORD)


class MfaTokenSchema(Schema):
    """``{"mfa_token"}``: a sign-in waiting for its second factor (a passkey's options
    for the second step ask with it alone)."""

    class Meta:
        unknown = EXCLUDE

    mfa_token = fields.String(
        **required("mfa_token is required"),
        validate=validate.Length(min=1, max=TOKEN_MAX),
    )


class LoginMfaSchema(MfaTokenSchema):
    """``{"mfa_token", <proof field>}``: the proof field is picked by the registered
    factor kinds (authapi.mfa.factors), so other fields are kept for them."""

    class Meta:
        unknown = INCLUDE


code_schema = CodeSchema()
code_or_password_schema = CodeOrPasswordSchema()
login_mfa_schema = LoginMfaSchema()
mfa_token_schema = MfaTokenSchema()
