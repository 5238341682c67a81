"""Webhook helpers shared by the webhook tests: an admin, an endpoint, one worker round,
and the payloads a receiver got (verified)."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from authapi.webhooks import worker
from tests.helpers import PASSWORD, bearer, login
from tests.support.receiver import Receiver

ALL_EVENTS = [
    "user.created",
    "user.verified",
    "user.updated",
    "user.disabled",
    "user.deleted",
    "password.changed",
    "session.created",
    "session.revoked",
    "refresh.reuse_detected",
]
WEBHOOK_SETTINGS = {
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": True,
    "WEBHOOK_CONNECT_TIMEOUT": 5.0,
    "WEBHOOK_READ_TIMEOUT": 10.0,
}


def make_admin(app: Flask, email: str = "root@example.com") -> str:
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", email, "--name", "Root", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    return login(app.test_client(), email=email)


def create_webhook(
    client: FlaskClient, token: str, url: str, events: list[str] | None = None, **fields: Any
) -> dict[str, Any]:
    response = client.post(
        "/api/webhooks",
        json={"url": url, "events": events or ALL_EVENTS, **fields},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.json
    return response.json["data"]["webhook"]


def run_worker(app: Flask, now: float | None = None, **kwargs: Any) -> int:
    with app.app_context():
        return worker.run_once(now=time.time() if now is None else now, **kwargs)


def payloads(receiver: Receiver, secret: str) -> list[Any]:
    """Every payload received, each verified with the Standard Webhooks package."""
    return [item.verified(secret) for item in receiver.received]
