"""A real SMTP server in the test process (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.helpers import HANG
from tests.support.servers import free_port

OTP_TEXT = "Your sign-in code is"


@dataclass(frozen=True)
class ReceivedMail:
    envelope_from: str
    envelope_to: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()

    def link(self, path: str) -> str:
        """The single-use code or token that follows ``path`` in the mail's link."""
        match = re.search(re.escape(path) + r"([A-Za-z0-9_-]+)", self.text)
        assert match, f"no {path} link in:\n{self.text}"
        return match.group(1)


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        refusal = self._sink._next_refusal()
        if refusal is not None:
            return refusal
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self._sink._receive(
            ReceivedMail(
                envelope_from=envelope.mail_from,
                envelope_to=list(envelope.rcpt_tos),
                message=message,  # type: ignore[arg-type]
            )
        )
        return "250 Message accepted for delivery"


class SmtpSink:
    """Start/stop an aiosmtpd server on a spare loopback port; wait for messages."""

    host = "127.0.0.1"

    def __init__(self, refusals: tuple[str, ...] = (), **controller_options: Any) -> None:
        """``refusals``: SMTP replies (``"451 4.3.0 Try again later"``) given, in turn,
        to the first messages instead of taking them; ``attempts`` counts every one."""
        self.port = free_port()
        self.messages: list[ReceivedMail] = []
        self.attempts = 0
        self._refusals = list(refusals)
        self._changed = threading.Condition()
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, **controller_options
        )

    @property
    def config(self) -> dict[str, Any]:
        """What an app needs to send here (links in mails need a FRONTEND_URL with a mail
        server: the app refuses to start without one)."""
        return {
            "MAIL_SERVER": self.host,
            "MAIL_PORT": self.port,
            "MAIL_TIMEOUT": 5.0,
            "FRONTEND_URL": "http://localhost",
        }

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def _next_refusal(self) -> str | None:
        with self._changed:
            self.attempts += 1
            self._changed.notify_all()
            return self._refusals.pop(0) if self._refusals else None

    def wait_for_attempts(self, count: int, timeout: float = HANG) -> None:
        """Block until at least ``count`` messages were offered, taken or refused."""
        with self._changed:
            offered = self._changed.wait_for(lambda: self.attempts >= count, timeout)
        assert offered, f"expected {count} attempt(s), got {self.attempts}"

    def _receive(self, mail: ReceivedMail) -> None:
        with self._changed:
            self.messages.append(mail)
            self._changed.notify_all()

    def wait_for(self, count: int = 1, timeout: float = HANG) -> list[ReceivedMail]:
        """Block until at least ``count`` messages have arrived (no sleeping)."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.messages) >= count, timeout)
        assert arrived, f"expected {count} mail(s), got {len(self.messages)}"
        return list(self.messages)

    def last_with(self, path: str, to: str | None = None) -> ReceivedMail:
        """The latest mail (in arrival order) with a ``path`` link, to ``to`` if given.

        Mails sent by different requests may arrive in any order (two sender
        threads): pick by content, and drain the app between two mails of one kind.
        """
        for mail in reversed(self.messages):
            if path in mail.text and (to is None or to in mail.envelope_to):
                return mail
        raise AssertionError(f"no mail with a {path} link" + (f" to {to}" if to else ""))


def delivered(app: Any, sink: SmtpSink, timeout: float = HANG) -> list[ReceivedMail]:
    """Every mail the app has sent so far, once its background jobs and sender are done."""
    assert app.extensions["authapi.background"].drain(timeout), "background jobs still running"
    assert app.extensions["mailer"].drain(timeout), "mail still being sent"
    return list(sink.messages)


def verify_by_mail(client: Any, app: Any, sink: SmtpSink, email: str) -> None:
    """Follow the latest verification mail to ``email``: POST its code (as the page's
    button does)."""
    delivered(app, sink)
    code = sink.last_with("/api/auth/verifyemail/", email).link("/api/auth/verifyemail/")
    assert client.post(f"/api/auth/verifyemail/{code}").status_code == 200


def reset_by_mail(client: Any, app: Any, sink: SmtpSink, email: str, password: str) -> None:
    """Ask for a reset mail to ``email`` and set ``password`` with its link."""
    assert client.post("/api/auth/forgotpassword", json={"email": email}).status_code == 200
    delivered(app, sink)
    token = sink.last_with("/resetpassword/", email).link("/resetpassword/")
    reset = client.patch(
        f"/api/auth/resetpassword/{token}",
        json={"password": password, "passwordConfirm": password},
    )
    assert reset.status_code == 200, reset.json


def otp_code(app: Any, sink: SmtpSink, email: str) -> str:
    """The code of the latest sign-in code mail to ``email``."""
    delivered(app, sink)
    mail = next(m for m in reversed(sink.messages) if email in m.envelope_to and OTP_TEXT in m.text)
    return re.search(OTP_TEXT + r" (\d{6})", mail.text).group(1)


def sign_in_by_code(client: Any, app: Any, sink: SmtpSink, email: str, **headers: str) -> Any:
    """Ask for a code by mail to ``email`` and sign in with it: the response."""
    assert client.post("/api/auth/otp", json={"email": email}).status_code == 200
    code = otp_code(app, sink, email)
    return client.post(
        "/api/auth/otp/verify", json={"email": email, "code": code}, headers=headers or None
    )
