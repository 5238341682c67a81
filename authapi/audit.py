"""The audit log: listeners that record auth events in ``auth_events``, and reading it.

Listeners are subscribed to the signals of :mod:`authapi.events` for one app
(``init_app``). They run inside the request, take the client address and user agent
from it, and write each row on a connection of their own, in a short transaction
of its own: so a failed login, whose request answers 400 without committing
anything, is still recorded, and nothing pending in the request's session is
ever committed by the audit. A failure to record is logged and never breaks the
request.

What a row holds is chosen here, key by key (``DETAIL_KEYS``): never a password,
token, code or the email typed at a failed login (people type passwords into
the wrong box).
"""

from __future__ import annotations

import logging
import unicodedata
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, has_request_context, request
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select

from authapi import events
from authapi.extensions import db
from authapi.models import AuthEvent, AuthEventName
from authapi.queries import Page, paginate

log = logging.getLogger(__name__)

IP_MAX = 64
USER_AGENT_MAX = 256
DETAIL_VALUE_MAX = 64

RECORDED: dict[Any, AuthEventName] = {
    events.user_registered: AuthEventName.USER_REGISTERED,
    events.login_succeeded: AuthEventName.LOGIN_SUCCEEDED,
    events.login_failed: AuthEventName.LOGIN_FAILED,
    events.logged_out: AuthEventName.LOGGED_OUT,
    events.refresh_reuse_detected: AuthEventName.REFRESH_REUSE_DETECTED,
    events.password_changed: AuthEventName.PASSWORD_CHANGED,
    events.password_reset: AuthEventName.PASSWORD_RESET,
    events.email_verified: AuthEventName.EMAIL_VERIFIED,
    events.email_changed: AuthEventName.EMAIL_CHANGED,
    events.role_changed: AuthEventName.ROLE_CHANGED,
    events.user_disabled: AuthEventName.USER_DISABLED,
    events.user_enabled: AuthEventName.USER_ENABLED,
    events.user_deleted: AuthEventName.USER_DELETED,
    events.identity_linked: AuthEventName.IDENTITY_LINKED,
    events.identity_unlinked: AuthEventName.IDENTITY_UNLINKED,
    events.mfa_required: AuthEventName.MFA_REQUIRED,
    events.mfa_enrolled: AuthEventName.MFA_ENROLLED,
    events.mfa_removed: AuthEventName.MFA_REMOVED,
    events.mfa_used: AuthEventName.MFA_USED,
    events.mfa_failed: AuthEventName.MFA_FAILED,
    events.recovery_codes_generated: AuthEventName.RECOVERY_CODES_GENERATED,
    events.passkey_added: AuthEventName.PASSKEY_ADDED,
    events.passkey_renamed: AuthEventName.PASSKEY_RENAMED,
    events.passkey_removed: AuthEventName.PASSKEY_REMOVED,
    events.passkey_used: AuthEventName.PASSKEY_USED,
    events.passkey_failed: AuthEventName.PASSKEY_FAILED,
}

# The only signal arguments that reach a row (besides user_id).
DETAIL_KEYS = ("reason", "session_id", "scope", "ended", "old_role", "new_role", "by", "via")
DETAIL_KEYS += ("factor", "left")  # second factors (authapi.mfa)
DETAIL_KEYS += ("provider",)  # sign in with another provider (authapi.oauth)

# Issue 14: a login upgraded a password hash (which format it was, which it is now).
RECORDED[events.password_rehashed] = AuthEventName.PASSWORD_REHASHED
DETAIL_KEYS += ("old_format", "new_format")
DETAIL_KEYS += ("passkey_id",)


def init_app(app: Flask) -> None:
    for signal, name in RECORDED.items():
        signal.connect(_recorder(name), sender=app, weak=False)


def _recorder(name: AuthEventName) -> Callable[..., None]:
    def record(sender: Flask, **data: Any) -> None:
        write(name, data)

    return record


def _clean(value: Any, limit: int) -> str | None:
    """Printable text, cut to ``limit``: headers may carry NUL or escape sequences."""
    if value is None:
        return None
    text = "".join(char for char in str(value) if unicodedata.category(char)[0] != "C")
    return text[:limit]


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None


def _details(data: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for key in DETAIL_KEYS:
        value = data.get(key)
        if value is None:
            continue
        details[key] = value if isinstance(value, int) else _clean(value, DETAIL_VALUE_MAX)
    return details


def write(name: AuthEventName, data: dict[str, Any]) -> None:
    """Record one event now, in its own transaction; log (never raise) on failure."""
    user_id = _as_uuid(data.get("user_id"))
    details = _details(data)
    if name is AuthEventName.USER_DELETED:
        # The row outlives the account: keep the id in details, not as a dangling link.
        details["user_id"] = str(user_id) if user_id else None
        user_id = None
    ip = user_agent = None
    if has_request_context():
        ip = _clean(request.remote_addr, IP_MAX)
        user_agent = _clean(request.headers.get("User-Agent"), USER_AGENT_MAX)
    row = {
        "id": uuid.uuid4(),
        "user_id": user_id,
        "event": name.value,
        "ip": ip,
        "user_agent": user_agent,
        "details": details or None,
    }
    try:
        with db.engine.begin() as connection:
            connection.execute(insert(AuthEvent), [row])
    except sa_exc.SQLAlchemyError:
        log.exception("audit: could not record a %s event", name.value)


def list_events(
    *, page: int, per_page: int, user_id: str | uuid.UUID | None = None, event: str | None = None
) -> Page:
    """Events, newest first; all of them unless ``user_id`` or ``event`` narrow them."""
    query = select(AuthEvent)
    if user_id is not None:
        wanted = _as_uuid(user_id)
        if wanted is None:  # never "IS NULL": that would list other people's events
            return Page(items=[], page=page, per_page=per_page, total=0)
        query = query.where(AuthEvent.user_id == wanted)
    if event is not None:
        query = query.where(AuthEvent.event == event)
    query = query.order_by(AuthEvent.created_at.desc(), AuthEvent.id.desc())
    return paginate(query, page=page, per_page=per_page)
