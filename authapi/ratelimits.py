"""Rate limits (Flask-Limiter on the shared Redis, so every instance counts together).

- login: per client address (every attempt) and per account (failed attempts only,
  so an attacker is slowed but the real user is locked out for one window at most);
- register: per client address (409 reveals which emails exist);
- refresh: per session;
- account emails (resend verification, forgot password): per client address and
  per email address, one budget shared by both routes.

Limits are read from the config at request time (``RATELIMIT_*`` settings).
The client address is the peer address; X-Forwarded-For is believed only through
ProxyFix with TRUSTED_PROXY_COUNT, so a forged header never resets a counter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import jwt
from flask import Response, current_app, request

from authapi.auth.cookies import REFRESH_COOKIE
from authapi.body import json_object
from authapi.errors import APIError
from authapi.extensions import limiter
from authapi.schemas import normalize_email


def client_address() -> str:
    return request.remote_addr or "unknown"


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def _limits_off() -> bool:
    """Flask-Limiter keeps one Limiter per process, switched on by any app built with
    limits on; each limit asks the app that serves the request instead."""
    return not current_app.config["RATELIMIT_ENABLED"]


def _login_account() -> str:
    """The normalised email being tried; requests without one count per address."""
    try:
        email = json_object().get("email")
    except APIError:
        email = None
    if not isinstance(email, str):
        return f"address:{client_address()}"
    # Hashed: limiter keys in Redis should not be a list of email addresses.
    digest = hashlib.sha256(normalize_email(email).encode("utf-8", "replace")).hexdigest()
    return f"account:{digest[:32]}"


def _refresh_session() -> str:
    """The session a refresh token names (unverified: only used as a counter key)."""
    token = request.cookies.get(REFRESH_COOKIE)
    if token is None and request.is_json:
        try:
            token = json_object().get("refresh_token")
        except APIError:
            token = None
    if isinstance(token, str) and token:
        try:
            session_id = jwt.decode(token, options={"verify_signature": False}).get("sid")
        except jwt.PyJWTError:
            session_id = None
        if isinstance(session_id, str):
            return f"session:{session_id[:64]}"
    return f"address:{client_address()}"


def _failed_login(response: Response) -> bool:
    return response.status_code == 400


def limit_login(view: Callable[..., Any]) -> Callable[..., Any]:
    view = limiter.limit(
        _setting("RATELIMIT_LOGIN_PER_ACCOUNT"),
        key_func=_login_account,
        deduct_when=_failed_login,
        scope="login-account",
        exempt_when=_limits_off,
    )(view)
    return limiter.limit(
        _setting("RATELIMIT_LOGIN_PER_ADDRESS"),
        key_func=client_address,
        scope="login-address",
        exempt_when=_limits_off,
    )(view)


def limit_register(view: Callable[..., Any]) -> Callable[..., Any]:
    return limiter.limit(
        _setting("RATELIMIT_REGISTER_PER_ADDRESS"),
        key_func=client_address,
        scope="register-address",
        exempt_when=_limits_off,
    )(view)


def limit_refresh(view: Callable[..., Any]) -> Callable[..., Any]:
    return limiter.limit(
        _setting("RATELIMIT_REFRESH_PER_SESSION"),
        key_func=_refresh_session,
        scope="refresh",
        exempt_when=_limits_off,
    )(view)


def limit_account_emails(view: Callable[..., Any]) -> Callable[..., Any]:
    """Verification re-sends and password-reset requests: one shared budget per client
    address and per email address (known or not, so a 429 reveals nothing)."""
    view = limiter.shared_limit(
        _setting("RATELIMIT_ACCOUNT_EMAILS_PER_ACCOUNT"),
        scope="account-emails-account",
        key_func=_login_account,
        exempt_when=_limits_off,
    )(view)
    return limiter.shared_limit(
        _setting("RATELIMIT_ACCOUNT_EMAILS_PER_ADDRESS"),
        scope="account-emails-address",
        key_func=client_address,
        exempt_when=_limits_off,
    )(view)


def limit_mfa_login(view: Callable[..., Any]) -> Callable[..., Any]:
    """POST /api/auth/login/mfa per client address (the login budget's setting, its own
    counter); codes are also limited per account and per mfa_token (authapi.mfa)."""
    return limiter.limit(
        _setting("RATELIMIT_LOGIN_PER_ADDRESS"), key_func=client_address, scope="login-mfa-address"
    )(view)
