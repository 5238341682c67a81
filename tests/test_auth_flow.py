"""The contract's happy path and its failures, through the real routes."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select

from authapi.extensions import db
from authapi.models import User
from tests.helpers import PASSWORD, assert_fail, bearer, login, register

USER_FIELDS = {"id", "name", "email", "role", "photo", "verified", "created_at", "updated_at"}


def test_register_returns_the_public_user(client):
    response = client.post(
        "/api/auth/register",
        json={
            "name": "  Alice  ",
            "email": "  Alice@Example.COM ",
            "password": PASSWORD,
            "passwordConfirm": PASSWORD,
        },
    )
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    body = response.json
    assert body["status"] == "success"
    user = body["data"]["user"]
    assert set(user) == USER_FIELDS
    uuid.UUID(user["id"])
    assert user["name"] == "Alice"
    assert user["email"] == "alice@example.com"
    assert user["role"] == "user"
    assert user["photo"] == "default.png"
    assert user["verified"] is False
    datetime.fromisoformat(user["created_at"])
    assert "password" not in response.get_data(as_text=True)


def test_register_stores_a_bcrypt_hash_not_the_password(client, app):
    user = register(client)
    with app.app_context():
        stored = db.session.get(User, uuid.UUID(user["id"]))
        assert stored.password.startswith("$2b$04$")
        assert PASSWORD not in stored.password


def test_register_duplicate_email_in_any_case_is_409(client, app):
    register(client, email="bob@example.com")
    response = client.post(
        "/api/auth/register",
        json={
            "name": "Bob",
            "email": " BOB@example.com",
            "password": PASSWORD,
            "passwordConfirm": PASSWORD,
        },
    )
    assert_fail(response, 409, "User with that email already exists")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_register_ignores_role_and_other_mass_assignment_fields(client, app):
    response = client.post(
        "/api/auth/register",
        json={
            "name": "Mallory",
            "email": "mallory@example.com",
            "password": PASSWORD,
            "passwordConfirm": PASSWORD,
            "role": "admin",
            "verified": True,
            "id": "00000000-0000-0000-0000-000000000001",
            "created_at": "2000-01-01T00:00:00",
        },
    )
    assert response.status_code == 201
    user = response.json["data"]["user"]
    assert user["role"] == "user"
    assert user["verified"] is False
    assert user["id"] != "00000000-0000-0000-0000-000000000001"
    assert not user["created_at"].startswith("2000")


def test_register_validation_errors_name_each_field(client, app):
    response = client.post("/api/auth/register", json={})
    assert_fail(response, 400)
    errors = response.json["errors"]
    assert set(errors) == {"name", "email", "password", "passwordConfirm"}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_register_password_rules(client):
    cases = {
        "short": ("seven77", "password"),
        "too many bytes": ("\U0001f600" * 19, "password"),  # 76 bytes
        "mismatch": (PASSWORD, "passwordConfirm"),
    }
    for label, (password, field) in cases.items():
        confirm = password if label != "mismatch" else PASSWORD + "x"
        response = client.post(
            "/api/auth/register",
            json={
                "name": "A",
                "email": f"{label.replace(' ', '')}@example.com",
                "password": password,
                "passwordConfirm": confirm,
            },
        )
        assert_fail(response, 400)
        assert field in response.json["errors"], label


def test_register_accepts_exactly_72_bytes(client):
    password = "\U0001f600" * 18  # 72 bytes, 18 characters
    register(client, email="emoji@example.com", password=password)
    login(client, email="emoji@example.com", password=password)


def test_login_sets_three_cookies_and_returns_the_access_token(client):
    register(client)
    response = client.post(
        "/api/auth/login", json={"email": "ALICE@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json["status"] == "success"
    assert response.json["access_token"].count(".") == 2
    assert response.headers["Cache-Control"] == "no-store"
    cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert set(cookies) == {"access_token", "refresh_token", "logged_in"}
    assert "HttpOnly" in cookies["access_token"] and "HttpOnly" in cookies["refresh_token"]
    assert "HttpOnly" not in cookies["logged_in"]
    assert cookies["logged_in"].startswith("logged_in=true;")
    for cookie in cookies.values():
        assert "SameSite=Lax" in cookie
        assert "Domain" not in cookie
        assert "Secure" not in cookie  # not in testing/development
    assert "Max-Age=900" in cookies["access_token"] and "Max-Age=900" in cookies["logged_in"]
    assert "Max-Age=3600" in cookies["refresh_token"]
    assert "Path=/;" in cookies["access_token"] + ";" and "Path=/;" in cookies["logged_in"] + ";"
    assert "Path=/api/auth" in cookies["refresh_token"]


def test_login_failures_are_identical_for_unknown_email_and_wrong_password(client):
    register(client)
    wrong = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "nope-nope"}
    )
    unknown = client.post(
        "/api/auth/login", json={"email": "zed@example.com", "password": "nope-nope"}
    )
    for response in (wrong, unknown):
        assert_fail(response, 400, "Invalid email or password")
        assert "Set-Cookie" not in response.headers
    assert wrong.get_data() == unknown.get_data()


def test_login_with_a_too_long_password_is_just_a_wrong_password(client):
    register(client)
    response = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "\u00e9" * 500}
    )
    assert_fail(response, 400, "Invalid email or password")
    # 72 bytes of the right password followed by more must not log in either.
    response = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD + "x" * 80}
    )
    assert_fail(response, 400, "Invalid email or password")


def test_login_missing_fields_is_a_validation_error(client):
    response = client.post("/api/auth/login", json={"email": "a@example.com"})
    assert_fail(response, 400)
    assert "password" in response.json["errors"]


def test_me_with_cookie_and_with_bearer(client, app):
    user = register(client)
    token = login(client)
    by_cookie = client.get("/api/users/me")
    assert by_cookie.status_code == 200
    assert by_cookie.json["data"]["user"] == user
    bearer_client = app.test_client()
    by_bearer = bearer_client.get("/api/users/me", headers=bearer(token))
    assert by_bearer.status_code == 200
    assert by_bearer.json["data"]["user"]["id"] == user["id"]


def test_me_without_a_token_says_not_logged_in(client):
    assert_fail(client.get("/api/users/me"), 401, "You are not logged in")


def test_me_never_reads_the_token_from_the_query_string(client, app):
    register(client)
    token = login(client)
    fresh = app.test_client()
    response = fresh.get(f"/api/users/me?access_token={token}")
    assert_fail(response, 401, "You are not logged in")


def test_an_invalid_bearer_header_wins_over_a_valid_cookie(client):
    register(client)
    login(client)
    response = client.get("/api/users/me", headers={"Authorization": "Bearer not.a.token"})
    assert_fail(response, 401, "Invalid token")


API_CHALLENGE = 'Bearer realm="authapi"'
REFUSED_CHALLENGE = 'Bearer realm="authapi", error="invalid_token"'


def test_every_401_names_a_bearer_challenge(app, make_app, client):
    """RFC 9110: a 401 carries WWW-Authenticate (RFC 6750 for Bearer tokens: no error
    when none was sent, error="invalid_token" for a token sent and refused). Found by an
    audit: no 401 had one. The contract's messages are unchanged."""
    register(client)
    token = login(client)
    fresh = app.test_client()
    missing = fresh.get("/api/users/me")
    assert_fail(missing, 401, "You are not logged in")
    assert missing.headers["WWW-Authenticate"] == API_CHALLENGE
    forged = fresh.get("/api/users/me", headers={"Authorization": "Bearer not.a.token"})
    assert_fail(forged, 401, "Invalid token")
    assert forged.headers["WWW-Authenticate"] == REFUSED_CHALLENGE
    later = make_app(CLOCK_OFFSET=16 * 60).test_client()
    expired = later.get("/api/users/me", headers=bearer(token))
    assert_fail(expired, 401, "You are not logged in")
    assert expired.headers["WWW-Authenticate"] == REFUSED_CHALLENGE
    mfa = fresh.post("/api/auth/login/mfa", json={"mfa_token": "nope", "code": "123456"})
    assert_fail(mfa, 401)
    assert mfa.headers["WWW-Authenticate"] == API_CHALLENGE
    assert client.get("/api/auth/logout").status_code == 200
    ended = fresh.get("/api/users/me", headers=bearer(token))
    assert_fail(ended, 401, "Invalid token or session has expired")
    assert ended.headers["WWW-Authenticate"] == REFUSED_CHALLENGE
    # Other statuses carry none.
    assert "WWW-Authenticate" not in fresh.get("/api/auth/refresh").headers  # 403
    # A front end on another origin may read it.
    across = fresh.get("/api/users/me", headers={"Origin": "http://localhost:3000"})
    assert "WWW-Authenticate" in across.headers["Access-Control-Expose-Headers"]


def test_refresh_issues_new_tokens_and_cookies(client):
    register(client)
    first = login(client)
    response = client.get("/api/auth/refresh")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.json["status"] == "success"
    assert response.json["access_token"] != first
    names = {c.split("=", 1)[0] for c in response.headers.getlist("Set-Cookie")}
    assert {"access_token", "logged_in", "refresh_token"} <= names
    assert client.get("/api/users/me").status_code == 200


def test_refresh_without_or_with_a_bad_cookie_is_403(client, app):
    assert_fail(client.get("/api/auth/refresh"), 403, "Could not refresh access token")
    client.set_cookie("refresh_token", "garbage", path="/api/auth")
    assert_fail(client.get("/api/auth/refresh"), 403, "Could not refresh access token")


def test_logout_clears_cookies_and_kills_the_token(client, app):
    register(client)
    token = login(client)
    response = client.get("/api/auth/logout")
    assert response.status_code == 200
    assert response.json == {"status": "success"}
    cleared = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    assert set(cleared) == {"access_token", "refresh_token", "logged_in"}
    for name, cookie in cleared.items():
        assert cookie.startswith(f"{name}=;")
        assert "Expires=Thu, 01 Jan 1970" in cookie
    assert "Path=/api/auth" in cleared["refresh_token"]
    other = app.test_client()
    response = other.get("/api/users/me", headers=bearer(token))
    assert_fail(response, 401, "Invalid token or session has expired")


def test_logout_needs_a_token(client):
    assert_fail(client.get("/api/auth/logout"), 401, "You are not logged in")


def _cleared(response) -> set[str]:
    return {
        cookie.split("=", 1)[0]
        for cookie in response.headers.getlist("Set-Cookie")
        if "Expires=Thu, 01 Jan 1970" in cookie
    }


def test_logout_of_a_session_already_ended_elsewhere_clears_its_cookies(app):
    laptop, phone = app.test_client(), app.test_client()
    register(laptop)
    login(laptop)
    login(phone)
    assert phone.get("/api/auth/logout?scope=global").status_code == 200
    response = laptop.get("/api/auth/logout")
    assert_fail(response, 401, "Invalid token or session has expired")
    assert _cleared(response) == {"access_token", "refresh_token", "logged_in"}
    assert laptop.get_cookie("logged_in") is None
    assert laptop.get_cookie("refresh_token", path="/api/auth") is None


def test_any_request_of_a_session_ended_elsewhere_clears_its_cookies(app):
    """Found with a tutorial front end in Chromium: after another device logged out
    everywhere, GET /api/users/me answered 401 and left the cookies, so js-cookie kept
    finding logged_in and the page offered the profile of a signed-out user."""
    laptop, phone = app.test_client(), app.test_client()
    register(laptop)
    login(laptop)
    login(phone)
    assert phone.get("/api/auth/logout?scope=others").status_code == 200
    response = laptop.get("/api/users/me")
    assert_fail(response, 401, "Invalid token or session has expired")
    assert _cleared(response) == {"access_token", "refresh_token", "logged_in"}
    assert laptop.get_cookie("logged_in") is None
    # The phone's session, and cookies, are untouched.
    assert phone.get("/api/users/me").status_code == 200
    # An expired access token is mended by a refresh: its 401 keeps the cookies.
    phone.delete_cookie("access_token")
    response = phone.get("/api/users/me")
    assert_fail(response, 401, "You are not logged in")
    assert _cleared(response) == set()


def test_a_logout_401_that_a_refresh_can_mend_keeps_the_cookies(app):
    client = app.test_client()
    register(client)
    login(client)
    client.delete_cookie("access_token")  # expired: the browser dropped it
    response = client.get("/api/auth/logout")
    assert_fail(response, 401, "You are not logged in")
    assert _cleared(response) == set()
    assert client.get("/api/auth/refresh").status_code == 200  # as front ends do
    assert client.get("/api/auth/logout").status_code == 200


def test_a_bad_bearer_token_on_logout_leaves_the_cookies_alone(app):
    client = app.test_client()
    register(client)
    login(client)
    response = client.get("/api/auth/logout", headers=bearer("not.a.token"))
    assert response.status_code == 401
    assert _cleared(response) == set()
    assert client.get("/api/users/me").status_code == 200


def test_logout_on_one_device_keeps_the_other_logged_in(app):
    phone, laptop = app.test_client(), app.test_client()
    register(phone)
    login(phone)
    login(laptop)
    assert phone.get("/api/auth/logout").status_code == 200
    assert phone.get("/api/users/me").status_code == 401
    assert laptop.get("/api/users/me").status_code == 200


def test_a_dead_session_stays_dead_after_a_new_login(client, app):
    register(client)
    old_token = login(client)
    client.get("/api/auth/logout")
    login(client)
    other = app.test_client()
    response = other.get("/api/users/me", headers=bearer(old_token))
    assert_fail(response, 401)


def test_health_checker(client):
    response = client.get("/api/healthChecker")
    assert response.status_code == 200
    assert response.json["status"] == "success"
    assert response.json["message"]
