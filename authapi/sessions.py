"""The Redis session store.

Key layout (every key of one user shares the ``{u:<user id>}`` hash tag, so the
multi-key scripts below run on a Redis Cluster without CROSSSLOT errors):

- ``<prefix>:{u:<uid>}:session:<sid>``  hash: gen, created_at, last_used_at,
  rotated_at, expires_at (absolute cap), ip, user_agent, amr (how the session was
  signed in: RFC 8176 values, space-separated), superseded (``gen:time`` pairs: when
  each generation still inside the reuse interval was rotated away), unconfirmed (the
  generation the last rotation issued, until an access token of it is used). TTL =
  idle timeout.
- ``<prefix>:{u:<uid>}:sessions``       sorted set: sid -> expires_at (the index
  used to list and end a user's sessions). TTL = the session cap.
- ``<prefix>:{u:<uid>}:user``           the user's public data, cached for the
  hot path; deleted by every change to the user. TTL = USER_CACHE_TTL.
- ``<prefix>:{u:<uid>}:user:gen``       the user cache's generation: a random value
  every change to the user replaces (with the deletion, one script), so that a copy
  read from PostgreSQL before the change is not cached after it (:func:`cache_user`).
  Random, not a counter: a counter would start again at 1 once the key expired, and a
  fill that read 1 just before could match again. TTL = USER_GENERATION_TTL.
- ``<prefix>:{u:<uid>}:outbox``         the events these changes report
  (:mod:`authapi.redis_outbox`), appended by the same MULTI or script as the change:
  ``session.created``, ``session.revoked``, ``refresh.reuse_detected``.

Times are UNIX seconds (floats); every key has a TTL but the outbox, whose events
wait for the relay however long PostgreSQL is away.
"""

from __future__ import annotations

import math
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from flask import current_app

from authapi import clock, redis_outbox
from authapi.durations import durations, seconds
from authapi.extensions import redis_store
from authapi.redis_keys import script, user_key
from authapi.webhooks import catalog

USER_CACHE_TTL = 300  # seconds
# How long a user's cache generation outlives the last change. Once it has expired, a
# fill that found no generation before that change would match again, so it is far
# longer than any request takes from reading the generation to filling the cache (a
# few queries, each bounded by DATABASE_TIMEOUT).
USER_GENERATION_TTL = 3600  # seconds
# The namespace of refresh.reuse_detected event ids (uuid5 of the session id).
_REUSE_EVENT_IDS = uuid.UUID("7e1c4c1e-2f3b-5c0a-9a57-2b0d7c3f1a01")
LAST_USED_RESOLUTION = 30  # seconds: don't rewrite last_used_at more often than this
# Superseded generations a session remembers for the grace window: enough for any set of
# tabs (a grace answer mints no generation), and it bounds the work of every rotation
# (a client rotating nonstop made the list, parsed and rewritten each time, grow to
# hundreds of entries within one window).
SUPERSEDED_KEPT = 8
USER_AGENT_MAX = 256

# ``session.revoked`` scopes of the sessions a change to the account or a new sign-in
# ends (besides a logout's ``local``/``others``/``global``, ``session`` and ``cap``):
# they say why.
PASSWORD_CHANGED = "password_changed"  # the user's other sessions
PASSWORD_RESET = "password_reset"
EMAIL_VERIFIED = "email_verified"  # the mailbox's owner took an unverified account over
ACCOUNT_DISABLED = "account_disabled"
ACCOUNT_DELETED = "account_deleted"
MFA_RESET = "mfa_reset"  # an admin removed every second factor
# A sign-in that set cookies in a browser whose refresh cookie named another session of
# the same account: the new cookies overwrite it, so that session is unreachable.
REPLACED = "replaced"

# KEYS: session, user cache, user cache generation. ARGV: now, resolution, the access
# token's refresh generation. Returns {exists (0/1), cached user JSON or false, on a miss
# the cache generation ('' for none)}: one round trip per request, in which a miss learns
# what its fill must find. The first use of an access token of the generation a
# rotation issued confirms that the client got that rotation's answer (``unconfirmed``,
# see _ROTATE).
_TOUCH = """
local h = redis.call('HMGET', KEYS[1], 'gen', 'last_used_at', 'unconfirmed')
if not h[1] then return {0, false} end
if h[3] and h[3] == ARGV[3] then redis.call('HDEL', KEYS[1], 'unconfirmed') end
if tonumber(ARGV[1]) - tonumber(h[2] or '0') >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'last_used_at', ARGV[1])
end
local cached = redis.call('GET', KEYS[2])
if cached then return {1, cached} end
return {1, false, redis.call('GET', KEYS[3]) or ''}
"""

# KEYS: user cache, user cache generation. ARGV: the generation read before the user was
# read from PostgreSQL ('' for none), the user JSON, its TTL. Returns 1 if cached.
_FILL = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
"""

# KEYS: user cache, user cache generation. ARGV: the generation's TTL.
_FORGET = """
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[1])
return redis.call('DEL', KEYS[1])
"""

# KEYS: session, index, outbox. ARGV: token gen, now, reuse interval, idle ttl, sid,
# the refresh.reuse_detected entry (appended to the outbox only on a revoking reuse),
# how many superseded generations to remember (the latest ones).
# Returns {outcome, gen, ttl, amr}: outcome 1 rotated, 2 reuse within the grace window
# (answer with the current generation, no increment), 3 the generation just before the
# current one while the current one is still unconfirmed (its answer was lost: answer
# with the current generation, no increment, slide the idle timeout), 0 session gone
# or a generation never issued here (refused, session untouched), -1 reuse outside the
# window (session revoked). Decision and increment are one atomic step. The window is
# per token: any generation superseded less than the interval ago has grace, not only
# the one just before the current (a tab's request that arrives after two quick
# rotations), among the last SUPERSEDED_KEPT. ``unconfirmed`` holds the generation a
# rotation issued until an access token of that generation is used (``_TOUCH``).
_ROTATE = """
local h = redis.call('HMGET', KEYS[1], 'gen', 'rotated_at', 'expires_at', 'amr', 'superseded',
  'unconfirmed')
if not h[1] then return {0, 0, 0} end
local gen, token_gen, now = tonumber(h[1]), tonumber(ARGV[1]), tonumber(ARGV[2])
local interval = tonumber(ARGV[3])
local remaining = tonumber(h[3]) - now
if remaining <= 0 then
  redis.call('DEL', KEYS[1]); redis.call('ZREM', KEYS[2], ARGV[5])
  return {0, 0, 0}
end
local ttl = math.min(tonumber(ARGV[4]), remaining)
if token_gen > gen then return {0, gen, 0} end
if token_gen == gen then
  local kept = {}
  for g, t in string.gmatch(h[5] or '', '(%d+):(%S+)') do
    if now - tonumber(t) < interval then kept[#kept + 1] = g .. ':' .. t end
  end
  kept[#kept + 1] = gen .. ':' .. ARGV[2]
  local first = math.max(1, #kept - tonumber(ARGV[7]) + 1)
  gen = gen + 1
  redis.call('HSET', KEYS[1], 'gen', gen, 'rotated_at', ARGV[2], 'last_used_at', ARGV[2],
    'superseded', table.concat(kept, ' ', first, #kept), 'unconfirmed', gen)
  redis.call('EXPIRE', KEYS[1], math.ceil(ttl))
  return {1, gen, math.ceil(ttl), h[4] or ''}
end
local superseded_at = nil
if token_gen == gen - 1 then
  superseded_at = tonumber(h[2] or '0')
else
  for g, t in string.gmatch(h[5] or '', '(%d+):(%S+)') do
    if tonumber(g) == token_gen then superseded_at = tonumber(t) end
  end
end
if superseded_at and now - superseded_at < interval then
  return {2, gen, math.ceil(ttl), h[4] or ''}
end
if token_gen == gen - 1 and tonumber(h[6] or '-1') == gen then
  redis.call('HSET', KEYS[1], 'last_used_at', ARGV[2])
  redis.call('EXPIRE', KEYS[1], math.ceil(ttl))
  return {3, gen, math.ceil(ttl), h[4] or ''}
end
redis.call('DEL', KEYS[1]); redis.call('ZREM', KEYS[2], ARGV[5])
redis.call('RPUSH', KEYS[3], ARGV[6])
return {-1, gen, 0}
"""


# KEYS: the user's session index, outbox. ARGV: cap, session key prefix (same hash
# tag), now, the session.revoked entry's head and tail ("" for no event), the spared
# session's id ("" for none).
# Ends the oldest sessions beyond the cap (the index is ordered by expiry, i.e. by
# creation) and returns their ids. One atomic step, so concurrent logins never leave
# more than the cap. Only live sessions count: a session that idled out (Redis expired
# its key) stays in the index until its absolute cap, so the index is pruned of those
# before counting; otherwise they would push live sessions out. The spared session
# (the one a sign-in replaces, ended right after it) neither counts nor is ended here.
_CAP = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local cap, spare = tonumber(ARGV[1]), ARGV[6]
local function excess()
  local live = redis.call('ZCARD', KEYS[1])
  if spare ~= '' and redis.call('ZSCORE', KEYS[1], spare) then live = live - 1 end
  return live - cap
end
if excess() <= 0 then return {} end
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if redis.call('EXISTS', ARGV[2] .. sid) == 0 then redis.call('ZREM', KEYS[1], sid) end
end
local over = excess()
if over <= 0 then return {} end
local oldest = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if #oldest == over then break end
  if sid ~= spare then oldest[#oldest + 1] = sid end
end
for _, sid in ipairs(oldest) do
  redis.call('DEL', ARGV[2] .. sid)
  redis.call('ZREM', KEYS[1], sid)
end
if ARGV[4] ~= '' then redis.call('RPUSH', KEYS[2], ARGV[4] .. #oldest .. ARGV[5]) end
return oldest
"""

# KEYS: the user's session index, outbox, then the sessions to end. ARGV: the
# session.revoked entry's head and tail ("" for no event), then the session ids.
# Returns how many sessions existed; the event is appended only if some did.
_END = """
local ended = 0
for i = 3, #KEYS do
  ended = ended + redis.call('DEL', KEYS[i])
  redis.call('ZREM', KEYS[1], ARGV[i])
end
if ended > 0 and ARGV[1] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[1] .. ended .. ARGV[2])
end
return ended
"""


@dataclass(frozen=True)
class SessionInfo:
    id: str
    created_at: float
    last_used_at: float
    expires_at: float
    ip: str
    user_agent: str


# Sessions stored before ``amr`` was recorded were all password logins.
DEFAULT_AMR = ("pwd",)


@dataclass(frozen=True)
class Rotation:
    outcome: str  # "rotated" | "grace" | "recovered" | "gone" | "reused"
    generation: int
    lifetime: int
    amr: tuple[str, ...] = DEFAULT_AMR


def session_key(user_id: str, session_id: str) -> str:
    return _session_key_under(user_key(user_id), session_id)


def _session_key_under(user: str, session_id: str) -> str:
    """A session's key, under its user's key (``user_key(user_id)``)."""
    return f"{user}:session:{session_id}"


def index_key(user_id: str) -> str:
    return user_key(user_id, "sessions")


def user_cache_key(user_id: str) -> str:
    return _user_cache_keys(user_id)[0]


def user_generation_key(user_id: str) -> str:
    return _user_cache_keys(user_id)[1]


def _touch_keys(user_id: str, session_id: str) -> list[str]:
    """The session, the cached user and its generation, from one look at the key
    prefix: every authenticated request builds them."""
    user = user_key(user_id)
    return [_session_key_under(user, session_id), *_user_cache_keys_under(user)]


def _user_cache_keys(user_id: str) -> list[str]:
    """The cached copy and its generation (``...:user:gen``)."""
    return _user_cache_keys_under(user_key(user_id))


def _user_cache_keys_under(user: str) -> list[str]:
    cached = f"{user}:user"
    return [cached, f"{cached}:gen"]


def idle_timeout() -> int:
    return seconds(durations().refresh_token)


def max_age() -> int:
    return seconds(durations().session_max_age)


def create(
    user_id: str,
    *,
    ip: str,
    user_agent: str,
    amr: tuple[str, ...] = DEFAULT_AMR,
    spare: str | None = None,
    now: float | None = None,
) -> str:
    """Start a new session (128-bit random id) and return its id. Generation starts at 0.

    ``amr``: how the user signed in (RFC 8176); refreshed access tokens carry it on.
    Beyond MAX_SESSIONS_PER_USER live sessions, the oldest ones end (``session.revoked``,
    scope ``cap``). ``session.created`` is appended to the outbox with the session.
    ``spare``: the id of a session this sign-in replaces (the browser's, whose cookies
    it overwrites: it ends once the sign-in succeeded), which the cap neither counts nor
    ends, so a browser signing in again never pushes another device out in its place.
    A session of another user is not in this user's index, and so changes nothing.
    """
    now = clock.now() if now is None else now
    session_id = secrets.token_urlsafe(16)
    expires_at = now + max_age()
    ttl = math.ceil(min(idle_timeout(), max_age()))
    key, index = session_key(user_id, session_id), index_key(user_id)
    created = redis_outbox.entry_if_wanted(
        catalog.SESSION_CREATED, user_id, {"user_id": user_id, "session_id": session_id}, now=now
    )
    pipe = redis_store.client.pipeline(transaction=True)
    pipe.hset(
        key,
        mapping={
            "gen": 0,
            "created_at": now,
            "last_used_at": now,
            "rotated_at": now,
            "expires_at": expires_at,
            "ip": ip,
            "user_agent": user_agent[:USER_AGENT_MAX],
            "amr": " ".join(amr),
        },
    )
    pipe.expire(key, ttl)
    pipe.zremrangebyscore(index, "-inf", now)
    pipe.zadd(index, {session_id: expires_at})
    pipe.expire(index, max_age())
    if created is not None:
        pipe.rpush(redis_outbox.list_key(user_id), created)
    pipe.execute()
    cap = int(current_app.config["MAX_SESSIONS_PER_USER"])
    head, tail = _revoked_entry(user_id, "cap")
    evicted = script(_CAP)(
        keys=[index, redis_outbox.list_key(user_id)],
        args=[cap, session_key(user_id, ""), now, head, tail, spare or ""],
    )
    if created is not None or (evicted and head):
        redis_outbox.announce(user_id)
    return session_id


def _revoked_entry(
    user_id: str, scope: str | None, session_id: str | None = None
) -> tuple[str, str]:
    """The session.revoked entry, split where the script puts the number ended."""
    if scope is None:
        return "", ""
    data: dict[str, Any] = {"user_id": user_id, "scope": scope}
    if session_id is not None:
        data["session_id"] = session_id
    return redis_outbox.split_entry(catalog.SESSION_REVOKED, user_id, data, "ended")


def touch(
    user_id: str, session_id: str, token_generation: Any = None, *, now: float | None = None
) -> tuple[bool, str | None, str]:
    """Is the session alive? Also returns the cached user JSON, if any, and else the
    user cache's generation to give :func:`cache_user` (one round trip).
    ``token_generation``: the access token's ``gen`` claim (none in tokens issued before
    it)."""
    now = clock.now() if now is None else now
    keys = _touch_keys(user_id, session_id)
    seen = str(token_generation) if isinstance(token_generation, int) else ""
    args = [now, LAST_USED_RESOLUTION, seen]
    alive, cached, *generation = script(_TOUCH)(keys=keys, args=args)
    return bool(alive), cached or None, generation[0] if generation else ""


def rotate(
    user_id: str, session_id: str, token_generation: int, *, now: float | None = None
) -> Rotation:
    """Atomically decide a refresh: rotate, answer within the grace window, answer a
    client that lost the last rotation's answer, or revoke.

    The previous generation stays good after the window for as long as nobody has used
    an access token of the current one: its answer never arrived (a dropped
    connection, a tab closed mid-refresh, a phone that lost signal), and strict
    rotation would log that client out at its next refresh. Once the current
    generation is used, the previous one is a reuse again, so a stolen token still
    ends the session (the rule GoTrue applies to the previous generation at any time,
    with SuperTokens' "until its child is used")."""
    now = clock.now() if now is None else now
    keys = [session_key(user_id, session_id), index_key(user_id), redis_outbox.list_key(user_id)]
    # Built every time (no round trip to ask who wants it), appended only on a reuse,
    # rare: the relay drops it if no endpoint subscribes.
    # A reuse ends the session, so a session has at most one such event: its id is
    # derived from the session's, and the usual refresh (no reuse) reads no randomness.
    reused = redis_outbox.entry(
        catalog.REFRESH_REUSE_DETECTED,
        user_id,
        {"user_id": user_id, "session_id": session_id},
        now=now,
        event_id=str(uuid.uuid5(_REUSE_EVENT_IDS, session_id)),
    )
    args = [
        token_generation,
        now,
        seconds(durations().refresh_reuse),
        idle_timeout(),
        session_id,
        reused,
        SUPERSEDED_KEPT,
    ]
    outcome, generation, lifetime, *rest = script(_ROTATE)(keys=keys, args=args)
    if int(outcome) == -1:
        redis_outbox.announce(user_id)
    names = {1: "rotated", 2: "grace", 3: "recovered", 0: "gone", -1: "reused"}
    amr = tuple(rest[0].split()) if rest and rest[0] else DEFAULT_AMR
    return Rotation(
        outcome=names[int(outcome)], generation=int(generation), lifetime=int(lifetime), amr=amr
    )


def _end(user_id: str, session_ids: list[str], scope: str | None, named: str | None) -> int:
    """End these sessions in one script, with their session.revoked event if ``scope``."""
    head, tail = _revoked_entry(user_id, scope, named)
    keys = [index_key(user_id), redis_outbox.list_key(user_id)]
    keys += [session_key(user_id, session_id) for session_id in session_ids]
    ended = int(script(_END)(keys=keys, args=[head, tail, *session_ids]))
    if ended and head:
        redis_outbox.announce(user_id)
    return ended


def delete(user_id: str, session_id: str, *, scope: str | None = None) -> bool:
    """End one session; True if it existed. ``scope`` (why: ``local`` logout, ``session``
    ended from the list, a disabled or deleted account found by the session check) makes
    it a reported revocation (``session.revoked``)."""
    return bool(_end(user_id, [session_id], scope, session_id))


def list_sessions(user_id: str, *, now: float | None = None) -> list[SessionInfo]:
    """The user's live sessions, oldest first."""
    now = clock.now() if now is None else now
    client = redis_store.client
    session_ids = client.zrangebyscore(index_key(user_id), now, "+inf")
    if not session_ids:
        return []
    pipe = client.pipeline(transaction=False)
    for session_id in session_ids:
        pipe.hgetall(session_key(user_id, session_id))
    sessions = [
        _session_info(session_id, data)
        for session_id, data in zip(session_ids, pipe.execute(), strict=True)
        if data
    ]
    return sorted(sessions, key=lambda session: session.created_at)


def _session_info(session_id: str, data: dict[str, Any]) -> SessionInfo:
    return SessionInfo(
        id=session_id,
        created_at=float(data.get("created_at", 0)),
        last_used_at=float(data.get("last_used_at", 0)),
        expires_at=float(data.get("expires_at", 0)),
        ip=data.get("ip", ""),
        user_agent=data.get("user_agent", ""),
    )


def delete_all(user_id: str, *, keep: str | None = None, scope: str | None = None) -> int:
    """End every session of a user except ``keep``; returns how many were ended.
    ``scope`` (a logout's ``others``, ``global``, or the account change that ends them:
    :data:`PASSWORD_CHANGED`...) reports it as a ``session.revoked``."""
    index = index_key(user_id)
    session_ids = [sid for sid in redis_store.client.zrange(index, 0, -1) if sid != keep]
    if not session_ids:
        return 0
    return _end(user_id, session_ids, scope, None)


def user_generation(user_id: str) -> str:
    """The user cache's generation ('' for none), for a :func:`cache_user` to come."""
    return redis_store.client.get(user_generation_key(user_id)) or ""


def cache_user(user_id: str, user_json: str, generation: str) -> bool:
    """Cache the user's public data, read from PostgreSQL after ``generation`` was read
    (from :func:`touch` or :func:`user_generation`); True if cached.

    Nothing is cached if a change to the user was reported (:func:`forget_user`) since
    ``generation`` was read: the change may have committed after the data was read, and
    a copy cached now would hide it for USER_CACHE_TTL.
    """
    keys, args = _user_cache_keys(user_id), [generation, user_json, USER_CACHE_TTL]
    return bool(script(_FILL)(keys=keys, args=args))


def forget_user(user_id: str) -> None:
    """Drop the cached copy, after a change to the user is committed; a fill that read
    the user before the change then caches nothing (one script: the generation moves on
    with the deletion)."""
    generation = secrets.token_hex(8)
    script(_FORGET)(keys=_user_cache_keys(user_id), args=[USER_GENERATION_TTL, generation])
