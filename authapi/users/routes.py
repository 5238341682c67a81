"""Views about the calling user."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from authapi import body
from authapi.auth import service as auth_service
from authapi.auth.guard import current_user, login_required
from authapi.errors import Unauthorized
from authapi.schemas import change_password_schema
from authapi.users import service

blueprint = Blueprint("users", __name__, url_prefix="/api/users")


@blueprint.get("/me")
@login_required()
def me() -> Response:
    return jsonify(status="success", data={"user": current_user().data})


@blueprint.patch("/me/password")
@login_required(changes_state=True)
def change_password() -> Response:
    data = body.load(change_password_schema)
    caller = current_user()
    user = auth_service.find_user_by_id(caller.id)
    if user is None:
        raise Unauthorized(auth_service.SESSION_ENDED)
    ended = service.change_password(
        user, data["currentPassword"], data["password"], keep=caller.session_id
    )
    return jsonify(status="success", message="Password updated", data={"sessions_ended": ended})
