"""The audit log (auth_events): every event recorded through the real routes, with
the client's address and user agent, never a secret; who may read which rows."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from authapi.extensions import db
from tests.helpers import (
    PASSWORD,
    TOKEN_MODE,
    assert_fail,
    bearer,
    login,
    register,
    rotate_and_use,
)
from tests.support.smtp_sink import delivered

UA = {"User-Agent": "audit-test/1.0"}
TOKEN_MODE_UA = {**TOKEN_MODE, **UA}


def bearer_ua(token: str) -> dict[str, str]:
    return {**bearer(token), **UA}


def rows(app) -> list[dict]:
    """Every auth_events row, oldest first, every column."""
    with app.app_context():
        result = db.session.execute(text("SELECT * FROM auth_events ORDER BY created_at, id"))
        found = [dict(row._mapping) for row in result]
        db.session.remove()
    return found


def events_named(app, name: str) -> list[dict]:
    return [row for row in rows(app) if row["event"] == name]


def create_admin(app, email="root@example.com") -> None:
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", email, "--name", "Root", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output


def test_every_lifecycle_event_is_recorded_without_secrets(app, make_app, mail_app, smtp_sink):
    """Walk through every audited event; then no password, token, code or typed email
    appears anywhere in the table."""
    client = mail_app.test_client()
    secrets: list[str] = [PASSWORD]
    register(client)
    delivered(mail_app, smtp_sink)
    verify_code = smtp_sink.last_with("/api/auth/verifyemail/").link("/api/auth/verifyemail/")
    secrets.append(verify_code)
    alice_id = client.get("/api/users/me", headers=bearer_ua(login(client))).json["data"]["user"][
        "id"
    ]
    # email_verified
    assert client.post(f"/api/auth/verifyemail/{verify_code}", headers=UA).status_code == 200
    # login_failed: wrong password (known user) and unknown email (typed text never stored)
    typed = "my-Secret-Passw0rd@example.com"
    secrets += ["wrong password 1", typed]
    for email, password in (("alice@example.com", "wrong password 1"), (typed, PASSWORD)):
        response = client.post(
            "/api/auth/login", json={"email": email, "password": password}, headers=UA
        )
        assert response.status_code == 400
    # login_succeeded (token mode: the refresh token is in the body)
    tokens = client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers=TOKEN_MODE_UA,
    ).json
    secrets += [tokens["access_token"], tokens["refresh_token"]]
    # refresh; then the old refresh token again, a minute later (outside the grace window)
    rotated = rotate_and_use(client, tokens["refresh_token"], headers=UA)
    secrets += [rotated["access_token"], rotated["refresh_token"]]
    later = make_app(CLOCK_OFFSET=60, **smtp_sink.config).test_client()
    reused = later.post(
        "/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}, headers=UA
    )
    assert_fail(reused, 403)
    access = login(client)
    secrets.append(access)
    # password_changed
    new_password = "changed password 2"
    secrets.append(new_password)
    changed = client.patch(
        "/api/users/me/password",
        json={
            "currentPassword": PASSWORD,
            "password": new_password,
            "passwordConfirm": new_password,
        },
        headers=bearer_ua(access),
    )
    assert changed.status_code == 200
    # password_reset
    client.post("/api/auth/forgotpassword", json={"email": "alice@example.com"}, headers=UA)
    delivered(mail_app, smtp_sink)
    reset_token = smtp_sink.last_with("/resetpassword/").link("/resetpassword/")
    reset_password = "reset password 3"
    secrets += [reset_token, reset_password]
    reset = client.patch(
        f"/api/auth/resetpassword/{reset_token}",
        json={"password": reset_password, "passwordConfirm": reset_password},
        headers=UA,
    )
    assert reset.status_code == 200
    # logged_out
    access = login(client, password=reset_password)
    secrets.append(access)
    assert client.get("/api/auth/logout", headers=bearer_ua(access)).status_code == 200
    # role_changed, user_disabled, user_enabled, user_deleted (by an admin)
    create_admin(mail_app)
    admin = login(client, email="root@example.com")
    secrets.append(admin)
    for changes in ({"role": "admin"}, {"role": "user"}, {"disabled": True}, {"disabled": False}):
        response = client.patch(f"/api/users/{alice_id}", json=changes, headers=bearer_ua(admin))
        assert response.status_code == 200
    assert client.delete(f"/api/users/{alice_id}", headers=bearer_ua(admin)).status_code == 200

    recorded = rows(app)
    names = {row["event"] for row in recorded}
    assert names >= {
        "user_registered",
        "email_verified",
        "login_failed",
        "login_succeeded",
        "refresh_reuse_detected",
        "password_changed",
        "password_reset",
        "logged_out",
        "role_changed",
        "user_disabled",
        "user_enabled",
        "user_deleted",
    }
    # Client address and user agent, from the request (the CLI's admin has none).
    from_requests = [row for row in recorded if (row["details"] or {}).get("via") != "cli"]
    assert len(from_requests) == len(recorded) - 1
    assert all(row["ip"] == "127.0.0.1" for row in from_requests)
    assert events_named(app, "refresh_reuse_detected")[0]["user_agent"] == "audit-test/1.0"
    # No secret in any column of any row.
    dumped = [str(value) for row in recorded for value in row.values()]
    for secret in secrets:
        assert not any(secret in value for value in dumped), "a secret reached auth_events"
    assert not any("alice@example.com" in value for value in dumped)


def test_login_failures_are_recorded_although_the_request_fails(app, client):
    register(client)
    for email in ("alice@example.com", "nobody@example.com"):
        response = client.post(
            "/api/auth/login", json={"email": email, "password": "wrong password"}, headers=UA
        )
        assert_fail(response, 400)
    failed = events_named(app, "login_failed")
    assert [row["details"]["reason"] for row in failed] == ["wrong_password", "unknown_email"]
    assert failed[0]["user_id"] is not None and failed[1]["user_id"] is None
    assert all(row["ip"] == "127.0.0.1" and row["user_agent"] == "audit-test/1.0" for row in failed)
    assert all(row["created_at"] is not None for row in failed)


def test_refresh_reuse_is_recorded_with_the_session(app, make_app, client):
    register(client)
    tokens = client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers=TOKEN_MODE_UA,
    ).json
    rotate_and_use(client, tokens["refresh_token"])
    later = make_app(CLOCK_OFFSET=60).test_client()
    later.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    [reuse] = events_named(app, "refresh_reuse_detected")
    [login_row] = events_named(app, "login_succeeded")
    assert reuse["user_id"] == login_row["user_id"]
    assert reuse["details"]["session_id"] == login_row["details"]["session_id"]


def test_disabled_and_unverified_login_refusals_are_recorded(app, make_app, client):
    register(client)
    strict = make_app(REQUIRE_VERIFIED_EMAIL=True).test_client()
    response = strict.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert_fail(response, 403)
    assert events_named(app, "login_failed")[-1]["details"] == {"reason": "unverified"}


def test_role_changes_record_old_and_new_role_and_the_admin(app, client):
    create_admin(app)
    admin = login(client, email="root@example.com")
    register(client)
    alice_id = client.get("/api/users?email=alice", headers=bearer_ua(admin)).json["data"]["users"][
        0
    ]["id"]
    admin_id = client.get("/api/users/me", headers=bearer_ua(admin)).json["data"]["user"]["id"]
    client.patch(f"/api/users/{alice_id}", json={"role": "admin"}, headers=bearer_ua(admin))
    [changed] = events_named(app, "role_changed")
    assert changed["details"] == {"old_role": "user", "new_role": "admin", "by": admin_id}
    assert str(changed["user_id"]) == alice_id


def test_promotion_by_the_cli_is_recorded_without_an_admin(app, client):
    register(client)
    create_admin(app, "alice@example.com")
    [changed] = events_named(app, "role_changed")
    assert changed["details"] == {"old_role": "user", "new_role": "admin"}
    assert changed["ip"] is None  # no request


def test_a_deleted_users_events_stay_with_the_id_in_details(app, client):
    create_admin(app)
    admin = login(client, email="root@example.com")
    register(client)
    alice_id = client.get("/api/users?email=alice", headers=bearer_ua(admin)).json["data"]["users"][
        0
    ]["id"]
    client.delete(f"/api/users/{alice_id}", headers=bearer_ua(admin))
    [deleted] = events_named(app, "user_deleted")
    assert deleted["user_id"] is None
    assert deleted["details"]["user_id"] == alice_id
    # Her earlier events survive, unlinked (ON DELETE SET NULL).
    [registered] = [row for row in events_named(app, "user_registered") if not row["details"]]
    assert registered["user_id"] is None


def test_my_events_show_only_my_own_newest_first(app, client):
    register(client)
    register(client, email="bob@example.com", name="Bob")
    alice = login(client)
    bob = login(app.test_client(), email="bob@example.com")  # his own browser
    client.post("/api/auth/login", json={"email": "bob@example.com", "password": "wrong pw 123"})
    alice_id = client.get("/api/users/me", headers=bearer_ua(alice)).json["data"]["user"]["id"]

    response = client.get("/api/users/me/events", headers=bearer_ua(alice))
    assert response.status_code == 200
    data = response.json["data"]
    events = data["events"]
    assert [event["event"] for event in events] == ["login_succeeded", "user_registered"]
    assert all(event["user_id"] == alice_id for event in events)
    assert set(events[0]) == {"id", "event", "user_id", "ip", "user_agent", "details", "created_at"}
    assert (data["page"], data["per_page"], data["total"]) == (1, 20, 2)
    bob_events = client.get("/api/users/me/events", headers=bearer_ua(bob)).json["data"]["events"]
    assert [event["event"] for event in bob_events] == [
        "login_failed",
        "login_succeeded",
        "user_registered",
    ]
    # Paging and filtering.
    paged = client.get("/api/users/me/events?per_page=1&page=2", headers=bearer_ua(bob)).json[
        "data"
    ]
    assert [event["event"] for event in paged["events"]] == ["login_succeeded"]
    assert paged["total"] == 3
    only = client.get("/api/users/me/events?event=login_failed", headers=bearer_ua(bob))
    assert [event["event"] for event in only.json["data"]["events"]] == ["login_failed"]
    # A user_id parameter does not widen the view.
    other = client.get(f"/api/users/me/events?user_id={alice_id}", headers=bearer_ua(bob))
    assert all(event["user_id"] != alice_id for event in other.json["data"]["events"])


@pytest.mark.parametrize(
    "query", ["event=nope", "event=", "event=%00", "page=0", "per_page=1000", "page=x"]
)
def test_my_events_reject_bad_parameters(client, query):
    register(client)
    response = client.get(f"/api/users/me/events?{query}", headers=bearer_ua(login(client)))
    assert_fail(response, 400, "Invalid query parameters")


def test_my_events_need_a_login(app):
    assert_fail(app.test_client().get("/api/users/me/events"), 401, "You are not logged in")


def test_admins_read_and_filter_everyones_events(app, client):
    create_admin(app)
    admin = login(app.test_client(), email="root@example.com")  # the admin's own browser
    register(client)
    alice = login(client)
    alice_id = client.get("/api/users/me", headers=bearer_ua(alice)).json["data"]["user"]["id"]
    client.post("/api/auth/login", json={"email": "x@example.com", "password": "wrong pw 123"})

    everything = client.get("/api/users/events?per_page=100", headers=bearer_ua(admin)).json["data"]
    assert everything["total"] == len(rows(app))
    mine = client.get(f"/api/users/events?user_id={alice_id}", headers=bearer_ua(admin))
    assert {event["user_id"] for event in mine.json["data"]["events"]} == {alice_id}
    failed = client.get("/api/users/events?event=login_failed", headers=bearer_ua(admin))
    [unknown] = failed.json["data"]["events"]
    assert unknown["user_id"] is None and unknown["details"] == {"reason": "unknown_email"}
    bad = client.get("/api/users/events?user_id=not-a-uuid", headers=bearer_ua(admin))
    assert_fail(bad, 400, "Invalid query parameters")
    assert_fail(client.get("/api/users/events", headers=bearer_ua(alice)), 403)


def test_hostile_user_agents_are_stored_cleaned_and_cut(app, client):
    register(client)
    response = client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": "wrong password"},
        headers={"User-Agent": "evil\x00agent\x1b[31m" + "x" * 2000},
    )
    assert_fail(response, 400)
    [row] = events_named(app, "login_failed")
    assert row["user_agent"].startswith("evilagent[31m")
    assert len(row["user_agent"]) == 256


def test_an_audit_failure_is_logged_and_does_not_break_the_request(app, client, caplog):
    register(client)
    with app.app_context():
        db.session.execute(text("ALTER TABLE auth_events RENAME TO auth_events_away"))
        db.session.commit()
    try:
        with caplog.at_level(logging.ERROR, logger="authapi.audit"):
            token = login(client)
            assert client.get("/api/users/me", headers=bearer_ua(token)).status_code == 200
    finally:
        with app.app_context():
            db.session.execute(text("ALTER TABLE auth_events_away RENAME TO auth_events"))
            db.session.commit()
    assert "audit: could not record a login_succeeded event" in caplog.text


def test_admin_creation_by_the_cli_is_recorded(app):
    create_admin(app)
    [created] = events_named(app, "user_registered")
    assert created["details"] == {"new_role": "admin", "via": "cli"}
    assert created["user_id"] is not None and created["ip"] is None
    assert events_named(app, "role_changed") == []  # an admin from the start
