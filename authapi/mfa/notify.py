"""The mails a user gets about their second factors (never a code or secret in them)."""

from __future__ import annotations

from authapi import mail
from authapi.models import User

LABELS = {
    "totp": "an authenticator app (TOTP)",
    "passkey": "a passkey",
    "recovery_code": "recovery codes",
}

NOT_YOU = (
    "If this was not you, change your password now and contact an administrator: "
    "someone may have access to your account.\n"
)


def _label(factor: str) -> str:
    return LABELS.get(factor, factor)


def factor_added(user: User, factor: str) -> None:
    mail.send(
        user.email,
        "A second factor was added to your account",
        f"Hi {user.name},\n\n{_label(factor).capitalize()} now protects your account: "
        f"signing in asks for it after your password.\n\n{NOT_YOU}",
    )


def factor_removed(user: User, factor: str, *, by_admin: bool = False) -> None:
    who = "An administrator removed" if by_admin else "You removed"
    mail.send(
        user.email,
        "A second factor was removed from your account",
        f"Hi {user.name},\n\n{who} {_label(factor)} from your account.\n\n{NOT_YOU}",
    )


def all_factors_removed_by_admin(user: User) -> None:
    mail.send(
        user.email,
        "The second factors of your account were removed",
        f"Hi {user.name},\n\nAn administrator removed every second factor of your account "
        "and signed you out everywhere. Your password alone now signs you in; you can set "
        f"up a second factor again once you are signed in.\n\n{NOT_YOU}",
    )


def recovery_code_used(user: User, left: int) -> None:
    mail.send(
        user.email,
        "A recovery code was used to sign in",
        f"Hi {user.name},\n\nA recovery code was just used to sign in to your account. "
        f"{left} unused recovery codes are left; you can make a new set once signed in."
        f"\n\n{NOT_YOU}",
    )


def removed_before_proof(user: User, factors: list[str]) -> None:
    """The first proof of the address removed the factors set up before it. No name in
    the greeting: it was typed by whoever held the account before the proof."""
    named = [_label(factor) for factor in factors]
    labels = ", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else named[0]
    mail.send(
        user.email,
        "The second factors of your account were removed",
        "Hello,\n\nYour email address has just been confirmed for the first time. Until "
        "then anyone could have typed it, so the second factors set up on this account "
        f"before were removed: {labels}. Every device was signed out. You can set up a "
        "second factor again once you are signed in.\n",
    )
