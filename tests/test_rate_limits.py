"""Rate limits on the shared Redis: 429 JSON with Retry-After, keyed by address and account."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask
from flask_limiter import Limiter

from authapi.extensions import drop_per_request_hooks
from tests.helpers import PASSWORD, assert_fail, bearer, login, post_json_status, register
from tests.support.hashing import HeldSlot

LIMITED = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_LOGIN_PER_ADDRESS": "100 per minute",
    "RATELIMIT_LOGIN_PER_ACCOUNT_ADDRESS": "3 per 5 minutes",
    "RATELIMIT_LOGIN_PER_ACCOUNT": "100 per hour",
    "RATELIMIT_REGISTER_PER_ADDRESS": "3 per hour",
    "RATELIMIT_REFRESH_PER_SESSION": "2 per minute",
}


def _wrong_login(client, email="alice@example.com", **kwargs):
    return client.post(
        "/api/auth/login", json={"email": email, "password": "wrong password"}, **kwargs
    )


def _expire_window(redis_client, scope: str) -> None:
    """End the limit window now: what Redis does itself when the counter's TTL runs out."""
    for key in redis_client.scan_iter(f"*{scope}*"):
        redis_client.delete(key)


def test_failed_logins_per_account_and_address_get_429_with_retry_after(make_app, redis_client):
    app = make_app(**LIMITED)
    client = app.test_client()
    register(client)
    for _ in range(3):
        assert_fail(_wrong_login(client), 400, "Invalid email or password")
    blocked = _wrong_login(client)
    assert_fail(blocked, 429)
    assert 1 <= int(blocked.headers["Retry-After"]) <= 300  # the 5-minute window
    # From this address even the right password is refused: success must not leak.
    right = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    assert_fail(right, 429)
    # Another account from the same address is not affected.
    register(client, email="bob@example.com")
    login(client, email="bob@example.com")
    # After the window the real user logs in again.
    _expire_window(redis_client, "lockout")
    login(client)


def test_the_account_limit_counts_the_normalised_email(make_app):
    client = make_app(**LIMITED).test_client()
    register(client)
    for email in ("alice@example.com", "ALICE@example.com", " alice@EXAMPLE.com "):
        assert_fail(_wrong_login(client, email=email), 400)
    assert_fail(_wrong_login(client, email="Alice@Example.com"), 429)


def test_successful_logins_do_not_use_up_the_account_limit(make_app):
    client = make_app(**LIMITED).test_client()
    register(client)
    for _ in range(6):
        login(client)


def test_login_limit_per_address(make_app):
    client = make_app(**{**LIMITED, "RATELIMIT_LOGIN_PER_ADDRESS": "4 per minute"}).test_client()
    for index in range(4):
        assert_fail(_wrong_login(client, email=f"user{index}@example.com"), 400)
    assert_fail(_wrong_login(client, email="someone-else@example.com"), 429)


def test_forged_x_forwarded_for_does_not_reset_the_counter(make_app):
    client = make_app(**{**LIMITED, "RATELIMIT_LOGIN_PER_ADDRESS": "2 per minute"}).test_client()
    for index in range(2):
        headers = {"X-Forwarded-For": f"10.0.0.{index}"}
        assert_fail(_wrong_login(client, email=f"u{index}@example.com", headers=headers), 400)
    forged = _wrong_login(client, email="u9@example.com", headers={"X-Forwarded-For": "10.9.9.9"})
    assert_fail(forged, 429)


def test_a_trusted_proxy_count_makes_the_forwarded_address_count(make_app):
    app = make_app(
        **{**LIMITED, "RATELIMIT_LOGIN_PER_ADDRESS": "2 per minute"}, TRUSTED_PROXY_COUNT=1
    )
    client = app.test_client()
    for index in range(2):
        headers = {"X-Forwarded-For": "203.0.113.7"}
        assert_fail(_wrong_login(client, email=f"u{index}@example.com", headers=headers), 400)
    assert_fail(_wrong_login(client, headers={"X-Forwarded-For": "203.0.113.7"}), 429)
    other_client = _wrong_login(client, headers={"X-Forwarded-For": "198.51.100.1"})
    assert_fail(other_client, 400)


def test_register_is_limited_per_address(make_app):
    client = make_app(**LIMITED).test_client()
    for index in range(3):
        register(client, email=f"new{index}@example.com")
    response = client.post(
        "/api/auth/register",
        json={
            "name": "X",
            "email": "new9@example.com",
            "password": PASSWORD,
            "passwordConfirm": PASSWORD,
        },
    )
    assert_fail(response, 429)
    assert int(response.headers["Retry-After"]) >= 1


def test_refresh_is_limited_per_session(make_app):
    app = make_app(**LIMITED)
    phone, laptop = app.test_client(), app.test_client()
    register(phone)
    login(phone)
    login(laptop)
    assert phone.get("/api/auth/refresh").status_code == 200
    assert phone.get("/api/auth/refresh").status_code == 200
    assert_fail(phone.get("/api/auth/refresh"), 429)
    assert laptop.get("/api/auth/refresh").status_code == 200  # another session


def test_limits_are_off_only_when_configured_off(make_app):
    client = make_app(**{**LIMITED, "RATELIMIT_ENABLED": False}).test_client()
    register(client)
    for _ in range(6):
        assert_fail(_wrong_login(client), 400)


def test_an_app_with_limits_on_leaves_an_app_with_limits_off_unlimited(client, make_app):
    """Flask-Limiter keeps ONE Limiter per process, and each app built re-initialises it:
    building a second app with limits on must not switch them on for the first (the
    session app, limits off), while the second keeps its own limits."""
    limited = make_app(**LIMITED).test_client()
    for n in range(12):  # over the session app's own "10 per hour" for registrations
        register(client, email=f"user{n}@example.com")
    for n in range(3):
        register(limited, email=f"limited{n}@example.com")
    blocked = limited.post(
        "/api/auth/register",
        json={"name": "Eve", "email": "eve@example.com", "password": PASSWORD,
              "passwordConfirm": PASSWORD},
    )  # fmt: skip
    assert_fail(blocked, 429)


def test_passkey_sign_ins_of_an_app_with_limits_off_stay_unlimited(make_app):
    """The same for the passkey sign-in routes, whose limit once missed the check: an
    app built later with limits on switched them on for every app."""
    off = make_app(RATELIMIT_ENABLED=False, RATELIMIT_LOGIN_PER_ADDRESS="2 per minute")
    on = make_app(**{**LIMITED, "RATELIMIT_LOGIN_PER_ADDRESS": "2 per minute"})
    for _ in range(4):
        assert off.test_client().post("/api/auth/passkeys/login/options").status_code == 200
    limited = on.test_client()
    for _ in range(2):
        assert limited.post("/api/auth/passkeys/login/options").status_code == 200
    assert_fail(limited.post("/api/auth/passkeys/login/options"), 429)


def test_development_lets_a_developer_register_again_and_again(make_app):
    """Ten attempts an hour (400s and 409s count) would lock a developer out of their own
    demo; development counts every attempt too, against a far higher bound."""
    from config import DevelopmentConfig, ProductionConfig

    assert ProductionConfig.RATELIMIT_REGISTER_PER_ADDRESS == "10 per hour"
    client = make_app(APP_ENV="development", RATELIMIT_ENABLED=True).test_client()
    register(client)
    for _ in range(15):
        assert_fail(client.post("/api/auth/register", json={"name": "Alice"}), 400)
        assert_fail(
            client.post(
                "/api/auth/register",
                json={"name": "A", "email": "alice@example.com", "password": PASSWORD,
                      "passwordConfirm": PASSWORD},
            ),
            409,
        )  # fmt: skip
    assert DevelopmentConfig.RATELIMIT_REGISTER_PER_ADDRESS == "1000 per hour"


def test_rate_limits_are_on_by_default():
    from config import Config, ProductionConfig

    assert Config.RATELIMIT_ENABLED is True
    assert ProductionConfig.RATELIMIT_ENABLED is True


@pytest.mark.live_server
def test_twenty_simultaneous_registrations_of_one_email(make_app, live_server):
    app = make_app(HASH_QUEUE_SIZE=32)  # every request gets a hash (no 503 from the bound)
    server = live_server(app)
    payload = {
        "name": "Racer",
        "email": "race@example.com",
        "password": PASSWORD,
        "passwordConfirm": PASSWORD,
    }
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(
            pool.map(
                lambda _: post_json_status(f"{server.url}/api/auth/register", payload), range(20)
            )
        )
    assert sorted(statuses) == [201] + [409] * 19
    from sqlalchemy import func, select

    from authapi.extensions import db
    from authapi.models import User

    with app.app_context():
        count = db.session.scalar(
            select(func.count()).select_from(User).where(User.email == "race@example.com")
        )
        assert count == 1


def _busy(app, request) -> None:
    """Send ``request`` three times while the app's only hashing slot is held: each is
    refused at once with 503 hashing_busy."""
    slot = HeldSlot(app)
    try:
        for _ in range(3):
            answer = request()
            assert_fail(answer, 503)
            assert answer.json["code"] == "hashing_busy"
    finally:
        slot.release()


@pytest.mark.parametrize("storage", [{}, {"RATELIMIT_STORAGE_URI": "memory://"}])
def test_requests_refused_for_a_full_hashing_pool_spend_no_limit(make_app, storage):
    """Each route allows two requests; three refused with hashing_busy first leave both.
    Counters in Redis, and in memory (the embedded mode's)."""
    app = make_app(
        **storage,
        RATELIMIT_ENABLED=True,
        RATELIMIT_REGISTER_PER_ADDRESS="2 per hour",
        RATELIMIT_LOGIN_PER_ADDRESS="2 per minute",
        RATELIMIT_PASSWORD_CHANGE_PER_USER="2 per hour",
        RATELIMIT_PASSWORD_CHANGE_PER_SESSION="2 per 15 minutes",
        MAX_CONCURRENT_HASHES=1,
        HASH_QUEUE_SIZE=0,
    )
    client = app.test_client()

    def sign_up(email: str):
        body = {"name": "A", "email": email, "password": PASSWORD, "passwordConfirm": PASSWORD}
        return client.post("/api/auth/register", json=body)

    _busy(app, lambda: sign_up("alice@example.com"))
    assert sign_up("alice@example.com").status_code == 201
    assert sign_up("bob@example.com").status_code == 201
    assert_fail(sign_up("carol@example.com"), 429)

    def sign_in():
        return client.post(
            "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
        )

    _busy(app, sign_in)
    assert sign_in().status_code == 200
    again = sign_in()  # in the same browser: it ends the session of the one before
    assert again.status_code == 200
    token = again.json["access_token"]
    assert_fail(sign_in(), 429)  # refused: the browser's session stays

    def change(current: str, new: str):
        body = {"currentPassword": current, "password": new, "passwordConfirm": new}
        return client.patch("/api/users/me/password", json=body, headers=bearer(token))

    _busy(app, lambda: change(PASSWORD, "second password"))
    assert change(PASSWORD, "second password").status_code == 200
    assert change("second password", "third password").status_code == 200
    assert_fail(change("third password", "fourth password"), 429)


def _modules_run_by(client, path: str, headers: dict | None = None) -> set[str]:
    """The top-level packages whose Python functions ran while ``client`` got ``path``."""
    seen: set[str] = set()

    def record(frame, event, _arg) -> None:
        if event == "call":
            seen.add(frame.f_globals.get("__name__", "").partition(".")[0])

    sys.setprofile(record)
    try:
        response = client.get(path, headers=headers or {})
    finally:
        sys.setprofile(None)
    assert response.status_code in (200, 401), response.get_json()
    return seen


def test_a_route_without_limits_runs_no_rate_limiter_code(make_app):
    """Limits are per route: a request to a route that has none never enters
    Flask-Limiter or limits, though the app's limits are on (their per-request hooks
    once cost every request 50 us, docs/performance.md change 26)."""
    client = make_app(**LIMITED).test_client()
    register(client)
    token = login(client)
    for path, headers in (
        ("/api/healthChecker", None),
        ("/api/users/me", bearer(token)),
        ("/api/users/me", None),  # the 401 too
    ):
        ran = _modules_run_by(client, path, headers)
        assert "authapi" in ran and "flask" in ran  # the profile saw the request
        assert not ran & {"flask_limiter", "limits"}, (path, ran)
    assert "flask_limiter" in _modules_run_by(client, "/api/auth/refresh")  # a limited one


def _limited_app(extension: Limiter) -> Flask:
    app = Flask(__name__)
    app.config["RATELIMIT_STORAGE_URI"] = "memory://"
    extension.init_app(app)
    drop_per_request_hooks(app, extension)

    @app.get("/limited")
    @extension.limit("2 per minute")
    def limited() -> str:
        return "limited"

    @app.get("/free")
    def free() -> str:
        return "free"

    return app


def test_dropping_the_hooks_keeps_route_limits_and_their_retry_after():
    extension = Limiter(key_func=lambda: "client", retry_after="delta-seconds")
    app = _limited_app(extension)
    assert extension._check_request_limit not in app.before_request_funcs[None]
    client = app.test_client()
    assert [client.get("/limited").status_code for _ in range(3)] == [200, 200, 429]
    assert [client.get("/free").status_code for _ in range(5)] == [200] * 5


def test_the_hooks_stay_for_an_application_wide_limit():
    extension = Limiter(key_func=lambda: "client", application_limits=["3 per minute"])
    app = _limited_app(extension)
    assert extension._check_request_limit in app.before_request_funcs[None]
    client = app.test_client()
    assert [client.get("/free").status_code for _ in range(4)] == [200, 200, 200, 429]
