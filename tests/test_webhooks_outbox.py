"""Never lost: every event is written with the change it reports.

Session events (a change in Redis) go to the Redis outbox in the same script or MULTI
as the change and are relayed into the database; second-factor changes commit with
their events. PostgreSQL is taken away from one app by a TCP proxy in front of the
shared server (tests/support/tcp_proxy.py), which stays untouched.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from authapi import events, redis_outbox
from authapi.extensions import db, redis_store
from authapi.mfa.models import TotpFactor
from authapi.models import User
from authapi.webhooks import catalog, outbox, relay
from authapi.webhooks.models import WebhookDelivery, WebhookEvent
from tests.helpers import bearer, register, rotate_and_use, token_login
from tests.support.tcp_proxy import TcpProxy, proxy_to
from tests.support.webhooks import (
    WEBHOOK_SETTINGS,
    create_webhook,
    make_admin,
    payloads,
    run_worker,
)

SESSION_EVENTS = ["session.created", "session.revoked", "refresh.reuse_detected"]


def proxied_app(make_app, database_url: str, proxy: TcpProxy, **settings: Any) -> Flask:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    return make_app(
        **WEBHOOK_SETTINGS,
        SQLALCHEMY_DATABASE_URI=url.render_as_string(hide_password=False),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "connect_args": {"connect_timeout": 2}},
        **settings,
    )


@pytest.fixture
def proxy(database_url):
    url = make_url(database_url)
    with proxy_to(url.host or "127.0.0.1", url.port or 5432) as running:
        yield running


def in_redis(app: Flask, user_id: str) -> list[dict[str, Any]]:
    with app.app_context():
        items = redis_store.client.lrange(redis_outbox.list_key(user_id), 0, -1)
    return [json.loads(item) for item in items]


def stored(app: Flask, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def types(received: list[dict[str, Any]]) -> list[str]:
    return [payload["type"] for payload in received]


def test_a_login_while_postgres_is_down_is_delivered_once_it_is_back(
    make_app, database_url, proxy, receiver
):
    app = proxied_app(make_app, database_url, proxy)
    client = app.test_client()
    webhook = create_webhook(client, make_admin(app), receiver.url, ["session.created"])
    user = register(client)

    def postgres_goes_away(_sender: Flask, **_data: Any) -> None:
        proxy.cut()  # the session exists; its event cannot reach the database now

    events.login_succeeded.connect(postgres_goes_away, sender=app)
    try:
        tokens = token_login(client)
    finally:
        events.login_succeeded.disconnect(postgres_goes_away, sender=app)
    assert tokens["access_token"]
    waiting = in_redis(app, user["id"])
    assert types(waiting) == ["session.created"]
    assert waiting[0]["data"] == {
        "user_id": user["id"],
        "session_id": waiting[0]["data"]["session_id"],
    }

    proxy.restore()
    assert run_worker(app) == 1
    assert in_redis(app, user["id"]) == []
    received = payloads(receiver, webhook["secret"])
    assert types(received) == ["session.created"]
    assert received[0]["data"]["user_id"] == user["id"]
    assert receiver.received[0].webhook_id == waiting[0]["id"]
    assert run_worker(app) == 0
    assert len(receiver.received) == 1


def test_redis_events_wait_for_postgres_in_order(make_app, database_url, proxy, receiver):
    app = proxied_app(make_app, database_url, proxy)
    replay = proxied_app(make_app, database_url, proxy, REFRESH_REUSE_INTERVAL=0).test_client()
    client = app.test_client()
    webhook = create_webhook(client, make_admin(app), receiver.url, SESSION_EVENTS)
    user = register(client)
    first, second = token_login(client), token_login(client)
    rotate_and_use(client, second["refresh_token"])
    assert run_worker(app) == 2  # both logins, relayed as they happened
    receiver.received.clear()

    proxy.cut()  # neither a logout nor a refresh needs PostgreSQL: both go on
    logout = client.get("/api/auth/logout", headers=bearer(first["access_token"]))
    assert logout.status_code == 200, logout.json
    assert (
        replay.post(
            "/api/auth/refresh", json={"refresh_token": second["refresh_token"]}
        ).status_code
        == 403
    )
    assert types(in_redis(app, user["id"])) == ["session.revoked", "refresh.reuse_detected"]

    proxy.restore()
    assert run_worker(app) == 2
    received = payloads(receiver, webhook["secret"])
    assert types(received) == ["session.revoked", "refresh.reuse_detected"]
    assert received[0]["data"]["scope"] == "local" and received[0]["data"]["ended"] == 1
    assert received[1]["data"]["session_id"] != received[0]["data"]["session_id"]


def test_the_relay_is_idempotent(make_app, receiver):
    app = make_app(**WEBHOOK_SETTINGS)
    client = app.test_client()
    webhook = create_webhook(client, make_admin(app), receiver.url, SESSION_EVENTS)
    user_id = str(uuid.uuid4())
    with app.app_context():
        items = [
            redis_outbox.entry(catalog.SESSION_CREATED, user_id, {"user_id": user_id, "n": n})
            for n in range(3)
        ]
        redis_store.client.rpush(redis_outbox.list_key(user_id), *items)
        redis_store.client.sadd(redis_outbox.index_key(), user_id)
        # A relay that committed, then died before removing its entries from Redis:
        with db.engine.begin() as connection:
            outbox.write(connection, [relay.parse(item) for item in items[:2]], now=time.time())
        assert relay.relay_pending() == 3  # read again, inserted as nothing
        assert relay.relay_pending() == 0
        assert redis_store.client.sismember(redis_outbox.index_key(), user_id) == 0
    assert in_redis(app, user_id) == []
    assert stored(app, WebhookEvent) == 3
    assert stored(app, WebhookDelivery) == 3
    run_worker(app)
    received = payloads(receiver, webhook["secret"])
    assert [payload["data"]["n"] for payload in received] == [0, 1, 2]
    assert len({item.webhook_id for item in receiver.received}) == 3


def test_an_unindexed_list_is_found_by_the_sweep(make_app, receiver):
    app = make_app(**WEBHOOK_SETTINGS)
    client = app.test_client()
    webhook = create_webhook(client, make_admin(app), receiver.url, SESSION_EVENTS)
    user_id = str(uuid.uuid4())
    with app.app_context():
        item = redis_outbox.entry(catalog.SESSION_CREATED, user_id, {"user_id": user_id})
        redis_store.client.rpush(redis_outbox.list_key(user_id), item)  # died before SADD
    assert run_worker(app) == 0
    assert run_worker(app, sweep=True) == 1
    assert types(payloads(receiver, webhook["secret"])) == ["session.created"]
    assert in_redis(app, user_id) == []


def test_reuse_detection_produces_exactly_one_event(make_app, receiver):
    app = make_app(**WEBHOOK_SETTINGS)
    replay = make_app(**WEBHOOK_SETTINGS, REFRESH_REUSE_INTERVAL=0).test_client()
    client = app.test_client()
    webhook = create_webhook(client, make_admin(app), receiver.url, ["refresh.reuse_detected"])
    user = register(client)
    first = token_login(client)["refresh_token"]
    rotate_and_use(client, first)
    for _ in range(3):
        assert replay.post("/api/auth/refresh", json={"refresh_token": first}).status_code == 403
    run_worker(app)
    received = payloads(receiver, webhook["secret"])
    assert types(received) == ["refresh.reuse_detected"]
    assert received[0]["data"]["user_id"] == user["id"]
    assert in_redis(app, user["id"]) == []


def test_events_nobody_wants_are_not_kept(make_app):
    app = make_app(**WEBHOOK_SETTINGS)
    replay = make_app(**WEBHOOK_SETTINGS, REFRESH_REUSE_INTERVAL=0).test_client()
    client = app.test_client()
    user = register(client)
    tokens = token_login(client)
    rotate_and_use(client, tokens["refresh_token"])
    # The replay's event is appended with the revocation (no question asked on the
    # refresh path), then dropped by the relay.
    assert (
        replay.post(
            "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        ).status_code
        == 403
    )
    assert in_redis(app, user["id"]) == []
    with app.app_context():
        assert redis_store.client.scard(redis_outbox.index_key()) == 0
    assert stored(app, WebhookEvent) == 0


def test_a_rolled_back_second_factor_change_leaves_no_event(make_app, receiver):
    app = make_app(**WEBHOOK_SETTINGS)
    client = app.test_client()
    create_webhook(client, make_admin(app), receiver.url, ["mfa.enrolled", "user.updated"])
    user = register(client)
    with app.app_context():
        db.session.add(
            TotpFactor(user_id=uuid.UUID(user["id"]), secret_encrypted="x", last_used_step=0)
        )
        db.session.commit()  # nothing queued: no event
        db.session.expunge_all()
        outbox.queue(catalog.MFA_ENROLLED, user["id"], factor="totp")
        # A second TOTP factor for the account: the commit fails.
        db.session.add(
            TotpFactor(user_id=uuid.UUID(user["id"]), secret_encrypted="y", last_used_step=0)
        )
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        outbox.queue(catalog.MFA_ENROLLED, user["id"], factor="totp")
        db.session.rollback()
        # The next transaction carries none of them.
        db.session.get(User, uuid.UUID(user["id"])).name = "Alice B"
        db.session.commit()
        stored_types = db.session.scalars(select(WebhookEvent.type)).all()
    assert stored_types == ["user.updated"]


def test_a_second_factor_commits_with_its_event(make_app, receiver):
    app = make_app(**WEBHOOK_SETTINGS)
    client = app.test_client()
    webhook = create_webhook(client, make_admin(app), receiver.url, ["mfa.enrolled"])
    user = register(client)
    with app.app_context():
        outbox.queue(catalog.MFA_ENROLLED, user["id"], factor="totp")
        db.session.add(
            TotpFactor(user_id=uuid.UUID(user["id"]), secret_encrypted="x", last_used_step=0)
        )
        db.session.commit()
    run_worker(app)
    received = payloads(receiver, webhook["secret"])
    assert [payload["data"] for payload in received] == [{"user_id": user["id"], "factor": "totp"}]


def test_without_subscribers_a_login_queues_nothing_in_redis(make_app):
    app = make_app(**WEBHOOK_SETTINGS)
    client = app.test_client()
    user = register(client)
    tokens = token_login(client)
    assert client.get("/api/auth/logout", headers=bearer(tokens["access_token"])).status_code == 200
    with app.app_context():
        assert redis_store.client.exists(redis_outbox.list_key(user["id"])) == 0
        assert redis_store.client.scard(redis_outbox.index_key()) == 0


def test_sessions_ended_by_the_cap_are_reported(make_app, receiver):
    app = make_app(**WEBHOOK_SETTINGS, MAX_SESSIONS_PER_USER=1)
    client = app.test_client()
    webhook = create_webhook(client, make_admin(app), receiver.url, SESSION_EVENTS)
    run_worker(app)
    receiver.received.clear()
    user = register(client)
    token_login(client)
    token_login(client)  # the first session ends
    run_worker(app)
    received = payloads(receiver, webhook["secret"])
    assert types(received) == ["session.created", "session.created", "session.revoked"]
    assert received[2]["data"] == {"user_id": user["id"], "scope": "cap", "ended": 1}
