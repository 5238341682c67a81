"""Admin rules: listing, changing and deleting users; there is always an admin left.

"Active admin" = role admin and not disabled. Any change that could take away the
last one (demote, disable, delete) first locks every active admin row (in id
order, so concurrent changes queue instead of deadlocking) and counts them in the
same transaction: two admins demoting each other at once cannot both succeed.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from authapi import events, sessions
from authapi.auth import service as auth_service
from authapi.emails import normalize_email
from authapi.errors import Conflict, NotFound
from authapi.extensions import db
from authapi.models import Role, User
from authapi.queries import Page, escape_like, paginate
from authapi.users import service as users_service
from authapi.users.repository import find_user_for_change

USER_NOT_FOUND = "User not found"
LAST_ADMIN = "The last admin cannot be demoted, disabled or deleted"


def list_users(
    *, page: int, per_page: int, email: str | None = None, role: str | None = None
) -> Page:
    """Users in creation order; ``email`` matches part of the (normalised) address."""
    query = select(User)
    if email:
        pattern = f"%{escape_like(normalize_email(email))}%"
        query = query.where(User.email.like(pattern, escape="\\"))
    if role:
        query = query.where(User.role == Role(role))
    query = query.order_by(User.created_at, User.id)
    return paginate(query, page=page, per_page=per_page)


def get_user(user_id: uuid.UUID, *, for_update: bool = False) -> User:
    user = find_user_for_change(user_id, lock=for_update)
    if user is None:
        raise NotFound(USER_NOT_FOUND, code="user_not_found")
    return user


def _active_admins(*, lock: bool) -> list[uuid.UUID]:
    query = select(User.id).where(User.role == Role.ADMIN, User.disabled.is_(False))
    if lock:
        query = query.order_by(User.id).with_for_update()
    return list(db.session.scalars(query))


def _lock_active_admins() -> list[uuid.UUID]:
    return _active_admins(lock=True)


def refuse_to_delete_the_last_admin(user: User) -> None:
    """409 if deleting this user would leave no active admin, checked without locks:
    for a deletion that asks for a confirmation first, so that one refused anyway
    spends none. :func:`delete_user` checks again under the locks."""
    _refuse_if_last_admin(user.id, _active_admins(lock=False))


def _refuse_if_last_admin(user_id: uuid.UUID, active_admins: list[uuid.UUID]) -> None:
    if user_id in active_admins and len(active_admins) <= 1:
        db.session.rollback()
        raise Conflict(LAST_ADMIN, code="last_admin")


def update_user(actor_id: str | None, user_id: uuid.UUID, changes: dict[str, Any]) -> User:
    """Apply ``name`` / ``role`` / ``disabled``. Disabling ends every session at once."""
    guarded = "role" in changes or "disabled" in changes
    active_admins = _lock_active_admins() if guarded else []
    user = get_user(user_id, for_update=True)
    old_role, was_disabled = user.role, user.disabled
    new_role = Role(changes.get("role", old_role))
    disabled = bool(changes.get("disabled", was_disabled))
    if guarded and (new_role is not Role.ADMIN or disabled):
        _refuse_if_last_admin(user.id, active_admins)
    if "name" in changes:
        user.name = changes["name"].strip()
    user.role, user.disabled = new_role, disabled
    db.session.commit()
    target = str(user.id)
    sessions.forget_user(target)
    if disabled and not was_disabled:
        ended = sessions.delete_all(target, scope=sessions.ACCOUNT_DISABLED)
        events.emit(events.user_disabled, user_id=target, by=actor_id, ended=ended)
    elif was_disabled and not disabled:
        events.emit(events.user_enabled, user_id=target, by=actor_id)
    if new_role is not old_role:
        events.emit(
            events.role_changed,
            user_id=target,
            old_role=old_role.value,
            new_role=new_role.value,
            by=actor_id,
        )
    return user


def delete_user(actor_id: str | None, user_id: uuid.UUID) -> None:
    """Delete a user (sessions end at once), unless it is the last active admin.
    ``actor_id``: the admin who did it (None from the CLI)."""
    active_admins = _lock_active_admins()
    user = get_user(user_id, for_update=True)
    _refuse_if_last_admin(user.id, active_admins)
    users_service.delete_user(user, by=actor_id)


def promote_to_admin(user: User) -> User:
    """Make an existing account an admin (the CLI: no acting admin), by the same rules
    and with the same record as the admin API."""
    return update_user(None, user.id, {"role": Role.ADMIN.value})


def create_admin(name: str, email: str, password: str) -> User:
    """A new account that is an admin from the start (the CLI): registration's rules,
    recorded as a registration with ``new_role`` admin and ``via`` cli."""
    return auth_service.register(name, email, password, role=Role.ADMIN, via="cli")
