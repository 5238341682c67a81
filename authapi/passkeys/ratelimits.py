"""Rate limits of the passkey routes, with the password login's settings.

- sign-in (options and answers): per client address, RATELIMIT_LOGIN_PER_ADDRESS,
  counted apart from password logins;
- removing a passkey: wrong passwords or codes per account,
  RATELIMIT_LOGIN_PER_ACCOUNT, so a stolen session cannot guess the password here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g

from authapi.extensions import limiter
from authapi.ratelimits import client_address


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def _account() -> str:
    caller = g.get("current_user")  # loaded by the auth blueprint's before-request hook
    return f"account:{caller.id}" if caller is not None else f"address:{client_address()}"


def _refused(response: Response) -> bool:
    return response.status_code == 400


def limit_passkey_login(view: Callable[..., Any]) -> Callable[..., Any]:
    return limiter.shared_limit(
        _setting("RATELIMIT_LOGIN_PER_ADDRESS"), scope="passkey-login", key_func=client_address
    )(view)


def limit_confirmation(view: Callable[..., Any]) -> Callable[..., Any]:
    return limiter.limit(
        _setting("RATELIMIT_LOGIN_PER_ACCOUNT"),
        key_func=_account,
        deduct_when=_refused,
        scope="passkey-confirm",
    )(view)
