"""Request bodies of the email-code routes."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from authapi.schemas import Email


class OtpVerifySchema(Schema):
    """POST /api/auth/otp/verify."""

    class Meta:
        unknown = EXCLUDE

    email = Email(
        required=True,
        error_messages={
            "required": "Email address is required",
            "null": "Email address is required",
        },
    )
    code = fields.String(
        required=True,
        validate=validate.Length(max=32, error="Invalid or expired code"),
        error_messages={"required": "Code is required", "null": "Code is required"},
    )


otp_verify_schema = OtpVerifySchema()
