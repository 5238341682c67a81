"""Account lifecycle rules: email verification and password reset.

Answers that could tell whether an account exists (resend, forgot password) are
the same either way, and so is the work before them: the lookup, the code and the
mail happen after the answer (:mod:`authapi.background`, :mod:`authapi.mail`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import redis
from flask import current_app
from sqlalchemy import select

from authapi import account_tokens, background, events, mail, passwords, sessions
from authapi.durations import durations
from authapi.errors import APIError
from authapi.extensions import db
from authapi.mail import recipient_domain
from authapi.mfa import factors
from authapi.mfa import service as mfa_service
from authapi.models import Identity, User
from authapi.schemas import normalize_email
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
# The verification link makes the account, password included, its registrant's
# (docs/security.md#pre-account-hijacking): the mail says so to an owner who did not
# register, and what takes the account from whoever did.
NOT_YOUR_ACCOUNT = (
    "Open the link only if you created this account yourself: confirming keeps the "
    "password it was created with. If you did not, someone else typed your address: "
    "do not open the link. To use this address here yourself, sign in with a code sent "
    "by email, or reset the password: either hands the account to you and signs "
    "everyone else out."
)


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


def lifetime_text(minutes: float) -> str:
    """``10 minutes``, ``1 minute``, ``24 hours``: a lifetime as mails and answers say it."""
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
        f"{_greeting(user)}"
        "Please confirm your email address by opening this link:\n\n"
        f"{base}/api/auth/verifyemail/{code}\n\n"
        f"The link works once and expires in {lifetime_text(lifetime.total_seconds() / 60)}.\n\n"
        f"{NOT_YOUR_ACCOUNT}\n",
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
    handover = mailbox_proven(user, void_password=False)
    db.session.commit()
    sessions.forget_user(user_id)
    if handover:  # whoever signed in with them may be signed in now
        sessions.delete_all(user_id, scope=sessions.EMAIL_VERIFIED)
    announce_handover(user, handover)
    events.emit(events.email_verified, user_id=user_id, via="link")


@dataclass(frozen=True)
class Handover:
    """What :func:`mailbox_proven` took away: unlinked providers, and the kinds of second
    factor removed (``passkey``, ``totp``, ``recovery_code``)."""

    providers: list[str] = field(default_factory=list)
    factors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.providers or self.factors)


def mailbox_proven(user: User, *, void_password: bool) -> Handover:
    """The address of an account that was never verified has just been proven (a
    verification link, a password reset, an emailed code): the ways in that whoever
    held the account before set up must not outlive the owner's arrival (pre-account
    hijacking: someone may have claimed the address first, through a provider that
    does not vouch for it, or with a password, then added a passkey).

    In the caller's transaction: unlinks every provider identity that does not vouch
    for this very address (``email_verified`` and the same address), removes every
    second factor of every kind (a passkey signs in on its own; a TOTP secret or
    recovery codes someone else holds would guard the owner's account against its
    owner), and with ``void_password`` replaces the password by one nothing matches
    (the owner sets theirs through the reset flow). The caller commits, ends the
    sessions (always when anything went), then calls :func:`announce_handover`.
    """
    providers: list[str] = []
    for identity in db.session.scalars(select(Identity).where(Identity.user_id == user.id)):
        if not (identity.email_verified and normalize_email(identity.email or "") == user.email):
            providers.append(identity.provider)
            db.session.delete(identity)
    removed = mfa_service.queue_removals(user.id, factors.remove_all(user.id), by=None)
    if void_password and passwords.is_usable(user.password):
        user.password = passwords.unusable_password()
    return Handover(providers, removed)


def announce_handover(user: User, handover: Handover) -> None:
    """After :func:`mailbox_proven` committed: audit events, and the owner's mail about
    removed factors."""
    for provider in handover.providers:
        events.emit(
            events.identity_unlinked, user_id=str(user.id), provider=provider, reason="unverified"
        )
    if handover.factors:
        mfa_service.removed_before_proof(user, handover.factors)


def request_verification_mail(email: str, *, api_url: str | None = None) -> None:
    """Answer first: the lookup, the code and the mail happen after the response, so
    the answer takes the same time for every address (known, verified, disabled...)."""
    background.submit(_resend_verification_job, email, api_url)


def request_password_reset(email: str, *, api_url: str | None = None) -> None:
    """Answer first, like :func:`request_verification_mail`."""
    background.submit(_forgot_password_job, email, api_url)


def _resend_verification_job(email: str, api_url: str | None) -> None:
    resend_verification(email, api_url=api_url)


def _forgot_password_job(email: str, api_url: str | None) -> None:
    forgot_password(email, api_url=api_url)


def _greeting(user: User) -> str:
    """The name is the registrant's own text: never put it in a mail to an address that
    has not been shown to belong to them (anyone can register someone else's address)."""
    return f"Hi {user.name},\n\n" if user.verified else "Hello,\n\n"


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
        f"{_greeting(user)}"
        "Someone (hopefully you) asked to reset the password of your account.\n"
        "Choose a new password here:\n\n"
        f"{base}/resetpassword/{token}\n\n"
        f"The link works once and expires in {lifetime_text(lifetime.total_seconds() / 60)}.\n"
        "If you did not ask for this, ignore this email: your password has not changed.\n",
    )


def reset_password(token: str, new_password: str) -> int:
    """Set a new password with a reset token; every session of the user ends.

    The link reached the user's mailbox, so the address counts as verified too.
    Returns how many sessions were ended.
    """
    user_id = account_tokens.peek(account_tokens.RESET, token)
    user = find_user_by_id(user_id) if user_id else None
    if user is None or user.disabled:
        raise APIError(RESET_FAILED, code="reset_failed")
    # Hashed before the token is used up: a full hashing pool (503, retry) leaves the
    # link working. Two resets racing with one link: only one consumes it.
    new_hash = passwords.hash_password(new_password)
    if account_tokens.consume(account_tokens.RESET, token) != user_id:
        raise APIError(RESET_FAILED, code="reset_failed")
    user.password = new_hash
    newly_verified = not user.verified
    user.verified = True
    handover = mailbox_proven(user, void_password=False) if newly_verified else Handover()
    db.session.commit()
    sessions.forget_user(user_id)
    ended = sessions.delete_all(user_id, scope=sessions.PASSWORD_RESET)
    announce_handover(user, handover)
    events.emit(events.password_reset, user_id=user_id, ended=ended)
    if newly_verified:
        events.emit(events.email_verified, user_id=user_id, via="password_reset")
    return ended
