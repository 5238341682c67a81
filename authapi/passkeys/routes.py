"""Passkey routes under ``/api/auth/passkeys``: thin views over :mod:`service`.

Adding one takes two calls (options, then the browser's credential), and so does
signing in with one; a sign-in answers exactly like a password login (cookies, or
tokens in the body with ``X-Auth-Mode: token``).
"""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify

from authapi.auth.guard import current_user, login_required
from authapi.auth.responses import (
    client_ip,
    client_user_agent,
    replaced_session_id,
    token_response,
)
from authapi.mfa.schemas import mfa_token_schema
from authapi.passkeys import (
    factor,  # noqa: F401 - registers the passkey factor kind
    service,
)
from authapi.passkeys.schemas import (
    confirmation_schema,
    load,
    login_schema,
    passkey_schema,
    register_schema,
    rename_schema,
)
from authapi.ratelimits import limit_passkey_login

blueprint = Blueprint("passkeys", __name__, url_prefix="/api/auth/passkeys")
# The second step of a password login is under /api/auth/login/mfa (authapi.mfa).
second_factor_blueprint = Blueprint("passkeys_mfa", __name__, url_prefix="/api/auth/login/mfa")


def _options(options: dict) -> Response:
    return jsonify(status="success", data={"options": options})


@blueprint.post("/register/options")
@login_required(changes_state=True)
def registration_options() -> Response:
    return _options(service.registration_options(current_user().id))


@blueprint.post("/register")
@login_required(changes_state=True)
def register() -> tuple[Response, int]:
    data = load(register_schema)
    passkey = service.register(current_user().id, data["credential"], data["name"])
    return jsonify(status="success", data={"passkey": passkey_schema.dump(passkey)}), 201


@blueprint.get("")
@login_required()
def list_passkeys() -> Response:
    passkeys = service.list_passkeys(current_user().id)
    return jsonify(status="success", data={"passkeys": passkey_schema.dump(passkeys, many=True)})


@blueprint.patch("/<uuid:passkey_id>")
@login_required(changes_state=True)
def rename(passkey_id: uuid.UUID) -> Response:
    data = load(rename_schema)
    passkey = service.rename(current_user().id, passkey_id, data["name"])
    return jsonify(status="success", data={"passkey": passkey_schema.dump(passkey)})


@blueprint.post("/reauth/options")
@login_required(changes_state=True)
def reauth_options() -> Response:
    return _options(service.reauth_options(current_user().id))


@blueprint.delete("/<uuid:passkey_id>")
@login_required(changes_state=True)
def remove(passkey_id: uuid.UUID) -> Response:
    data = load(confirmation_schema)
    service.remove(
        current_user().id,
        passkey_id,
        password=data.get("password"),
        code=data.get("code"),
        credential=data.get("credential"),
    )
    return jsonify(status="success")


@blueprint.post("/login/options")
@limit_passkey_login
def login_options() -> Response:
    return _options(service.login_options())


@blueprint.post("/login")
@limit_passkey_login
def login() -> Response:
    data = load(login_schema)
    issued = service.login(
        data["credential"],
        ip=client_ip(),
        user_agent=client_user_agent(),
        replacing=replaced_session_id(),
    )
    return token_response(issued)


@second_factor_blueprint.post("/passkey-options")
@limit_passkey_login
def second_factor_options() -> Response:
    data = load(mfa_token_schema)
    return _options(service.second_factor_options(data["mfa_token"]))
