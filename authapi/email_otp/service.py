"""Passwordless sign-in with a code sent by email.

- ``request_code``: the same answer and the same work in the request for every
  address (store a code, queue a job); the job, after the answer, looks the account
  up and mails the code and a link, or does nothing (unknown address without
  OTP_SIGNUP, disabled account).
- ``verify``: a right code signs in like a password login (``start_session``); an
  unknown address with OTP_SIGNUP gets a verified account (the code proved the
  mailbox); any wrong, used, expired or exhausted code is one 400.

The link in the mail points at ``<FRONTEND_URL>/signin/otp#email=...&code=...``: the
code is in the fragment, which browsers never send, and the page signs in only when
the person presses its button (a POST). Mail scanners that fetch the link with GET
or HEAD neither see nor use the code.
"""

from __future__ import annotations

import logging
import uuid
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy.exc import IntegrityError

from authapi import background, events, hooks, mail, passwords, sessions
from authapi.accounts import service as accounts_service
from authapi.accounts.service import lifetime_text, link_base
from authapi.auth import service as auth_service
from authapi.auth.service import IssuedTokens
from authapi.email_otp import codes
from authapi.errors import APIError, Forbidden
from authapi.extensions import db
from authapi.mail import recipient_domain
from authapi.mfa import gate as mfa_gate
from authapi.models import User
from authapi.schemas import NAME_MAX
from authapi.users.repository import email_taken, find_user_by_email, find_user_for_change

log = logging.getLogger(__name__)

CODE_SENT_START = "If this address can sign in, a code is on its way: it works once, for "
CODE_SENT = CODE_SENT_START + "10 minutes"  # with the default OTP_EXPIRES_IN
INVALID_CODE = "Invalid or expired code"
INVALID_CODE_CODE = "invalid_code"
OTP_AMR = ("otp",)  # RFC 8176: a one-time password (here, sent by email)
LINK_PATH = "/signin/otp"


def request_code(email: str, *, api_url: str | None = None) -> str:
    """Store a new code and queue the mail: identical work whether the account exists.
    Returns the answer's message (the same for every address).

    ``api_url``: this API's URL as the client reached it (links when FRONTEND_URL is
    unset, outside production).
    """
    code = codes.issue(email)
    background.submit(_mail_code, email, code, link_base(api_url))
    return CODE_SENT_START + lifetime_text(codes.lifetime() / 60)


def _mail_code(email: str, code: str, base: str | None) -> None:
    """In the background: mail the code if this address may sign in (or sign up)."""
    user = find_user_by_email(email)
    if user is None and (not current_app.config["OTP_SIGNUP"] or email_taken(email)):
        return  # no sign-up, or the address looks like an account's: no new account
    if user is not None and user.disabled:
        return
    if base is None:
        log.error(
            "FRONTEND_URL is not set: no sign-in code for a recipient at %s",
            recipient_domain(email),
        )
        return
    link = f"{base}{LINK_PATH}#" + urlencode({"email": email, "code": code})
    mail.send(
        email,
        f"Your sign-in code: {code}",
        f"Your sign-in code is {code}\n\n"
        f'Or open this link and press "Sign in":\n\n{link}\n\n'
        f"The code works once and expires in {lifetime_text(codes.lifetime() / 60)}.\n"
        "If you did not ask for it, ignore this email: nobody can sign in without it.\n",
    )


def _sign_up(email: str, code: str) -> User:
    """A new account for a right code the check kept: used up once the hook let the
    sign-up through, or refused it on purpose (403: decided, as a used code is). A hook
    that fails (no answer, an error: 503) leaves the code working for a retry."""
    if not current_app.config["OTP_SIGNUP"] or email_taken(email):
        # No sign-ups, or a look-alike of an existing address (that account's, never a
        # new one), or an account registered since the caller's lookup (its code).
        existing = find_user_by_email(email) if codes.use(email, code) else None
        if existing is None:
            raise APIError(INVALID_CODE, code=INVALID_CODE_CODE)
        return existing
    name = email.partition("@")[0][:NAME_MAX] or "User"
    try:
        hooks.before_user_created(email=email, name=name, source="otp")
    except Forbidden:
        codes.use(email, code)
        raise
    if not codes.use(email, code):  # a concurrent request used it first
        raise APIError(INVALID_CODE, code=INVALID_CODE_CODE)
    return _new_account(email, name)


def _new_account(email: str, name: str) -> User:
    user = User(
        id=uuid.uuid4(),
        name=name,
        email=email,
        password=passwords.unusable_password(),
        verified=True,
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:  # created by a concurrent sign-in or registration
        db.session.rollback()
        existing = find_user_by_email(email)
        if existing is None:
            raise
        return existing
    events.emit(events.user_registered, user_id=str(user.id), via="otp")
    return user


def verify(
    email: str, code: str, *, ip: str, user_agent: str, replacing: str | None = None
) -> IssuedTokens:
    """Sign in with a right code (single use, within its lifetime and tries); a sign-up
    uses it up only once the hook has decided (:func:`_sign_up`)."""
    user = find_user_by_email(email)
    if not codes.check(email, code, keep=user is None):
        events.emit(
            events.login_failed, user_id=str(user.id) if user else None, reason="wrong_code"
        )
        raise APIError(INVALID_CODE, code=INVALID_CODE_CODE)
    if user is None:
        user = _sign_up(email, code)
    _refuse_disabled(user)
    if not user.verified:  # the code reached this mailbox: its owner takes the account
        user.verified = True
        handover = accounts_service.mailbox_proven(user, void_password=True)
        db.session.commit()
        sessions.forget_user(str(user.id))
        sessions.delete_all(str(user.id), scope=sessions.EMAIL_VERIFIED)
        accounts_service.announce_handover(user, handover)
        events.emit(events.email_verified, user_id=str(user.id), via="otp")
    # An emailed code is one factor: an account with a second factor still gives it.
    mfa_gate.require_second_factor(user, OTP_AMR)
    session_id = sessions.create(
        str(user.id), ip=ip, user_agent=user_agent, amr=OTP_AMR, spare=replacing
    )
    # As a password login does: a disable or deletion that committed since the account
    # was read wins (one that commits later ends this session itself).
    fresh = find_user_for_change(user.id)
    if fresh is None or fresh.disabled:
        sessions.delete(str(user.id), session_id, scope="session")  # reported: it was created
        if fresh is None:
            raise APIError(INVALID_CODE, code=INVALID_CODE_CODE)
        _refuse_disabled(fresh)
    return auth_service.start_session(fresh, session_id, amr=OTP_AMR, via="otp")


def _refuse_disabled(user: User) -> None:
    """A disabled account: 403. (An unverified one may sign in: the code just proved
    its address.)"""
    if user.disabled:
        events.emit(events.login_failed, user_id=str(user.id), reason="disabled")
        raise Forbidden(auth_service.ACCOUNT_DISABLED, code="account_disabled")
