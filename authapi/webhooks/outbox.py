"""Writing events into the outbox, in the transaction of the change they report.

Changes to accounts are seen by the ORM: an ``after_flush`` listener on the
database session looks at the ``User`` rows the flush inserted, updated or deleted
and inserts the events (and one delivery per subscribed endpoint) on the same
connection, inside the same transaction. So wherever a service commits, the event
commits with the change, and a transaction that rolls back leaves no event; no
service has to remember to call anything. (A Core ``UPDATE users ...`` bypasses the
ORM, and so this listener: change accounts through the ORM.)

Sessions live in Redis, not in a database transaction: their events
(``session.*``, ``refresh.reuse_detected``) are written by listeners of
:mod:`authapi.events` in a short transaction of their own, right after the change.
So are the second-factor events (``mfa.*``), which :mod:`authapi.mfa` signals after
its own commits.
If the database is down at that moment the event is lost (and logged).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, insert, inspect, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from authapi import clock, events
from authapi.extensions import db
from authapi.models import User
from authapi.schemas import user_schema
from authapi.webhooks import catalog
from authapi.webhooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

log = logging.getLogger(__name__)

EXTENSION = "authapi.webhooks"
# Columns whose change is a user.updated (the others have events of their own, or are
# internal).
UPDATED_COLUMNS = ("name", "email", "role", "photo")


@dataclass(frozen=True)
class Change:
    type: str
    user_id: str | None
    data: dict[str, Any]


def as_datetime(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, tz=UTC)


def write(connection: Connection, changes: Sequence[Change], *, now: float) -> int:
    """Insert the events that some enabled endpoint subscribes to, with their deliveries.

    Returns how many deliveries were queued.
    """
    if not changes:
        return 0
    endpoints = connection.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.events).where(WebhookEndpoint.enabled.is_(True))
    ).all()
    event_rows: list[dict[str, Any]] = []
    delivery_rows: list[dict[str, Any]] = []
    due = as_datetime(now)
    for change in changes:
        targets = [row.id for row in endpoints if change.type in (row.events or ())]
        if not targets:
            continue
        event_id = uuid.uuid4()
        user_id = uuid.UUID(change.user_id) if change.user_id else None
        event_rows.append(
            {
                "id": event_id,
                "type": change.type,
                "user_id": user_id,
                "body": catalog.body(change.type, change.data, at=now),
                "created_at": due,
            }
        )
        delivery_rows.extend(
            {
                "event_id": event_id,
                "endpoint_id": endpoint_id,
                "user_id": user_id,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": due,
                "created_at": due,
            }
            for endpoint_id in targets
        )
    if event_rows:
        connection.execute(insert(WebhookEvent.__table__), event_rows)
        connection.execute(insert(WebhookDelivery.__table__), delivery_rows)
    return len(delivery_rows)


def subscribed(connection: Connection, event_type: str) -> bool:
    """Does any enabled endpoint want ``event_type``? (Bulk writers ask once, first.)"""
    rows = connection.execute(
        select(WebhookEndpoint.events).where(WebhookEndpoint.enabled.is_(True))
    ).scalars()
    return any(event_type in (events or ()) for events in rows)


def user_data(user: User) -> dict[str, Any]:
    return {"user": user_schema.dump(user)}


def _updates(user: User) -> list[Change]:
    state = inspect(user)
    changed = {
        name
        for name in ("password", "verified", "disabled", *UPDATED_COLUMNS)
        if state.attrs[name].history.has_changes()
    }
    user_id = str(user.id)
    found: list[Change] = []
    if "password" in changed:
        found.append(Change(catalog.PASSWORD_CHANGED, user_id, user_data(user)))
    if "verified" in changed and user.verified:
        found.append(Change(catalog.USER_VERIFIED, user_id, user_data(user)))
    if "disabled" in changed and user.disabled:
        found.append(Change(catalog.USER_DISABLED, user_id, user_data(user)))
    updated = sorted(changed & set(UPDATED_COLUMNS))
    if "disabled" in changed and not user.disabled:
        updated.append("disabled")  # enabled again
    if updated:
        found.append(Change(catalog.USER_UPDATED, user_id, {**user_data(user), "changes": updated}))
    return found


def user_changes(session: Session) -> list[Change]:
    """What a flush does to accounts (read in after_flush: the lists are still pre-flush)."""
    changes: list[Change] = []
    for obj in session.new:
        if isinstance(obj, User):
            changes.append(Change(catalog.USER_CREATED, str(obj.id), user_data(obj)))
    for obj in session.dirty:
        if isinstance(obj, User) and session.is_modified(obj, include_collections=False):
            changes.extend(_updates(obj))
    for obj in session.deleted:
        if isinstance(obj, User):
            state = inspect(obj)
            user_id = str(state.identity[0]) if state.identity else str(obj.id)
            # Only what is loaded: a deleted row cannot be read again.
            data = {"id": user_id, "email": state.dict.get("email")}
            changes.append(Change(catalog.USER_DELETED, user_id, {"user": data}))
    return changes


def _after_flush(session: Session, _flush_context: Any) -> None:
    if not has_app_context() or EXTENSION not in current_app.extensions:
        return
    changes = user_changes(session)
    if changes:
        write(session.connection(), changes, now=clock.now())


def write_now(changes: Sequence[Change]) -> None:
    """Record events in a transaction of their own; log (never raise) on failure."""
    try:
        with db.engine.begin() as connection:
            write(connection, changes, now=clock.now())
    except sa_exc.SQLAlchemyError:
        log.exception("webhooks: could not queue %s", ", ".join(c.type for c in changes))


def _session_created(sender: Flask, **data: Any) -> None:
    user_id = data.get("user_id")
    payload = {"user_id": user_id, "session_id": data.get("session_id")}
    write_now([Change(catalog.SESSION_CREATED, user_id, payload)])


def _session_revoked(sender: Flask, **data: Any) -> None:
    user_id, scope = data.get("user_id"), data.get("scope")
    payload: dict[str, Any] = {"user_id": user_id, "scope": scope, "ended": data.get("ended")}
    if scope in ("local", "session"):  # one session, named; "others"/"global": several
        payload["session_id"] = data.get("session_id")
    write_now([Change(catalog.SESSION_REVOKED, user_id, payload)])


def _reuse_detected(sender: Flask, **data: Any) -> None:
    user_id = data.get("user_id")
    payload = {"user_id": user_id, "session_id": data.get("session_id")}
    write_now([Change(catalog.REFRESH_REUSE_DETECTED, user_id, payload)])


# Second factors (authapi.mfa): the signal's keyword arguments that go in ``data``.
MFA_SIGNALS: dict[Any, tuple[str, tuple[str, ...]]] = {
    events.mfa_enrolled: (catalog.MFA_ENROLLED, ("factor",)),
    events.mfa_removed: (catalog.MFA_REMOVED, ("factor", "by")),
    events.mfa_used: (catalog.MFA_USED, ("factor", "via", "left")),
    events.mfa_failed: (catalog.MFA_FAILED, ("factor", "via", "reason")),
    events.recovery_codes_generated: (catalog.MFA_RECOVERY_CODES_GENERATED, ("left",)),
}


def _mfa_listener(event_type: str, keys: tuple[str, ...]) -> Callable[..., None]:
    def listen(sender: Flask, **data: Any) -> None:
        user_id = data.get("user_id")
        payload = {"user_id": user_id, **{key: data.get(key) for key in keys}}
        write_now([Change(event_type, user_id, payload)])

    return listen


SIGNAL_LISTENERS: dict[Any, Callable[..., None]] = {
    events.login_succeeded: _session_created,
    events.logged_out: _session_revoked,
    events.refresh_reuse_detected: _reuse_detected,
    **{signal: _mfa_listener(*spec) for signal, spec in MFA_SIGNALS.items()},
}


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = True
    if app.config["APP_ENV"] == "production" and app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"]:
        log.warning(
            "WEBHOOK_ALLOW_PRIVATE_TARGETS is on in production: admins can point webhooks "
            "at internal addresses (cloud metadata included)"
        )
    for signal, listener in SIGNAL_LISTENERS.items():
        signal.connect(listener, sender=app, weak=False)
    # One listener for every app (they share the session factory); it acts only for
    # apps that called init_app.
    if not event.contains(db.session, "after_flush", _after_flush):
        event.listen(db.session, "after_flush", _after_flush)
