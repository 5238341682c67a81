"""Thin views: parse input, call one service function, shape the response.

Two ways to carry the refresh token:
- browsers (the default): HttpOnly cookies; the refresh token never appears in a body.
- clients that cannot keep cookies (mobile apps, servers): send ``X-Auth-Mode: token``
  to login, get ``refresh_token`` in the JSON body and no cookies, and refresh with
  POST /api/auth/refresh ``{"refresh_token": ...}``, which answers in the body too.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import MethodNotAllowed

from authapi import body
from authapi.accounts import service as account_service
from authapi.auth import service
from authapi.auth.cookies import REFRESH_COOKIE, clear_auth_cookies
from authapi.auth.guard import (
    access_token_from_request,
    current_user,
    load_current_user,
    login_required,
    reject_cross_site,
)
from authapi.auth.responses import (
    body_response,
    client_ip,
    client_user_agent,
    cookie_response,
    replaced_session_id,
    token_response,
)
from authapi.error_handlers import handle_api_error
from authapi.errors import REJECTED_TOKEN_CODES, Unauthorized
from authapi.ratelimits import (
    limit_login,
    limit_refresh,
    limit_register,
    limit_verified_refresh,
)
from authapi.schemas import login_schema, refresh_schema, register_schema, session_schema

blueprint = Blueprint("auth", __name__, url_prefix="/api/auth")
# Every blueprint's views: the caller, for those that need one (see guard).
blueprint.before_app_request(load_current_user)


@blueprint.post("/register")
@limit_register
def register() -> tuple[Response, int]:
    data = body.load(register_schema)
    user = service.register(data["name"], data["email"], data["password"])
    account_service.welcome(user, api_url=request.host_url)  # never fails the 201
    return jsonify(status="success", data={"user": service.public_user(user)}), 201


@blueprint.post("/login")
@limit_login
def login() -> Response:
    data = body.load(login_schema)
    issued = service.login(
        data["email"],
        data["password"],
        ip=client_ip(),
        user_agent=client_user_agent(),
        replacing=replaced_session_id(),
    )
    return token_response(issued)


def refuse_head() -> None:
    """Flask answers HEAD on every GET route; refresh and logout change state, so not here."""
    if request.method == "HEAD":
        raise MethodNotAllowed(valid_methods=["GET", "POST"])


@blueprint.route("/refresh", methods=["GET", "POST"])
@limit_refresh
def refresh() -> Response:
    refuse_head()
    if (
        request.method == "POST"
        and request.content_length
        and "refresh_token" in body.json_object()
    ):
        token = body.load(refresh_schema)["refresh_token"]
        return body_response(service.refresh(token, limit=limit_verified_refresh))
    token = request.cookies.get(REFRESH_COOKIE)
    if token:
        reject_cross_site()
    return cookie_response(service.refresh(token, limit=limit_verified_refresh))


@blueprint.route("/logout", methods=["GET", "POST"])
@login_required(changes_state=True)
def logout() -> Response:
    refuse_head()
    scope = request.args.get("scope", "local")
    service.logout(current_user(), scope)
    response = jsonify(status="success")
    if scope != "others":  # "others" keeps this device's session, and its cookies
        clear_auth_cookies(response)
    return response


@blueprint.app_errorhandler(Unauthorized)
def refuse_and_forget_an_ended_session(error: Unauthorized) -> Response:
    """Every 401 of the API, as JSON; a request whose cookie names a session that has
    ended (logged out everywhere from another device, a password change, an admin) or a
    token that never was one also gets its cookies cleared, on any route (GET
    /api/users/me is where front ends meet it). Otherwise the browser kept sending them
    and ``logged_in`` told the front end it was still signed in until the access
    lifetime ran out. A missing or expired access token is different (``You are not
    logged in``): the front end refreshes, so the refresh cookie must stay. An error
    handler, not an after-request hook: only 401s pay for the check."""
    response = handle_api_error(error)
    if error.code in REJECTED_TOKEN_CODES:
        token, from_cookie = access_token_from_request()
        if token and from_cookie:
            clear_auth_cookies(response)
    return response


@blueprint.get("/sessions")
@login_required()
def list_sessions() -> Response:
    caller = current_user()
    listed = [
        {**session_schema.dump(session), "current": session.id == caller.session_id}
        for session in service.list_sessions(caller)
    ]
    return jsonify(status="success", data={"sessions": listed})


@blueprint.delete("/sessions/<session_id>")
@login_required(changes_state=True)
def end_session(session_id: str) -> Response:
    caller = current_user()
    service.end_session(caller, session_id)
    response = jsonify(status="success")
    if session_id == caller.session_id:
        clear_auth_cookies(response)
    return response
