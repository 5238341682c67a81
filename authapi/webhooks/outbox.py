"""Writing events into the outbox, in the transaction of the change they report.

Three ways in, one per kind of change:

- **Accounts** are seen by the ORM: an ``after_flush`` listener on the database
  session looks at the ``User`` rows the flush inserted, updated or deleted and
  inserts the events (and one delivery per subscribed endpoint) on the same
  connection, inside the same transaction. No service has to remember anything. (A
  Core ``UPDATE users ...`` bypasses the ORM, and so this listener: change accounts
  through the ORM.)
- **Other database changes** (second factors: :mod:`authapi.mfa`,
  :mod:`authapi.passkeys`) call :func:`queue` before they commit: the change is
  kept in ``session.info`` and written by a ``before_commit`` listener on the
  same connection; a rollback drops it.
- **Changes made in Redis** (sessions, a replayed refresh token, a failed second
  factor) append their event to the Redis outbox in the same MULTI or Lua script
  (:mod:`authapi.redis_outbox`); :mod:`authapi.webhooks.relay` moves it here,
  idempotently, right after the request and from the worker.

Either way a change that commits has its event and a change that does not has none:
a database outage at the wrong moment delays an event, never loses it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context
from sqlalchemy import event, insert, inspect, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, SessionTransaction

from authapi import clock, events, redis_outbox
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


# session.info key of the changes queued for the current transaction.
QUEUED = "authapi.webhooks.queued"


@dataclass(frozen=True)
class Change:
    """An event to write. ``event_id`` and ``at`` come with an event relayed from Redis
    (its id makes writing it twice a no-op); a new event gets both when written."""

    type: str
    user_id: str | None
    data: dict[str, Any]
    event_id: uuid.UUID | None = None
    at: float | None = None


def as_datetime(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, tz=UTC)


def _insert_new_events(connection: Connection, rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert the events whose id is not stored yet; the ids inserted.

    ``ON CONFLICT DO NOTHING``: a relay that runs twice (or two at once) stores each
    event once; a concurrent insert of the same id waits for the other to commit.
    """
    table = WebhookEvent.__table__
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing(index_elements=["id"])
    inserted = connection.execute(statement.returning(table.c.id), rows).scalars()
    return set(inserted)


def write(connection: Connection, changes: Sequence[Change], *, now: float) -> int:
    """Insert the events that some enabled endpoint subscribes to, with their deliveries.

    Returns how many deliveries were queued. Events carrying their id (relayed) are
    skipped if already stored.
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
        event_id = change.event_id or uuid.uuid4()
        at = now if change.at is None else change.at
        user_id = uuid.UUID(change.user_id) if change.user_id else None
        event_rows.append(
            {
                "id": event_id,
                "type": change.type,
                "user_id": user_id,
                "body": catalog.body(change.type, change.data, at=at),
                "created_at": as_datetime(at),
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
    if not event_rows:
        return 0
    if any(change.event_id for change in changes):
        kept = _insert_new_events(connection, event_rows)
        delivery_rows = [row for row in delivery_rows if row["event_id"] in kept]
    else:
        connection.execute(insert(WebhookEvent.__table__), event_rows)
    if delivery_rows:
        connection.execute(insert(WebhookDelivery.__table__), delivery_rows)
    return len(delivery_rows)


def subscribed_types(connection: Connection) -> set[str]:
    """The event types some enabled endpoint subscribes to."""
    rows = connection.execute(
        select(WebhookEndpoint.events).where(WebhookEndpoint.enabled.is_(True))
    ).scalars()
    return {event_type for events in rows for event_type in events or ()}


def subscribed(connection: Connection, event_type: str) -> bool:
    """Does any enabled endpoint want ``event_type``? (Bulk writers ask once, first.)"""
    return event_type in subscribed_types(connection)


SUBSCRIBED_KEY = "authapi_webhooks_subscribed"


def wanted(event_type: str) -> bool:
    """Should a change in Redis append this event? Asked once per request (the answer
    is kept in ``g``). If the database cannot say, yes: the relay drops what nobody
    wants, and an event of a subscribed type is never skipped."""
    types = g.get(SUBSCRIBED_KEY) if has_request_context() else None
    if types is None:
        try:
            with db.engine.connect() as connection:
                types = subscribed_types(connection)
        except sa_exc.SQLAlchemyError:
            log.warning("webhooks: database unavailable, queueing %s in Redis", event_type)
            return True
        if has_request_context():
            setattr(g, SUBSCRIBED_KEY, types)
    return event_type in types


def queue(event_type: str, user_id: str, **data: Any) -> None:
    """Write this event with the current transaction of ``db.session`` when it commits
    (nothing if it rolls back). Call it before the commit of the change it reports."""
    change = Change(event_type, user_id, {"user_id": user_id, **data})
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so a rollback before any statement drops it too
    session.info.setdefault(QUEUED, []).append(change)


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


def _ours() -> bool:
    return has_app_context() and EXTENSION in current_app.extensions


def _after_flush(session: Session, _flush_context: Any) -> None:
    if not _ours():
        return
    changes = user_changes(session)
    if changes:
        write(session.connection(), changes, now=clock.now())


def _before_commit(session: Session) -> None:
    changes = session.info.pop(QUEUED, None)
    if changes and _ours():
        write(session.connection(), changes, now=clock.now())


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole transaction (a savepoint keeps them)
        session.info.pop(QUEUED, None)


def _mfa_failed(sender: Flask, **data: Any) -> None:
    """A wrong second factor changes no row (its attempt is counted in Redis)."""
    user_id = data.get("user_id")
    if user_id is None:
        return
    keys = ("factor", "via", "reason")
    payload = {"user_id": user_id, **{key: data.get(key) for key in keys}}
    redis_outbox.push(catalog.MFA_FAILED, user_id, payload)


SESSION_LISTENERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("after_flush", _after_flush),
    ("before_commit", _before_commit),
    ("after_transaction_end", _after_transaction_end),
)


def init_app(app: Flask) -> None:
    from authapi.webhooks import relay  # it imports this module

    app.extensions[EXTENSION] = True
    if app.config["APP_ENV"] == "production" and app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"]:
        log.warning(
            "WEBHOOK_ALLOW_PRIVATE_TARGETS is on in production: admins can point webhooks "
            "at internal addresses (cloud metadata included)"
        )
    events.mfa_failed.connect(_mfa_failed, sender=app, weak=False)
    redis_outbox.install(app, wanted=wanted, pushed=relay.soon)
    # One set of listeners for every app (they share the session factory); they act
    # only for apps that called init_app.
    for name, listener in SESSION_LISTENERS:
        if not event.contains(db.session, name, listener):
            event.listen(db.session, name, listener)
