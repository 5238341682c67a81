"""Account lifecycle rules: email verification and password reset.

Answers that could tell whether an account exists (resend, forgot password) are
the same either way; the work that differs (a mail) happens off the request
(:mod:`authapi.mail`).
"""

from __future__ import annotations

import logging

import redis
from flask import current_app

from authapi import account_tokens, events, mail, passwords, sessions
from authapi.durations import durations
from authapi.errors import APIError
from authapi.extensions import db
from authapi.mail import recipient_domain
from authapi.models import User
from authapi.users.repository import find_user_by_email, find_user_by_id

log = logging.getLogger(__name__)

EMAIL_VERIFIED = "Email verified successfully"
VERIFICATION_FAILED = "Invalid or expired verification code"
VERIFICATION_RESENT = (
    "If that account exists and is not verified yet, a new verification email is on its way"
)
RESET_SENT = "If an account with that email exists, a password reset link is on its way"
RESET_FAILED = "Invalid or expired password reset token"
PASSWORD_RESET = "Password updated: log in with your new password"


def link_base(api_url: str | None) -> str | None:
    """Where links in mails point: FRONTEND_URL, else (not in production) ``api_url``,
    this API's URL as the client reached it (the view passes ``request.host_url``).

    Production never builds a link from the request's Host header: a forged Host
    would send the user's reset token to someone else's site.
    """
    configured = current_app.config["FRONTEND_URL"].strip().rstrip("/")
    if configured:
        return configured
    if current_app.config["APP_ENV"] == "production" or not api_url:
        return None
    return api_url.rstrip("/")


def _lifetime_text(minutes: float) -> str:
    if minutes >= 60 and minutes % 60 == 0:
        hours = int(minutes // 60)
        return "1 hour" if hours == 1 else f"{hours} hours"
    whole = int(minutes) if float(minutes).is_integer() else minutes
    return "1 minute" if whole == 1 else f"{whole} minutes"


def _base_or_log(user: User, what: str, api_url: str | None) -> str | None:
    base = link_base(api_url)
    if base is None:
        log.error(
            "FRONTEND_URL is not set: no %s mail for a recipient at %s",
            what,
            recipient_domain(user.email),
        )
    return base


def send_verification(user: User, *, api_url: str | None = None) -> None:
    """Mail a new single-use verification link; the previous link stops working."""
    base = _base_or_log(user, "verification", api_url)
    if base is None:
        return
    lifetime = durations().verification_code
    code = account_tokens.issue(account_tokens.VERIFY, str(user.id), lifetime.total_seconds())
    mail.send(
        user.email,
        "Verify your email address",
        f"Hi {user.name},\n\n"
        "Please confirm your email address by opening this link:\n\n"
        f"{base}/api/auth/verifyemail/{code}\n\n"
        f"The link works once and expires in {_lifetime_text(lifetime.total_seconds() / 60)}.\n"
        "If you did not create an account, ignore this email.\n",
    )


def welcome(user: User, *, api_url: str | None = None) -> None:
    """After registration: the verification mail.

    The account exists at this point, so a Redis outage costs only the mail (the
    user can ask for another one), never the 201.
    """
    try:
        send_verification(user, api_url=api_url)
    except redis.RedisError as error:
        log.warning("no verification mail for a new account: Redis %s", type(error).__name__)


def verify_email(code: str) -> None:
    """Mark the code's user verified. Unknown, used and expired codes are one 400."""
    user_id = account_tokens.consume(account_tokens.VERIFY, code)
    user = find_user_by_id(user_id) if user_id else None
    if user is None:
        raise APIError(VERIFICATION_FAILED, code="verification_failed")
    if user.verified:
        return
    user.verified = True
    db.session.commit()
    sessions.forget_user(user_id)
    events.emit(events.email_verified, user_id=user_id, via="link")


def resend_verification(email: str, *, api_url: str | None = None) -> None:
    """A new link for an unverified, enabled account; nothing (silently) otherwise."""
    user = find_user_by_email(email)
    if user is not None and not user.verified and not user.disabled:
        send_verification(user, api_url=api_url)


def forgot_password(email: str, *, api_url: str | None = None) -> None:
    """Mail a single-use reset link if the account exists and is enabled."""
    user = find_user_by_email(email)
    if user is None or user.disabled:
        return
    base = _base_or_log(user, "password reset", api_url)
    if base is None:
        return
    lifetime = durations().reset_token
    token = account_tokens.issue(account_tokens.RESET, str(user.id), lifetime.total_seconds())
    mail.send(
        user.email,
        "Reset your password",
        f"Hi {user.name},\n\n"
        "Someone (hopefully you) asked to reset the password of your account.\n"
        "Choose a new password here:\n\n"
        f"{base}/resetpassword/{token}\n\n"
        f"The link works once and expires in {_lifetime_text(lifetime.total_seconds() / 60)}.\n"
        "If you did not ask for this, ignore this email: your password has not changed.\n",
    )


def reset_password(token: str, new_password: str) -> int:
    """Set a new password with a reset token; every session of the user ends.

    The link reached the user's mailbox, so the address counts as verified too.
    Returns how many sessions were ended.
    """
    user_id = account_tokens.consume(account_tokens.RESET, token)
    user = find_user_by_id(user_id) if user_id else None
    if user is None or user.disabled:
        raise APIError(RESET_FAILED, code="reset_failed")
    user.password = passwords.hash_password(new_password)
    newly_verified = not user.verified
    user.verified = True
    db.session.commit()
    sessions.forget_user(user_id)
    ended = sessions.delete_all(user_id)
    events.emit(events.password_reset, user_id=user_id, ended=ended)
    if newly_verified:
        events.emit(events.email_verified, user_id=user_id, via="password_reset")
    return ended
