"""The "Also" list: a cap on live sessions per user (the oldest end first) and a
retention period for the audit log, pruned by ``flask audit prune``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import func, select

from authapi import create_app
from authapi.configuration import ConfigurationError
from authapi.extensions import db
from authapi.models import AuthEvent
from tests.helpers import login, register
from tests.test_deploy_files import service


def _me(client, token: str) -> int:
    return client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_new_login_beyond_the_cap_ends_the_oldest_sessions(make_app, redis_client):
    app = make_app(MAX_SESSIONS_PER_USER=3)
    client = app.test_client()
    register(client)
    # Five devices (five sign-ins in one browser would each end the one before).
    tokens = [login(app.test_client()) for _ in range(5)]
    assert [_me(client, token) for token in tokens] == [401, 401, 200, 200, 200]
    listed = client.get(
        "/api/auth/sessions", headers={"Authorization": f"Bearer {tokens[-1]}"}
    ).json["data"]["sessions"]
    assert len(listed) == 3
    # No key of an ended session is left behind.
    assert len(list(redis_client.scan_iter("*:session:*"))) == 3


def test_the_cap_is_per_user(make_app):
    app = make_app(MAX_SESSIONS_PER_USER=1)
    client = app.test_client()
    register(client)
    register(client, email="bob@example.com")
    alice = login(app.test_client())
    bob = login(app.test_client(), email="bob@example.com")
    assert (_me(client, alice), _me(client, bob)) == (200, 200)


def test_the_cap_is_checked_at_start(base_config):
    with pytest.raises(ConfigurationError, match="MAX_SESSIONS_PER_USER"):
        create_app({**base_config, "MAX_SESSIONS_PER_USER": 0})


def _add_event(app, days_ago: float) -> None:
    with app.app_context():
        db.session.add(
            AuthEvent(
                id=uuid.uuid4(),
                event="login_failed",
                created_at=datetime.now(UTC) - timedelta(days=days_ago),
            )
        )
        db.session.commit()


def _count(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(AuthEvent))
        db.session.remove()
        return count


def test_audit_prune_deletes_rows_older_than_the_retention(make_app):
    app = make_app(AUDIT_RETENTION_DAYS=30)
    for days in (400, 31, 29, 0):
        _add_event(app, days)
    result = app.test_cli_runner().invoke(args=["audit", "prune"])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 audit events older than 30 days." in result.output
    assert _count(app) == 2
    again = app.test_cli_runner().invoke(args=["audit", "prune", "--days", "1"])
    assert "Deleted 1 audit events" in again.output
    assert _count(app) == 1


def test_a_retention_of_zero_keeps_everything(make_app):
    app = make_app(AUDIT_RETENTION_DAYS=0)
    _add_event(app, 4000)
    result = app.test_cli_runner().invoke(args=["audit", "prune"])
    assert result.exit_code == 0 and "nothing deleted" in result.output
    assert _count(app) == 1


def test_compose_runs_the_prune_daily_on_the_internal_network():
    prune = service("prune")
    assert "flask --app wsgi audit prune" in " ".join(prune["command"])
    assert prune["networks"] == ["internal"]
    assert not prune.get("ports")


def test_sessions_that_idled_out_do_not_count_against_the_cap(make_app, redis_client):
    """Found by the blackbox6 audit: a session whose idle timeout ran out (Redis expired
    its key) stayed in the user's index until the absolute cap, and still counted, so a
    login ended a live session although the user had fewer live ones than the cap."""
    app = make_app(MAX_SESSIONS_PER_USER=2)
    client = app.test_client()
    register(client)
    kept = login(app.test_client())  # each on a device of its own
    idle = login(app.test_client())
    # What Redis does when the idle session's TTL runs out: its key goes, nothing else.
    [idle_key] = [
        key
        for key in redis_client.scan_iter("*:session:*")
        if key.endswith(":" + jwt.decode(idle, options={"verify_signature": False})["sid"])
    ]
    redis_client.delete(idle_key)
    newest = login(app.test_client())
    assert (_me(client, kept), _me(client, newest)) == (200, 200)
    listed = client.get("/api/auth/sessions", headers={"Authorization": f"Bearer {newest}"}).json[
        "data"
    ]["sessions"]
    assert len(listed) == 2
