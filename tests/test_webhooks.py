"""Webhooks end to end: the admin API, the outbox written with each change, and the
delivery worker against real HTTP receivers (tests/support/receiver.py) that verify
every signature with the Standard Webhooks package.

Time moves through the worker's ``now=``; a receiver that "times out" holds the
request until released, past a short configured read timeout.
"""

from __future__ import annotations

import datetime
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from authapi.extensions import db
from authapi.models import User
from authapi.webhooks import service as webhook_service
from authapi.webhooks import signing, transport, worker
from authapi.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.helpers import PASSWORD, assert_fail, bearer, login, register
from tests.support import mfa as mfa_support
from tests.support.receiver import Answer
from tests.support.smtp_sink import delivered
from tests.support.webhooks import (
    ALL_EVENTS,
    WEBHOOK_SETTINGS,
    create_webhook,
    make_admin,
    payloads,
    run_worker,
)

ROOT = Path(__file__).resolve().parents[1]
ADMINS_ONLY = "You are not allowed to do this: admins only"
ALL_MFA_EVENTS = [
    "mfa.enrolled",
    "mfa.removed",
    "mfa.used",
    "mfa.failed",
    "mfa.recovery_codes_generated",
]
WEBHOOK_FIELDS = {
    "id",
    "url",
    "description",
    "events",
    "enabled",
    "disabled_reason",
    "consecutive_failures",
    "previous_secret_expires_at",
    "created_at",
    "updated_at",
}


@pytest.fixture
def wh_app(make_app):
    return make_app(**WEBHOOK_SETTINGS)


@pytest.fixture
def wh_client(wh_app):
    return wh_app.test_client()


@pytest.fixture
def admin(wh_app):
    return make_admin(wh_app)


def deliveries(client, token, webhook_id, **query):
    response = client.get(
        f"/api/webhooks/{webhook_id}/deliveries", query_string=query, headers=bearer(token)
    )
    assert response.status_code == 200, response.json
    return response.json["data"]["deliveries"]


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# --- the admin API ------------------------------------------------------------------


def test_only_admins_manage_webhooks(wh_app, wh_client, admin, receiver):
    assert_fail(wh_client.get("/api/webhooks"), 401)
    register(wh_client)
    user = login(wh_client)
    assert_fail(wh_client.get("/api/webhooks", headers=bearer(user)), 403, ADMINS_ONLY)
    response = wh_client.post(
        "/api/webhooks", json={"url": receiver.url, "events": ALL_EVENTS}, headers=bearer(user)
    )
    assert_fail(response, 403, ADMINS_ONLY)
    assert count(wh_app, WebhookEndpoint) == 0


def test_create_shows_the_secret_once_and_crud(wh_client, admin, receiver):
    created = create_webhook(
        wh_client, admin, receiver.url, ["user.created"], description="CRM sync"
    )
    assert set(created) == WEBHOOK_FIELDS | {"secret"}
    assert created["secret"].startswith("whsec_")
    assert created["enabled"] is True and created["events"] == ["user.created"]
    assert created["description"] == "CRM sync"

    listed = wh_client.get("/api/webhooks", headers=bearer(admin)).json["data"]
    assert listed["total"] == 1 and set(listed["webhooks"][0]) == WEBHOOK_FIELDS
    one = wh_client.get(f"/api/webhooks/{created['id']}", headers=bearer(admin))
    assert one.status_code == 200 and "secret" not in one.json["data"]["webhook"]

    patched = wh_client.patch(
        f"/api/webhooks/{created['id']}",
        json={"events": ["user.deleted", "session.created"], "enabled": False},
        headers=bearer(admin),
    )
    assert patched.status_code == 200
    webhook = patched.json["data"]["webhook"]
    assert webhook["events"] == ["user.deleted", "session.created"]
    assert webhook["enabled"] is False and webhook["disabled_reason"] == "admin"
    assert "secret" not in webhook

    gone = wh_client.delete(f"/api/webhooks/{created['id']}", headers=bearer(admin))
    assert gone.status_code == 200 and gone.json == {"status": "success"}
    assert_fail(
        wh_client.get(f"/api/webhooks/{created['id']}", headers=bearer(admin)),
        404,
        "Webhook not found",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["user.created"]}, "url"),
        ({"url": "http://127.0.0.1/", "events": []}, "events"),
        ({"url": "http://127.0.0.1/", "events": ["user.exploded"]}, "events"),
        ({"url": "http://127.0.0.1/", "events": ["user.created", "user.created"]}, "events"),
        ({"url": "http://127.0.0.1/", "events": "user.created"}, "events"),
        ({"url": "ftp://127.0.0.1/", "events": ["user.created"]}, "url"),
        ({"url": "http://u:p@127.0.0.1/", "events": ["user.created"]}, "url"),
        ({"url": "http://127.0.0.1/\x00", "events": ["user.created"]}, "url"),
        ({"url": "http://127.0.0.1/", "events": ["user.created"], "enabled": "yes"}, "enabled"),
        ({"url": "http://127.0.0.1/", "events": ["user.created"], "secret": "x"}, "secret"),
        ({"url": "http://" + "a" * 2100, "events": ["user.created"]}, "url"),
    ],
)
def test_bad_webhook_bodies_are_field_errors(wh_client, admin, body, field):
    response = wh_client.post("/api/webhooks", json=body, headers=bearer(admin))
    assert_fail(response, 400)
    assert field in response.json["errors"]


def test_unknown_ids_are_404_json(wh_client, admin, receiver):
    missing = uuid.uuid4()
    for method, path in [
        ("get", f"/api/webhooks/{missing}"),
        ("patch", f"/api/webhooks/{missing}"),
        ("delete", f"/api/webhooks/{missing}"),
        ("post", f"/api/webhooks/{missing}/rotate-secret"),
        ("get", f"/api/webhooks/{missing}/deliveries"),
        ("post", f"/api/webhooks/{missing}/deliveries/1/redeliver"),
        ("get", "/api/webhooks/not-a-uuid"),
    ]:
        kwargs = {"json": {"enabled": True}} if method == "patch" else {}
        response = getattr(wh_client, method)(path, headers=bearer(admin), **kwargs)
        assert_fail(response, 404)
    created = create_webhook(wh_client, admin, receiver.url)
    for delivery in ("1", str(2**70)):
        response = wh_client.post(
            f"/api/webhooks/{created['id']}/deliveries/{delivery}/redeliver",
            headers=bearer(admin),
        )
        assert_fail(response, 404, "Delivery not found")
        assert response.json["code"] == "delivery_not_found"


# --- the outbox and delivery ---------------------------------------------------------


def test_a_registration_is_delivered_signed(wh_app, wh_client, admin, receiver):
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created"])
    user = register(wh_client, email="bob@example.com", name="Bob")
    assert run_worker(wh_app) == 1
    [payload] = payloads(receiver, webhook["secret"])
    assert payload["type"] == "user.created"
    assert payload["data"]["user"]["id"] == user["id"]
    assert payload["data"]["user"]["email"] == "bob@example.com"
    assert "password" not in payload["data"]["user"]
    assert payload["timestamp"].endswith("Z")
    [delivery] = deliveries(wh_client, admin, webhook["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 1
    assert delivery["event_type"] == "user.created"
    assert delivery["event_id"] == receiver.received[0].webhook_id
    assert delivery["last_status_code"] == 200 and delivery["next_attempt_at"] is None
    assert run_worker(wh_app) == 0  # nothing left


def test_a_wrong_secret_does_not_verify(wh_app, wh_client, admin, receiver):
    create_webhook(wh_client, admin, receiver.url, ["user.created"])
    other = create_webhook(wh_client, admin, receiver.url + "/other", ["session.created"])
    register(wh_client)
    run_worker(wh_app)
    with pytest.raises(Exception, match="No matching signature"):
        receiver.received[0].verified(other["secret"])


def test_every_event_type_is_emitted_by_its_change(wh_app, wh_client, admin, receiver, make_app):
    webhook = create_webhook(wh_client, admin, receiver.url)
    run_worker(wh_app)  # the admin's own login (session.created) before this test's events
    receiver.received.clear()
    user = register(wh_client)
    tokens = wh_client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers={"X-Auth-Mode": "token"},
    ).json
    changed = wh_client.patch(
        "/api/users/me/password",
        json={
            "currentPassword": PASSWORD,
            "password": "another good password",
            "passwordConfirm": "another good password",
        },
        headers=bearer(tokens["access_token"]),
    )
    assert changed.status_code == 200, changed.json
    with wh_app.app_context():
        row = db.session.get(User, uuid.UUID(user["id"]))
        row.verified = True
        db.session.commit()
    for changes in ({"name": "Alice B"}, {"disabled": True}, {"disabled": False}):
        response = wh_client.patch(f"/api/users/{user['id']}", json=changes, headers=bearer(admin))
        assert response.status_code == 200, response.json
    fresh = wh_client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": "another good password"},
        headers={"X-Auth-Mode": "token"},
    ).json
    first = fresh["refresh_token"]
    second = wh_client.post("/api/auth/refresh", json={"refresh_token": first}).json
    wh_client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    later = make_app(**WEBHOOK_SETTINGS, REFRESH_REUSE_INTERVAL=0).test_client()
    assert later.post("/api/auth/refresh", json={"refresh_token": first}).status_code == 403
    fresh_login = login(wh_client, password="another good password")
    wh_client.get("/api/auth/logout", headers=bearer(fresh_login))
    assert wh_client.delete(f"/api/users/{user['id']}", headers=bearer(admin)).status_code == 200

    assert run_worker(wh_app) > 0
    received = payloads(receiver, webhook["secret"])
    types = [payload["type"] for payload in received]
    assert types == [
        "user.created",
        "session.created",
        "password.changed",
        "user.verified",
        "user.updated",
        "user.disabled",
        "session.revoked",
        "user.updated",
        "session.created",
        "refresh.reuse_detected",
        "session.created",
        "session.revoked",
        "user.deleted",
    ]
    by_type = {}
    for payload in received:
        by_type.setdefault(payload["type"], []).append(payload["data"])
    assert by_type["user.updated"][0]["changes"] == ["name"]
    assert by_type["user.updated"][0]["user"]["name"] == "Alice B"
    assert by_type["user.updated"][1]["changes"] == ["disabled"]
    assert by_type["user.verified"][0]["user"]["verified"] is True
    assert by_type["user.deleted"][0]["user"] == {"id": user["id"], "email": "alice@example.com"}
    disabled, revoked = by_type["session.revoked"]
    assert disabled == {"user_id": user["id"], "scope": "account_disabled", "ended": 1}
    assert revoked["scope"] == "local" and revoked["ended"] == 1
    assert revoked["user_id"] == user["id"] and revoked["session_id"]
    for data in by_type["session.created"] + by_type["refresh.reuse_detected"]:
        assert data["user_id"] == user["id"] and data["session_id"]


def test_only_subscribed_enabled_endpoints_get_events(wh_app, wh_client, admin, receiver):
    create_webhook(wh_client, admin, receiver.url + "/deleted-only", ["user.deleted"])
    create_webhook(wh_client, admin, receiver.url + "/off", ["user.created"], enabled=False)
    wanted = create_webhook(wh_client, admin, receiver.url + "/on", ["user.created"])
    register(wh_client)
    assert count(wh_app, WebhookDelivery) == 1
    run_worker(wh_app)
    assert [item.path for item in receiver.received] == ["/on"]
    assert payloads(receiver, wanted["secret"])[0]["type"] == "user.created"


def test_no_endpoint_no_outbox_rows(wh_app, wh_client):
    register(wh_client)
    assert count(wh_app, WebhookEvent) == 0


def test_a_rolled_back_transaction_produces_no_event(wh_app, wh_client, admin, receiver):
    create_webhook(wh_client, admin, receiver.url, ["user.created", "user.updated"])
    with wh_app.app_context():
        db.session.add(User(name="Ghost", email="ghost@example.com", password="x"))
        db.session.flush()
        # In the change's own transaction: visible there...
        assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 1
        db.session.rollback()
        # ...and gone with it.
        assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
        assert db.session.scalar(select(func.count()).select_from(User)) == 1  # the admin
        admin_row = db.session.scalar(select(User))
        admin_row.name = "Renamed then rolled back"
        db.session.flush()
        db.session.rollback()
    assert count(wh_app, WebhookEvent) == 0
    assert count(wh_app, WebhookDelivery) == 0
    assert run_worker(wh_app) == 0
    assert receiver.received == []


# --- retries, failure, disabling ---------------------------------------------------------


def test_a_500_is_retried_within_10_seconds_with_the_same_webhook_id(
    wh_app, wh_client, admin, receiver
):
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created"])
    receiver.answer(Answer(500, {"error": "database locked"}))
    register(wh_client)
    now = time.time()
    assert run_worker(wh_app, now) == 1
    [delivery] = deliveries(wh_client, admin, webhook["id"])
    assert delivery["status"] == "pending" and delivery["attempts"] == 1
    assert delivery["last_status_code"] == 500
    assert delivery["last_error"] == 'HTTP 500: {"error": "database locked"}'
    with wh_app.app_context():
        row = db.session.scalar(select(WebhookDelivery))
        wait = row.next_attempt_at.timestamp() - now
    assert 0 < wait <= 10
    assert run_worker(wh_app, now) == 0  # not due yet
    assert run_worker(wh_app, now + 10) == 1
    first, second = receiver.received
    assert first.webhook_id == second.webhook_id
    assert first.body == second.body
    assert first.verified(webhook["secret"]) == second.verified(webhook["secret"])
    [delivery] = deliveries(wh_client, admin, webhook["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 2
    assert delivery["last_error"] is None


def test_a_timeout_is_retried(make_app, wh_app, wh_client, admin, receiver):
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created"])
    impatient = make_app(**{**WEBHOOK_SETTINGS, "WEBHOOK_READ_TIMEOUT": 0.2})
    receiver.answer(Answer(200, hold=True))
    register(wh_client)
    now = time.time()
    assert run_worker(impatient, now) == 1
    [delivery] = deliveries(wh_client, admin, webhook["id"])
    assert delivery["status"] == "pending" and delivery["last_error"] == "timed out"
    assert delivery["last_status_code"] is None
    receiver.release()
    assert run_worker(wh_app, now + 60) == 1
    assert len(set(receiver.ids())) == 1 and len(receiver.ids()) == 2
    assert deliveries(wh_client, admin, webhook["id"])[0]["status"] == "succeeded"


def test_the_retry_schedule_grows_to_about_a_day(wh_app):
    with wh_app.app_context():
        policy = worker.RetryPolicy.from_config(wh_app.config)
    assert policy.max_attempts == 10
    rng = random.Random(7)
    delays = [policy.delay(attempt, rng) for attempt in range(1, policy.max_attempts)]
    assert delays[0] <= 10
    assert all(later > earlier for earlier, later in itertools.pairwise(delays))
    assert 12 * 3600 < sum(delays) < 36 * 3600


def disabled_mails(app, sink):
    return [mail for mail in delivered(app, sink) if "was disabled" in mail.subject]


def test_the_last_failure_marks_failed_then_disables_and_mails_admins(
    make_app, smtp_sink, receiver
):
    app = make_app(
        **WEBHOOK_SETTINGS, **smtp_sink.config, WEBHOOK_MAX_ATTEMPTS=3, WEBHOOK_DISABLE_AFTER=2
    )
    client = app.test_client()
    admin = make_admin(app)
    webhook = create_webhook(client, admin, receiver.url, ["user.created"])
    receiver.answer(*[Answer(503)] * 6)
    register(client, email="one@example.com")
    now = time.time()
    for step in range(3):
        assert run_worker(app, now + step * 3600) == 1
    [delivery] = deliveries(client, admin, webhook["id"])
    assert delivery["status"] == "failed" and delivery["attempts"] == 3
    assert delivery["next_attempt_at"] is None
    state = client.get(f"/api/webhooks/{webhook['id']}", headers=bearer(admin)).json["data"]
    assert state["webhook"]["consecutive_failures"] == 1 and state["webhook"]["enabled"]
    assert disabled_mails(app, smtp_sink) == []

    register(client, email="two@example.com")
    for step in range(3):
        run_worker(app, now + 7200 + step * 3600)
    webhook_now = client.get(f"/api/webhooks/{webhook['id']}", headers=bearer(admin)).json
    assert webhook_now["data"]["webhook"]["enabled"] is False
    assert webhook_now["data"]["webhook"]["disabled_reason"] == "failures"
    assert webhook_now["data"]["webhook"]["consecutive_failures"] == 2
    [message] = disabled_mails(app, smtp_sink)
    assert message.envelope_to == ["root@example.com"]
    assert receiver.url in message.text

    # A disabled endpoint gets nothing new; enabling it again resets the count.
    register(client, email="three@example.com")
    assert len(deliveries(client, admin, webhook["id"])) == 2
    enabled = client.patch(
        f"/api/webhooks/{webhook['id']}", json={"enabled": True}, headers=bearer(admin)
    ).json["data"]["webhook"]
    assert enabled["consecutive_failures"] == 0 and enabled["disabled_reason"] is None


def test_a_success_resets_the_failure_count(make_app, receiver):
    app = make_app(**WEBHOOK_SETTINGS, WEBHOOK_MAX_ATTEMPTS=1, WEBHOOK_DISABLE_AFTER=2)
    client = app.test_client()
    admin = make_admin(app)
    webhook = create_webhook(client, admin, receiver.url, ["user.created"])
    receiver.answer(Answer(500), Answer(200), Answer(500))
    for name in ("a", "b", "c"):
        register(client, email=f"{name}@example.com")
    assert run_worker(app) == 3
    state = client.get(f"/api/webhooks/{webhook['id']}", headers=bearer(admin)).json
    assert state["data"]["webhook"]["enabled"] is True
    assert state["data"]["webhook"]["consecutive_failures"] == 1


# --- order, concurrency, crashes --------------------------------------------------------


def test_a_users_events_arrive_in_order_even_across_retries(wh_app, wh_client, admin, receiver):
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created", "user.updated"])
    receiver.answer(Answer(500))  # alice's user.created fails once
    alice = register(wh_client)
    wh_client.patch(f"/api/users/{alice['id']}", json={"name": "A2"}, headers=bearer(admin))
    register(wh_client, email="bob@example.com", name="Bob")
    now = time.time()
    assert run_worker(wh_app, now) == 2  # alice's first (failed), bob's; alice's second waits
    got = [item.verified(webhook["secret"]) for item in receiver.received]
    assert [(p["type"], p["data"]["user"]["name"]) for p in got] == [
        ("user.created", "Alice"),
        ("user.created", "Bob"),
    ]
    assert run_worker(wh_app, now + 10) == 2
    got = [item.verified(webhook["secret"]) for item in receiver.received[2:]]
    assert [(p["type"], p["data"]["user"]["name"]) for p in got] == [
        ("user.created", "Alice"),
        ("user.updated", "A2"),
    ]


def test_two_workers_racing_never_send_twice(wh_app, wh_client, admin, receiver):
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created"])
    with wh_app.app_context():
        for n in range(30):
            db.session.add(User(name=f"U{n}", email=f"u{n}@example.com", password="x"))
        db.session.commit()
    start = threading.Barrier(2)
    attempted: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            attempted.append(run_worker(wh_app))
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(attempted) == 30
    ids = receiver.ids()
    assert len(ids) == 30 and len(set(ids)) == 30
    statuses = {d["status"] for d in deliveries(wh_client, admin, webhook["id"], per_page=100)}
    assert statuses == {"succeeded"}


@pytest.mark.subprocess
def test_a_worker_killed_between_send_and_mark_sends_again(
    wh_app, wh_client, admin, receiver, base_config
):
    """At least once: the receiver got the request, the worker died before recording it;
    the delivery is still pending and the same webhook-id arrives again."""
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created"])
    register(wh_client)
    receiver.answer(Answer(200, hold=True))
    env = {
        **os.environ,
        "APP_ENV": "testing",
        "DATABASE_URL": base_config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": base_config["REDIS_URL"],
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        **{name: value for name, value in base_config.items() if name.endswith("_KEY")},
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "webhooks", "worker", "--once"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert receiver.arrived.wait(120), "the worker never sent the webhook"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    receiver.release()
    assert len(receiver.received) == 1
    assert run_worker(wh_app, time.time() + 1) == 1
    first, second = receiver.received
    assert first.webhook_id == second.webhook_id
    second.verified(webhook["secret"])
    [delivery] = deliveries(wh_client, admin, webhook["id"])
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 1


# --- redeliver, rotation ------------------------------------------------------------------


def test_redeliver_sends_the_same_message_again(wh_app, wh_client, admin, receiver):
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created"])
    register(wh_client)
    run_worker(wh_app)
    [done] = deliveries(wh_client, admin, webhook["id"])
    response = wh_client.post(
        f"/api/webhooks/{webhook['id']}/deliveries/{done['id']}/redeliver", headers=bearer(admin)
    )
    assert response.status_code == 202
    queued = response.json["data"]["delivery"]
    assert queued["status"] == "pending" and queued["attempts"] == 0
    assert queued["event_id"] == done["event_id"] and queued["id"] != done["id"]
    assert run_worker(wh_app) == 1
    first, second = receiver.received
    assert first.webhook_id == second.webhook_id == done["event_id"]
    assert second.verified(webhook["secret"])["type"] == "user.created"
    assert len(deliveries(wh_client, admin, webhook["id"], status="succeeded")) == 2

    other = create_webhook(wh_client, admin, receiver.url + "/b", ["user.deleted"])
    response = wh_client.post(
        f"/api/webhooks/{other['id']}/deliveries/{done['id']}/redeliver", headers=bearer(admin)
    )
    assert_fail(response, 404, "Delivery not found")
    wh_client.patch(
        f"/api/webhooks/{webhook['id']}", json={"enabled": False}, headers=bearer(admin)
    )
    response = wh_client.post(
        f"/api/webhooks/{webhook['id']}/deliveries/{done['id']}/redeliver", headers=bearer(admin)
    )
    assert_fail(response, 409, "The webhook is disabled: enable it first")
    assert response.json["code"] == "webhook_disabled"


def test_a_rotated_secret_signs_beside_the_old_one_during_the_grace(
    wh_app, wh_client, admin, receiver, make_app
):
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created"])
    rotated = wh_client.post(f"/api/webhooks/{webhook['id']}/rotate-secret", headers=bearer(admin))
    assert rotated.status_code == 200
    new = rotated.json["data"]["webhook"]
    assert new["secret"] != webhook["secret"] and new["previous_secret_expires_at"]
    register(wh_client)
    run_worker(wh_app)
    message = receiver.received[0]
    assert len(message.headers["webhook-signature"].split(" ")) == 2
    assert message.verified(new["secret"]) == message.verified(webhook["secret"])

    # After the grace period, only the new secret signs.
    register(wh_client, email="bob@example.com")
    run_worker(wh_app, time.time() + 2 * 24 * 3600)
    later = receiver.received[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    later.verified(new["secret"])
    with pytest.raises(Exception, match="No matching signature"):
        later.verified(webhook["secret"])


# --- server-side request forgery -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://[::ffff:127.0.0.1]/",
        "http://[64:ff9b::7f00:1]/",
        # IPv4 inside IPv6 in the forms Python 3.11's is_global calls public: local-use
        # NAT64, 6to4 and IPv4-compatible (all to the metadata service or loopback),
        # and site-local.
        "http://[64:ff9b:1::a9fe:a9fe]/",
        "http://[2002:a9fe:a9fe::1]/",
        "http://[::7f00:1]/",
        "http://[fec0::1]/",
        "http://[fd00:ec2::254]/",
        "http://224.0.0.1/",
        "http://no-such-host.invalid/",
    ],
)
def test_private_targets_are_refused_at_registration(make_app, url):
    app = make_app(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)  # the default outside development
    admin = make_admin(app)
    response = app.test_client().post(
        "/api/webhooks", json={"url": url, "events": ["user.created"]}, headers=bearer(admin)
    )
    assert_fail(response, 400)
    assert "url" in response.json["errors"]
    assert count(app, WebhookEndpoint) == 0


def test_the_address_is_checked_again_when_sending(make_app, wh_app, wh_client, admin, receiver):
    """An endpoint accepted earlier (here: while private targets were allowed) is refused
    at connect time once its address is off limits: nothing reaches it."""
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created"])
    register(wh_client)
    strict = make_app(WEBHOOK_ALLOW_PRIVATE_TARGETS=False)
    assert run_worker(strict) == 1
    assert receiver.received == []
    [delivery] = deliveries(wh_client, admin, webhook["id"])
    assert delivery["status"] == "pending" and "non-public address" in delivery["last_error"]


def test_redirects_are_not_followed_and_answers_are_capped(wh_app, wh_client, admin, receiver):
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created"])
    receiver.answer(
        Answer(302, {"Location": "http://169.254.169.254/"}), Answer(500, "x" * 100_000)
    )
    register(wh_client)
    now = time.time()
    run_worker(wh_app, now)
    assert len(receiver.received) == 1  # the 302 was not followed
    [delivery] = deliveries(wh_client, admin, webhook["id"])
    assert delivery["last_status_code"] == 302 and delivery["status"] == "pending"
    run_worker(wh_app, now + 10)
    [delivery] = deliveries(wh_client, admin, webhook["id"])
    assert delivery["last_status_code"] == 500 and len(delivery["last_error"]) <= 255


def test_a_url_with_non_ascii_characters_is_delivered_percent_encoded(
    wh_app, wh_client, admin, receiver
):
    """http.client refuses a request line that is not ASCII (UnicodeEncodeError): the
    worker used to die on such a delivery at every start, holding every endpoint's."""
    webhook = create_webhook(
        wh_client, admin, receiver.url + "/hooks/café?for=zoë", ["user.created"]
    )
    register(wh_client)
    assert run_worker(wh_app) == 1
    [received] = receiver.received
    assert received.path == "/hooks/caf%C3%A9?for=zo%C3%AB"
    assert received.verified(webhook["secret"])["type"] == "user.created"
    [delivery] = deliveries(wh_client, admin, webhook["id"])
    assert delivery["status"] == "succeeded"


def test_the_whole_answer_must_arrive_before_one_deadline():
    """WEBHOOK_READ_TIMEOUT and HOOK_TIMEOUT bound the whole answer, not each read: with
    a timeout per read, a receiver sending a byte every few seconds held the worker
    (and the delivery's row lock), or a sign-up waiting on its hook, for hours. Here
    the bytes are there to read, but the deadline has passed."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"HTTP/1.1 200 OK\r\n")
        before = transport.AnswerDeadline(ours, time.monotonic() + 60).makefile("rb")
        assert before.read(8) == b"HTTP/1.1"
        late = transport.AnswerDeadline(ours, time.monotonic()).makefile("rb")
        with pytest.raises(TimeoutError):
            late.read(1)


def test_production_accepts_only_https():
    with pytest.raises(transport.TargetRefused, match="https"):
        transport.check_url("http://hooks.example.com/", https_only=True)
    assert transport.check_url("https://hooks.example.com/x", https_only=True).hostname
    assert transport.is_blocked(transport.ipaddress.ip_address("169.254.169.254"))
    assert not transport.is_blocked(transport.ipaddress.ip_address("93.184.216.34"))


def test_ipv4_inside_ipv6_is_judged_as_the_ipv4_address():
    blocked = ["64:ff9b:1::7f00:1", "2002:7f00:1::", "::a9fe:a9fe", "::ffff:10.0.0.1"]
    public = ["64:ff9b:1::808:808", "2002:808:808::1", "64:ff9b::808:808", "2606:4700::1111"]
    assert all(transport.is_blocked(transport.ipaddress.ip_address(a)) for a in blocked)
    assert not any(transport.is_blocked(transport.ipaddress.ip_address(a)) for a in public)


# --- the commands -----------------------------------------------------------------------------


def test_the_worker_command_runs_once(wh_app, wh_client, admin, receiver):
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created"])
    register(wh_client)
    result = wh_app.test_cli_runner().invoke(args=["webhooks", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "Attempted 1 deliveries." in result.output
    assert receiver.received[0].verified(webhook["secret"])["type"] == "user.created"


def test_new_secret_prints_a_standard_webhooks_secret(wh_app):
    result = wh_app.test_cli_runner().invoke(args=["webhooks", "new-secret"])
    assert result.exit_code == 0
    secret = result.output.strip()
    assert secret.startswith("whsec_") and signing.valid_secret(secret)
    assert secret != signing.new_secret()


# --- hostile input ------------------------------------------------------------------------------


def test_hostile_requests_get_json_4xx(wh_client, admin, receiver):
    auth = bearer(admin)
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created"])
    base = f"/api/webhooks/{webhook['id']}"
    cases = [
        (
            wh_client.post("/api/webhooks", data="url=x", headers=auth, content_type="text/plain"),
            415,
        ),
        (
            wh_client.post(
                "/api/webhooks", data="{", headers=auth, content_type="application/json"
            ),
            400,
        ),
        (wh_client.post("/api/webhooks", json=["not", "an", "object"], headers=auth), 400),
        (wh_client.post("/api/webhooks", json={"url": None, "events": None}, headers=auth), 400),
        (
            wh_client.post(
                "/api/webhooks",
                json={"url": "http://[::1", "events": ["user.created"]},
                headers=auth,
            ),
            400,
        ),
        (
            wh_client.post(
                "/api/webhooks",
                json={"url": "http://a:99999/", "events": ["user.created"]},
                headers=auth,
            ),
            400,
        ),
        (
            wh_client.post(
                "/api/webhooks",
                json={"url": "http://bücher.invalid/", "events": ["user.created"]},
                headers=auth,
            ),
            400,
        ),
        (
            wh_client.post(
                "/api/webhooks", json={"url": receiver.url, "events": [1, 2]}, headers=auth
            ),
            400,
        ),
        (
            wh_client.post(
                "/api/webhooks",
                json={"url": receiver.url, "events": ["user.created"], "description": "a\x00b"},
                headers=auth,
            ),
            400,
        ),
        (wh_client.patch(base, json={}, headers=auth), 400),
        (wh_client.patch(base, json={"enabled": None}, headers=auth), 400),
        (wh_client.get("/api/webhooks?per_page=100000", headers=auth), 400),
        (wh_client.get(f"{base}/deliveries?status=lost", headers=auth), 400),
        (wh_client.get(f"{base}/deliveries?page=0", headers=auth), 400),
        (wh_client.post(f"{base}/deliveries/-1/redeliver", headers=auth), 404),
        (wh_client.put("/api/webhooks", json={}, headers=auth), 405),
    ]
    for response, status in cases:
        assert_fail(response, status)
    # The secret never shows again, whatever is asked.
    listed = wh_client.get("/api/webhooks", headers=auth).get_data(as_text=True)
    assert webhook["secret"] not in listed


def test_cookie_requests_from_another_site_are_refused(wh_client, admin, receiver):
    login(wh_client, email="root@example.com")  # the test client keeps the cookies
    response = wh_client.post(
        "/api/webhooks",
        json={"url": receiver.url, "events": ["user.created"]},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert_fail(response, 403, "Cross-site request refused")


def test_the_worker_loop_delivers_until_stopped(make_app, wh_client, admin, receiver):
    """What `flask webhooks worker` runs in each thread: deliver, wait when idle, stop."""
    app = make_app(**WEBHOOK_SETTINGS, WEBHOOK_POLL_INTERVAL=0.05)
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created"])
    stop = threading.Event()
    loops = [threading.Thread(target=worker.run_forever, args=(app, stop)) for _ in range(2)]
    for loop in loops:
        loop.start()
    try:
        register(wh_client)
        assert receiver.arrived.wait(120), "the worker loop never delivered"
    finally:
        stop.set()
        for loop in loops:
            loop.join()
    assert [item.verified(webhook["secret"])["type"] for item in receiver.received] == [
        "user.created"
    ]
    assert deliveries(wh_client, admin, webhook["id"])[0]["status"] == "succeeded"


def test_purge_deletes_old_finished_events_only(wh_app, wh_client, admin, receiver):
    webhook = create_webhook(wh_client, admin, receiver.url, ["user.created"])
    register(wh_client)  # delivered below: finished
    run_worker(wh_app)
    receiver.answer(Answer(500))
    register(wh_client, email="bob@example.com")  # fails once: still pending
    run_worker(wh_app)
    runner = wh_app.test_cli_runner()
    kept = runner.invoke(args=["webhooks", "purge", "--older-than", "1"])
    assert kept.exit_code == 0 and "Deleted 0 events" in kept.output  # nothing a day old
    with wh_app.app_context():
        assert (
            webhook_service.purge(
                older_than=datetime.timedelta(days=30), now=time.time() + 31 * 86400
            )
            == 1
        )
    assert count(wh_app, WebhookEvent) == 1
    [left] = deliveries(wh_client, admin, webhook["id"])
    assert left["status"] == "pending"
    assert run_worker(wh_app, time.time() + 60) == 1  # the kept one still goes out


# --- second factors ----------------------------------------------------------------------------


def test_second_factor_events(make_app, receiver):
    step = mfa_support.STEP
    app = make_app(**WEBHOOK_SETTINGS, CLOCK_FROZEN_AT=(int(time.time()) // step) * step + 5)
    client = app.test_client()
    admin = make_admin(app)
    webhook = create_webhook(client, admin, receiver.url, ALL_MFA_EVENTS)
    alice = register(client)
    secret, _codes = mfa_support.enrol_totp(client, app, login(client))
    token = mfa_support.mfa_token(client)
    wrong = client.post("/api/auth/login/mfa", json={"mfa_token": token, "code": "000000"})
    assert wrong.status_code == 400, wrong.json
    code = mfa_support.code_at(secret, mfa_support.frozen_now(app))
    right = client.post("/api/auth/login/mfa", json={"mfa_token": token, "code": code})
    assert right.status_code == 200, right.json
    removed = client.delete(f"/api/users/{alice['id']}/mfa", headers=bearer(admin))
    assert removed.status_code == 200, removed.json

    run_worker(app, time.time() + 3600)
    received = payloads(receiver, webhook["secret"])
    assert [payload["type"] for payload in received] == [
        "mfa.enrolled",
        "mfa.recovery_codes_generated",
        "mfa.failed",
        "mfa.used",
        "mfa.removed",  # an admin's reset: one per factor removed
        "mfa.removed",
    ]
    assert all(payload["data"]["user_id"] == alice["id"] for payload in received)
    assert received[0]["data"]["factor"] == "totp"
    assert received[1]["data"]["left"] == 10
    assert received[2]["data"]["reason"] == "wrong_code"
    assert {payload["data"]["factor"] for payload in received[4:]} == {"totp", "recovery_code"}
    assert all(payload["data"]["by"] for payload in received[4:])


def test_an_admin_reset_of_an_account_without_factors_sends_no_mfa_removed(
    wh_app, wh_client, admin, receiver
):
    """Nothing was removed, so no mfa.removed (it used to say ``"factor": "none"``); the
    reset is still recorded in the audit log."""
    webhook = create_webhook(wh_client, admin, receiver.url, ALL_MFA_EVENTS)
    alice = register(wh_client)
    removed = wh_client.delete(f"/api/users/{alice['id']}/mfa", headers=bearer(admin))
    assert removed.status_code == 200, removed.json
    run_worker(wh_app)
    assert payloads(receiver, webhook["secret"]) == []
    assert count(wh_app, WebhookEvent) == 0
    events = wh_client.get(
        "/api/users/events", query_string={"event": "mfa_removed"}, headers=bearer(admin)
    ).json["data"]["events"]
    assert [event["details"]["factor"] for event in events] == ["none"]
