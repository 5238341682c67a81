"""The configured durations, typed once as ``timedelta`` s (the settings are in minutes
or seconds: see config.py) when the app is built."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask, current_app

EXTENSION_KEY = "authapi.durations"


@dataclass(frozen=True)
class Durations:
    access_token: timedelta  # ACCESS_TOKEN_EXPIRES_IN
    refresh_token: timedelta  # REFRESH_TOKEN_EXPIRES_IN: also a session's idle timeout
    session_max_age: timedelta  # SESSION_MAX_AGE: the cap no refresh extends
    refresh_reuse: timedelta  # REFRESH_REUSE_INTERVAL: a superseded refresh token's grace
    jwt_leeway: timedelta  # JWT_LEEWAY: clock skew tolerated
    verification_code: timedelta  # VERIFICATION_CODE_EXPIRES_IN
    reset_token: timedelta  # RESET_TOKEN_EXPIRES_IN

    @classmethod
    def from_config(cls, config: Any) -> Durations:
        return cls(
            access_token=timedelta(minutes=config["ACCESS_TOKEN_EXPIRES_IN"]),
            refresh_token=timedelta(minutes=config["REFRESH_TOKEN_EXPIRES_IN"]),
            session_max_age=timedelta(seconds=config["SESSION_MAX_AGE"]),
            refresh_reuse=timedelta(seconds=config["REFRESH_REUSE_INTERVAL"]),
            jwt_leeway=timedelta(seconds=config["JWT_LEEWAY"]),
            verification_code=timedelta(minutes=config["VERIFICATION_CODE_EXPIRES_IN"]),
            reset_token=timedelta(minutes=config["RESET_TOKEN_EXPIRES_IN"]),
        )


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = Durations.from_config(app.config)


def durations(app: Flask | None = None) -> Durations:
    """The durations of ``app`` (by default the current app)."""
    return (current_app if app is None else app).extensions[EXTENSION_KEY]


def seconds(duration: timedelta) -> int:
    """Whole seconds (rounded down), for JWT claims, cookie Max-Age and Redis TTLs."""
    return int(duration.total_seconds())
