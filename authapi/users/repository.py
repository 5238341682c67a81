"""User lookups: the one place that turns an email or an id into a ``User`` row."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select

from authapi.emails import normalize_email, skeleton, valid_email
from authapi.extensions import db
from authapi.models import User


def find_user_by_email(email: str) -> User | None:
    """The account with this address (normalised first), or None."""
    normalized = normalize_email(email)
    if not valid_email(normalized):  # never send NUL or junk to PostgreSQL
        return None
    return db.session.scalar(select(User).where(User.email == normalized))


def find_user_by_id(user_id: str | uuid.UUID) -> User | None:
    """The account with this id (a UUID or its text; anything else: None)."""
    if not isinstance(user_id, uuid.UUID):
        try:
            user_id = uuid.UUID(user_id)
        except ValueError:
            return None
    return db.session.get(User, user_id)


def find_user_for_change(user_id: uuid.UUID, *, lock: bool = False) -> User | None:
    """The row as the database has it now (not a copy this session holds), locked
    FOR UPDATE with ``lock`` until the transaction ends."""
    query = select(User).where(User.id == user_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query)


def email_taken(email: str, *, excluding: uuid.UUID | None = None) -> bool:
    """Is this address, or one that looks like it (authapi.emails.skeleton), taken (by
    an account other than ``excluding``)?"""
    query = select(User.id).where(or_(User.email == email, User.email_skeleton == skeleton(email)))
    if excluding is not None:
        query = query.where(User.id != excluding)
    return db.session.scalar(query.limit(1)) is not None
