"""Thin views: parse input, call one service function, shape the response."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from authapi import body
from authapi.auth import service
from authapi.auth.cookies import (
    REFRESH_COOKIE,
    clear_auth_cookies,
    set_access_cookies,
    set_refresh_cookie,
)
from authapi.auth.guard import current_user, login_required, reject_cross_site
from authapi.schemas import login_schema, register_schema

blueprint = Blueprint("auth", __name__, url_prefix="/api/auth")


def client_ip() -> str:
    return request.remote_addr or ""


def _token_response(issued: service.IssuedTokens) -> Response:
    response = jsonify(status="success", access_token=issued.access_token)
    set_access_cookies(response, issued.access_token, issued.access_lifetime)
    set_refresh_cookie(response, issued.refresh_token, issued.refresh_lifetime)
    return response


@blueprint.post("/register")
def register() -> tuple[Response, int]:
    data = body.load(register_schema)
    user = service.register(data["name"], data["email"], data["password"])
    return jsonify(status="success", data={"user": service.public_user(user)}), 201


@blueprint.post("/login")
def login() -> Response:
    data = body.load(login_schema)
    issued = service.login(
        data["email"],
        data["password"],
        ip=client_ip(),
        user_agent=request.headers.get("User-Agent", ""),
    )
    return _token_response(issued)


@blueprint.route("/refresh", methods=["GET", "POST"])
def refresh() -> Response:
    token = request.cookies.get(REFRESH_COOKIE)
    if token:
        reject_cross_site()
    issued = service.refresh(token)
    return _token_response(issued)


@blueprint.route("/logout", methods=["GET", "POST"])
@login_required(changes_state=True)
def logout() -> Response:
    service.logout(current_user(), request.args.get("scope", "local"))
    response = jsonify(status="success")
    clear_auth_cookies(response)
    return response
