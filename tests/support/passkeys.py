"""Passkey steps through the real routes, with the software authenticator as the client."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.support.soft_authenticator import SoftAuthenticator

PASSKEYS = "/api/auth/passkeys"


def registration_options(client: FlaskClient, headers: dict[str, str] | None = None) -> dict:
    response = client.post(f"{PASSKEYS}/register/options", headers=headers or {})
    assert response.status_code == 200, response.json
    return response.json["data"]["options"]


def add_passkey(
    client: FlaskClient,
    authenticator: SoftAuthenticator,
    name: str | None = "My laptop",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Register a new passkey for the logged-in client; the API's passkey object."""
    options = registration_options(client, headers)
    credential = authenticator.create(options)
    body: dict[str, Any] = {"credential": credential}
    if name is not None:
        body["name"] = name
    response = client.post(f"{PASSKEYS}/register", json=body, headers=headers or {})
    assert response.status_code == 201, response.json
    return response.json["data"]["passkey"]


def login_options(client: FlaskClient) -> dict:
    response = client.post(f"{PASSKEYS}/login/options")
    assert response.status_code == 200, response.json
    return response.json["data"]["options"]


def passkey_login(
    client: FlaskClient,
    authenticator: SoftAuthenticator,
    headers: dict[str, str] | None = None,
    **bend: Any,
) -> Any:
    """Ask for options, let the authenticator answer (bent as asked), send it: the response."""
    credential = authenticator.get(login_options(client), **bend)
    return client.post(f"{PASSKEYS}/login", json={"credential": credential}, headers=headers or {})
