"""Changing one's own email address: asked for with a confirmation, made only once a
code mailed to the new address comes back from a session of the same account.

Why the code must come back from the account's own session (not from a link that
anyone who opens the mail can follow): someone could ask to move *their* account to
*your* address; if opening the mail were enough, a click would give them an account
under your verified address, with their password, factors and sessions, which a
provider sign-in with that address would then join (pre-account hijacking,
docs/security.md). Here the owner of the new address can do nothing with the code but
ignore it, and its sender cannot read it. GET never changes anything: there is no GET.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from authapi import account_tokens, events, mail, sessions
from authapi.accounts.service import lifetime_text
from authapi.auth.service import caller_account
from authapi.durations import durations
from authapi.emails import skeleton
from authapi.errors import APIError, Conflict
from authapi.extensions import db
from authapi.models import User
from authapi.passkeys import service as passkeys_service
from authapi.users.repository import email_taken

if TYPE_CHECKING:
    from webauthn.helpers.structs import AuthenticationCredential

EMAIL_TAKEN = "User with that email already exists"  # registration's words
SAME_EMAIL = "That is already your email address"
CHANGE_FAILED = "Invalid or expired code"


def code_sent_message() -> str:
    lifetime = durations().verification_code.total_seconds() / 60
    return (
        "A code is on its way to the new address: enter it here, signed in to this "
        f"account, within {lifetime_text(lifetime)}"
    )


def request_change(
    user_id: str,
    new_email: str,
    *,
    password: str | None = None,
    code: str | None = None,
    credential: AuthenticationCredential | None = None,
) -> None:
    """Confirm the caller (as for a deletion), then mail a code to ``new_email`` (already
    normalised and checked by the ``Email`` field). Nothing changes yet; a newer request
    replaces the code."""
    user = caller_account(user_id)
    passkeys_service.confirm_change(
        user, password=password, code=code, credential=credential, via="email_change"
    )
    _refuse_unusable(user, new_email)
    lifetime = durations().verification_code.total_seconds()
    secret = account_tokens.issue(account_tokens.EMAIL_CHANGE, user_id, lifetime, email=new_email)
    mail.send(
        new_email,
        "Confirm your new email address",
        "Hello,\n\n"
        "Someone signed in to an account here asked to use this address for it. If it was "
        "you, enter this code where you asked for the change, signed in to that account:\n\n"
        f"{secret}\n\n"
        f"It works once and expires in {lifetime_text(lifetime / 60)}.\n\n"
        "If it was not you, ignore this mail: nothing changes without the code, and no "
        "other account can use it.\n",
    )


def confirm_change(user_id: str, secret: str) -> User:
    """Give the account the address the code was mailed to, now proven: it is verified.

    The code counts only from the account that asked (another account's session, or
    none, gets the one answer of a bad code, and leaves it usable). The address must
    still be free (look-alikes included); the unique indexes decide a race. The old
    address is told, and the links mailed to it (verification, password reset) stop
    working.
    """
    pending = account_tokens.peek_email_change(secret)
    if pending is None or pending[0] != user_id:
        raise APIError(CHANGE_FAILED, code="email_change_failed")
    new_email = pending[1]
    user = caller_account(user_id, lock=True)
    _refuse_unusable(user, new_email)
    if account_tokens.consume(account_tokens.EMAIL_CHANGE, secret) != user_id:
        db.session.rollback()  # used by a concurrent request meanwhile
        raise APIError(CHANGE_FAILED, code="email_change_failed")
    old_email = user.email
    user.email, user.email_skeleton, user.verified = new_email, skeleton(new_email), True
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(EMAIL_TAKEN, code="email_taken") from None
    sessions.forget_user(user_id)
    for purpose in (account_tokens.RESET, account_tokens.VERIFY):
        account_tokens.revoke(purpose, user_id)  # links mailed to the old address
    events.emit(events.email_changed, user_id=user_id)
    mail.send(
        old_email,
        "Your email address was changed",
        "Hello,\n\n"
        "The email address of your account here was changed: this address no longer "
        "signs in to it, and links mailed to it before no longer work.\n\n"
        "If you did not do this, someone else is signed in to your account: contact us.\n",
    )
    return user


def _refuse_unusable(user: User, new_email: str) -> None:
    """The registration's rules for an address: not taken, nor a look-alike of one."""
    if new_email == user.email:
        db.session.rollback()
        raise APIError(SAME_EMAIL, code="same_email")
    if email_taken(new_email, excluding=user.id):
        db.session.rollback()
        raise Conflict(EMAIL_TAKEN, code="email_taken")
