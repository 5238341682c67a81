"""Second-factor helpers shared by the MFA tests: enrol TOTP through the routes and
compute codes with pyotp at the app's (frozen) clock."""

from __future__ import annotations

from typing import Any

import jwt
import pyotp
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers import PASSWORD, bearer

STEP = 30


def frozen_now(app: Flask) -> float:
    return float(app.config["CLOCK_FROZEN_AT"])


def move_clock(app: Flask, seconds: float) -> None:
    app.config["CLOCK_FROZEN_AT"] = frozen_now(app) + seconds


def code_at(secret: str, when: float) -> str:
    return pyotp.TOTP(secret).at(when)


def enrol_totp(client: FlaskClient, app: Flask, token: str) -> tuple[str, list[str]]:
    """Enrol and confirm TOTP for the token's user: (secret, recovery codes). The
    confirming code's step is used up: move the clock a step before the next code."""
    started = client.post("/api/auth/mfa/totp", headers=bearer(token))
    assert started.status_code == 200, started.json
    secret = started.json["data"]["secret"]
    confirmed = client.post(
        "/api/auth/mfa/totp/confirm",
        json={"code": code_at(secret, frozen_now(app))},
        headers=bearer(token),
    )
    assert confirmed.status_code == 200, confirmed.json
    move_clock(app, STEP)
    return secret, confirmed.json["data"]["recovery_codes"]


def password_login(
    client: FlaskClient, email: str = "alice@example.com", password: str = PASSWORD
) -> Any:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def mfa_token(client: FlaskClient, email: str = "alice@example.com") -> str:
    response = password_login(client, email)
    assert response.status_code == 403, response.json
    return response.json["mfa_token"]


def claims(access_token: str) -> dict[str, Any]:
    return jwt.decode(access_token, options={"verify_signature": False})
