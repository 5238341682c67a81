"""User lookups: the one place that turns an email or an id into a ``User`` row."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from authapi.extensions import db
from authapi.models import User
from authapi.schemas import normalize_email, valid_email


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


def email_taken(email: str) -> bool:
    return db.session.scalar(select(User.id).where(User.email == email)) is not None


def reload_user(user: User) -> User | None:
    """The row as the database has it now (None if deleted meanwhile), not the copy
    this session already holds."""
    return db.session.scalar(
        select(User).where(User.id == user.id).execution_options(populate_existing=True)
    )
