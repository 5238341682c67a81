"""Thin views for sign-in with an emailed code, and the page the mailed link opens."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request, send_from_directory

from authapi import body
from authapi.auth.responses import (
    client_ip,
    client_user_agent,
    replaced_session_id,
    token_response,
)
from authapi.demo import DEMO_DIR
from authapi.email_otp import service
from authapi.email_otp.schemas import otp_verify_schema
from authapi.ratelimits import limit_otp_request, limit_otp_verify
from authapi.schemas import email_schema

blueprint = Blueprint("email_otp", __name__)


@blueprint.post("/api/auth/otp")
@limit_otp_request
def request_code() -> Response:
    data = body.load(email_schema)
    message = service.request_code(data["email"], api_url=request.host_url)
    return jsonify(status="success", message=message)


@blueprint.post("/api/auth/otp/verify")
@limit_otp_verify
def verify() -> Response:
    data = body.load(otp_verify_schema)
    issued = service.verify(
        data["email"],
        data["code"],
        ip=client_ip(),
        user_agent=client_user_agent(),
        replacing=replaced_session_id(),
    )
    return token_response(issued)


@blueprint.get("/signin/providers")
def demo_providers() -> Response:
    """The providers for the demo page, always answered (empty when none is set), so
    the page learns them without an API call that 404s while the feature is off."""
    providers = current_app.extensions.get("authapi.oauth.providers", {})
    listed = [{"name": p.name, "display_name": p.display_name} for p in providers.values()]
    return jsonify(status="success", data={"providers": listed})


@blueprint.get(service.LINK_PATH)
def link_page() -> Response:
    """Where the mailed link points (FRONTEND_URL defaults to this API): a page that
    reads the code from the URL fragment and signs in with a POST on a button press.
    GET and HEAD never see the code, so a mail scanner cannot use it up."""
    response = send_from_directory(DEMO_DIR, "otp.html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
