"""Small helpers the tests share: acting through the real routes, asserting the envelope."""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect

from authapi.extensions import db

PASSWORD = "correct horse battery"
# Seconds a test waits for something before calling it hung. Only a hang takes this
# long: a busy machine (a parallel run, a load test on every core) never does, so no
# test fails because the machine is slow. Waits end as soon as the thing happens.
HANG = 300.0

# Fetch Metadata, as every browser sends with every request and no script's client does
# (a test client's ``environ_base``): what tells a browser's sign-in (auth.responses).
FETCH_METADATA = {"HTTP_SEC_FETCH_SITE": "same-origin", "HTTP_SEC_FETCH_MODE": "cors"}


def register(
    client: FlaskClient,
    email: str = "alice@example.com",
    password: str = PASSWORD,
    name: str = "Alice",
) -> dict[str, Any]:
    response = client.post(
        "/api/auth/register",
        json={"name": name, "email": email, "password": password, "passwordConfirm": password},
    )
    assert response.status_code == 201, response.json
    return response.json["data"]["user"]


def login(client: FlaskClient, email: str = "alice@example.com", password: str = PASSWORD) -> str:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def assert_fail(response: Any, status: int, message: str | None = None) -> None:
    """The contract's error envelope: JSON, status fail/error, a message."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == ("fail" if status < 500 else "error")
    assert isinstance(body["message"], str) and body["message"]
    if message is not None:
        assert body["message"] == message


def status_of(request: Request) -> int:
    """Send a request to a live server over real HTTP; the status (errors must be JSON)."""
    try:
        with urlopen(request, timeout=HANG) as response:
            return response.status
    except HTTPError as error:
        assert error.headers["Content-Type"] == "application/json"
        return error.code


def post_json_status(url: str, payload: dict[str, Any]) -> int:
    """POST JSON to a live server over real HTTP; the status (errors must be JSON too)."""
    return status_of(
        Request(
            url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
    )


def raw_http_exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes to a live server on loopback and read the answer until it closes
    the connection: (status, lower-cased headers, body), for requests no client sends.
    An interim answer before the final one (``100 Continue``) is skipped."""
    with socket.create_connection(("127.0.0.1", port), timeout=HANG) as connection:
        connection.sendall(raw)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    while head.startswith(b"HTTP/1.1 1"):
        head, _, body = body.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


TOKEN_MODE = {"X-Auth-Mode": "token"}  # log in as an app: tokens in the body, no cookies


def table_names(app: Flask) -> set[str]:
    """The tables in the app's database, as they are now (migration tests)."""
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_login(
    client: FlaskClient, email: str = "alice@example.com", password: str = PASSWORD
) -> dict[str, Any]:
    """Log in in token mode: the JSON body with both tokens (and no cookie set)."""
    response = client.post(
        "/api/auth/login", json={"email": email, "password": password}, headers=TOKEN_MODE
    )
    assert response.status_code == 200, response.get_json()
    assert "Set-Cookie" not in response.headers
    return response.get_json()


def refresh_by_body(client: FlaskClient, refresh_token: str, **kwargs: Any) -> Any:
    return client.post("/api/auth/refresh", json={"refresh_token": refresh_token}, **kwargs)


def rotate_and_use(client: FlaskClient, refresh_token: str, **kwargs: Any) -> dict[str, Any]:
    """Refresh by body and use the new access token once, as a client that got the
    answer does: only then is the superseded refresh token a reuse after the grace
    window (until then it is the token of a client whose answer was lost)."""
    response = refresh_by_body(client, refresh_token, **kwargs)
    assert response.status_code == 200, response.json
    used = client.get("/api/users/me", headers=bearer(response.json["access_token"]))
    assert used.status_code == 200, used.json
    return response.json


def update_all_users(app: Flask, **values: Any) -> None:
    """Set columns on every user row directly (what no endpoint offers: an account
    verified or disabled behind the API's back)."""
    from authapi.models import User

    with app.app_context():
        db.session.execute(db.update(User).values(**values))
        db.session.commit()
        db.session.remove()
