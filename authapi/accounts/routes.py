"""Thin views for email verification and password reset (under /api/auth)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from authapi import body
from authapi.accounts import service
from authapi.auth.cookies import clear_auth_cookies
from authapi.demo import html_page
from authapi.ratelimits import account_email_budget
from authapi.schemas import email_schema, reset_password_schema

blueprint = Blueprint("accounts", __name__, url_prefix="/api/auth")


class VerificationCodeConverter(BaseConverter):
    """A verification link's code: one path segment, but never ``resend``.

    POST /verifyemail/resend is a route of its own. With a plain ``<code>`` the
    verification page (GET) matched that path too: its OPTIONS listed GET in ``Allow``
    and a GET answered the page instead of 405. Malformed codes still match (the page
    and the POST's 400 answer them), so a mangled link is never a bare 404.
    """

    regex = r"(?!resend$)[^/]+"


@blueprint.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    # Recorded before the routes below, so it is in the URL map when they are added.
    state.app.url_map.converters["verification_code"] = VerificationCodeConverter


@blueprint.get("/verifyemail/<verification_code:code>")
def verify_email_page(code: str) -> Response:
    """Where verification mails link to: a page whose button POSTs the code.

    A GET (or HEAD) changes nothing, so a mail scanner that follows the link does
    not verify an address on behalf of whoever registered it.
    """
    return html_page("verify.html")


@blueprint.post("/verifyemail/<verification_code:code>")
def verify_email(code: str) -> Response:
    service.verify_email(code)
    return jsonify(status="success", message=service.EMAIL_VERIFIED)


@blueprint.post("/verifyemail/resend")
def resend_verification() -> Response:
    data = body.load(email_schema)
    if account_email_budget(data["email"]):  # beyond it: the same 200, no mail
        service.request_verification_mail(data["email"], api_url=request.host_url)
    return jsonify(status="success", message=service.VERIFICATION_RESENT)


@blueprint.post("/forgotpassword")
def forgot_password() -> Response:
    data = body.load(email_schema)
    if account_email_budget(data["email"]):  # beyond it: the same 200, no mail
        service.request_password_reset(data["email"], api_url=request.host_url)
    return jsonify(status="success", message=service.RESET_SENT)


@blueprint.patch("/resetpassword/<token>")
def reset_password(token: str) -> Response:
    # The body first: a typo in passwordConfirm must not use up the token.
    data = body.load(reset_password_schema)
    service.reset_password(token, data["password"])
    response = jsonify(status="success", message=service.PASSWORD_RESET)
    clear_auth_cookies(response)  # every session has just ended
    return response
