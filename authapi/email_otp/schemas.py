"""Request bodies of the email-code routes."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from authapi.schemas import Email, required


class OtpVerifySchema(Schema):
    """POST /api/auth/otp/verify."""

    class Meta:
        unknown = EXCLUDE

    email = Email(**required("Email address is required"))
    code = fields.String(
        **required("Code is required"),
        validate=validate.Length(max=32, error="Invalid or expired code"),
    )


otp_verify_schema = OtpVerifySchema()
