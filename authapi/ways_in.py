"""Which ways into an account are left when one goes: the rule behind the 409
``last_way_in`` of removing a passkey and of unlinking a provider identity.

The ways in are a usable password, a linked provider identity, a passkey, and a code
sent by email, which every enabled account can use as long as this server sends mail.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from authapi import mail, passwords
from authapi.extensions import db
from authapi.models import Identity, User
from authapi.passkeys.models import Passkey


def has_usable_password(user: User) -> bool:
    return passwords.is_usable(user.password)


def _others(model: type[Identity] | type[Passkey], user: User, leaving: uuid.UUID | None) -> int:
    query = select(func.count()).select_from(model).where(model.user_id == user.id)
    if leaving is not None:
        query = query.where(model.id != leaving)
    return int(db.session.scalar(query) or 0)


def remain(
    user: User, *, passkey: uuid.UUID | None = None, identity: uuid.UUID | None = None
) -> bool:
    """Whether the account still has a way in once ``passkey`` or ``identity`` is gone:
    a password, an emailed code (mail is sent), another passkey or identity."""
    if has_usable_password(user) or mail.delivers():
        return True
    return _others(Passkey, user, passkey) + _others(Identity, user, identity) > 0
