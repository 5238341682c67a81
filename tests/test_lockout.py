"""Security review, items 1 and 2: every password check is limited, counted before the
check, and nobody can lock the owner out of their account or out of their mail."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import bcrypt
import pytest

from authapi import lockout
from authapi.devices import DEVICE_COOKIE
from tests.helpers import PASSWORD, TOKEN_MODE, assert_fail, login, post_json_status, register
from tests.support.hashing import HeldSlot
from tests.support.mfa import STEP, enrol_totp
from tests.support.smtp_sink import delivered

OWNER = "198.51.100.10"
ATTACKER = "203.0.113.66"
LIMITED = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_LOGIN_PER_ADDRESS": "1000 per minute",
    "RATELIMIT_LOGIN_PER_ACCOUNT_ADDRESS": "3 per 15 minutes",
    "RATELIMIT_LOGIN_PER_ACCOUNT": "100 per hour",
    "RATELIMIT_PASSWORD_CHANGE_PER_USER": "1000 per hour",
    "RATELIMIT_PASSWORD_CHANGE_PER_SESSION": "1000 per hour",
}
NEW_PASSWORD = "a brand new password"


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def attempt(client, password: str, email: str = "alice@example.com", **kwargs):
    return client.post("/api/auth/login", json={"email": email, "password": password}, **kwargs)


def change_password(client, token: str, current: str):
    return client.patch(
        "/api/users/me/password",
        json={
            "currentPassword": current,
            "password": NEW_PASSWORD,
            "passwordConfirm": NEW_PASSWORD,
        },
        headers={"Authorization": f"Bearer {token}"},
    )


# --- item 2: nobody locks the owner out -------------------------------------------------


def test_a_stranger_guessing_from_one_address_does_not_lock_the_owner_out(make_app):
    app = make_app(**LIMITED)
    register(app.test_client())
    attacker = from_address(app, ATTACKER)
    for _ in range(3):
        assert_fail(attempt(attacker, "wrong password"), 400, "Invalid email or password")
    for _ in range(5):  # the attacker's address is blocked for this account...
        blocked = attempt(attacker, "wrong password")
        assert_fail(blocked, 429, lockout.TOO_MANY_FROM_HERE)
        assert 1 <= int(blocked.headers["Retry-After"]) <= 900
    assert_fail(attempt(attacker, PASSWORD), 429)  # (the right password too: no oracle)
    # ...the owner, from their own address and a browser never seen before, is not.
    assert attempt(from_address(app, OWNER), PASSWORD).status_code == 200


def test_the_account_ceiling_spares_browsers_that_signed_in_before(make_app):
    app = make_app(**{**LIMITED, "RATELIMIT_LOGIN_PER_ACCOUNT": "6 per hour"})
    register(app.test_client())
    owner_browser = from_address(app, OWNER)
    first = attempt(owner_browser, PASSWORD)
    assert first.status_code == 200
    cookie = owner_browser.get_cookie(DEVICE_COOKIE, path="/api/auth")
    assert cookie is not None and cookie.http_only and cookie.path == "/api/auth"
    # Guessing from many addresses reaches the account's ceiling...
    for index in range(3):
        for _ in range(2):
            assert_fail(attempt(from_address(app, f"203.0.113.{index}"), "nope nope"), 400)
    stranger = attempt(from_address(app, "203.0.113.200"), "nope nope")
    assert_fail(stranger, 429, lockout.ACCOUNT_CEILING)
    assert int(stranger.headers["Retry-After"]) >= 1
    # ...which holds even for the right password from a browser never seen before...
    assert_fail(attempt(from_address(app, "192.0.2.1"), PASSWORD), 429, lockout.ACCOUNT_CEILING)
    # ...but the owner's browser, from anywhere, still gets in.
    owner_browser.environ_base["REMOTE_ADDR"] = "192.0.2.99"
    assert attempt(owner_browser, PASSWORD).status_code == 200
    # A cookie copied and altered by someone else is worth nothing.
    forged = from_address(app, "192.0.2.2")
    value = cookie.value
    forged.set_cookie(DEVICE_COOKIE, value[:-2] + ("AA" if value[-2:] != "AA" else "BB"), path="/")
    assert_fail(attempt(forged, PASSWORD), 429, lockout.ACCOUNT_CEILING)
    # The cookie names accounts by digest only: never the address itself.
    assert "alice" not in value and "example" not in value


def test_token_mode_logins_get_no_device_cookie(make_app):
    app = make_app(**LIMITED)
    client = app.test_client()
    register(client)
    answer = attempt(client, PASSWORD, headers={"X-Auth-Mode": "token"})
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers


def test_successful_logins_refund_their_attempt(make_app):
    app = make_app(**LIMITED)
    client = from_address(app, OWNER)
    register(client)
    for _ in range(2):
        assert_fail(attempt(client, "wrong password"), 400)
    for _ in range(5):  # with the limit at 3, successes never use it up
        assert attempt(client, PASSWORD).status_code == 200
    assert_fail(attempt(client, "wrong password"), 400)  # the third failure
    assert_fail(attempt(client, "wrong password"), 429)


@pytest.mark.live_server
def test_concurrent_guesses_never_get_more_checks_than_the_limit(
    make_app, live_server, monkeypatch
):
    """Counted atomically BEFORE the check: 20 guesses at once, a limit of 10, 10 checks."""
    app = make_app(
        **{**LIMITED, "RATELIMIT_LOGIN_PER_ACCOUNT_ADDRESS": "10 per 15 minutes"},
        HASH_QUEUE_SIZE=64,
    )
    register(app.test_client())
    server = live_server(app)
    checks, lock = [], threading.Lock()
    real_checkpw = bcrypt.checkpw

    def counted_checkpw(password: bytes, hashed: bytes) -> bool:
        with lock:
            checks.append(1)
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counted_checkpw)
    payload = {"email": "alice@example.com", "password": "wrong password"}
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(
            pool.map(lambda _: post_json_status(f"{server.url}/api/auth/login", payload), range(20))
        )
    assert sorted(statuses) == [400] * 10 + [429] * 10
    assert len(checks) == 10


def test_forgot_password_from_a_stranger_never_blocks_the_owners_mail(make_app, smtp_sink):
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_ACCOUNT_EMAILS_PER_ACCOUNT_ADDRESS="3 per hour",
        **smtp_sink.config,
    )
    register(app.test_client())
    delivered(app, smtp_sink)
    before = len(smtp_sink.messages)
    attacker = from_address(app, ATTACKER)
    for path in ["/api/auth/forgotpassword", "/api/auth/verifyemail/resend"] * 4:
        answer = attacker.post(path, json={"email": "alice@example.com"})
        assert answer.status_code == 200, answer.json  # always 200, never a 429
    assert len(delivered(app, smtp_sink)) == before + 3  # the surplus dropped silently
    owner = from_address(app, OWNER)
    assert (
        owner.post("/api/auth/forgotpassword", json={"email": "alice@example.com"}).json["status"]
        == "success"
    )
    mails = delivered(app, smtp_sink)
    assert len(mails) == before + 4
    assert "/resetpassword/" in mails[-1].text or any(
        "/resetpassword/" in mail.text for mail in mails[before + 3 :]
    )


# --- item 1: the password change is no oracle, and the hashing queue is bounded --------


def test_password_change_guesses_are_limited_per_session(make_app):
    app = make_app(
        **{
            **LIMITED,
            "RATELIMIT_LOGIN_PER_ACCOUNT_ADDRESS": "1000 per hour",
            "RATELIMIT_PASSWORD_CHANGE_PER_SESSION": "5 per 15 minutes",
        }
    )
    client = app.test_client()
    register(client)
    token = login(client)
    for _ in range(5):
        assert_fail(change_password(client, token, "wrong password"), 400)
    for current in ("wrong password", PASSWORD):  # 40 guesses then the right one: no more
        refused = change_password(client, token, current)
        assert_fail(refused, 429)
        assert int(refused.headers["Retry-After"]) >= 1
    # Another session of the same user has a budget of its own.
    assert change_password(client, login(client), PASSWORD).status_code == 200


def test_password_change_guesses_are_limited_per_user(make_app):
    app = make_app(
        **{
            **LIMITED,
            "RATELIMIT_LOGIN_PER_ACCOUNT_ADDRESS": "1000 per hour",
            "RATELIMIT_PASSWORD_CHANGE_PER_USER": "4 per hour",
        }
    )
    client = app.test_client()
    register(client)
    for _ in range(4):  # a new session for each guess does not help
        assert_fail(change_password(client, login(client), "wrong password"), 400)
    assert_fail(change_password(client, login(client), PASSWORD), 429)


def test_password_change_failures_spend_the_login_budget(make_app):
    app = make_app(**LIMITED)
    client = from_address(app, ATTACKER)
    register(client)
    token = login(client)  # a stolen token, used from the attacker's address
    for _ in range(3):
        assert_fail(change_password(client, token, "wrong password"), 400)
    assert_fail(change_password(client, token, PASSWORD), 429, lockout.TOO_MANY_FROM_HERE)
    assert_fail(attempt(client, PASSWORD), 429, lockout.TOO_MANY_FROM_HERE)
    assert attempt(from_address(app, OWNER), PASSWORD).status_code == 200


def test_the_default_limits_stop_forty_guesses_of_the_current_password(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    client = app.test_client()
    register(client)
    token = login(client)
    statuses = [change_password(client, token, f"guess {n}").status_code for n in range(40)]
    assert 429 in statuses
    assert change_password(client, token, PASSWORD).status_code == 429


@pytest.fixture
def one_slot(make_app):
    """An app with one hashing slot and no queue, and a way to take that slot; a slot
    still held when the test ends is released."""
    app = make_app(**LIMITED, MAX_CONCURRENT_HASHES=1, HASH_QUEUE_SIZE=0)
    held: list[HeldSlot] = []

    def hold() -> HeldSlot:
        held.append(HeldSlot(app))
        return held[-1]

    yield app, hold
    for slot in held:
        slot.release()


def test_a_full_hashing_queue_answers_503_with_retry_after_at_once(one_slot):
    app, hold = one_slot
    client = from_address(app, OWNER)
    register(client)
    hold()
    for _ in range(5):  # more than the limit of 3: a refused check costs no attempt
        busy = attempt(client, PASSWORD)
        assert_fail(busy, 503)
        assert busy.headers["Retry-After"] == "1"
    payload = {"name": "B", "email": "bob@example.com", "password": PASSWORD}
    register_answer = client.post(
        "/api/auth/register", json={**payload, "passwordConfirm": PASSWORD}
    )
    assert_fail(register_answer, 503)
    # An unknown email costs a (dummy) check too: the same 503, nothing told apart.
    assert_fail(attempt(client, PASSWORD, email="nobody@example.com"), 503)


def test_after_the_queue_drains_the_refused_client_logs_in(one_slot):
    app, hold = one_slot
    client = from_address(app, OWNER)
    register(client)
    # A Bearer session (an app's): the browser's sign-in below leaves it alone.
    token = attempt(client, PASSWORD, headers=TOKEN_MODE).json["access_token"]
    slot = hold()
    for _ in range(4):
        assert_fail(attempt(client, PASSWORD), 503)
        assert_fail(change_password(client, token, PASSWORD), 503)
    slot.release()
    assert attempt(client, PASSWORD).status_code == 200  # the 503s spent no attempt
    assert change_password(client, token, PASSWORD).status_code == 200


def test_a_browser_that_passed_the_password_of_an_mfa_account_is_known(make_app, smtp_sink):
    """An account with a second factor answers the right password with 403 mfa_required:
    that browser proved the password, so the per-account ceiling spares it as well."""
    app = make_app(
        **{**LIMITED, "RATELIMIT_LOGIN_PER_ACCOUNT": "2 per hour"},
        **smtp_sink.config,
        CLOCK_FROZEN_AT=(int(time.time()) // STEP) * STEP + 5,
    )
    owner = from_address(app, OWNER)
    register(owner)
    enrol_totp(owner, app, login(owner))
    owner.delete_cookie(DEVICE_COOKIE, path="/api/auth")  # known only from here on
    first = attempt(owner, PASSWORD)
    assert_fail(first, 403)
    assert first.json["code"] == "mfa_required"
    assert owner.get_cookie(DEVICE_COOKIE, path="/api/auth") is not None
    for index in range(2):
        assert_fail(attempt(from_address(app, f"203.0.113.{index}"), "nope nope"), 400)
    assert_fail(attempt(from_address(app, "192.0.2.1"), PASSWORD), 429, lockout.ACCOUNT_CEILING)
    assert attempt(owner, PASSWORD).json["code"] == "mfa_required"  # not 429
