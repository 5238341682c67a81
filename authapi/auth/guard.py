"""Who is calling: token extraction, the cross-site check and ``login_required``."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request

from authapi.auth import service
from authapi.auth.cookies import ACCESS_COOKIE
from authapi.errors import Forbidden
from authapi.models import Role

View = TypeVar("View", bound=Callable[..., Any])

CROSS_SITE_MESSAGE = "Cross-site request refused"


def bearer_token() -> str | None:
    """The Bearer token, "" for a Bearer header with no token, None without one."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def access_token_from_request() -> tuple[str | None, bool]:
    """(token, came_from_cookie). A Bearer header wins; the query string is never read."""
    token = bearer_token()
    if token is not None:
        return token, False
    return request.cookies.get(ACCESS_COOKIE), True


def _same_origin(origin: str) -> bool:
    return origin == f"{request.scheme}://{request.host}"


def _trusted_origin(origin: str | None) -> bool:
    return origin is not None and (
        origin in current_app.config["CORS_ORIGINS"] or _same_origin(origin)
    )


def is_cross_site() -> bool:
    """Does the browser say this request comes from a page we do not trust?

    - ``Sec-Fetch-Site: cross-site``: always.
    - ``same-site`` (a sibling subdomain, or another port of the same host): unless its
      Origin is the API's own or one of CORS_ORIGINS. A navigation (a link on a sibling
      subdomain to GET /logout) carries no Origin, so it is refused.
    - otherwise an Origin outside the allowlist.

    Clients that send neither Sec-Fetch-Site nor Origin (curl, servers, browsers too old
    for Fetch Metadata) pass.
    """
    site = request.headers.get("Sec-Fetch-Site", "").lower()
    origin = request.headers.get("Origin")
    if site == "cross-site":
        return True
    if site == "same-site":
        return not _trusted_origin(origin)
    return origin is not None and not _trusted_origin(origin)


def reject_cross_site() -> None:
    """Refuse a cookie-authenticated state change that the browser marks cross-site."""
    if is_cross_site():
        raise Forbidden(CROSS_SITE_MESSAGE)


def current_user() -> service.CurrentUser:
    return g.current_user


def login_required(*, changes_state: bool = False) -> Callable[[View], View]:
    """Authenticate the request; state-changing cookie requests must be same-site."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            token, from_cookie = access_token_from_request()
            if changes_state and from_cookie and token:
                reject_cross_site()
            g.current_user = service.authenticate(token)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


ADMINS_ONLY = "You are not allowed to do this: admins only"


def admin_required(*, changes_state: bool = False) -> Callable[[View], View]:
    """``login_required``, then the caller must be an enabled admin.

    The role is read from the database, not from the cached user data: a demotion
    takes effect on the very next request, even one racing the cache.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = service.find_user_by_id(current_user().id)
            if user is None or user.disabled or user.role is not Role.ADMIN:
                raise Forbidden(ADMINS_ONLY)
            return view(*args, **kwargs)

        return login_required(changes_state=changes_state)(wrapped)  # type: ignore[return-value]

    return decorator
