"""The relay: events of the Redis outbox (:mod:`authapi.redis_outbox`) into the database.

For one user, oldest first: read the entries, insert them (the entry's id is the
event's id: ``INSERT ... ON CONFLICT DO NOTHING``), commit, and only then remove
them from Redis. A crash after the commit leaves entries that are inserted again as
nothing; a crash before it leaves them for the next run. Events no enabled endpoint
subscribes to are dropped here.

It runs right after a request that appended an event (:func:`soon`: the event is
normally in the database before the answer leaves; a database outage is logged and
left to the worker), and in every round of the delivery worker (:func:`relay_pending`,
with a SCAN sweep now and then for a list whose index entry was lost).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from flask import after_this_request, g, has_request_context
from redis import exceptions as redis_exc
from sqlalchemy import exc as sa_exc

from authapi import clock, redis_outbox
from authapi.extensions import db
from authapi.webhooks.outbox import Change, write

log = logging.getLogger(__name__)

BATCH = 100
PENDING_KEY = "authapi_webhooks_relay"


def parse(item: str) -> Change | None:
    try:
        entry = json.loads(item)
        return Change(
            type=entry["type"],
            user_id=entry["user_id"],
            data=entry["data"],
            event_id=uuid.UUID(entry["id"]),
            at=float(entry["occurred_at"]),
        )
    except (ValueError, KeyError, TypeError):
        log.error("webhooks relay: dropping an unreadable outbox entry")
        return None


def relay_user(user_id: str, *, now: float | None = None, batch: int = BATCH) -> int:
    """Move one user's Redis events to the database outbox, their deliveries due at
    ``now``; how many were moved."""
    now = clock.now() if now is None else now
    moved = 0
    while True:
        items = redis_outbox.read(user_id, batch)
        changes = [change for change in map(parse, items) if change is not None]
        if changes:
            with db.engine.begin() as connection:
                write(connection, changes, now=now)
        redis_outbox.remove(user_id, items)
        moved += len(items)
        if len(items) < batch:
            return moved


def relay_pending(*, now: float | None = None, sweep: bool = False) -> int:
    """Relay every indexed user (after a SCAN for unindexed lists if ``sweep``)."""
    if sweep:
        redis_outbox.sweep()
    return sum(relay_user(user_id, now=now) for user_id in redis_outbox.pending_users())


def soon(user_id: str) -> None:
    """Relay this user's events once the request's work is done (at once outside a
    request). Never fails the request: what cannot be moved now waits for the worker."""
    if not has_request_context():
        _try(user_id)
        return
    pending: set[str] | None = g.get(PENDING_KEY)
    if pending is None:
        pending = set()
        setattr(g, PENDING_KEY, pending)

        @after_this_request
        def relay(response: Any) -> Any:
            for waiting in sorted(pending):
                _try(waiting)
            return response

    pending.add(user_id)


def _try(user_id: str) -> None:
    try:
        relay_user(user_id)
    except (sa_exc.SQLAlchemyError, redis_exc.RedisError) as error:
        log.warning(
            "webhooks relay: events of a user left in Redis for the worker (%s)",
            type(error).__name__,
        )
