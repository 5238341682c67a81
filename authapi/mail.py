"""Sending mail: SMTP when MAIL_SERVER is set, the log otherwise (outside production).

Messages are handed to a small per-process thread pool and sent after the view has
returned, so that

- a slow or dead SMTP server never holds a request (or a gunicorn worker) for
  MAIL_TIMEOUT seconds, and
- an answer that must not reveal whether an account exists (forgot password,
  resend verification) takes the same time whether or not a mail goes out.

A failure is logged (with the recipient's domain only, never the address or the
message, which carries a single-use code) and never reaches the request: the
account it was about stays as it is, and the user can ask again.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
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
        self._executor: ThreadPoolExecutor | None = None
        self._executor_pid = 0
        self._pending: set[Future[None]] = set()

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
        future = self._pool().submit(self._deliver, message)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every queued message has been handed over (or has failed).

        True when nothing is left. For tests and for an orderly shutdown.
        """
        with self._lock:
            pending = list(self._pending)
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _pool(self) -> ThreadPoolExecutor:
        # Created on first use in each process: threads do not survive a fork
        # (gunicorn --preload), so a pool inherited from a parent is replaced.
        with self._lock:
            if self._executor is None or self._executor_pid != os.getpid():
                self._executor = ThreadPoolExecutor(
                    max_workers=SEND_THREADS, thread_name_prefix="authapi-mail"
                )
                self._executor_pid = os.getpid()
                self._pending = set()
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

    def _deliver(self, message: EmailMessage) -> None:
        domain = recipient_domain(str(message["To"]))
        try:
            self._smtp_send(message)
        except smtplib.SMTPResponseException as error:
            log.error(
                "mail to a recipient at %s not sent: SMTP %s (%s)",
                domain,
                error.smtp_code,
                type(error).__name__,
            )
        except (OSError, smtplib.SMTPException) as error:  # refused, timeout, TLS, ...
            log.error("mail to a recipient at %s not sent: %s", domain, type(error).__name__)
        except Exception:
            # On a pool thread nobody else would ever see it: log it, with the trace.
            log.exception("mail to a recipient at %s not sent: unexpected error", domain)
        else:
            log.info("mail sent to a recipient at %s", domain)

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
