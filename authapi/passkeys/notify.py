"""Mails to a user about their passkeys: one when a passkey is added, one when removed,
so that someone who got into the account cannot quietly plant or drop a key."""

from __future__ import annotations

from authapi import mail
from authapi.models import User


def passkey_added(user: User, name: str) -> None:
    mail.send(
        user.email,
        "A passkey was added to your account",
        f"Hi {user.name},\n\n"
        f'A passkey named "{name}" was added to your account. It can now be used to '
        "sign in without your password.\n\n"
        "If this was not you, sign in, remove that passkey and change your password.\n",
    )


def passkey_removed(user: User, name: str) -> None:
    mail.send(
        user.email,
        "A passkey was removed from your account",
        f"Hi {user.name},\n\n"
        f'The passkey named "{name}" was removed from your account: it can no longer be '
        "used to sign in.\n\n"
        "If this was not you, change your password now.\n",
    )
