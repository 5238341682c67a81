"""Rate limit of the passkey sign-in routes (options and answers, first or second
factor): per client address, RATELIMIT_LOGIN_PER_ADDRESS, counted apart from password
logins. Confirming a removal spends the account's second-factor attempts instead
(:func:`authapi.mfa.reauth.confirm_presence`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app

from authapi.extensions import limiter
from authapi.ratelimits import client_address


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def limit_passkey_login(view: Callable[..., Any]) -> Callable[..., Any]:
    return limiter.shared_limit(
        _setting("RATELIMIT_LOGIN_PER_ADDRESS"), scope="passkey-login", key_func=client_address
    )(view)
