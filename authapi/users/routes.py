"""Views about the calling user."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from authapi import audit, body
from authapi.auth import service as auth_service
from authapi.auth.cookies import clear_auth_cookies
from authapi.auth.guard import current_user, login_required
from authapi.mfa import service as mfa_service
from authapi.passkeys import schemas as passkey_schemas
from authapi.queries import load_query
from authapi.ratelimits import limit_password_change
from authapi.schemas import (
    auth_event_schema,
    change_password_schema,
    event_list_query_schema,
    profile_update_schema,
)
from authapi.users import deletion, email_change, service
from authapi.users.schemas import email_change_code_schema, email_change_schema

blueprint = Blueprint("users", __name__, url_prefix="/api/users")


@blueprint.get("/me")
@login_required()
def me() -> Response:
    caller = current_user()
    # "mfa": the names of the account's second factors (["totp"], [] for none).
    mfa = caller.mfa if caller.mfa is not None else mfa_service.factor_names(caller.id)
    return jsonify(status="success", data={"user": caller.data, "mfa": mfa})


@blueprint.patch("/me")
@login_required(changes_state=True)
def update_me() -> Response:
    """The caller's own ``name`` and ``photo``; any other field is a 400."""
    changes = body.load(profile_update_schema)
    user = service.update_profile(current_user().id, changes)
    return jsonify(status="success", data={"user": auth_service.public_user(user)})


@blueprint.delete("/me")
@login_required(changes_state=True)
@limit_password_change
def delete_me() -> Response:
    """Delete the caller's account, confirmed by the password, a current TOTP code or a
    passkey's answer; the answer clears the auth cookies as a logout does."""
    proof = passkey_schemas.load(passkey_schemas.confirmation_schema)
    deletion.delete_own_account(
        current_user().id,
        password=proof.get("password"),
        code=proof.get("code"),
        credential=proof.get("credential"),
    )
    response = jsonify(status="success")
    clear_auth_cookies(response)
    return response


@blueprint.post("/me/email")
@login_required(changes_state=True)
@limit_password_change
def request_email_change() -> Response:
    """Mail a code to the new address; nothing changes until it comes back."""
    data = passkey_schemas.load(email_change_schema)
    email_change.request_change(
        current_user().id,
        data["email"],
        password=data.get("password"),
        code=data.get("code"),
        credential=data.get("credential"),
    )
    return jsonify(status="success", message=email_change.code_sent_message())


@blueprint.post("/me/email/confirm")
@login_required(changes_state=True)
def confirm_email_change() -> Response:
    data = body.load(email_change_code_schema)
    user = email_change.confirm_change(current_user().id, data["code"])
    return jsonify(status="success", data={"user": auth_service.public_user(user)})


@blueprint.patch("/me/password")
@login_required(changes_state=True)
@limit_password_change
def change_password() -> Response:
    data = body.load(change_password_schema)
    caller = current_user()
    ended = service.change_password(
        auth_service.caller_account(caller.id),
        data["currentPassword"],
        data["password"],
        keep=caller.session_id,
    )
    return jsonify(status="success", message="Password updated", data={"sessions_ended": ended})


@blueprint.get("/me/events")
@login_required()
def my_events() -> Response:
    """The caller's own audit log, newest first (``?page``, ``per_page``, ``event``)."""
    page = audit.list_events(user_id=current_user().id, **load_query(event_list_query_schema))
    return jsonify(status="success", data=page.dump("events", auth_event_schema))
