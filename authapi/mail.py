"""Sending mail: SMTP when MAIL_SERVER is set, the log otherwise (outside production).

Messages are handed to a small per-process thread pool and sent after the view has
returned, so that

- a slow or dead SMTP server never holds a request (or a gunicorn worker) for
  MAIL_TIMEOUT seconds, and
- an answer that must not reveal whether an account exists (forgot password,
  resend verification) takes the same time whether or not a mail goes out.

A mail the SMTP server cannot take for now (unreachable, disconnected, a 4xx
answer) is tried again after each of MAIL_RETRY_DELAYS (a timer waits, not a sending
thread): a relay restarting or briefly overloaded does not cost a user the code they
just asked for. A 5xx answer is final. A failure is logged (with the recipient's
domain only, never the address or the message, which carries a single-use code) and
never reaches the request: the account it was about stays as it is, and the user can
ask again.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from flask import Flask, current_app

log = logging.getLogger(__name__)

SEND_THREADS = 2


@dataclass(frozen=True)
class MailSettings:
    server: str
    port: int
    username: str
    password: str
    use_tls: bool
    use_ssl: bool
    sender: str
    timeout: float
    retry_delays: tuple[float, ...]
    log_only: bool  # no MAIL_SERVER outside production: write messages to the log

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MailSettings:
        server = config["MAIL_SERVER"].strip()
        return cls(
            server=server,
            port=config["MAIL_PORT"],
            username=config["MAIL_USERNAME"],
            password=config["MAIL_PASSWORD"],
            use_tls=config["MAIL_USE_TLS"],
            use_ssl=config["MAIL_USE_SSL"],
            sender=config["MAIL_SENDER"],
            timeout=config["MAIL_TIMEOUT"],
            retry_delays=tuple(config["MAIL_RETRY_DELAYS"]),
            log_only=not server and config["APP_ENV"] != "production",
        )


def recipient_domain(address: str) -> str:
    """What a log line may say about a recipient: the domain, never the address."""
    return parseaddr(address)[1].rpartition("@")[2] or "?"


class Mailer:
    """One per app, in ``app.extensions["mailer"]``; sends on a background pool."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._executor: ThreadPoolExecutor | None = None
        self._executor_pid = 0
        self._unfinished = 0  # messages queued, being sent, or waiting to be sent again

    def send(self, to: str, subject: str, body: str) -> None:
        """Queue one plain-text message; never raises for delivery problems."""
        try:
            message = self._build(to, subject, body)
        except ValueError as error:  # a header the email package refuses (CR/LF, ...)
            log.error(
                "mail to a recipient at %s not built: %s",
                recipient_domain(to),
                type(error).__name__,
            )
            return
        if self.settings.log_only:
            # Development without SMTP: the log is the mailbox (the link is the point).
            log.warning(
                "MAIL_SERVER is not set: this mail was not sent, here it is instead\n"
                "To: %s\nSubject: %s\n\n%s",
                to,
                subject,
                body,
            )
            return
        if not self.settings.server:
            log.error(
                "MAIL_SERVER is not set: mail to a recipient at %s was not sent",
                recipient_domain(to),
            )
            return
        pool = self._pool()
        with self._idle:
            self._unfinished += 1
        pool.submit(self._deliver, message, 0)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued message has been handed over or given up, retries
        included. True when nothing is left. For tests and for an orderly shutdown.
        """
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def _deliver(self, message: EmailMessage, attempt: int) -> None:
        domain = recipient_domain(str(message["To"]))
        delays = self.settings.retry_delays
        try:
            self._smtp_send(message)
        except (OSError, smtplib.SMTPException) as error:  # refused, timeout, TLS, ...
            if attempt < len(delays) and is_temporary(error):
                log.warning(
                    "mail to a recipient at %s not sent yet: %s; attempt %d of %d in %g s",
                    domain,
                    describe(error),
                    attempt + 2,
                    len(delays) + 1,
                    delays[attempt],
                )
                self._retry_later(message, attempt + 1, delays[attempt])
                return
            log.error("mail to a recipient at %s not sent: %s", domain, describe(error))
        except Exception:
            # On a pool thread nobody else would ever see it: log it, with the trace.
            log.exception("mail to a recipient at %s not sent: unexpected error", domain)
        else:
            log.info("mail sent to a recipient at %s", domain)
        self._finished()

    def _retry_later(self, message: EmailMessage, attempt: int, delay: float) -> None:
        """On a timer thread of its own, a daemon: the pool's threads send other mail
        meanwhile, and a worker that exits (a reload) does not wait for the delay."""
        timer = threading.Timer(delay, self._resubmit, args=(message, attempt))
        timer.daemon = True
        timer.start()

    def _resubmit(self, message: EmailMessage, attempt: int) -> None:
        try:
            self._pool().submit(self._deliver, message, attempt)
        except RuntimeError:  # "cannot schedule new futures after shutdown"
            log.error(
                "mail to a recipient at %s not sent: the process is stopping",
                recipient_domain(str(message["To"])),
            )
            self._finished()

    def _finished(self) -> None:
        with self._idle:
            self._unfinished -= 1
            if self._unfinished <= 0:
                self._idle.notify_all()

    def _pool(self) -> ThreadPoolExecutor:
        # Created on first use in each process: threads do not survive a fork
        # (gunicorn --preload), so a pool inherited from a parent is replaced.
        with self._lock:
            if self._executor is None or self._executor_pid != os.getpid():
                self._executor = ThreadPoolExecutor(
                    max_workers=SEND_THREADS, thread_name_prefix="authapi-mail"
                )
                self._executor_pid = os.getpid()
                self._unfinished = 0
            return self._executor

    def _build(self, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.settings.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        sender_domain = recipient_domain(self.settings.sender)
        message["Message-ID"] = make_msgid(domain=sender_domain if sender_domain != "?" else None)
        message.set_content(body)
        return message

    def _smtp_send(self, message: EmailMessage) -> None:
        settings = self.settings
        if settings.use_ssl:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.server,
                settings.port,
                timeout=settings.timeout,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout)
        with smtp:
            if settings.use_tls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password)
            smtp.send_message(message)


def is_temporary(error: OSError | smtplib.SMTPException) -> bool:
    """Worth another attempt later: the server was unreachable or dropped the
    connection, or answered 4xx (RFC 5321: "transient"). A 5xx answer, a TLS failure
    (a certificate, a protocol) or a missing STARTTLS will not change by waiting."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return 400 <= error.smtp_code < 500
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return True
    # What is left: smtplib's other errors (all OSErrors too), TLS, then the socket's own.
    return not isinstance(error, smtplib.SMTPException | ssl.SSLError)


def describe(error: OSError | smtplib.SMTPException) -> str:
    """For the log: the SMTP code and the error's type, never its text (which may
    repeat the address)."""
    if isinstance(error, smtplib.SMTPResponseException):
        return f"SMTP {error.smtp_code} ({type(error).__name__})"
    return type(error).__name__


def init_app(app: Flask) -> None:
    settings = MailSettings.from_config(app.config)
    app.extensions["mailer"] = Mailer(settings)
    if not settings.server and not settings.log_only:
        log.warning(
            "MAIL_SERVER is not set: verification and password-reset mails will not be sent"
        )


def mailer() -> Mailer:
    return current_app.extensions["mailer"]


def send(to: str, subject: str, body: str) -> None:
    mailer().send(to, subject, body)


def delivers() -> bool:
    """Whether mail leaves this server (an SMTP server is set): only then can a user
    sign in with an emailed code. Development's log-only mailbox does not count."""
    return bool(mailer().settings.server)
