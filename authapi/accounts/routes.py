"""Thin views for email verification and password reset (under /api/auth)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from authapi import body
from authapi.accounts import service
from authapi.auth.cookies import clear_auth_cookies
from authapi.ratelimits import limit_account_emails
from authapi.schemas import email_schema, reset_password_schema

blueprint = Blueprint("accounts", __name__, url_prefix="/api/auth")


@blueprint.get("/verifyemail/<code>")
def verify_email(code: str) -> Response:
    service.verify_email(code)
    return jsonify(status="success", message=service.EMAIL_VERIFIED)


@blueprint.post("/verifyemail/resend")
@limit_account_emails
def resend_verification() -> Response:
    data = body.load(email_schema)
    service.resend_verification(data["email"], api_url=request.host_url)
    return jsonify(status="success", message=service.VERIFICATION_RESENT)


@blueprint.post("/forgotpassword")
@limit_account_emails
def forgot_password() -> Response:
    data = body.load(email_schema)
    service.forgot_password(data["email"], api_url=request.host_url)
    return jsonify(status="success", message=service.RESET_SENT)


@blueprint.patch("/resetpassword/<token>")
def reset_password(token: str) -> Response:
    # The body first: a typo in passwordConfirm must not use up the token.
    data = body.load(reset_password_schema)
    service.reset_password(token, data["password"])
    response = jsonify(status="success", message=service.PASSWORD_RESET)
    clear_auth_cookies(response)  # every session has just ended
    return response
