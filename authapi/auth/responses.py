"""How a sign-in answers: cookies for browsers, or tokens in the body for token mode.

Every route that signs someone in (password login, and any other method) answers
through :func:`token_response`, so all of them honour ``X-Auth-Mode: token`` alike.
"""

from __future__ import annotations

from flask import Response, jsonify, request

from authapi.auth.cookies import set_access_cookies, set_refresh_cookie
from authapi.auth.service import IssuedTokens

AUTH_MODE_HEADER = "X-Auth-Mode"


def client_ip() -> str:
    return request.remote_addr or ""


def client_user_agent() -> str:
    return request.headers.get("User-Agent", "")


def wants_tokens_in_body() -> bool:
    return request.headers.get(AUTH_MODE_HEADER, "").strip().lower() == "token"


def cookie_response(issued: IssuedTokens) -> Response:
    response = jsonify(status="success", access_token=issued.access_token)
    set_access_cookies(response, issued.access_token, issued.access_lifetime)
    set_refresh_cookie(response, issued.refresh_token, issued.refresh_lifetime)
    return response


def body_response(issued: IssuedTokens) -> Response:
    return jsonify(
        status="success",
        access_token=issued.access_token,
        expires_in=issued.access_lifetime,
        refresh_token=issued.refresh_token,
        refresh_expires_in=issued.refresh_lifetime,
        token_type="Bearer",
    )


def token_response(issued: IssuedTokens) -> Response:
    """The answer to a successful sign-in, in the mode the client asked for."""
    return body_response(issued) if wants_tokens_in_body() else cookie_response(issued)
