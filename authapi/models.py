"""Database models: columns and constraints only."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Enum, ForeignKey, Index, String, Uuid, false, func
from sqlalchemy.orm import Mapped, mapped_column

from authapi.emails import skeleton
from authapi.extensions import db


class Role(enum.StrEnum):
    USER = "user"
    ADMIN = "admin"


def _skeleton_of_email(context: Any) -> str:
    return skeleton(context.get_current_parameters()["email"])


class User(db.Model):
    __tablename__ = "users"
    # Fetch server-side timestamps right after INSERT/UPDATE so updated_at is fresh.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    # Stored normalised (trim, NFKC, lower-case): the unique index decides duplicates.
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    # What the address looks like (authapi.emails.skeleton), set from ``email`` at insert:
    # two look-alike addresses are one account. NULL only for old look-alike rows.
    email_skeleton: Mapped[str | None] = mapped_column(
        String(254), unique=True, default=_skeleton_of_email
    )
    password: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(
            Role,
            name="user_role",
            native_enum=False,
            create_constraint=True,
            length=16,
            values_callable=lambda roles: [role.value for role in roles],
        ),
        default=Role.USER,
        server_default=Role.USER.value,
    )
    photo: Mapped[str] = mapped_column(
        String(255), default="default.png", server_default="default.png"
    )
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A disabled account cannot log in; disabling it ends its sessions at once.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class AuthEventName(enum.StrEnum):
    """What the audit log records (``auth_events.event``; a plain string column, so a
    new kind of event needs no migration)."""

    USER_REGISTERED = "user_registered"
    LOGIN_SUCCEEDED = "login_succeeded"
    LOGIN_FAILED = "login_failed"
    LOGGED_OUT = "logged_out"
    REFRESH_REUSE_DETECTED = "refresh_reuse_detected"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    EMAIL_VERIFIED = "email_verified"
    EMAIL_CHANGED = "email_changed"
    ROLE_CHANGED = "role_changed"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    USER_DELETED = "user_deleted"
    IDENTITY_LINKED = "identity_linked"
    IDENTITY_UNLINKED = "identity_unlinked"
    PASSWORD_REHASHED = "password_rehashed"
    MFA_REQUIRED = "mfa_required"
    MFA_ENROLLED = "mfa_enrolled"
    MFA_REMOVED = "mfa_removed"
    MFA_USED = "mfa_used"
    MFA_FAILED = "mfa_failed"
    RECOVERY_CODES_GENERATED = "recovery_codes_generated"
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_RENAMED = "passkey_renamed"
    PASSKEY_REMOVED = "passkey_removed"
    PASSKEY_USED = "passkey_used"
    PASSKEY_FAILED = "passkey_failed"


class AuthEvent(db.Model):
    """The audit log: one row per security-relevant event (authapi.audit writes them).

    Never a password, token or code: only who, what, from where and when.
    """

    __tablename__ = "auth_events"
    __table_args__ = (
        Index("ix_auth_events_user_id_created_at", "user_id", "created_at"),
        Index("ix_auth_events_event_created_at", "event", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    # Kept when the user is deleted, without the link (the deletion event names the id).
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="SET NULL")
    )
    event: Mapped[str] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(256))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Identity(db.Model):
    """A provider account linked to a user (issue 17): who the provider says it is."""

    __tablename__ = "identities"
    # One account per provider subject: the index decides a race between two callbacks.
    __table_args__ = (Index("ix_identities_provider_subject", "provider", "subject", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))  # the provider's `sub` (GitHub: id)
    email: Mapped[str | None] = mapped_column(String(254))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
