"""Mail and email verification, end to end: a real SMTP server (aiosmtpd) in this
process receives what the app sends; links are followed through the HTTP routes."""

from __future__ import annotations

import logging
import threading

import pytest

from authapi import create_app
from authapi.accounts import service
from authapi.configuration import ConfigurationError
from tests.helpers import PASSWORD, assert_fail, bearer, login, register
from tests.support.servers import free_port
from tests.support.smtp_sink import SmtpSink, delivered

VERIFY_PATH = "/api/auth/verifyemail/"
VERIFY_FAILED = "Invalid or expired verification code"
RESENT = "If that account exists and is not verified yet, a new verification email is on its way"
NOT_VERIFIED = "Please verify your email address: check your inbox"
DAY = 24 * 60 * 60


def verification_code(app, sink, email="alice@example.com") -> str:
    delivered(app, sink)
    return sink.last_with(VERIFY_PATH, email).link(VERIFY_PATH)


def me(client, token):
    return client.get("/api/users/me", headers=bearer(token))


def resend(client, email="alice@example.com"):
    return client.post("/api/auth/verifyemail/resend", json={"email": email})


# --- the verification mail and link --------------------------------------------------


def test_registration_mails_a_link_that_verifies_the_address(mail_app, smtp_sink):
    client = mail_app.test_client()
    user = register(client)
    assert user["verified"] is False
    [mail] = delivered(mail_app, smtp_sink)
    assert mail.envelope_to == ["alice@example.com"]
    assert mail.to == "alice@example.com"
    assert mail.message["From"] == "authapi <no-reply@localhost>"
    assert mail.subject == "Verify your email address"
    assert "expires in 24 hours" in mail.text
    code = mail.link(VERIFY_PATH)
    assert len(code) == 43  # token_urlsafe(32)
    # The link works directly against the API (no FRONTEND_URL: the API's own URL).
    assert f"http://localhost{VERIFY_PATH}{code}" in mail.text

    verified = client.post(VERIFY_PATH + code)
    assert verified.status_code == 200
    assert verified.json == {"status": "success", "message": "Email verified successfully"}
    assert me(client, login(client)).json["data"]["user"]["verified"] is True


def test_resend_is_not_a_verification_code(mail_app, smtp_sink):
    """Found by an audit: the page's GET /verifyemail/<code> matched `resend` too, so
    OPTIONS /verifyemail/resend listed GET in Allow and a GET answered the page."""
    client = mail_app.test_client()
    options = client.options("/api/auth/verifyemail/resend")
    assert options.status_code < 300
    assert set(options.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    got = client.get("/api/auth/verifyemail/resend")
    assert_fail(got, 405, "Method GET not allowed on /api/auth/verifyemail/resend")
    assert set(got.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    # The link still opens its page and verifies; a code that merely starts with
    # "resend" is a code, and a malformed one still gets the page and the usual 400.
    register(client)
    code = verification_code(mail_app, smtp_sink)
    page = client.get(VERIFY_PATH + code)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert client.post(VERIFY_PATH + code).status_code == 200
    assert client.get(VERIFY_PATH + "resend-me").status_code == 200
    assert_fail(client.post(VERIFY_PATH + "resend-me"), 400, VERIFY_FAILED)


def test_verified_shows_at_once_for_a_logged_in_user(mail_app, smtp_sink):
    """The cached user data is dropped when the address is verified."""
    client = mail_app.test_client()
    register(client)
    token = login(client)
    assert me(client, token).json["data"]["user"]["verified"] is False
    client.post(VERIFY_PATH + verification_code(mail_app, smtp_sink))
    assert me(client, token).json["data"]["user"]["verified"] is True


def test_links_use_frontend_url_when_configured(make_app, smtp_sink):
    app = make_app(**{**smtp_sink.config, "FRONTEND_URL": "https://app.example.com/"})
    register(app.test_client())
    [mail] = delivered(app, smtp_sink)
    assert f"https://app.example.com{VERIFY_PATH}{mail.link(VERIFY_PATH)}" in mail.text


def test_international_addresses_are_mailed(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client, email="jörg@exämple.com", name="Jörg ✓")
    [mail] = delivered(mail_app, smtp_sink)
    assert mail.envelope_to == ["jörg@xn--exmple-cua.com"]  # SMTPUTF8, the IDNA domain
    assert mail.text.startswith("Hello,")  # no name in mail to an unverified address
    assert client.post(VERIFY_PATH + mail.link(VERIFY_PATH)).status_code == 200


def test_a_code_works_once(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    code = verification_code(mail_app, smtp_sink)
    assert client.post(VERIFY_PATH + code).status_code == 200
    assert_fail(client.post(VERIFY_PATH + code), 400, VERIFY_FAILED)


def test_unknown_and_malformed_codes_get_one_answer(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    code = verification_code(mail_app, smtp_sink)
    answers = set()
    for bad in (
        "A" * 43,
        code[:-1] + ("A" if code[-1] != "A" else "B"),
        code[:20],
        "x",
        "%00" * 40,
        "%E2%80%8B" + code,
        "%F0%9F%98%80" * 20,
        "a" * 5000,
        code + "%00",
        code.upper() if code.upper() != code else code.lower(),
    ):
        response = client.post(VERIFY_PATH + bad)
        assert_fail(response, 400, VERIFY_FAILED)
        answers.add(response.get_data())
    assert len(answers) == 1
    # None of them used up the real code.
    assert client.post(VERIFY_PATH + code).status_code == 200


def test_a_code_expires_after_24_hours(mail_app, make_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    code = verification_code(mail_app, smtp_sink)
    expired = make_app(CLOCK_OFFSET=DAY + 60, **smtp_sink.config).test_client()
    assert_fail(expired.post(VERIFY_PATH + code), 400, VERIFY_FAILED)


def test_a_code_still_works_just_before_it_expires(mail_app, make_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    code = verification_code(mail_app, smtp_sink)
    almost = make_app(CLOCK_OFFSET=DAY - 60, **smtp_sink.config).test_client()
    assert almost.post(VERIFY_PATH + code).status_code == 200


def test_the_lifetime_is_configurable(make_app, smtp_sink):
    app = make_app(VERIFICATION_CODE_EXPIRES_IN=30, **smtp_sink.config)
    register(app.test_client())
    [mail] = delivered(app, smtp_sink)
    assert "expires in 30 minutes" in mail.text
    later = make_app(CLOCK_OFFSET=31 * 60, **smtp_sink.config).test_client()
    assert_fail(later.post(VERIFY_PATH + mail.link(VERIFY_PATH)), 400, VERIFY_FAILED)


def test_redis_holds_only_a_hash_of_the_code_with_a_ttl(mail_app, smtp_sink, redis_client):
    register(mail_app.test_client())
    code = verification_code(mail_app, smtp_sink)
    keys = [key for key in redis_client.scan_iter("authapi:*code*")]
    assert len(keys) == 2  # the lookup by hash, and the user's current code
    for key in keys:
        assert code not in key
        assert code not in redis_client.get(key)
        assert 0 < redis_client.ttl(key) <= DAY


def test_a_new_code_replaces_the_previous_one(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    first = verification_code(mail_app, smtp_sink)
    assert resend(client).status_code == 200
    delivered_mails = delivered(mail_app, smtp_sink)
    assert len(delivered_mails) == 2
    second = smtp_sink.last_with(VERIFY_PATH).link(VERIFY_PATH)
    assert second != first
    assert_fail(client.post(VERIFY_PATH + first), 400, VERIFY_FAILED)
    assert client.post(VERIFY_PATH + second).status_code == 200


def test_a_code_for_a_deleted_user_is_refused(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    code = verification_code(mail_app, smtp_sink)
    result = mail_app.test_cli_runner().invoke(
        args=["users", "delete", "alice@example.com", "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert_fail(client.post(VERIFY_PATH + code), 400, VERIFY_FAILED)


# --- resend ----------------------------------------------------------------------


def test_resend_answers_the_same_whether_or_not_a_mail_goes_out(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)  # unverified
    register(client, email="bob@example.com", name="Bob")
    client.post(VERIFY_PATH + verification_code(mail_app, smtp_sink, "bob@example.com"))
    before = len(delivered(mail_app, smtp_sink))

    answers = [
        resend(client, email)
        for email in ("alice@example.com", "bob@example.com", "nobody@example.com")
    ]
    for response in answers:
        assert response.status_code == 200
        assert response.json == {"status": "success", "message": RESENT}
        assert "Set-Cookie" not in response.headers
    assert len({response.get_data() for response in answers}) == 1
    # Only the unverified account got a mail.
    sent = delivered(mail_app, smtp_sink)[before:]
    assert [mail.envelope_to for mail in sent] == [["alice@example.com"]]


def test_resend_normalises_the_address(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client)
    resend(client, "  ALICE@Example.COM ")
    assert len(delivered(mail_app, smtp_sink)) == 2


def test_resend_validates_its_body(mail_app):
    client = mail_app.test_client()
    for payload in (
        {},
        {"email": None},
        {"email": 123},
        {"email": ["alice@example.com"]},
        {"email": {"$ne": ""}},
        {"email": "not-an-address"},
        {"email": "alice\x00@example.com"},
        {"email": "a" * 5000 + "@example.com"},
    ):
        response = client.post("/api/auth/verifyemail/resend", json=payload)
        assert_fail(response, 400)
        assert "email" in response.json["errors"]
    assert_fail(client.post("/api/auth/verifyemail/resend", data="email=a@b.c"), 415)
    assert_fail(
        client.post(
            "/api/auth/verifyemail/resend", data="[" * 2000, content_type="application/json"
        ),
        400,
    )


RATE_LIMITED = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_ACCOUNT_EMAILS_PER_ACCOUNT_ADDRESS": "2 per hour",
    "RATELIMIT_ACCOUNT_EMAILS_PER_ACCOUNT": "100 per hour",
    "RATELIMIT_ACCOUNT_EMAILS_PER_ADDRESS": "100 per hour",
}


def test_resend_beyond_the_budget_answers_200_and_drops_the_mail(make_app, smtp_sink):
    app = make_app(**RATE_LIMITED, **smtp_sink.config)
    client = app.test_client()
    register(client)  # the registration mail: 1
    for email in ("alice@example.com", "ALICE@example.com", "nobody@example.com"):
        for _ in range(3):
            answer = resend(client, email)
            assert answer.status_code == 200, answer.json
            assert answer.json["message"] == service.VERIFICATION_RESENT
    # Two re-sends for alice (the budget), the third silently dropped; none for nobody.
    assert len(delivered(app, smtp_sink)) == 3


def test_resend_and_forgot_password_share_one_budget(make_app, smtp_sink):
    app = make_app(**RATE_LIMITED, **smtp_sink.config)
    client = app.test_client()
    register(client)
    assert resend(client).status_code == 200
    forgot = client.post("/api/auth/forgotpassword", json={"email": "alice@example.com"})
    assert forgot.status_code == 200
    assert resend(client).status_code == 200
    assert (
        client.post("/api/auth/forgotpassword", json={"email": "alice@example.com"}).status_code
        == 200
    )
    assert len(delivered(app, smtp_sink)) == 3  # registration + the budget of 2


def test_account_emails_are_budgeted_per_client_address(make_app, smtp_sink):
    config = {**RATE_LIMITED, "RATELIMIT_ACCOUNT_EMAILS_PER_ADDRESS": "3 per hour"}
    app = make_app(**config, **smtp_sink.config)
    client = app.test_client()
    for index in range(4):
        register(client, email=f"user{index}@example.com")
    for index in range(3):
        assert resend(client, f"user{index}@example.com").status_code == 200
    assert resend(client, "user3@example.com").status_code == 200  # dropped
    # A forged X-Forwarded-For is not believed (no trusted proxy configured).
    forged = client.post(
        "/api/auth/verifyemail/resend",
        json={"email": "user3@example.com"},
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert forged.status_code == 200
    assert len(delivered(app, smtp_sink)) == 4 + 3


# --- REQUIRE_VERIFIED_EMAIL ------------------------------------------------------


def test_require_verified_email_refuses_login_until_verified(make_app, smtp_sink):
    app = make_app(REQUIRE_VERIFIED_EMAIL=True, **smtp_sink.config)
    client = app.test_client()
    register(client)
    credentials = {"email": "alice@example.com", "password": PASSWORD}
    refused = client.post("/api/auth/login", json=credentials)
    assert_fail(refused, 403, NOT_VERIFIED)
    assert "Set-Cookie" not in refused.headers
    # Only someone with the right password learns that the account is unverified.
    wrong = client.post("/api/auth/login", json={**credentials, "password": "wrong password"})
    assert_fail(wrong, 400, "Invalid email or password")
    client.post(VERIFY_PATH + verification_code(app, smtp_sink))
    assert me(client, login(client)).status_code == 200


def test_without_require_verified_email_unverified_users_log_in(mail_app):
    """The default keeps the tutorial's flow: register, then log in straight away."""
    client = mail_app.test_client()
    register(client)
    assert me(client, login(client)).json["data"]["user"]["verified"] is False


# --- when mail cannot be sent -------------------------------------------------------


def test_smtp_down_keeps_the_account_and_logs_the_domain_only(make_app, caplog):
    closed = free_port()  # nothing listens there
    app = make_app(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=closed, MAIL_TIMEOUT=2.0, FRONTEND_URL="http://localhost"
    )
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="authapi.mail"):
        user = register(client)
        assert app.extensions["mailer"].drain(10)
    errors = [r for r in caplog.records if r.name == "authapi.mail" and r.levelname == "ERROR"]
    assert len(errors) == 1
    assert "example.com" in errors[0].getMessage()
    assert "ConnectionRefusedError" in errors[0].getMessage()
    retries = [r for r in caplog.records if r.name == "authapi.mail" and r.levelname == "WARNING"]
    assert [r.getMessage().rpartition("; ")[2] for r in retries] == [
        "attempt 2 of 3 in 0 s",
        "attempt 3 of 3 in 0 s",
    ]  # MAIL_RETRY_DELAYS (0, 0) in the tests: each attempt at once
    assert "alice" not in caplog.text
    # The account is there and works; the user can ask for another mail later.
    assert me(client, login(client)).json["data"]["user"]["id"] == user["id"]
    assert resend(client).status_code == 200


def test_a_silent_smtp_server_times_out_without_holding_the_request(
    make_app, unanswering_port, caplog
):
    app = make_app(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=unanswering_port,
        MAIL_TIMEOUT=0.5,
        FRONTEND_URL="http://localhost",
    )
    client = app.test_client()
    with caplog.at_level(logging.ERROR, logger="authapi.mail"):
        register(client)  # answered while the mail is still waiting for a greeting
        assert app.extensions["mailer"].drain(10)
    assert "not sent" in caplog.text and "example.com" in caplog.text


def test_a_mail_the_server_cannot_take_for_now_is_sent_again_and_arrives_once(make_app, caplog):
    """451 and 421 are transient (RFC 5321): the same mail, with the same code, goes
    out again after each of MAIL_RETRY_DELAYS."""
    sink = SmtpSink(
        refusals=("451 4.3.0 Try again later", "421 4.3.2 System not accepting")
    ).start()
    try:
        app = make_app(**sink.config)
        with caplog.at_level(logging.INFO, logger="authapi.mail"):
            register(app.test_client())
            arrived = delivered(app, sink)
        assert sink.attempts == 3
        assert len(arrived) == 1 and "/api/auth/verifyemail/" in arrived[0].text
        assert "SMTP 451 (SMTPDataError); attempt 2 of 3" in caplog.text
        assert "SMTP 421 (SMTPDataError); attempt 3 of 3" in caplog.text
        assert "mail sent to a recipient at example.com" in caplog.text
        assert "not sent:" not in caplog.text
    finally:
        sink.stop()


def test_a_permanent_refusal_is_not_retried(make_app, caplog):
    sink = SmtpSink(refusals=("550 5.1.1 No such user",)).start()
    try:
        app = make_app(**sink.config)
        with caplog.at_level(logging.WARNING, logger="authapi.mail"):
            register(app.test_client())
            assert delivered(app, sink) == []
        assert sink.attempts == 1
        assert "not sent: SMTP 550 (SMTPDataError)" in caplog.text
        assert "not sent yet" not in caplog.text
    finally:
        sink.stop()


def test_retries_give_up_after_the_last_delay(make_app, caplog):
    sink = SmtpSink(refusals=("451 4.3.0 Try again later",) * 5).start()
    try:
        app = make_app(MAIL_RETRY_DELAYS="0", **sink.config)  # as the environment gives it
        assert app.config["MAIL_RETRY_DELAYS"] == (0.0,)
        with caplog.at_level(logging.WARNING, logger="authapi.mail"):
            register(app.test_client())
            assert delivered(app, sink) == []
        assert sink.attempts == 2
        assert "not sent: SMTP 451 (SMTPDataError)" in caplog.text
    finally:
        sink.stop()


def test_no_retry_delays_means_one_attempt(make_app, caplog):
    sink = SmtpSink(refusals=("451 4.3.0 Try again later",)).start()
    try:
        app = make_app(MAIL_RETRY_DELAYS="", **sink.config)
        with caplog.at_level(logging.WARNING, logger="authapi.mail"):
            register(app.test_client())
            assert delivered(app, sink) == []
        assert sink.attempts == 1
    finally:
        sink.stop()


def test_a_mail_waiting_to_be_sent_again_holds_no_thread_an_exit_waits_for(make_app):
    """The wait is a daemon timer, not a sleeping sender: the pool's threads stay free
    for other mail, and a worker that exits (a reload) does not wait out the delay."""
    sink = SmtpSink(refusals=("451 4.3.0 Try again later",)).start()
    timers: list[threading.Timer] = []
    try:
        app = make_app(MAIL_RETRY_DELAYS="600", **sink.config)
        register(app.test_client())
        sink.wait_for_attempts(1)
        mailer = app.extensions["mailer"]
        assert not mailer.drain(timeout=0.2)  # waiting for its second attempt, 600 s away
        timers = [t for t in threading.enumerate() if isinstance(t, threading.Timer)]
        assert timers and all(timer.daemon for timer in timers)
        register(app.test_client(), email="bob@example.com")  # sent meanwhile
        assert len(sink.wait_for(1)) == 1
    finally:
        for timer in timers:
            timer.cancel()
        sink.stop()


@pytest.mark.parametrize("delays", ["-1", "5,x", "300,301", "nan"])
def test_retry_delays_that_make_no_sense_are_refused_at_start(make_app, delays):
    with pytest.raises(ConfigurationError, match="MAIL_RETRY_DELAYS"):
        make_app(MAIL_RETRY_DELAYS=delays)


def test_smtp_authentication(make_app, caplog):
    def authenticator(server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        ok = auth_data.login == b"mailer" and auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    sink = SmtpSink(authenticator=authenticator, auth_require_tls=False).start()
    try:
        good = make_app(MAIL_USERNAME="mailer", MAIL_PASSWORD="s3cret", **sink.config)
        register(good.test_client())
        assert len(delivered(good, sink)) == 1
        bad = make_app(MAIL_USERNAME="mailer", MAIL_PASSWORD="wrong", **sink.config)
        with caplog.at_level(logging.ERROR, logger="authapi.mail"):
            register(bad.test_client(), email="bob@example.com")
            assert len(delivered(bad, sink)) == 1  # nothing more arrived
        assert "SMTP 535" in caplog.text
        assert "s3cret" not in caplog.text and "wrong" not in caplog.text
    finally:
        sink.stop()


def test_starttls_required_but_not_offered_is_logged(make_app, smtp_sink, caplog):
    app = make_app(MAIL_USE_TLS=True, **smtp_sink.config)
    with caplog.at_level(logging.ERROR, logger="authapi.mail"):
        register(app.test_client())
        assert delivered(app, smtp_sink) == []
    assert "SMTPNotSupportedError" in caplog.text


def test_redis_down_while_mailing_keeps_the_201(make_app, caplog):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING, logger="authapi.accounts.service"):
        response = app.test_client().post(
            "/api/auth/register",
            json={
                "name": "Alice",
                "email": "alice@example.com",
                "password": PASSWORD,
                "passwordConfirm": PASSWORD,
            },
        )
    assert response.status_code == 201
    assert "no verification mail" in caplog.text


def test_without_mail_server_development_writes_the_mail_to_the_log(client, caplog):
    with caplog.at_level(logging.WARNING, logger="authapi.mail"):
        register(client)
    assert "MAIL_SERVER is not set" in caplog.text
    assert "To: alice@example.com" in caplog.text
    code = caplog.text.split(VERIFY_PATH, 1)[1].split()[0]
    assert client.post(VERIFY_PATH + code).status_code == 200


def test_production_without_mail_server_logs_an_error_and_no_code(make_app, caplog):
    app = make_app(APP_ENV="production", COOKIE_SECURE=True, FRONTEND_URL="https://a.example")
    with caplog.at_level(logging.INFO):
        register(app.test_client())
    assert "MAIL_SERVER is not set: mail to a recipient at example.com was not sent" in (
        caplog.text
    )
    assert VERIFY_PATH not in caplog.text


def test_links_never_come_from_host_or_forwarded_host_headers(make_app, smtp_sink):
    """Security review item 11: FRONTEND_URL is required with a mail server, and a proxy
    hop is trusted for the client address only, never for the host."""
    app = make_app(
        **{**smtp_sink.config, "FRONTEND_URL": "https://app.example.com"},
        APP_ENV="production",
        COOKIE_SECURE=True,
        TRUSTED_PROXY_COUNT=1,
    )
    client = app.test_client()
    forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    response = client.post(
        "/api/auth/register",
        json={
            "name": "Alice",
            "email": "alice@example.com",
            "password": PASSWORD,
            "passwordConfirm": PASSWORD,
        },
        headers=forged,
    )
    assert response.status_code == 201
    client.post("/api/auth/forgotpassword", json={"email": "alice@example.com"}, headers=forged)
    mails = delivered(app, smtp_sink)
    assert len(mails) == 2
    for mail in mails:
        assert "evil.example" not in mail.text
        assert "https://app.example.com/" in mail.text


@pytest.mark.parametrize("env", ["development", "testing", "production"])
def test_a_mail_server_without_frontend_url_is_refused_at_start(base_config, smtp_sink, env):
    config = {**base_config, **smtp_sink.config, "FRONTEND_URL": "", "APP_ENV": env}
    if env == "production":
        config["COOKIE_SECURE"] = True
    with pytest.raises(ConfigurationError, match="FRONTEND_URL"):
        create_app(config)


# --- configuration -----------------------------------------------------------------


def test_mail_configuration_mistakes_are_refused_at_start(base_config):
    with pytest.raises(ConfigurationError, match="MAIL_USE_TLS"):
        create_app({**base_config, "MAIL_USE_TLS": True, "MAIL_USE_SSL": True})
    with pytest.raises(ConfigurationError, match="FRONTEND_URL"):
        create_app({**base_config, "FRONTEND_URL": "javascript:alert(1)"})
    with pytest.raises(ConfigurationError, match="RESET_TOKEN_EXPIRES_IN"):
        create_app({**base_config, "RESET_TOKEN_EXPIRES_IN": 0})
    production = {**base_config, "APP_ENV": "production", "COOKIE_SECURE": True}
    with pytest.raises(ConfigurationError, match="REQUIRE_VERIFIED_EMAIL needs MAIL_SERVER"):
        create_app({**production, "REQUIRE_VERIFIED_EMAIL": True})
