"""Thin views of the second-factor routes (the rules are in authapi.mfa.service)."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify

from authapi import body
from authapi.auth import service as auth_service
from authapi.auth.guard import admin_required, current_user, login_required
from authapi.auth.responses import (
    client_ip,
    client_user_agent,
    replaced_session_id,
    token_response,
)
from authapi.mfa import login, service
from authapi.mfa.schemas import code_or_password_schema, code_schema, login_mfa_schema
from authapi.models import User
from authapi.ratelimits import limit_mfa_login

blueprint = Blueprint("mfa", __name__, url_prefix="/api/auth")
admin_blueprint = Blueprint("mfa_admin", __name__, url_prefix="/api/users")


def _caller() -> User:
    return auth_service.caller_account(current_user().id)


@blueprint.get("/mfa")
@login_required()
def status() -> Response:
    return jsonify(status="success", data=service.status(current_user().id))


@blueprint.post("/mfa/totp")
@login_required(changes_state=True)
def start_totp() -> Response:
    return jsonify(status="success", data=service.start_totp(_caller()))


@blueprint.post("/mfa/totp/confirm")
@login_required(changes_state=True)
def confirm_totp() -> Response:
    data = body.load(code_schema)
    codes = service.confirm_totp(_caller(), data["code"])
    return jsonify(status="success", data={"recovery_codes": codes})


@blueprint.delete("/mfa/totp")
@login_required(changes_state=True)
def disable_totp() -> Response:
    data = body.load(code_or_password_schema)
    service.disable_totp(_caller(), code=data.get("code"), password=data.get("password"))
    return jsonify(status="success")


@blueprint.post("/mfa/recovery-codes")
@login_required(changes_state=True)
def replace_recovery_codes() -> Response:
    data = body.load(code_or_password_schema)
    codes = service.replace_recovery_codes(
        _caller(), code=data.get("code"), password=data.get("password")
    )
    return jsonify(status="success", data={"recovery_codes": codes})


@blueprint.post("/login/mfa")
@limit_mfa_login
def login_mfa() -> Response:
    data = body.load(login_mfa_schema)
    factor, proof = login.pick_proof(data)
    issued = login.complete(
        data["mfa_token"],
        factor,
        proof,
        ip=client_ip(),
        user_agent=client_user_agent(),
        replacing=replaced_session_id(),
    )
    return token_response(issued)


@admin_blueprint.delete("/<uuid:user_id>/mfa")
@admin_required(changes_state=True)
def admin_remove_all(user_id: uuid.UUID) -> Response:
    removed = service.admin_remove_all(current_user().id, user_id)
    return jsonify(status="success", data={"removed": removed})
