"""Password reset, end to end: forgot password -> mail (real SMTP sink) -> reset."""

from __future__ import annotations

import pytest

from tests.helpers import PASSWORD, TOKEN_MODE, assert_fail, bearer, login, register
from tests.support.hashing import HeldSlot
from tests.support.smtp_sink import delivered

RESET_PATH = "/resetpassword/"
RESET_SENT = "If an account with that email exists, a password reset link is on its way"
RESET_FAILED = "Invalid or expired password reset token"
NEW_PASSWORD = "a brand new password"


def forgot(client, email="alice@example.com"):
    return client.post("/api/auth/forgotpassword", json={"email": email})


def reset(client, token, password=NEW_PASSWORD, confirm=None):
    return client.patch(
        f"/api/auth/resetpassword/{token}",
        json={"password": password, "passwordConfirm": password if confirm is None else confirm},
    )


def reset_token(app, sink, email="alice@example.com") -> str:
    delivered(app, sink)
    return sink.last_with(RESET_PATH, email).link(RESET_PATH)


def wrong_login(client, password=PASSWORD):
    return client.post("/api/auth/login", json={"email": "alice@example.com", "password": password})


def test_forgot_password_mails_a_link_that_resets_the_password(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    response = forgot(client)
    assert response.status_code == 200
    assert response.json == {"status": "success", "message": RESET_SENT}
    delivered(mail_app, smtp_sink)
    mail = smtp_sink.last_with(RESET_PATH)
    assert mail.envelope_to == ["alice@example.com"]
    assert mail.subject == "Reset your password"
    assert "expires in 10 minutes" in mail.text
    token = mail.link(RESET_PATH)
    assert f"http://localhost{RESET_PATH}{token}" in mail.text  # the front end's page

    done = reset(client, token)
    assert done.status_code == 200
    assert done.json == {
        "status": "success",
        "message": "Password updated: log in with your new password",
    }
    cleared = done.headers.getlist("Set-Cookie")
    assert len(cleared) == 3 and all("Max-Age=0" in cookie for cookie in cleared)
    assert_fail(wrong_login(client, PASSWORD), 400, "Invalid email or password")
    login(client, password=NEW_PASSWORD)


def test_the_reset_link_points_at_frontend_url(make_app, smtp_sink):
    app = make_app(**{**smtp_sink.config, "FRONTEND_URL": "https://app.example.com"})
    client = app.test_client()
    register(client)
    forgot(client)
    token = reset_token(app, smtp_sink)
    assert f"https://app.example.com{RESET_PATH}{token}" in smtp_sink.last_with(RESET_PATH).text


def test_unknown_and_disabled_emails_get_a_byte_identical_answer(mail_app, smtp_sink, app):
    client = mail_app.test_client()
    register(client)
    register(client, email="carol@example.com", name="Carol")
    from sqlalchemy import update

    from authapi.extensions import db
    from authapi.models import User

    with app.app_context():
        db.session.execute(
            update(User).where(User.email == "carol@example.com").values(disabled=True)
        )
        db.session.commit()
    before = len(delivered(mail_app, smtp_sink))
    answers = [
        forgot(client, email)
        for email in ("alice@example.com", "nobody@example.com", "carol@example.com")
    ]
    for response in answers:
        assert response.status_code == 200
        assert "Set-Cookie" not in response.headers
    assert len({response.get_data() for response in answers}) == 1
    assert len({tuple(sorted(response.headers.keys())) for response in answers}) == 1
    sent = delivered(mail_app, smtp_sink)[before:]
    assert [mail.envelope_to for mail in sent] == [["alice@example.com"]]


def test_reset_ends_every_session(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    devices = []
    for _ in range(2):
        body = client.post(
            "/api/auth/login",
            json={"email": "alice@example.com", "password": PASSWORD},
            headers=TOKEN_MODE,
        ).json
        devices.append(body)
        assert client.get("/api/users/me", headers=bearer(body["access_token"])).status_code == 200
    forgot(client)
    assert reset(client, reset_token(mail_app, smtp_sink)).status_code == 200
    for body in devices:
        assert_fail(client.get("/api/users/me", headers=bearer(body["access_token"])), 401)
        refreshed = client.post("/api/auth/refresh", json={"refresh_token": body["refresh_token"]})
        assert_fail(refreshed, 403, "Could not refresh access token")


def test_a_reset_token_works_once(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    forgot(client)
    token = reset_token(mail_app, smtp_sink)
    assert reset(client, token).status_code == 200
    assert_fail(reset(client, token, password="yet another password"), 400, RESET_FAILED)
    login(client, password=NEW_PASSWORD)


def test_a_reset_token_expires_after_10_minutes(mail_app, make_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    forgot(client)
    token = reset_token(mail_app, smtp_sink)
    expired = make_app(CLOCK_OFFSET=10 * 60 + 5, **smtp_sink.config).test_client()
    assert_fail(reset(expired, token), 400, RESET_FAILED)
    login(client)  # the old password still works


def test_a_reset_token_works_just_before_it_expires(mail_app, make_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    forgot(client)
    token = reset_token(mail_app, smtp_sink)
    almost = make_app(CLOCK_OFFSET=9 * 60, **smtp_sink.config).test_client()
    assert reset(almost, token).status_code == 200


def test_a_new_request_invalidates_the_previous_link(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    forgot(client)
    first = reset_token(mail_app, smtp_sink)
    forgot(client)
    second = reset_token(mail_app, smtp_sink)
    assert first != second
    assert_fail(reset(client, first), 400, RESET_FAILED)
    assert reset(client, second).status_code == 200


def test_changing_the_password_invalidates_an_outstanding_reset_link(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    forgot(client)
    token = reset_token(mail_app, smtp_sink)
    access = login(client)
    changed = client.patch(
        "/api/users/me/password",
        json={
            "currentPassword": PASSWORD,
            "password": "changed on purpose",
            "passwordConfirm": "changed on purpose",
        },
        headers=bearer(access),
    )
    assert changed.status_code == 200
    assert_fail(reset(client, token), 400, RESET_FAILED)


def test_a_bad_body_does_not_use_up_the_token(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    forgot(client)
    token = reset_token(mail_app, smtp_sink)
    mismatch = reset(client, token, confirm="something else entirely")
    assert_fail(mismatch, 400)
    assert mismatch.json["errors"] == {"passwordConfirm": ["Passwords do not match"]}
    short = reset(client, token, password="short")
    assert_fail(short, 400)
    assert "password" in short.json["errors"]
    assert_fail(client.patch(f"/api/auth/resetpassword/{token}", data="x"), 415)
    assert reset(client, token).status_code == 200


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"password": None, "passwordConfirm": None},
        {"password": 12345678, "passwordConfirm": 12345678},
        {"password": ["a" * 10], "passwordConfirm": ["a" * 10]},
        {"password": "x" * 73, "passwordConfirm": "x" * 73},
        {"password": "\U0001f600" * 19, "passwordConfirm": "\U0001f600" * 19},
        {"password": "nul\x00inside!", "passwordConfirm": "nul\x00inside!"},
        {"password": "a" * 9000, "passwordConfirm": "a"},
    ],
)
def test_hostile_bodies_are_400(mail_app, smtp_sink, payload):
    client = mail_app.test_client()
    register(client)
    forgot(client)
    token = reset_token(mail_app, smtp_sink)
    assert_fail(client.patch(f"/api/auth/resetpassword/{token}", json=payload), 400)


def test_unknown_and_malformed_tokens_get_one_answer(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    forgot(client)
    token = reset_token(mail_app, smtp_sink)
    answers = set()
    for bad in ("B" * 43, token[:30], "%00" * 43, "x" * 6000, token + "%E2%80%8B", "%3Cscript%3E"):
        response = reset(client, bad)
        assert_fail(response, 400, RESET_FAILED)
        answers.add(response.get_data())
    assert len(answers) == 1
    # The verification code is not a reset token, nor the other way round.
    verify_code = smtp_sink.last_with("/api/auth/verifyemail/").link("/api/auth/verifyemail/")
    assert_fail(reset(client, verify_code), 400, RESET_FAILED)
    assert_fail(client.post(f"/api/auth/verifyemail/{token}"), 400)
    assert reset(client, token).status_code == 200


def test_a_reset_also_verifies_the_address(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    forgot(client)
    reset(client, reset_token(mail_app, smtp_sink))
    user = client.get("/api/users/me", headers=bearer(login(client, password=NEW_PASSWORD)))
    assert user.json["data"]["user"]["verified"] is True


def test_forgot_password_validates_its_body(mail_app):
    client = mail_app.test_client()
    for payload in ({}, {"email": None}, {"email": 7}, {"email": "nope"}, {"email": "a\x00@b.co"}):
        response = client.post("/api/auth/forgotpassword", json=payload)
        assert_fail(response, 400)
        assert "email" in response.json["errors"]
    assert_fail(client.post("/api/auth/forgotpassword", data="email=a@b.co"), 415)
    assert_fail(client.get("/api/auth/forgotpassword"), 405)


def test_a_reset_refused_for_a_busy_hashing_pool_leaves_the_link_working(make_app, smtp_sink):
    """A 503 says "retry": the link must still work when the user does. It was used up
    before the new password was hashed, so a full hashing pool burnt it for good."""
    app = make_app(**smtp_sink.config, MAX_CONCURRENT_HASHES=1, HASH_QUEUE_SIZE=0)
    client = app.test_client()
    register(client)
    forgot(client)
    token = reset_token(app, smtp_sink)
    slot = HeldSlot(app)
    try:
        busy = reset(client, token)
    finally:
        slot.release()
    assert_fail(busy, 503)
    assert busy.json["code"] == "hashing_busy"
    done = reset(client, token)
    assert done.status_code == 200, done.json
    assert_fail(reset(client, token, password="yet another password"), 400, RESET_FAILED)
    login(client, password=NEW_PASSWORD)
