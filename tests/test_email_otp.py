"""Sign in with a one-time code sent by email, mailed to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from sqlalchemy import event, func, select

from authapi import sessions
from authapi.extensions import db
from authapi.models import AuthEvent, User
from authapi.webhooks import signing
from tests.helpers import HANG, PASSWORD, assert_fail, login, register, update_all_users
from tests.support.receiver import Answer
from tests.support.smtp_sink import SmtpSink, delivered

INVALID_CODE = "Invalid or expired code"


def ask(client: Any, email: str, **environ: Any) -> Any:
    return client.post("/api/auth/otp", json={"email": email}, environ_base=environ)


def code_and_link(sink: SmtpSink, email: str) -> tuple[str, str]:
    # The latest code mail: registering mailed a verification link to the same address,
    # and the two mails may reach the sink in either order.
    mail = next(
        m
        for m in reversed(sink.messages)
        if email in m.envelope_to and "Your sign-in code is" in m.text
    )
    code = re.search(r"Your sign-in code is (\d{6})", mail.text).group(1)
    link = next(word for word in mail.text.split() if "/signin/otp#" in word)
    return code, link


def verify(client: Any, email: str, code: str, **headers: str) -> Any:
    return client.post(
        "/api/auth/otp/verify", json={"email": email, "code": code}, headers=headers or None
    )


@pytest.fixture
def otp_app(mail_app: Flask) -> Flask:
    return mail_app


def test_a_code_by_email_signs_in_like_a_password_login(otp_app: Flask, smtp_sink) -> None:
    client = otp_app.test_client()
    user = register(client, email="alice@example.com")
    response = ask(client, "Alice@Example.com")
    assert response.status_code == 200
    assert response.json == {
        "status": "success",
        "message": "If this address can sign in, a code is on its way: it works once, "
        "for 10 minutes",
    }
    delivered(otp_app, smtp_sink)
    code, link = code_and_link(smtp_sink, "alice@example.com")
    assert link.startswith("http://localhost/signin/otp#")
    fragment = parse_qs(urlsplit(link).fragment)
    assert fragment == {"email": ["alice@example.com"], "code": [code]}

    signed_in = verify(client, "alice@example.com", code)
    assert signed_in.status_code == 200
    assert signed_in.json["access_token"]
    assert "access_token=" in signed_in.headers.get("Set-Cookie", "")
    me = client.get("/api/users/me").json["data"]["user"]
    assert me["id"] == user["id"]
    assert me["verified"] is True  # the code reached the mailbox
    with otp_app.app_context():
        row = db.session.scalar(select(AuthEvent).where(AuthEvent.event == "login_succeeded"))
        assert row.details["via"] == "otp"
        db.session.remove()


def test_token_mode_works_too(otp_app: Flask, smtp_sink) -> None:
    client = otp_app.test_client()
    register(client, email="bob@example.com")
    ask(client, "bob@example.com")
    delivered(otp_app, smtp_sink)
    code, _ = code_and_link(smtp_sink, "bob@example.com")
    response = verify(client, "bob@example.com", code, **{"X-Auth-Mode": "token"})
    assert response.status_code == 200 and response.json["refresh_token"]
    assert "Set-Cookie" not in response.headers


def test_a_code_works_once(otp_app: Flask, smtp_sink) -> None:
    client = otp_app.test_client()
    register(client, email="carol@example.com")
    ask(client, "carol@example.com")
    delivered(otp_app, smtp_sink)
    code, _ = code_and_link(smtp_sink, "carol@example.com")
    assert verify(client, "carol@example.com", code).status_code == 200
    again = verify(otp_app.test_client(), "carol@example.com", code)
    assert_fail(again, 400, INVALID_CODE)
    assert again.json["code"] == "invalid_code"


def test_a_new_code_replaces_the_previous_one(otp_app: Flask, smtp_sink) -> None:
    client = otp_app.test_client()
    register(client, email="dan@example.com")
    ask(client, "dan@example.com")
    delivered(otp_app, smtp_sink)
    first, _ = code_and_link(smtp_sink, "dan@example.com")
    ask(client, "dan@example.com")
    mails = delivered(otp_app, smtp_sink)
    assert len(mails) == 3  # the welcome mail and two codes
    second, _ = code_and_link(smtp_sink, "dan@example.com")
    if first != second:
        assert_fail(verify(client, "dan@example.com", first), 400, INVALID_CODE)
    assert verify(client, "dan@example.com", second).status_code == 200


@pytest.mark.parametrize(("offset", "works"), [(9 * 60 + 30, True), (10 * 60 + 1, False)])
def test_a_code_expires_after_10_minutes(
    otp_app: Flask, make_app: Callable[..., Flask], smtp_sink, offset: int, works: bool
) -> None:
    client = otp_app.test_client()
    register(client, email="erin@example.com")
    ask(client, "erin@example.com")
    delivered(otp_app, smtp_sink)
    code, _ = code_and_link(smtp_sink, "erin@example.com")
    later = make_app(CLOCK_OFFSET=offset).test_client()  # same database and Redis
    response = verify(later, "erin@example.com", code)
    if works:
        assert response.status_code == 200
    else:
        assert_fail(response, 400, INVALID_CODE)


@pytest.mark.parametrize(("setting", "said"), [(5, "5 minutes"), (1, "1 minute"), (60, "1 hour")])
def test_the_answer_and_the_mail_give_the_configured_lifetime(
    make_app: Callable[..., Flask], smtp_sink, setting: int, said: str
) -> None:
    app = make_app(OTP_EXPIRES_IN=setting, **smtp_sink.config)
    client = app.test_client()
    register(client, email="gus@example.com")
    answer = ask(client, "gus@example.com")
    assert answer.status_code == 200
    assert answer.json["message"].endswith(f"it works once, for {said}")
    assert ask(client, "nobody@example.com").json == answer.json  # the same for everyone
    delivered(app, smtp_sink)
    mail = next(m for m in reversed(smtp_sink.messages) if "Your sign-in code is" in m.text)
    assert f"The code works once and expires in {said}." in mail.text


def test_the_sixth_try_fails_even_with_the_right_code(otp_app: Flask, smtp_sink) -> None:
    client = otp_app.test_client()
    register(client, email="fay@example.com")
    ask(client, "fay@example.com")
    delivered(otp_app, smtp_sink)
    code, _ = code_and_link(smtp_sink, "fay@example.com")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        assert_fail(verify(client, "fay@example.com", wrong), 400, INVALID_CODE)
    # Malformed codes count as wrong tries too: the 5th wrong try ends the code.
    assert_fail(verify(client, "fay@example.com", "abc"), 400, INVALID_CODE)
    assert_fail(verify(client, "fay@example.com", code), 400, INVALID_CODE)
    assert client.get("/api/users/me").status_code == 401


def test_four_wrong_tries_leave_the_right_code_working(otp_app: Flask, smtp_sink) -> None:
    client = otp_app.test_client()
    register(client, email="gus@example.com")
    ask(client, "gus@example.com")
    delivered(otp_app, smtp_sink)
    code, _ = code_and_link(smtp_sink, "gus@example.com")
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    for _ in range(4):
        assert_fail(verify(client, "gus@example.com", wrong), 400, INVALID_CODE)
    assert verify(client, "gus@example.com", code).status_code == 200


def test_get_and_head_on_the_mailed_link_never_use_the_code(otp_app: Flask, smtp_sink) -> None:
    client = otp_app.test_client()
    register(client, email="hal@example.com")
    ask(client, "hal@example.com")
    delivered(otp_app, smtp_sink)
    code, link = code_and_link(smtp_sink, "hal@example.com")
    path = urlsplit(link).path
    # What a mail scanner does: GET and HEAD (the fragment never reaches a server),
    # even with the code copied into the query string.
    for method in ("get", "head"):
        page = getattr(client, method)(path)
        assert page.status_code == 200 and page.mimetype == "text/html"
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        getattr(client, method)(f"{path}?email=hal%40example.com&code={code}")
    assert client.get("/api/users/me").status_code == 401
    assert verify(client, "hal@example.com", code).status_code == 200


@contextmanager
def sql_in_this_thread(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []
    me = threading.get_ident()

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() == me:
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_known_and_unknown_addresses_get_the_same_answer_and_the_same_work(
    otp_app: Flask, smtp_sink, redis_client
) -> None:
    client = otp_app.test_client()
    register(client, email="known@example.com")
    delivered(otp_app, smtp_sink)
    answers = []
    for email in ("known@example.com", "unknown@example.com"):
        keys_before = len(redis_client.keys("*:otp:*"))
        with sql_in_this_thread(otp_app) as statements:
            response = ask(client, email)
        answers.append(
            (
                response.status_code,
                response.get_data(),
                sorted(name for name, _ in response.headers if name != "X-Request-ID"),
                statements,  # no database work in the request, known or not
                len(redis_client.keys("*:otp:*")) - keys_before,  # one code stored
            )
        )
    assert answers[0] == answers[1]
    assert answers[0][3] == [] and answers[0][4] == 1
    mails = delivered(otp_app, smtp_sink)
    recipients = [mail.envelope_to for mail in mails if "sign-in code" in mail.subject]
    assert recipients == [["known@example.com"]]
    # A guess for the unknown address is the same 400 as a wrong code.
    assert_fail(verify(client, "unknown@example.com", "123456"), 400, INVALID_CODE)
    with otp_app.app_context():
        assert db.session.scalar(select(User).where(User.email == "unknown@example.com")) is None
        db.session.remove()


def test_otp_signup_creates_a_verified_account(make_app: Callable[..., Flask], smtp_sink) -> None:
    app = make_app(OTP_SIGNUP=True, **smtp_sink.config)
    client = app.test_client()
    assert ask(client, "new.person@example.com").status_code == 200
    delivered(app, smtp_sink)
    code, _ = code_and_link(smtp_sink, "new.person@example.com")
    assert verify(client, "new.person@example.com", code).status_code == 200
    me = client.get("/api/users/me").json["data"]["user"]
    assert me["email"] == "new.person@example.com"
    assert me["verified"] is True
    assert me["name"] == "new.person"


def test_a_code_takes_an_unverified_account_from_whoever_registered_it(
    otp_app: Flask, smtp_sink
) -> None:
    """Pre-account hijacking (better-auth GHSA-qq9h-g4jm-xgf3): someone registers the
    victim's address with their own password and stays signed in; the victim, who
    cannot register it, signs in with a code. The squatter's password and session end;
    the owner sets a password through the reset flow."""
    squatter = otp_app.test_client()
    register(squatter, email="vera@example.com")
    assert login(squatter, "vera@example.com")
    assert squatter.get("/api/users/me").status_code == 200

    owner = otp_app.test_client()
    assert ask(owner, "vera@example.com").status_code == 200
    delivered(otp_app, smtp_sink)
    code, _ = code_and_link(smtp_sink, "vera@example.com")
    assert verify(owner, "vera@example.com", code).status_code == 200
    assert owner.get("/api/users/me").json["data"]["user"]["verified"] is True
    assert [s["current"] for s in owner.get("/api/auth/sessions").json["data"]["sessions"]] == [
        True
    ]

    assert squatter.get("/api/users/me").status_code == 401
    assert_fail(
        otp_app.test_client().post(
            "/api/auth/login", json={"email": "vera@example.com", "password": PASSWORD}
        ),
        400,
        "Invalid email or password",
    )


def test_a_code_leaves_a_verified_accounts_password_alone(otp_app: Flask, smtp_sink) -> None:
    client = otp_app.test_client()
    register(client, email="walt@example.com")
    update_all_users(otp_app, verified=True)
    other_device = otp_app.test_client()
    login(other_device, "walt@example.com")
    assert ask(client, "walt@example.com").status_code == 200
    delivered(otp_app, smtp_sink)
    code, _ = code_and_link(smtp_sink, "walt@example.com")
    assert verify(client, "walt@example.com", code).status_code == 200
    assert other_device.get("/api/users/me").status_code == 200
    login(otp_app.test_client(), "walt@example.com", PASSWORD)


def test_an_otp_sign_up_of_a_lookalike_address_is_the_usual_400(
    make_app: Callable[..., Flask], smtp_sink
) -> None:
    """Look-alike addresses are one account: a code sent to the look-alike of an
    existing address (its owner reads that mailbox) creates nothing and signs in to
    nothing."""
    app = make_app(OTP_SIGNUP=True, **smtp_sink.config)
    client = app.test_client()
    register(client, email="ace@example.com")
    lookalike = "\u0430\u0441\u0435@example.com"
    assert ask(client, lookalike).status_code == 200
    delivered(app, smtp_sink)
    assert not [m for m in smtp_sink.messages if "Your sign-in code is" in m.text]
    # The code was stored for the address as typed; whoever can read it still gets no
    # account of their own.
    with app.app_context():
        from authapi.email_otp import codes

        code = codes.issue(lookalike)
    assert_fail(verify(client, lookalike, code), 400, INVALID_CODE)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
        db.session.remove()


def test_a_disabled_account_gets_no_code(otp_app: Flask, smtp_sink) -> None:
    client = otp_app.test_client()
    register(client, email="ian@example.com")
    update_all_users(otp_app, disabled=True)
    assert ask(client, "ian@example.com").status_code == 200
    mails = delivered(otp_app, smtp_sink)
    assert not [mail for mail in mails if "sign-in code" in mail.subject]


def test_a_code_for_a_disabled_account_is_refused_with_the_login_code(otp_app: Flask) -> None:
    """A code issued before the account was disabled signs in to nothing, and says so
    with the code a password login uses (found by the black-box audit: it said
    ``forbidden``, the OpenAPI document and the password login ``account_disabled``)."""
    client = otp_app.test_client()
    register(client, email="ivy@example.com")
    with otp_app.app_context():
        from authapi.email_otp import codes

        code = codes.issue("ivy@example.com")
        db.session.execute(db.update(User).values(disabled=True))
        db.session.commit()
        db.session.remove()
    refused = verify(client, "ivy@example.com", code)
    assert_fail(refused, 403, "Your account has been disabled")
    assert refused.json["code"] == "account_disabled"
    assert "access_token=" not in refused.headers.get("Set-Cookie", "")


def test_requests_are_rate_limited_per_address_and_per_account_and_address(
    make_app: Callable[..., Flask], smtp_sink
) -> None:
    app = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_OTP_PER_ACCOUNT="2 per 10 minutes",
        RATELIMIT_OTP_PER_ADDRESS="5 per hour",
        **smtp_sink.config,
    )
    client = app.test_client()
    attacker = {"REMOTE_ADDR": "10.0.0.66"}
    owner = {"REMOTE_ADDR": "10.0.0.7"}
    assert ask(client, "jo@example.com", **attacker).status_code == 200
    assert ask(client, "jo@example.com", **attacker).status_code == 200
    limited = ask(client, "jo@example.com", **attacker)
    assert_fail(limited, 429)
    assert limited.headers["Retry-After"]
    # The owner's requests, from their own address, have their own budget.
    assert ask(client, "jo@example.com", **owner).status_code == 200
    # And one client address is limited across all emails.
    sprayer = {"REMOTE_ADDR": "10.0.0.99"}
    for number in range(5):
        assert ask(client, f"user{number}@example.com", **sprayer).status_code == 200
    assert_fail(ask(client, "user5@example.com", **sprayer), 429)
    delivered(app, smtp_sink)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "email"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a\u0000@example.com"}, "email"),
        ({"email": ["x"]}, "email"),
    ],
)
def test_bad_requests_are_400(otp_app: Flask, payload: dict[str, Any], field: str) -> None:
    response = otp_app.test_client().post("/api/auth/otp", json=payload)
    assert_fail(response, 400)
    assert field in response.json["errors"]


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "kim@example.com"},
        {"email": "kim@example.com", "code": None},
        {"email": "kim@example.com", "code": 123456},
        {"email": "kim@example.com", "code": "1" * 33},
        {"code": "123456"},
    ],
)
def test_bad_verify_bodies_are_400(otp_app: Flask, payload: dict[str, Any]) -> None:
    assert_fail(otp_app.test_client().post("/api/auth/otp/verify", json=payload), 400)


def test_bodies_must_be_json(otp_app: Flask) -> None:
    client = otp_app.test_client()
    assert_fail(client.post("/api/auth/otp", data="email=a@example.com"), 415)
    assert_fail(client.post("/api/auth/otp/verify", data="x", content_type="text/plain"), 415)


def test_the_before_user_created_hook_can_refuse_an_otp_sign_up(
    make_app: Callable[..., Flask], smtp_sink, receiver
) -> None:
    secret = signing.new_secret()
    app = make_app(
        OTP_SIGNUP=True,
        HOOK_BEFORE_USER_CREATED_URL=receiver.url,
        HOOK_SECRET=secret,
        **smtp_sink.config,
    )
    receiver.answer(Answer(200, {"decision": "reject", "message": "No sign-ups by code"}))
    client = app.test_client()
    assert ask(client, "new.person@example.com").status_code == 200
    delivered(app, smtp_sink)
    code, _ = code_and_link(smtp_sink, "new.person@example.com")
    response = verify(client, "new.person@example.com", code)
    assert_fail(response, 403, "No sign-ups by code")
    assert response.json["code"] == "sign_up_rejected"
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "new.person@example.com")) is None
    [call] = receiver.received
    assert call.verified(secret)["data"] == {
        "user": {"email": "new.person@example.com", "name": "new.person"},
        "source": "otp",
    }
    # The refusal decided the sign-up: the code is used up, the hook not asked again.
    receiver.answer(Answer(200, {"decision": "continue"}))
    assert_fail(verify(client, "new.person@example.com", code), 400, INVALID_CODE)
    assert len(receiver.received) == 1


@pytest.mark.parametrize(
    "failure",
    [
        Answer(500, {"decision": "continue"}),
        Answer(200, hold=True),  # no answer within HOOK_TIMEOUT
        None,  # the receiver is down: connection refused
    ],
)
def test_a_failing_hook_leaves_the_emailed_code_working(
    make_app: Callable[..., Flask], smtp_sink, receiver, failure: Answer | None
) -> None:
    """A 503 sign_up_unavailable says "retry": the same code must work when the user
    does. It was used up before the hook was called, so the user had to ask again."""
    settings = {"OTP_SIGNUP": True, "HOOK_SECRET": signing.new_secret(), **smtp_sink.config}
    hold = failure is not None and failure.hold
    failing = make_app(
        **settings,
        HOOK_BEFORE_USER_CREATED_URL=receiver.url if failure else "http://127.0.0.1:9/",
        HOOK_TIMEOUT=0.2 if hold else 5.0,
    )
    if failure is not None:
        receiver.answer(failure)
    client = failing.test_client()
    assert ask(client, "new.person@example.com").status_code == 200
    delivered(failing, smtp_sink)
    code, _ = code_and_link(smtp_sink, "new.person@example.com")
    response = verify(client, "new.person@example.com", code)
    receiver.release()
    assert_fail(response, 503, "Sign-up is unavailable right now, please try again later")
    assert response.json["code"] == "sign_up_unavailable"

    working = make_app(**settings, HOOK_BEFORE_USER_CREATED_URL=receiver.url)
    receiver.answer(Answer(200, {"decision": "continue"}))
    retried = verify(working.test_client(), "new.person@example.com", code)
    assert retried.status_code == 200, retried.json
    assert retried.json["access_token"]
    assert_fail(verify(working.test_client(), "new.person@example.com", code), 400, INVALID_CODE)


def test_one_code_signs_up_once_while_the_hook_decides(
    make_app: Callable[..., Flask], smtp_sink, receiver
) -> None:
    """The code stays in Redis while the hook is asked: two requests with it both reach
    the hook, and only the first to use it afterwards signs in."""
    app = make_app(
        OTP_SIGNUP=True,
        HOOK_BEFORE_USER_CREATED_URL=receiver.url,
        HOOK_SECRET=signing.new_secret(),
        HOOK_TIMEOUT=HANG,
        **smtp_sink.config,
    )
    receiver.answer(
        Answer(200, {"decision": "continue"}, hold=True), Answer(200, {"decision": "continue"})
    )
    assert ask(app.test_client(), "new.person@example.com").status_code == 200
    delivered(app, smtp_sink)
    code, _ = code_and_link(smtp_sink, "new.person@example.com")
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(verify, app.test_client(), "new.person@example.com", code)
        assert receiver.arrived.wait(HANG)
        second = verify(app.test_client(), "new.person@example.com", code)
        receiver.release()
        first = held.result()
    assert second.status_code == 200, second.json
    assert_fail(first, 400, INVALID_CODE)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
        db.session.remove()


def test_a_disable_committed_during_a_sign_in_by_code_wins(
    otp_app: Flask, smtp_sink, redis_client: Any, monkeypatch: Any
) -> None:
    """An admin's disable that commits after the code was checked and the account read,
    and before the session exists: the new session ends again, and the answer is the
    disabled account's 403, as for a password login in the same race."""
    client = otp_app.test_client()
    register(client, email="alice@example.com")
    assert ask(client, "alice@example.com").status_code == 200
    delivered(otp_app, smtp_sink)
    code, _ = code_and_link(smtp_sink, "alice@example.com")
    real_create = sessions.create

    def create_after_a_disable(user_id: str, **kwargs: Any) -> str:
        update_all_users(otp_app, disabled=True)
        return real_create(user_id, **kwargs)

    monkeypatch.setattr(sessions, "create", create_after_a_disable)
    assert_fail(verify(client, "alice@example.com", code), 403)
    assert client.get("/api/users/me").status_code == 401
    assert not list(redis_client.scan_iter("*:session:*"))
