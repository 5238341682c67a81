"""Setting and clearing the three auth cookies (names, paths and flags: docs in the
OpenAPI ``SetAuthCookies`` header)."""

from __future__ import annotations

from flask import Response, current_app

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"
LOGGED_IN_COOKIE = "logged_in"


def _common() -> dict:
    # No Domain attribute: a page on localhost:3000 must see cookies set by :8000.
    return {"secure": current_app.config["COOKIE_SECURE"], "samesite": "Lax"}


def set_access_cookies(response: Response, access_token: str, lifetime: int) -> None:
    """The access token (HttpOnly) and the readable logged_in flag, same lifetime."""
    response.set_cookie(
        ACCESS_COOKIE, access_token, max_age=lifetime, path="/", httponly=True, **_common()
    )
    response.set_cookie(
        LOGGED_IN_COOKIE, "true", max_age=lifetime, path="/", httponly=False, **_common()
    )


def set_refresh_cookie(response: Response, refresh_token: str, lifetime: int) -> None:
    response.set_cookie(
        REFRESH_COOKIE,
        refresh_token,
        max_age=lifetime,
        path=current_app.config["REFRESH_COOKIE_PATH"],
        httponly=True,
        **_common(),
    )


def clear_auth_cookies(response: Response) -> None:
    """Empty values, expiry in the past, the same Path each was set with."""
    response.delete_cookie(ACCESS_COOKIE, path="/", httponly=True, **_common())
    response.delete_cookie(LOGGED_IN_COOKIE, path="/", httponly=False, **_common())
    response.delete_cookie(
        REFRESH_COOKIE,
        path=current_app.config["REFRESH_COOKIE_PATH"],
        httponly=True,
        **_common(),
    )
