"""Admin views under /api/users (role ``admin`` only; 403 JSON for anyone else).

``/api/users/me`` and ``/api/users/me/...`` belong to the users blueprint: the
``uuid`` converter never matches ``me`` (nor ``events``), and a malformed id is the
usual 404 JSON.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify

from authapi import audit, body
from authapi.admin import service
from authapi.auth.guard import admin_required, current_user
from authapi.queries import load_query
from authapi.schemas import (
    admin_event_list_query_schema,
    admin_user_schema,
    admin_user_update_schema,
    auth_event_schema,
    user_list_query_schema,
)

blueprint = Blueprint("admin", __name__, url_prefix="/api/users")


@blueprint.get("")
@admin_required()
def list_users() -> Response:
    page = service.list_users(**load_query(user_list_query_schema))
    return jsonify(status="success", data=page.dump("users", admin_user_schema))


@blueprint.get("/<uuid:user_id>")
@admin_required()
def get_user(user_id: uuid.UUID) -> Response:
    user = service.get_user(user_id)
    return jsonify(status="success", data={"user": admin_user_schema.dump(user)})


@blueprint.patch("/<uuid:user_id>")
@admin_required(changes_state=True)
def update_user(user_id: uuid.UUID) -> Response:
    changes = body.load(admin_user_update_schema)
    user = service.update_user(current_user().id, user_id, changes)
    return jsonify(status="success", data={"user": admin_user_schema.dump(user)})


@blueprint.delete("/<uuid:user_id>")
@admin_required(changes_state=True)
def delete_user(user_id: uuid.UUID) -> Response:
    service.delete_user(current_user().id, user_id)
    return jsonify(status="success")


@blueprint.get("/events")
@admin_required()
def list_events() -> Response:
    page = audit.list_events(**load_query(admin_event_list_query_schema))
    return jsonify(status="success", data=page.dump("events", auth_event_schema))
