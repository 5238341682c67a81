"""Rate limits (Flask-Limiter on the shared Redis, so every instance counts together).

- login: per client address (every attempt); password guesses per account and per
  (account, address) are :mod:`authapi.lockout`'s, counted before the check;
- password change, an email change and deleting one's own account (each its own
  counters, the same settings): per user and per session (after authentication), and their
  current-password checks spend from the same lockout budgets as logins;
- register: per client address (409 reveals which emails exist);
- refresh: per client address, and per session once the refresh token is verified
  (a junk or foreign ``sid`` never creates a counter nor spends someone else's);
- account emails (resend verification, forgot password): never a 429; surplus mails
  are dropped silently (:func:`allow`), budgeted per (email, address), per address
  and per email.

A request refused because every password-hashing slot is taken (503 ``hashing_busy``)
did nothing: it spends no limit. Route limits are spent up front, atomically (a burst
of parallel requests never gets past one), and given back by :func:`_refund_if_busy`;
the lockout attempts by :func:`lockout.refund`.

Limits are read from the config at request time (``RATELIMIT_*`` settings, parsed
at startup by ``configuration.check_rate_limits``). The client address is the peer address;
X-Forwarded-For is believed only through ProxyFix with TRUSTED_PROXY_COUNT, so a
forged header never resets a counter.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, after_this_request, current_app, g, make_response, request
from flask_limiter import RequestLimit
from limits import parse
from limits.storage import MemoryStorage, RedisStorage

from authapi import devices, lockout
from authapi.auth.responses import wants_tokens_in_body
from authapi.body import json_object
from authapi.errors import APIError
from authapi.extensions import limiter
from authapi.mfa.gate import MFA_REQUIRED_CODE
from authapi.passwords import HashingBusy


def client_address() -> str:
    return request.remote_addr or "unknown"


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def _limits_off() -> bool:
    """Flask-Limiter keeps one Limiter per process, switched on by any app built with
    limits on; each limit asks the app that serves the request instead."""
    return not current_app.config["RATELIMIT_ENABLED"]


def _body_email() -> str | None:
    try:
        email = json_object().get("email")
    except APIError:
        return None
    return email if isinstance(email, str) else None


def _too_many(reset_at: float) -> APIError:
    retry_after = max(1, math.ceil(reset_at - time.time()))
    return APIError(
        "Too many requests, please try again later",
        status_code=429,
        headers={"Retry-After": str(retry_after)},
    )


def hit(setting: str, scope: str, key: str) -> bool:
    """Spend one unit of the limit ``setting`` for ``key``; False when none was left.

    For limits decided inside a request, after something was verified (a token), where
    a route decorator would run too early.
    """
    if not current_app.config["RATELIMIT_ENABLED"]:
        return True
    return limiter.limiter.hit(parse(current_app.config[setting]), "authapi", scope, key)


def spend_or_429(setting: str, scope: str, key: str) -> None:
    """:func:`hit`, answering 429 with Retry-After when the limit is used up."""
    if not hit(setting, scope, key):
        item = parse(current_app.config[setting])
        stats = limiter.limiter.get_window_stats(item, "authapi", scope, key)
        raise _too_many(stats.reset_time)


def allow(setting: str, scope: str, key: str) -> bool:
    """Like :func:`hit`, for budgets that are dropped silently (never a 429)."""
    return hit(setting, scope, key)


def _refund_if_busy(view: Callable[..., Any]) -> Callable[..., Any]:
    """Inside the route limits: a view refused for a full hashing pool gives back the
    unit each of them took for this request."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except HashingBusy:
            for spent in limiter.current_limits:
                if not spent.breached:
                    _give_back(spent)
            raise

    return wrapped


def _give_back(spent: RequestLimit) -> None:
    """Remove the newest entry of a moving window (limits has no refund of its own):
    the Redis storages keep one list per key, newest first; the memory one a list too."""
    storage = limiter.limiter.storage
    if isinstance(storage, RedisStorage):  # one server, Cluster and Sentinel alike
        storage.get_connection().lpop(storage.prefixed_key(spent.key))
    elif isinstance(storage, MemoryStorage):
        with storage.locks[spent.key]:
            entries = storage.events.get(spent.key)
            if entries:
                del entries[0]


def _run_counted(
    view: Callable[..., Any], attempt: lockout.Attempt | None, *a: Any, **k: Any
) -> Response:
    """Run a view that checks a password; refund the attempt unless it answered 400
    (a wrong password, or a body that never got as far as a check)."""
    try:
        response = make_response(view(*a, **k))
    except APIError as error:
        if error.status_code != 400:
            lockout.refund(attempt)
        raise
    except BaseException:  # 503 (hashing busy, Redis down...): nothing was decided
        lockout.refund(attempt)
        raise
    if response.status_code != 400:
        lockout.refund(attempt)
    return response


def _count_login_guesses(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        email = _body_email()
        if email is None:  # no password check happens: the schema answers 400
            return view(*args, **kwargs)
        digest = lockout.account_digest(email)
        attempt = lockout.spend(digest, client_address(), known_device=devices.is_known(digest))
        remember = attempt is not None and not wants_tokens_in_body()
        try:
            response = _run_counted(view, attempt, *args, **kwargs)
        except APIError as error:
            if remember and error.code == MFA_REQUIRED_CODE:
                # The password was right; the second factor comes next. This browser
                # has proved what the per-account ceiling protects: it is known.
                after_this_request(lambda answer: _remembered(answer, digest))
            raise
        if remember and response.status_code == 200:
            devices.remember(response, digest)
        return response

    return wrapped


def _remembered(response: Response, digest: str) -> Response:
    devices.remember(response, digest)
    return response


def limit_login(view: Callable[..., Any]) -> Callable[..., Any]:
    return limiter.limit(
        _setting("RATELIMIT_LOGIN_PER_ADDRESS"),
        key_func=client_address,
        scope="login-address",
        exempt_when=_limits_off,
    )(_count_login_guesses(_refund_if_busy(view)))


def _caller_user() -> str:
    return f"user:{g.current_user.id}"


def _caller_session() -> str:
    return f"session:{g.current_user.session_id}"


def _count_current_password_guesses(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        digest = lockout.account_digest(g.current_user.data.get("email", ""))
        # A signed-in caller has proved an earlier sign-in: only the per-address limit.
        attempt = lockout.spend(digest, client_address(), known_device=True)
        return _run_counted(view, attempt, *args, **kwargs)

    return wrapped


def limit_password_change(view: Callable[..., Any]) -> Callable[..., Any]:
    """Apply inside ``login_required``: the keys are the verified user and session.
    For every route that checks the caller's password (the password change, an email
    change, deleting the account); each route counts apart (Flask-Limiter scopes by endpoint)."""
    view = limiter.limit(
        _setting("RATELIMIT_PASSWORD_CHANGE_PER_SESSION"),
        key_func=_caller_session,
        scope="password-change-session",
        exempt_when=_limits_off,
    )(_count_current_password_guesses(_refund_if_busy(view)))
    return limiter.limit(
        _setting("RATELIMIT_PASSWORD_CHANGE_PER_USER"),
        key_func=_caller_user,
        scope="password-change-user",
        exempt_when=_limits_off,
    )(view)


def limit_register(view: Callable[..., Any]) -> Callable[..., Any]:
    return limiter.limit(
        _setting("RATELIMIT_REGISTER_PER_ADDRESS"),
        key_func=client_address,
        scope="register-address",
        exempt_when=_limits_off,
    )(_refund_if_busy(view))


def limit_refresh(view: Callable[..., Any]) -> Callable[..., Any]:
    """Per address here; per verified session in :func:`limit_verified_refresh`."""
    return limiter.limit(
        _setting("RATELIMIT_REFRESH_PER_ADDRESS"),
        key_func=client_address,
        scope="refresh-address",
        exempt_when=_limits_off,
    )(view)


def limit_verified_refresh(session_id: str) -> None:
    """Called once the refresh token's signature is verified: its session's budget."""
    spend_or_429("RATELIMIT_REFRESH_PER_SESSION", "refresh-session", session_id)


def account_email_budget(email: str) -> bool:
    """May one more verification or reset mail go to ``email`` for this client?

    Three budgets, all silent: per (email, address), so a stranger cannot use up the
    owner's; per address, against spraying; per email, against mail-bombing from many
    addresses. The answer is 200 either way.
    """
    digest = lockout.account_digest(email)
    address = client_address()
    return (
        allow("RATELIMIT_ACCOUNT_EMAILS_PER_ACCOUNT_ADDRESS", "emails-pair", f"{digest}:{address}")
        and allow("RATELIMIT_ACCOUNT_EMAILS_PER_ADDRESS", "emails-address", address)
        and allow("RATELIMIT_ACCOUNT_EMAILS_PER_ACCOUNT", "emails-account", digest)
    )


def limit_mfa_login(view: Callable[..., Any]) -> Callable[..., Any]:
    """POST /api/auth/login/mfa per client address (the login budget's setting, its own
    counter); codes are also limited per account and per mfa_token (authapi.mfa)."""
    return limiter.limit(
        _setting("RATELIMIT_LOGIN_PER_ADDRESS"),
        key_func=client_address,
        scope="login-mfa-address",
        exempt_when=_limits_off,
    )(view)


def _email_and_address() -> str:
    """Per email AND client address: requests from elsewhere (an attacker's) count in
    their own bucket, never in the owner's."""
    email = _body_email()
    account = lockout.account_digest(email) if email is not None else "no-email"
    return f"{account}:{client_address()}"


def limit_otp_request(view: Callable[..., Any]) -> Callable[..., Any]:
    """Emailed sign-in codes: per client address, and per (email, address)."""
    view = limiter.limit(
        _setting("RATELIMIT_OTP_PER_ADDRESS"),
        key_func=client_address,
        scope="otp-address",
        exempt_when=_limits_off,
    )(view)
    return limiter.limit(
        _setting("RATELIMIT_OTP_PER_ACCOUNT"),
        key_func=_email_and_address,
        scope="otp-account",
        exempt_when=_limits_off,
    )(view)


def limit_otp_verify(view: Callable[..., Any]) -> Callable[..., Any]:
    return limiter.limit(
        _setting("RATELIMIT_OTP_VERIFY_PER_ADDRESS"),
        key_func=client_address,
        scope="otp-verify",
        exempt_when=_limits_off,
    )(view)


def limit_passkey_login(view: Callable[..., Any]) -> Callable[..., Any]:
    """The passkey sign-in routes (options and answers, first or second factor) share
    one counter per client address, RATELIMIT_LOGIN_PER_ADDRESS, apart from password
    logins. Confirming a removal spends the account's second-factor attempts instead
    (:func:`authapi.mfa.reauth.confirm_presence`)."""
    return limiter.shared_limit(
        _setting("RATELIMIT_LOGIN_PER_ADDRESS"),
        scope="passkey-login",
        key_func=client_address,
        exempt_when=_limits_off,
    )(view)


def limit_provider_redirects(view: Callable[..., Any]) -> Callable[..., Any]:
    """Starting a provider sign-in: per client address, like password logins."""
    return limiter.limit(
        _setting("RATELIMIT_LOGIN_PER_ADDRESS"),
        key_func=client_address,
        scope="oauth-address",
        exempt_when=_limits_off,
    )(view)
