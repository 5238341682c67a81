"""Security review items 6 and 9: forgot/resend do the same work in the request for
every address (the lookup, code and mail come after the answer), and mails to an
address nobody has verified carry none of the registrant's text."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event

from authapi.extensions import db
from tests.helpers import assert_fail, login, register
from tests.support.smtp_sink import delivered

ATTACKER_NAME = "URGENT: your bank account is locked, call +1 555 0100 now"


@pytest.fixture
def statements_in_request(mail_app):
    """SQL statements run by the calling (request) thread, not by background jobs."""
    seen: list[str] = []
    me = threading.get_ident()

    def record(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() == me:
            seen.append(statement)

    with mail_app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("path", ["/api/auth/forgotpassword", "/api/auth/verifyemail/resend"])
def test_the_request_does_the_same_work_for_every_address(
    mail_app, smtp_sink, statements_in_request, path
):
    client = mail_app.test_client()
    register(client, email="known@example.com")
    delivered(mail_app, smtp_sink)
    answers = []
    for email in ("known@example.com", "unknown@example.com"):
        statements_in_request.clear()
        answer = client.post(path, json={"email": email})
        answers.append((answer.status_code, answer.get_data()))
        # No lookup of the account while the client waits: it comes after the answer.
        assert statements_in_request == [], statements_in_request
    assert answers[0] == answers[1]
    mails = delivered(mail_app, smtp_sink)
    assert [mail.envelope_to for mail in mails[1:]] == [["known@example.com"]]


def test_no_registrant_text_in_mails_to_unverified_addresses(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client, email="victim@example.com", name=ATTACKER_NAME)
    client.post("/api/auth/verifyemail/resend", json={"email": "victim@example.com"})
    client.post("/api/auth/forgotpassword", json={"email": "victim@example.com"})
    mails = delivered(mail_app, smtp_sink)
    assert len(mails) == 3
    for mail in mails:
        assert ATTACKER_NAME not in mail.text
        assert "555" not in mail.text


def test_a_verified_owner_is_greeted_by_name(mail_app, smtp_sink):
    client = mail_app.test_client()
    register(client, email="carol@example.com", name="Carol")
    delivered(mail_app, smtp_sink)
    code = smtp_sink.last_with("/api/auth/verifyemail/").link("/api/auth/verifyemail/")
    assert client.post(f"/api/auth/verifyemail/{code}").status_code == 200
    client.post("/api/auth/forgotpassword", json={"email": "carol@example.com"})
    delivered(mail_app, smtp_sink)
    assert smtp_sink.last_with("/resetpassword/").text.startswith("Hi Carol,")
    assert_fail(client.post(f"/api/auth/verifyemail/{code}"), 400)
    login(client, email="carol@example.com")
