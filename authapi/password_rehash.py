"""Upgrading a stored hash at login, so imported and older hashes move to the
configured hasher and parameters without anyone resetting a password."""

from __future__ import annotations

import logging

from sqlalchemy import update

from authapi import events, hashers, password_policy, passwords
from authapi.extensions import db
from authapi.models import User

log = logging.getLogger(__name__)


def upgrade_if_needed(user: User, password: str, checked_hash: str) -> str:
    """Once the password is right: replace a hash that is not in the current hasher
    and parameters. One UPDATE, and only if the hash is still the one just checked (a
    password change that committed meanwhile wins).

    Returns the hash this login stands on from now: the new one if it was replaced,
    else ``checked_hash``. The login compares the account with it afterwards, and a
    second factor's mfa_token is bound to it, so the upgrade (at the password step,
    before the second factor is asked for) does not void the sign-in it belongs to.

    Only for a password that was right: a failed login never writes.
    """
    if not passwords.needs_rehash(checked_hash):
        return checked_hash
    if password_policy.max_length_problem(password):
        # e.g. a 100-byte password of an imported PBKDF2 hash, while new hashes are
        # bcrypt's (72 bytes at most): keep the old hash, it still works.
        log.info("password hash kept: the password does not fit the configured hasher")
        return checked_hash
    old_format = hashers.identify(checked_hash)
    try:
        new_hash = passwords.hash_password(password)
    except Exception:  # e.g. the hashing pool is full: the login stands anyway
        log.warning("password hash kept: the new hash could not be made now", exc_info=True)
        return checked_hash
    result = db.session.execute(
        update(User)
        .where(User.id == user.id, User.password == checked_hash)
        # Not a change the user made or can see: updated_at stays.
        .values(password=new_hash, updated_at=User.updated_at)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount != 1:  # changed meanwhile: the caller's check against it fails
        return checked_hash
    events.emit(
        events.password_rehashed,
        user_id=str(user.id),
        old_format=old_format.name if old_format else "unknown",
        new_format=str(passwords.hash_settings().hasher),
    )
    return new_hash
