"""The authentication rules: plain functions the views call, free of HTTP details."""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from redis import exceptions as redis_exc
from sqlalchemy.exc import IntegrityError

from authapi import clock, events, hooks, password_rehash, passwords, sessions, tokens
from authapi.errors import (
    APIError,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    bearer_challenge,
)
from authapi.extensions import db
from authapi.mfa import factors as mfa_factors
from authapi.mfa import gate as mfa_gate
from authapi.models import Role, User
from authapi.schemas import user_schema
from authapi.users.repository import (
    email_taken,
    find_user_by_email,
    find_user_by_id,
    find_user_for_change,
)

log = logging.getLogger(__name__)

INVALID_CREDENTIALS = "Invalid email or password"
REFRESH_FAILED = "Could not refresh access token"
NOT_LOGGED_IN = "You are not logged in"
INVALID_TOKEN = "Invalid token"
SESSION_ENDED = "Invalid token or session has expired"
EXPIRED_CHALLENGE = bearer_challenge(error="invalid_token")
ACCOUNT_DISABLED = "Your account has been disabled"
EMAIL_NOT_VERIFIED = "Please verify your email address: check your inbox"


class RefreshFailed(APIError):
    status_code = 403
    message = REFRESH_FAILED
    code = "refresh_failed"


@dataclass(frozen=True)
class IssuedTokens:
    user_id: str
    session_id: str
    access_token: str
    access_lifetime: int
    refresh_token: str
    refresh_lifetime: int


@dataclass(frozen=True)
class CurrentUser:
    """Who is calling: the user's public data and the session the token belongs to."""

    id: str
    session_id: str
    data: dict[str, Any]
    # Names of the account's second factors (cached with the user); None: not known.
    mfa: list[str] | None = None


def public_user(user: User) -> dict[str, Any]:
    return user_schema.dump(user)


CACHED_MFA_KEY = "_mfa"
# Cached users' texts whose parse a process keeps (_parsed): a few hundred bytes each.
CACHED_USERS_PARSED = 512


def cached_user(user: User) -> dict[str, Any]:
    """What the session cache holds: the public user, and (under ``_mfa``, taken out
    again by ``authenticate``) the names of its second factors for /api/users/me."""
    return {**public_user(user), CACHED_MFA_KEY: mfa_factors.standalone_names(user.id)}


def register(
    name: str, email: str, password: str, *, role: Role = Role.USER, via: str | None = None
) -> User:
    """Create a user; the unique index decides races, so exactly one wins.

    ``role`` and ``via`` are for accounts made outside the API (``flask users
    create-admin``): the registration event records them.
    """
    if email_taken(email):
        raise Conflict("User with that email already exists", code="email_taken")
    if via is None:  # the operator's own accounts (the CLI) are not the hook's to refuse
        hooks.before_user_created(email=email, name=name.strip(), source="register")
    user = User(
        name=name.strip(), email=email, password=passwords.hash_password(password), role=role
    )
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("User with that email already exists", code="email_taken") from None
    new_role = None if role is Role.USER else role.value
    events.emit(events.user_registered, user_id=str(user.id), new_role=new_role, via=via)
    return user


def _issue(
    user_id: str,
    session_id: str,
    generation: int,
    refresh_lifetime: int,
    amr: tuple[str, ...] = sessions.DEFAULT_AMR,
    *,
    grant: str,
) -> IssuedTokens:
    extra = hooks.custom_access_token_claims(user_id=user_id, session_id=session_id, grant=grant)
    return IssuedTokens(
        user_id=user_id,
        session_id=session_id,
        access_token=tokens.issue_access_token(
            user_id, session_id, generation=generation, amr=amr, extra=extra
        ),
        access_lifetime=tokens.access_lifetime(),
        refresh_token=tokens.issue_refresh_token(
            user_id, session_id, generation, lifetime=refresh_lifetime
        ),
        refresh_lifetime=refresh_lifetime,
    )


def _invalid_credentials(user: User | None) -> APIError:
    reason = "unknown_email" if user is None else "wrong_password"
    events.emit(events.login_failed, user_id=str(user.id) if user else None, reason=reason)
    return APIError(INVALID_CREDENTIALS, code="invalid_credentials")


def caller_account(user_id: str, *, lock: bool = False) -> User:
    """The calling user's row (locked FOR UPDATE with ``lock``). The caller's session was
    checked for this request, so a missing row is an account deleted since: 401
    ``session_ended``, as the session check answers."""
    user = find_user_for_change(uuid.UUID(user_id), lock=True) if lock else find_user_by_id(user_id)
    if user is None:
        if lock:
            db.session.rollback()
        raise Unauthorized(SESSION_ENDED, code="session_ended")
    return user


def refuse_inactive(user: User) -> None:
    """A disabled or (with REQUIRE_VERIFIED_EMAIL) unverified account: 403.

    Only called once the password has been verified, so it tells nothing to
    someone who does not have it.
    """
    if user.disabled:
        reason, error = "disabled", Forbidden(ACCOUNT_DISABLED, code="account_disabled")
    elif current_app.config["REQUIRE_VERIFIED_EMAIL"] and not user.verified:
        reason, error = "unverified", Forbidden(EMAIL_NOT_VERIFIED, code="email_not_verified")
    else:
        return
    events.emit(events.login_failed, user_id=str(user.id), reason=reason)
    raise error


def login(
    email: str, password: str, *, ip: str, user_agent: str, replacing: str | None = None
) -> IssuedTokens:
    """Check credentials (always one bcrypt check) and start a new session.

    ``replacing``: the session this sign-in's cookies will replace, which the session cap
    spares (see ``sessions.create``); every sign-in takes it alike.
    """
    user = find_user_by_email(email)
    checked_hash = user.password if user else None
    # Always exactly one bcrypt check, known email or not (no short-circuit here).
    password_ok = passwords.verify_password(password, checked_hash)
    if user is None or not password_ok:
        raise _invalid_credentials(user)
    refuse_inactive(user)
    user_id = str(user.id)
    # At the password step, before any second factor: an account with one gets its
    # hash upgraded too, and its mfa_token is bound to the hash it has from now.
    password_hash = password_rehash.upgrade_if_needed(user, password, checked_hash)
    # 403 mfa_required, no session, if it has a second factor.
    mfa_gate.require_second_factor(user, password_hash=password_hash)
    session_id = sessions.create(user_id, ip=ip, user_agent=user_agent, spare=replacing)
    # Read the account again now that the session exists. A disable, password reset
    # or deletion that committed while bcrypt ran is seen here; one that commits
    # later ends this session itself (it deletes the sessions after committing).
    fresh = find_user_for_change(user.id)
    if fresh is None or fresh.password != password_hash or fresh.disabled:
        sessions.delete(user_id, session_id, scope="session")  # reported: it was created
        if fresh is None or fresh.password != password_hash:
            raise _invalid_credentials(fresh)
        refuse_inactive(fresh)
    return start_session(user, session_id)


def start_session(
    user: User, session_id: str, *, amr: tuple[str, ...] = sessions.DEFAULT_AMR, **how: str
) -> IssuedTokens:
    """Finish any sign-in: cache the public user, record it, issue the first tokens.

    Every way of signing in (password, and any later method) ends here with a session
    already created by ``sessions.create``, so they all log in exactly alike. ``amr``
    (RFC 8176) says how: pass the same value given to ``sessions.create``, which keeps
    it for the tokens of later refreshes. ``how`` goes to the login_succeeded event:
    ``via`` (oauth, otp) and ``provider``.
    """
    user_id = str(user.id)
    _cache_after_sign_in(user)
    events.emit(events.login_succeeded, user_id=user_id, session_id=session_id, **how)
    lifetime = min(sessions.idle_timeout(), sessions.max_age())
    return _issue(user_id, session_id, 0, lifetime, amr, grant="login")


def _cache_after_sign_in(user: User) -> None:
    """Cache the user who just signed in, so that its first request is a cache hit.

    The sign-in read the row before now, so it is read again after the cache's
    generation: a change that commits in between then makes the fill write nothing
    (a copy cached from the first read would hide that change for USER_CACHE_TTL).
    """
    user_id = str(user.id)
    generation = sessions.user_generation(user_id)
    fresh = find_user_for_change(user.id)
    if fresh is not None:
        sessions.cache_user(user_id, json.dumps(cached_user(fresh)), generation)


def session_named_by(refresh_token: str | None) -> tuple[str, str] | None:
    """(user id, session id) of a refresh token that verifies; the session may have
    ended since. None for no token, or one that does not verify."""
    if not refresh_token:
        return None
    try:
        claims = tokens.decode_refresh_token(refresh_token)
    except tokens.TokenError:
        return None
    return claims["sub"], claims["sid"]


def end_replaced_session(refresh_token: str | None, *, user_id: str, new_session_id: str) -> bool:
    """End the session a browser's refresh cookie names, when a new sign-in of the same
    account in that browser is about to overwrite its cookies; True if one ended.

    Call it only once the new sign-in has fully succeeded (its session created, its
    tokens issued), and only for an answer that sets cookies: a failed login, one that
    stops at the second-factor step, or a token-mode sign-in leaves the cookie, and its
    session, alone. Once overwritten, the cookie's session is unreachable from this
    browser, and left alive it would idle on, listed, counting against
    MAX_SESSIONS_PER_USER and pushing out the user's other devices (one session per
    account and browser, as Kratos and Keycloak keep). Another account's session
    (switching accounts) is left to idle out: it counts against no cap of this
    account, and an API client that signs several accounts in through one cookie jar,
    using their tokens as Bearer tokens (a test suite, a Postman run), keeps them all.
    ``session.revoked`` (scope ``replaced``) is appended by the same script that ends
    it, atomic with a concurrent refresh of it.

    Never fails the sign-in: a cookie that does not verify names nothing, and a Redis
    that fails in this step only (it just made the new session) costs the old session
    its early end, not the new one its cookies: it idles out as it did before.

    The sign-in was told of it (``replacing``), so the session cap did not count it when
    the new session was made: it never pushed another device out in its place.
    """
    named = session_named_by(refresh_token)
    if named is None:
        return False
    named_user_id, session_id = named
    if named_user_id != user_id or session_id == new_session_id:
        return False
    try:
        ended = sessions.delete(user_id, session_id, scope=sessions.REPLACED)
    except (redis_exc.RedisError, redis_exc.RedisClusterException) as error:
        log.warning("the session a sign-in replaced stays: Redis %s", type(error).__name__)
        return False
    if ended:
        events.emit(
            events.logged_out,
            user_id=user_id,
            session_id=session_id,
            scope=sessions.REPLACED,
            ended=1,
        )
    return ended


def refresh(
    refresh_token: str | None, *, limit: Callable[[str], None] | None = None
) -> IssuedTokens:
    """Rotate the session's refresh token; reuse outside the grace window revokes it.

    ``limit(session_id)`` runs once the token is verified, before the rotation: a rate
    limit on the session itself, which a forged or foreign ``sid`` cannot reach.
    """
    if not refresh_token:
        raise RefreshFailed()
    try:
        claims = tokens.decode_refresh_token(refresh_token)
    except tokens.TokenError:
        raise RefreshFailed() from None
    user_id, session_id = claims["sub"], claims["sid"]
    if limit is not None:
        limit(session_id)
    rotation = sessions.rotate(user_id, session_id, claims["gen"])
    if rotation.outcome == "reused":
        events.emit(events.refresh_reuse_detected, user_id=user_id, session_id=session_id)
        raise RefreshFailed()
    if rotation.outcome == "gone":
        raise RefreshFailed()
    events.emit(
        events.token_refreshed,
        user_id=user_id,
        session_id=session_id,
        generation=rotation.generation,
        outcome=rotation.outcome,
    )
    return _issue(
        user_id, session_id, rotation.generation, rotation.lifetime, rotation.amr, grant="refresh"
    )


def authenticate(access_token: str | None) -> CurrentUser:
    """Verify an access token and its live session; one Redis round trip when cached."""
    if not access_token:
        raise Unauthorized(NOT_LOGGED_IN)
    now = clock.now()  # one reading for the token's lifetime and the session's last use
    try:
        claims = tokens.decode_access_token(access_token, now=now)
    except tokens.TokenExpired:
        # Front ends refresh only on this exact message, so expiry must use it; the
        # challenge says the token sent was refused (RFC 6750: expired is invalid_token).
        raise Unauthorized(NOT_LOGGED_IN, headers={"WWW-Authenticate": EXPIRED_CHALLENGE}) from None
    except tokens.TokenError:
        raise Unauthorized(INVALID_TOKEN, code="invalid_token") from None
    user_id, session_id = claims["sub"], claims["sid"]
    alive, cached, generation = sessions.touch(user_id, session_id, claims.get("gen"), now=now)
    if not alive:
        raise Unauthorized(SESSION_ENDED, code="session_ended")
    if cached is not None:
        return _current_user(user_id, session_id, _parsed(cached))
    user = find_user_by_id(user_id)
    if user is None or user.disabled:  # a session that outlived the change
        gone = sessions.ACCOUNT_DELETED if user is None else sessions.ACCOUNT_DISABLED
        sessions.delete(user_id, session_id, scope=gone)
        raise Unauthorized(SESSION_ENDED, code="session_ended")
    data = cached_user(user)
    sessions.cache_user(user_id, json.dumps(data), generation)
    return _current_user(user_id, session_id, data)


def _current_user(user_id: str, session_id: str, cached: dict[str, Any]) -> CurrentUser:
    """A copy each: ``cached`` may be the memo of :func:`_parsed`."""
    data = dict(cached)
    mfa = data.pop(CACHED_MFA_KEY, None)
    return CurrentUser(
        id=user_id, session_id=session_id, data=data, mfa=None if mfa is None else list(mfa)
    )


@functools.lru_cache(maxsize=CACHED_USERS_PARSED)
def _parsed(cached: str) -> dict[str, Any]:
    """The cached copy of a user, parsed once per process and text: Redis sends the same
    text on each of that user's requests until the user changes (which changes the
    text), and what it parses to depends on nothing else."""
    return json.loads(cached)


def logout(current: CurrentUser, scope: str = "local") -> int:
    """End sessions: ``local`` this one, ``others`` all but this one, ``global`` all."""
    if scope == "local":
        ended = int(sessions.delete(current.id, current.session_id, scope=scope))
    elif scope == "others":
        ended = sessions.delete_all(current.id, keep=current.session_id, scope=scope)
    elif scope == "global":
        ended = sessions.delete_all(current.id, scope=scope)
    else:
        raise APIError("scope must be one of local, others, global", code="invalid_scope")
    events.emit(
        events.logged_out,
        user_id=current.id,
        session_id=current.session_id,
        scope=scope,
        ended=ended,
    )
    return ended


def list_sessions(current: CurrentUser) -> list[sessions.SessionInfo]:
    return sessions.list_sessions(current.id)


def end_session(current: CurrentUser, session_id: str) -> None:
    """End one of the caller's sessions; another user's id is as unknown as a missing one."""
    if not sessions.delete(current.id, session_id, scope="session"):
        raise NotFound("Session not found", code="session_not_found")
    events.emit(
        events.logged_out, user_id=current.id, session_id=session_id, scope="session", ended=1
    )
