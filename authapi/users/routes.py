"""Views about the calling user."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from authapi.auth.guard import current_user, login_required

blueprint = Blueprint("users", __name__, url_prefix="/api/users")


@blueprint.get("/me")
@login_required()
def me() -> Response:
    return jsonify(status="success", data={"user": current_user().data})
