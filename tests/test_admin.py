"""The admin API under /api/users: admins only, pagination and filters, changes that
take effect at once, and never losing the last admin."""

from __future__ import annotations

import json
import threading
import uuid
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
import redis

from authapi.extensions import db
from authapi.models import User
from authapi.users import service as users_service
from tests.helpers import HANG, PASSWORD, TOKEN_MODE, assert_fail, bearer, login, register

ADMINS_ONLY = "You are not allowed to do this: admins only"
LAST_ADMIN = "The last admin cannot be demoted, disabled or deleted"
DISABLED = "Your account has been disabled"
ADMIN_USER_FIELDS = {
    "id",
    "name",
    "email",
    "role",
    "photo",
    "verified",
    "disabled",
    "created_at",
    "updated_at",
}


def create_admin(app, email="root@example.com") -> None:
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", email, "--name", "Root", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output


@pytest.fixture
def admin(app):
    """An admin's access token (the account is made by `flask users create-admin`),
    signed in from the admin's own browser: a sign-in in ``client``'s cookie jar would
    end the session of whoever signed in there before."""
    create_admin(app)
    return login(app.test_client(), email="root@example.com")


@pytest.fixture
def alice(client):
    user = register(client)
    return {"user": user, "token": login(client)}


def patch_user(client, token, user_id, **changes):
    return client.patch(f"/api/users/{user_id}", json=changes, headers=bearer(token))


def user_id_of(client, token) -> str:
    return client.get("/api/users/me", headers=bearer(token)).json["data"]["user"]["id"]


# --- who may call ------------------------------------------------------------------


def test_every_admin_route_is_403_json_for_users_and_401_without_a_token(app, client, alice, admin):
    anonymous_client = app.test_client()  # no cookie jar shared with the logins above
    target = alice["user"]["id"]
    calls = [
        ("GET", "/api/users", None),
        ("GET", f"/api/users/{target}", None),
        ("PATCH", f"/api/users/{target}", {"role": "admin"}),
        ("DELETE", f"/api/users/{target}", None),
        ("GET", "/api/users/events", None),
    ]
    for method, path, payload in calls:
        as_user = client.open(path, method=method, json=payload, headers=bearer(alice["token"]))
        assert_fail(as_user, 403, ADMINS_ONLY)
        anonymous = anonymous_client.open(path, method=method, json=payload)
        assert_fail(anonymous, 401, "You are not logged in")
    # Nothing changed.
    me = client.get("/api/users/me", headers=bearer(alice["token"]))
    assert me.json["data"]["user"]["role"] == "user"


def test_me_routes_are_not_taken_by_the_admin_routes(client, alice, admin):
    for token, role in ((alice["token"], "user"), (admin, "admin")):
        me = client.get("/api/users/me", headers=bearer(token))
        assert me.status_code == 200 and me.json["data"]["user"]["role"] == role
        assert client.get("/api/users/me/events", headers=bearer(token)).status_code == 200
    changed = client.patch(
        "/api/users/me/password",
        json={
            "currentPassword": PASSWORD,
            "password": "new password!",
            "passwordConfirm": "new password!",
        },
        headers=bearer(alice["token"]),
    )
    assert changed.status_code == 200
    # PATCH and DELETE /api/users/me are the caller's own (tests/test_my_account.py).
    empty = client.patch("/api/users/me", json={}, headers=bearer(admin))
    assert_fail(empty, 400)
    assert empty.json["errors"] == {"_schema": ["Give at least one of name, photo"]}
    own = client.delete("/api/users/me", json={"password": PASSWORD}, headers=bearer(admin))
    assert_fail(own, 409, LAST_ADMIN)  # the admin's own account, by the admin rules


# --- listing -----------------------------------------------------------------------


def test_list_is_paginated_in_creation_order(client, admin):
    emails = [f"user{index:02d}@example.com" for index in range(25)]
    for email in emails:
        register(client, email=email)
    seen = []
    for page in (1, 2, 3):
        response = client.get(f"/api/users?page={page}&per_page=10", headers=bearer(admin))
        assert response.status_code == 200
        data = response.json["data"]
        assert (data["page"], data["per_page"], data["total"]) == (page, 10, 26)
        for user in data["users"]:
            assert set(user) == ADMIN_USER_FIELDS
        seen += [user["email"] for user in data["users"]]
    assert seen == ["root@example.com", *emails]
    beyond = client.get("/api/users?page=4&per_page=10", headers=bearer(admin)).json["data"]
    assert beyond["users"] == [] and beyond["total"] == 26
    default = client.get("/api/users", headers=bearer(admin)).json["data"]
    assert (default["page"], default["per_page"], len(default["users"])) == (1, 20, 20)


def test_order_is_stable_for_users_created_in_one_transaction(app, client, admin):
    from sqlalchemy import insert

    from authapi.extensions import db
    from authapi.models import User

    with app.app_context():  # one statement: every row gets the same created_at
        db.session.execute(
            insert(User),
            [{"name": "x", "email": f"same{i}@example.com", "password": "x"} for i in range(6)],
        )
        db.session.commit()
    pages = [
        client.get(f"/api/users?email=same&per_page=2&page={page}", headers=bearer(admin))
        for page in (1, 2, 3)
    ]
    ids = [user["id"] for page in pages for user in page.json["data"]["users"]]
    assert len(set(ids)) == 6
    assert ids == sorted(ids, key=uuid.UUID)  # ties broken by id


def test_filter_by_email_substring_and_role(client, admin):
    register(client, email="alice@example.com")
    register(client, email="alicia@example.org")
    register(client, email="bob@example.com")
    register(client, email="under_score@example.com")
    register(client, email="percent100@example.com")

    def emails(query):
        response = client.get(f"/api/users?{query}", headers=bearer(admin))
        assert response.status_code == 200, response.json
        return [user["email"] for user in response.json["data"]["users"]]

    assert emails("email=ALI") == ["alice@example.com", "alicia@example.org"]
    assert emails("email=%20Example.ORG%20") == ["alicia@example.org"]
    assert emails("email=alic_") == []  # "_" is a literal, not "any character"
    assert emails("email=under_") == ["under_score@example.com"]
    assert emails("email=%25") == []  # "%" is a literal too
    assert emails("email=%5C") == []  # and so is a backslash
    assert emails("role=admin") == ["root@example.com"]
    assert emails("role=user&email=bob") == ["bob@example.com"]
    total = client.get("/api/users?role=user", headers=bearer(admin)).json["data"]["total"]
    assert total == 5


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.5",
        "page=" + "9" * 5000,
        "page=100001",
        "per_page=0",
        "per_page=101",
        "per_page=",
        "role=root",
        "role=",
        "email=%00",
        "email=a%0Ab",
        "email=" + "a" * 300,
    ],
)
def test_invalid_list_parameters_are_400(client, admin, query):
    response = client.get(f"/api/users?{query}", headers=bearer(admin))
    assert_fail(response, 400, "Invalid query parameters")
    assert response.json["errors"]


# --- one user ----------------------------------------------------------------------


def test_get_one_user(client, admin, alice):
    response = client.get(f"/api/users/{alice['user']['id']}", headers=bearer(admin))
    assert response.status_code == 200
    user = response.json["data"]["user"]
    assert set(user) == ADMIN_USER_FIELDS
    assert (user["email"], user["disabled"]) == ("alice@example.com", False)
    assert "password" not in json.dumps(response.json)


def test_unknown_or_malformed_ids_are_404_json(client, admin):
    assert_fail(
        client.get(f"/api/users/{uuid.uuid4()}", headers=bearer(admin)), 404, "User not found"
    )
    assert_fail(
        client.patch(f"/api/users/{uuid.uuid4()}", json={"name": "x"}, headers=bearer(admin)),
        404,
        "User not found",
    )
    assert_fail(
        client.delete(f"/api/users/{uuid.uuid4()}", headers=bearer(admin)), 404, "User not found"
    )
    for bad in ("not-a-uuid", "1", "%00", "' OR 1=1 --", "a" * 500):
        assert_fail(client.get(f"/api/users/{bad}", headers=bearer(admin)), 404)
        assert_fail(client.delete(f"/api/users/{bad}", headers=bearer(admin)), 404)


# --- changing a user -----------------------------------------------------------------


def test_patch_name_role_disabled(client, admin, alice):
    target = alice["user"]["id"]
    response = patch_user(client, admin, target, name="  Alice Liddell ")
    assert response.status_code == 200
    assert response.json["data"]["user"]["name"] == "Alice Liddell"
    assert response.json["data"]["user"]["updated_at"] >= alice["user"]["updated_at"]
    # The user sees the change at once (the cached user data is dropped).
    me = client.get("/api/users/me", headers=bearer(alice["token"]))
    assert me.json["data"]["user"]["name"] == "Alice Liddell"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "_schema"),
        ({"role": "root"}, "role"),
        ({"role": None}, "role"),
        ({"role": ["admin"]}, "role"),
        ({"disabled": "yes"}, "disabled"),
        ({"disabled": 1}, "disabled"),
        ({"disabled": None}, "disabled"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": 42}, "name"),
        ({"verified": True}, "verified"),
        ({"email": "new@example.com"}, "email"),
        ({"password": "whatever123"}, "password"),
        ({"id": str(uuid.uuid4())}, "id"),
    ],
)
def test_patch_rejects_bad_bodies(client, admin, alice, payload, field):
    response = patch_user(client, admin, alice["user"]["id"], **payload)
    assert_fail(response, 400)
    assert field in response.json["errors"]


def test_patch_body_must_be_a_json_object(client, admin, alice):
    path = f"/api/users/{alice['user']['id']}"
    assert_fail(client.patch(path, data="name=x", headers=bearer(admin)), 415)
    assert_fail(
        client.patch(path, data="[1]", content_type="application/json", headers=bearer(admin)), 400
    )
    assert_fail(
        client.patch(path, data="{", content_type="application/json", headers=bearer(admin)), 400
    )


def test_disabling_ends_sessions_at_once_and_blocks_login(client, admin, alice):
    target = alice["user"]["id"]
    token_mode = client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers=TOKEN_MODE,
    ).json
    response = patch_user(client, admin, target, disabled=True)
    assert response.status_code == 200
    assert response.json["data"]["user"]["disabled"] is True
    for token in (alice["token"], token_mode["access_token"]):
        assert_fail(client.get("/api/users/me", headers=bearer(token)), 401)
    refreshed = client.post(
        "/api/auth/refresh", json={"refresh_token": token_mode["refresh_token"]}
    )
    assert_fail(refreshed, 403)
    # The right password learns that the account is disabled; a wrong one learns nothing.
    right = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert_fail(right, 403, DISABLED)
    assert "Set-Cookie" not in right.headers
    wrong = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "nope nope"}
    )
    assert_fail(wrong, 400, "Invalid email or password")
    # Enabled again: logging in works.
    assert (
        patch_user(client, admin, target, disabled=False).json["data"]["user"]["disabled"] is False
    )
    login(client)


def test_a_disabled_user_cannot_get_a_reset_link(client, admin, alice, mail_app, smtp_sink):
    from tests.support.smtp_sink import delivered

    patch_user(client, admin, alice["user"]["id"], disabled=True)
    mail_client = mail_app.test_client()
    before = len(delivered(mail_app, smtp_sink))
    assert (
        mail_client.post(
            "/api/auth/forgotpassword", json={"email": "alice@example.com"}
        ).status_code
        == 200
    )
    assert len(delivered(mail_app, smtp_sink)) == before


def test_role_changes_take_effect_on_the_next_request(client, admin, alice):
    target = alice["user"]["id"]
    assert_fail(client.get("/api/users", headers=bearer(alice["token"])), 403)
    promoted = patch_user(client, admin, target, role="admin")
    assert promoted.json["data"]["user"]["role"] == "admin"
    # Same token, no new login: the role is read fresh.
    assert client.get("/api/users", headers=bearer(alice["token"])).status_code == 200
    me = client.get("/api/users/me", headers=bearer(alice["token"]))
    assert me.json["data"]["user"]["role"] == "admin"
    demoted = patch_user(client, alice["token"], user_id_of(client, admin), role="user")
    assert demoted.status_code == 200
    assert_fail(client.get("/api/users", headers=bearer(admin)), 403, ADMINS_ONLY)


def test_the_last_admin_cannot_be_demoted_disabled_or_deleted(client, admin):
    own_id = user_id_of(client, admin)
    for changes in ({"role": "user"}, {"disabled": True}, {"role": "user", "disabled": True}):
        assert_fail(patch_user(client, admin, own_id, **changes), 409, LAST_ADMIN)
    assert_fail(client.delete(f"/api/users/{own_id}", headers=bearer(admin)), 409, LAST_ADMIN)
    # Harmless changes to the last admin still work.
    assert patch_user(client, admin, own_id, name="Still Root", role="admin").status_code == 200
    assert client.get("/api/users", headers=bearer(admin)).status_code == 200


def test_with_two_admins_one_may_go_but_not_both(app, client, admin):
    create_admin(app, "second@example.com")
    second = login(app.test_client(), email="second@example.com")
    first_id, second_id = user_id_of(client, admin), user_id_of(client, second)
    assert patch_user(client, admin, second_id, role="user").status_code == 200
    assert_fail(patch_user(client, admin, first_id, role="user"), 409, LAST_ADMIN)
    # A disabled admin does not count as one.
    create_admin(app, "third@example.com")
    third_id = client.get("/api/users?email=third", headers=bearer(admin)).json["data"]["users"][0][
        "id"
    ]
    assert patch_user(client, admin, third_id, disabled=True).status_code == 200
    assert_fail(client.delete(f"/api/users/{first_id}", headers=bearer(admin)), 409, LAST_ADMIN)
    assert client.delete(f"/api/users/{third_id}", headers=bearer(admin)).status_code == 200


@pytest.mark.live_server
def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, client, admin, live_server):
    create_admin(app, "second@example.com")
    second = login(app.test_client(), email="second@example.com")
    ids = {admin: user_id_of(client, second), second: user_id_of(client, admin)}
    server = live_server(app)
    start = threading.Barrier(2)
    statuses: list[int] = []

    def demote(token: str) -> None:
        request = Request(
            f"{server.url}/api/users/{ids[token]}",
            data=json.dumps({"role": "user"}).encode(),
            method="PATCH",
            headers={"Content-Type": "application/json", **bearer(token)},
        )
        start.wait()
        try:
            with urlopen(request, timeout=HANG) as response:
                statuses.append(response.status)
        except HTTPError as error:
            statuses.append(error.code)

    threads = [threading.Thread(target=demote, args=(token,)) for token in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One wins. The other is refused by the last-admin rule (409), or, if the winner
    # committed before it even started, because its caller is no admin any more (403).
    assert sorted(statuses) in ([200, 403], [200, 409])
    from sqlalchemy import func, select

    from authapi.extensions import db
    from authapi.models import Role, User

    with app.app_context():
        admins = db.session.scalar(select(func.count()).where(User.role == Role.ADMIN))
    assert admins == 1


def test_the_last_admin_check_waits_for_a_concurrent_change(app, client, admin, database_url):
    """Another transaction holds the admin rows (as a concurrent demotion does): the
    check waits for it, then counts what it committed."""
    import time

    import psycopg2

    create_admin(app, "second@example.com")
    second = login(app.test_client(), email="second@example.com")
    first_id, second_id = user_id_of(client, admin), user_id_of(client, second)
    other = psycopg2.connect(database_url.replace("+psycopg2", ""))
    try:
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM users WHERE role = 'admin' AND NOT disabled ORDER BY id FOR UPDATE"
            )
            outcome: dict[str, object] = {}
            request = threading.Thread(
                target=lambda: outcome.update(
                    response=app.test_client().patch(
                        f"/api/users/{first_id}", json={"role": "user"}, headers=bearer(second)
                    )
                )
            )
            request.start()
            waiting = 0
            while not waiting and request.is_alive():
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                waiting = cursor.fetchone()[0]
                time.sleep(0.01)
            assert waiting, "the PATCH never waited for the admin rows"
            cursor.execute("UPDATE users SET role = 'user' WHERE id = %s", (second_id,))
            other.commit()
            request.join()
    finally:
        other.close()
    assert_fail(outcome["response"], 409, LAST_ADMIN)


def test_delete_ends_sessions_at_once(client, admin, alice):
    target = alice["user"]["id"]
    response = client.delete(f"/api/users/{target}", headers=bearer(admin))
    assert response.status_code == 200
    assert response.json == {"status": "success"}
    assert_fail(client.get("/api/users/me", headers=bearer(alice["token"])), 401)
    assert_fail(client.get(f"/api/users/{target}", headers=bearer(admin)), 404, "User not found")
    wrong = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert_fail(wrong, 400, "Invalid email or password")


def test_cookie_requests_that_change_users_must_be_same_site(client, admin, alice):
    login(client, email="root@example.com")  # the cookie jar now holds the admin's session
    path = f"/api/users/{alice['user']['id']}"
    cross = {"Sec-Fetch-Site": "cross-site"}
    refused = client.patch(path, json={"name": "x"}, headers=cross)
    assert_fail(refused, 403, "Cross-site request refused")
    assert_fail(client.delete(path, headers={"Origin": "https://evil.example"}), 403)
    # Reading is not a state change; same-site changes pass.
    assert client.get("/api/users", headers=cross).status_code == 200
    same_site = client.patch(path, json={"name": "Same"}, headers={"Sec-Fetch-Site": "same-origin"})
    assert same_site.status_code == 200


def test_a_deletion_with_redis_unreachable_deletes_nothing(make_app, client, alice):
    """The account's sessions are ended before its row is deleted: with Redis down the
    deletion fails first (a 503 for the admin API), and the account and its sessions
    stay consistent, instead of a deleted account whose sessions still answer /me."""
    no_redis = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with no_redis.app_context():
        user = db.session.get(User, uuid.UUID(alice["user"]["id"]))
        with pytest.raises(redis.ConnectionError):
            users_service.delete_user(user)
        db.session.rollback()
    assert client.get("/api/users/me", headers=bearer(alice["token"])).status_code == 200
    login(client)  # the account is still there
