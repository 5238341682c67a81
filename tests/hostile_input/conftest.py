"""The victim: a registered, logged-in user whose tokens the tests forge from."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from flask import Flask

from tests.helpers import PASSWORD, TOKEN_MODE, register
from tests.hostile_input.common import EMAIL, LOGIN, Signer, Victim, assert_no_cookies


@pytest.fixture
def victim(app: Flask, client: Any) -> Victim:
    register(client)
    response = client.post(LOGIN, json={"email": EMAIL, "password": PASSWORD}, headers=TOKEN_MODE)
    assert response.status_code == 200, response.json
    assert_no_cookies(response)  # token mode: the client jar stays empty
    access_token = response.json["access_token"]
    claims = jwt.decode(access_token, options={"verify_signature": False})
    return Victim(
        user_id=claims["sub"],
        session_id=claims["sid"],
        access_token=access_token,
        refresh_token=response.json["refresh_token"],
        access=Signer.from_config(app, "ACCESS_TOKEN"),
        refresh=Signer.from_config(app, "REFRESH_TOKEN"),
        issuer=app.config["JWT_ISSUER"],
        audience=app.config["JWT_AUDIENCE"],
    )
