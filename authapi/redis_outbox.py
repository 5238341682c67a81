"""The Redis outbox: events whose change is made in Redis, written with that change.

A session created or ended, or a refresh token replayed, changes Redis, not the
database: no database transaction can hold both the change and its event. So the
store that makes the change appends the event to a per-user list in the same MULTI
or Lua script (``<prefix>:{u:<uid>}:outbox``: the user's hash tag, so the change and
the event share a Redis Cluster slot), and the event exists exactly when the change
does. Right after, the user is added to a global index set (``<prefix>:outbox:users``,
another slot, hence not atomic: a crash in between leaves an orphan list, which
:func:`sweep` finds by SCAN). A relay (:mod:`authapi.webhooks.relay`) moves the
events into the database outbox and only then removes them here.

Each entry is JSON: ``{"id", "type", "user_id", "data", "occurred_at"}``; ``id`` (a
UUID) becomes the event's ``webhook-id`` and makes the relay idempotent.

This module knows nothing of webhooks: the webhooks extension installs two hooks,
``wanted`` (does any endpoint subscribe to this type?) and ``pushed`` (relay this
user's events soon). Without them nothing is queued.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

from authapi import clock
from authapi.extensions import redis_store
from authapi.redis_keys import key, script, user_key

EXTENSION = "authapi.redis_outbox"
# Where a revocation's entry takes the number of sessions ended, which only the
# script that ends them knows (see :func:`split_entry`).
COUNT_MARK = '"__count__"'

# KEYS: the user's outbox list. ARGV: the entries relayed. Returns what is left.
_REMOVE = """
for i = 1, #ARGV do redis.call('LREM', KEYS[1], 1, ARGV[i]) end
return redis.call('LLEN', KEYS[1])
"""


@dataclass(frozen=True)
class Hooks:
    wanted: Callable[[str], bool]
    pushed: Callable[[str], None]


def install(app: Flask, *, wanted: Callable[[str], bool], pushed: Callable[[str], None]) -> None:
    app.extensions[EXTENSION] = Hooks(wanted=wanted, pushed=pushed)


def list_key(user_id: str) -> str:
    return user_key(user_id, "outbox")


def index_key() -> str:
    return key("outbox", "users")


def wanted(event_type: str) -> bool:
    hooks: Hooks | None = current_app.extensions.get(EXTENSION)
    return hooks is not None and hooks.wanted(event_type)


def entry(
    event_type: str,
    user_id: str,
    data: dict[str, Any],
    *,
    now: float | None = None,
    event_id: str | None = None,
) -> str:
    """One event as stored in the list (a new random event id unless one is given)."""
    return json.dumps(
        {
            "id": event_id or str(uuid.uuid4()),
            "type": event_type,
            "user_id": user_id,
            "data": data,
            "occurred_at": clock.now() if now is None else now,
        },
        separators=(",", ":"),
    )


def entry_if_wanted(
    event_type: str, user_id: str, data: dict[str, Any], *, now: float | None = None
) -> str | None:
    return entry(event_type, user_id, data, now=now) if wanted(event_type) else None


def split_entry(event_type: str, user_id: str, data: dict[str, Any], field: str) -> tuple[str, str]:
    """An entry cut where ``data[field]`` goes, for a Lua script to join around a count
    it computes: ``head .. count .. tail``. ``("", "")`` when nobody wants the type."""
    if not wanted(event_type):
        return "", ""
    head, tail = entry(event_type, user_id, {**data, field: "__count__"}).split(COUNT_MARK)
    return head, tail


def announce(user_id: str) -> None:
    """After a change appended an event: index the user, and let the relay know."""
    redis_store.client.sadd(index_key(), user_id)
    hooks: Hooks | None = current_app.extensions.get(EXTENSION)
    if hooks is not None:
        hooks.pushed(user_id)


def push(event_type: str, user_id: str, data: dict[str, Any]) -> None:
    """An event that reports no change of its own (a failed check): queue it alone."""
    item = entry_if_wanted(event_type, user_id, data)
    if item is not None:
        redis_store.client.rpush(list_key(user_id), item)
        announce(user_id)


def pending_users() -> list[str]:
    return sorted(redis_store.client.smembers(index_key()))


def read(user_id: str, limit: int) -> list[str]:
    """The user's oldest ``limit`` entries, in the order they were appended."""
    return list(redis_store.client.lrange(list_key(user_id), 0, limit - 1))


def remove(user_id: str, entries: Iterable[str]) -> None:
    """Drop relayed entries (by value: entries appended meanwhile stay), and the user
    from the index once the list is empty.

    Between SREM and the check after it a new entry may have been appended and its
    SADD already done: the check adds the user back, so no list is left unindexed.
    """
    items = list(entries)
    left = script(_REMOVE)(keys=[list_key(user_id)], args=items) if items else 0
    if int(left) == 0:
        client = redis_store.client
        client.srem(index_key(), user_id)
        if client.llen(list_key(user_id)):
            client.sadd(index_key(), user_id)


def sweep(batch: int = 500) -> int:
    """Index users whose list has entries but no index entry (a crash between the change
    and its SADD); SCAN covers every node of a cluster. Returns how many lists exist."""
    client = redis_store.client
    pattern = user_key("*", "outbox")
    found = 0
    for name in client.scan_iter(match=pattern, count=batch):
        user_id = name.split("{u:", 1)[1].split("}", 1)[0]
        client.sadd(index_key(), user_id)
        found += 1
    return found
