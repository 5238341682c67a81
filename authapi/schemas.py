"""Marshmallow schemas: what a request may carry and what a response shows.

Input schemas EXCLUDE unknown fields, so ``role``, ``verified``, ``id`` or
timestamps in a request body are never loaded (mass assignment).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from authapi import password_policy
from authapi.emails import (  # noqa: F401 - valid_email is re-exported for callers
    EMAIL_MAX,
    email_problem,
    has_invisible_characters,
    normalize_email,
    valid_email,
)
from authapi.models import AuthEventName, Role

NAME_MAX = 100
PASSWORD_MIN = password_policy.PASSWORD_MIN


def required(message: str) -> dict[str, Any]:
    """A required field's arguments: one message whether it is missing or null."""
    return {"required": True, "error_messages": {"required": message, "null": message}}


def has_control_characters(value: str) -> bool:
    return any(unicodedata.category(char) in {"Cc", "Zl", "Zp"} for char in value)


class Email(fields.String):
    """A string field that normalises the address, then validates it (authapi.emails)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        email = normalize_email(raw)
        if len(email) > EMAIL_MAX:
            raise ValidationError(f"Email address must be at most {EMAIL_MAX} characters")
        problem = email_problem(email)
        if problem is not None:
            raise ValidationError(problem)
        return email


ZERO_WIDTH_JOINER = "\u200d"  # legitimate inside emoji sequences


def _validate_name(value: str) -> None:
    if not value.strip():
        raise ValidationError("Name is required")
    if len(value) > NAME_MAX:
        raise ValidationError(f"Name must be at most {NAME_MAX} characters")
    if has_control_characters(value) or any(
        unicodedata.category(char) in {"Cf", "Cs", "Co", "Cn"} and char != ZERO_WIDTH_JOINER
        for char in value
    ):
        # Bidi overrides and invisible characters would let a name impersonate another.
        raise ValidationError("Name must not contain control or invisible characters")


def validate_new_password(value: str) -> None:
    """Every rule for a new password, in one place: authapi.password_policy."""
    password_policy.check_new_password(value)


class NewPasswordSchema(Schema):
    """A new ``password`` with its ``passwordConfirm``, which must match."""

    password = fields.String(
        **required("Password is required"),
        validate=validate_new_password,
        metadata={"example": "correct horse battery staple"},
    )
    passwordConfirm = fields.String(  # noqa: N815 - the tutorial's field name
        **required("Please confirm your password"),
        load_only=True,
        metadata={"example": "correct horse battery staple"},
    )

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def passwords_match(self, data: dict[str, Any], original: Any, **kwargs: Any) -> None:
        # Compare what was sent, so a mismatch is reported even when the password
        # itself failed validation.
        password, confirm = original.get("password"), original.get("passwordConfirm")
        if isinstance(password, str) and isinstance(confirm, str) and password != confirm:
            raise ValidationError("Passwords do not match", "passwordConfirm")


class RegisterSchema(NewPasswordSchema):
    class Meta:
        unknown = EXCLUDE

    name = fields.String(
        **required("Name is required"),
        validate=_validate_name,
        metadata={"example": "Alice"},
    )
    email = Email(
        **required("Email address is required"),
        metadata={"example": "alice@example.com"},
    )


class LoginSchema(Schema):
    """Only shape is checked here: every wrong value is one 'Invalid email or password'."""

    class Meta:
        unknown = EXCLUDE

    email = fields.String(
        **required("Email address is required"),
        metadata={"example": "alice@example.com"},
    )
    password = fields.String(
        **required("Password is required"),
        metadata={"example": "correct horse battery staple"},
    )


class UtcDateTime(fields.DateTime):
    """ISO 8601 with an offset; naive values (SQLite stores no zone) are UTC."""

    def _serialize(self, value: datetime | None, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


class UserSchema(Schema):
    """The public user object. Never the password hash."""

    id = fields.UUID(metadata={"example": "3f2b8c1e-5d4a-4b7e-9c1f-2a6d8e0b4c71"})
    name = fields.String(metadata={"example": "Alice"})
    email = fields.String(metadata={"example": "alice@example.com"})
    role = fields.Function(lambda user: user.role.value)
    photo = fields.String(metadata={"example": "default.png"})
    verified = fields.Boolean()
    created_at = UtcDateTime(format="iso")
    updated_at = UtcDateTime(format="iso")


user_schema = UserSchema()
register_schema = RegisterSchema()
login_schema = LoginSchema()


class ChangePasswordSchema(NewPasswordSchema):
    class Meta:
        unknown = EXCLUDE

    currentPassword = fields.String(  # noqa: N815 - camelCase like the tutorial's fields
        **required("Current password is required"),
        metadata={"example": "my old password"},
    )


class RefreshSchema(Schema):
    """Body of POST /api/auth/refresh for clients that cannot keep cookies."""

    class Meta:
        unknown = EXCLUDE

    refresh_token = fields.String(
        **required("refresh_token is required"),
        metadata={"example": "eyJhbGciOiJSUzI1NiIs...the refresh token from a token-mode login"},
    )


class SessionSchema(Schema):
    id = fields.String(metadata={"example": "kG9wZ3J1c3QtbWUtMTI4LWJpdA"})
    created_at = fields.Function(lambda session: _iso(session.created_at))
    last_used_at = fields.Function(lambda session: _iso(session.last_used_at))
    expires_at = fields.Function(lambda session: _iso(session.expires_at))
    ip = fields.String(metadata={"example": "203.0.113.7"})
    user_agent = fields.String(
        metadata={"example": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"}
    )


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat()


change_password_schema = ChangePasswordSchema()
refresh_schema = RefreshSchema()
session_schema = SessionSchema()


# --- Account lifecycle: verification, password reset, admin, audit log ---

PER_PAGE_MAX = 100
PAGE_MAX = 100_000  # keeps OFFSET within what any database accepts


class EmailSchema(Schema):
    """``{"email"}``: resend verification, forgot password."""

    class Meta:
        unknown = EXCLUDE

    email = Email(
        **required("Email address is required"),
        metadata={"example": "alice@example.com"},
    )


class ResetPasswordSchema(NewPasswordSchema):
    class Meta:
        unknown = EXCLUDE


class AdminUserSchema(UserSchema):
    """The user object as admins see it: with ``disabled``."""

    disabled = fields.Boolean()


class StrictBoolean(fields.Boolean):
    """JSON true/false only (not "yes", 1 or "on")."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false")
        return value


PHOTO_MAX = 255  # the column's length
PHOTO_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
PHOTO_INVALID = "Photo must be a file name (default.png) or an https URL"


def _validate_photo(value: str) -> None:
    """A file name (``default.png``) or an ``https`` URL: what a front end may put in
    ``<img src>`` without it running script (``javascript:``), reaching another path of
    its own server (``../``) or loading over plain HTTP."""
    if len(value) > PHOTO_MAX:
        raise ValidationError(f"Photo must be at most {PHOTO_MAX} characters")
    if has_invisible_characters(value) or any(char.isspace() for char in value):
        raise ValidationError("Photo must not contain spaces, control or invisible characters")
    file_name = PHOTO_FILE_NAME.fullmatch(value) is not None and ".." not in value
    if not (file_name or _https_url(value)):
        raise ValidationError(PHOTO_INVALID)


def _https_url(value: str) -> bool:
    """An absolute ``https`` URL with a host, and no user name or password in it."""
    try:
        url = urlsplit(value)
        port = url.port  # raises for a port that is not a number in range
    except ValueError:  # a malformed IPv6 host or port
        return False
    return (
        url.scheme == "https"
        and bool(url.hostname)
        and url.username is None
        and url.password is None
        and port != 0
    )


class NameChangeSchema(Schema):
    """A new ``name``, by the registration's rules (the changes of the admin API and of
    the caller's own profile). Unknown fields are a 400 rather than silently ignored:
    whoever sends them expects them to apply."""

    name = fields.String(
        validate=_validate_name,
        error_messages={"null": "Name is required"},
        metadata={"example": "Alice Smith"},
    )


class ProfileUpdateSchema(NameChangeSchema):
    """PATCH /api/users/me: the caller's own ``name`` and ``photo``; nothing else
    (``role``, ``verified``, ``email``, ``password``... are a 400)."""

    photo = fields.String(
        validate=_validate_photo,
        error_messages={"null": PHOTO_INVALID},
        metadata={"example": "https://cdn.example.com/avatars/alice.png"},
    )

    @validates_schema
    def not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Give at least one of name, photo")


class AdminUserUpdateSchema(NameChangeSchema):
    """PATCH /api/users/<id>: ``name``, ``role``, ``disabled``."""

    role = fields.String(
        validate=validate.OneOf([role.value for role in Role], error="Role must be user or admin"),
        error_messages={"null": "Role must be user or admin"},
        metadata={"example": "user"},
    )
    disabled = StrictBoolean(
        error_messages={"null": "Must be true or false"}, metadata={"example": False}
    )

    @validates_schema
    def not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Give at least one of name, role, disabled")


class PageQuerySchema(Schema):
    """``?page=1&per_page=20``; other query parameters are ignored."""

    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=PAGE_MAX),
        error_messages={"invalid": "Must be a whole number"},
    )
    per_page = fields.Integer(
        load_default=20,
        validate=validate.Range(min=1, max=PER_PAGE_MAX),
        error_messages={"invalid": "Must be a whole number"},
    )


def _validate_email_filter(value: str) -> None:
    """Part of an address, compared after the one normalisation (trim, NFKC, lower)."""
    value = normalize_email(value)
    if len(value) > EMAIL_MAX:
        raise ValidationError(f"Must be at most {EMAIL_MAX} characters")
    if has_invisible_characters(value):
        raise ValidationError("Must not contain control or invisible characters")


class UserListQuerySchema(PageQuerySchema):
    email = fields.String(validate=_validate_email_filter)
    role = fields.String(
        validate=validate.OneOf([role.value for role in Role], error="Role must be user or admin")
    )


class EventListQuerySchema(PageQuerySchema):
    event = fields.String(
        validate=validate.OneOf(
            [name.value for name in AuthEventName],
            error="Unknown event; one of: " + ", ".join(name.value for name in AuthEventName),
        )
    )


class AdminEventListQuerySchema(EventListQuerySchema):
    user_id = fields.UUID(error_messages={"invalid_uuid": "Must be a user id (a UUID)"})


class AuthEventSchema(Schema):
    id = fields.UUID()
    event = fields.String()
    user_id = fields.UUID(allow_none=True)
    ip = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    details = fields.Dict(allow_none=True)
    created_at = UtcDateTime(format="iso")


email_schema = EmailSchema()
reset_password_schema = ResetPasswordSchema()
admin_user_schema = AdminUserSchema()
admin_user_update_schema = AdminUserUpdateSchema()
profile_update_schema = ProfileUpdateSchema()
user_list_query_schema = UserListQuerySchema()
event_list_query_schema = EventListQuerySchema()
admin_event_list_query_schema = AdminEventListQuerySchema()
auth_event_schema = AuthEventSchema()
