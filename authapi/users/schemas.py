"""Request bodies of the caller's own email change (the others are in authapi.schemas)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from authapi.passkeys.schemas import ConfirmationSchema
from authapi.schemas import Email, required

CODE_MAX = 128  # account_tokens codes are 43 characters


class EmailChangeSchema(ConfirmationSchema):
    """``{"email", <a confirmation>}``: the new address (normalised and checked as at
    registration), and the password, a current TOTP code or a passkey's answer."""

    email = Email(
        **required("Email address is required"),
        metadata={"example": "alice.new@example.com"},
    )


class EmailChangeCodeSchema(Schema):
    """``{"code"}``: the code mailed to the new address."""

    class Meta:
        unknown = EXCLUDE

    code = fields.String(
        **required("code is required"),
        validate=validate.Length(min=1, max=CODE_MAX),
        metadata={"example": "hfiZXaYfLSyDraLli3JfT3OoP7jKGte59pYTYhVz2R4"},
    )


email_change_schema = EmailChangeSchema()
email_change_code_schema = EmailChangeCodeSchema()
