"""Who is calling: the before-request hook that loads the caller into ``g``, and the
decorators (``login_required``, ``admin_required``) that require what it found."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Request, current_app, g, request

from authapi.auth import service
from authapi.auth.cookies import ACCESS_COOKIE
from authapi.errors import Forbidden, Unauthorized
from authapi.models import Role
from authapi.users.repository import find_user_by_id

View = TypeVar("View", bound=Callable[..., Any])

CROSS_SITE_MESSAGE = "Cross-site request refused"


def bearer_token(req: Request | None = None) -> str | None:
    """The Bearer token, "" for a Bearer header with no token, None without one.
    ``req``: the request, when the caller has it (by default the current one)."""
    # From the WSGI environ, where request.headers reads it too, without its key lookup.
    header = (request if req is None else req).environ.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip()


def access_token_from_request(req: Request | None = None) -> tuple[str | None, bool]:
    """(token, came_from_cookie). A Bearer header wins; the query string is never read."""
    req = request if req is None else req
    token = bearer_token(req)
    if token is not None:
        return token, False
    return req.cookies.get(ACCESS_COOKIE), True


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
        raise Forbidden(CROSS_SITE_MESSAGE, code="cross_site_refused")


# What a view needs of the caller, set by the decorators on the view function.
NEEDS_ATTRIBUTE = "authapi_needs"
USER, ADMIN = "user", "admin"


@dataclass(frozen=True)
class Needs:
    who: str  # USER or ADMIN
    changes_state: bool


def load_current_user() -> None:
    """The before-request hook: who is calling, into ``g``.

    Runs before every view (registered with ``before_app_request`` by the auth
    blueprint); it does the work only for views decorated with ``login_required`` or
    ``admin_required``, so routes that need no user pay nothing. The user comes from
    the Bearer header, else the ``access_token`` cookie, and is verified against the
    Redis session (and the PostgreSQL row when the session has no cached copy):
    ``g.current_user``. For admin views the row is read afresh: ``g.user``.
    """
    req = request._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    view = current_app.view_functions.get(req.endpoint or "")
    needs: Needs | None = getattr(view, NEEDS_ATTRIBUTE, None)
    if needs is None:
        return
    if req.method == "OPTIONS" and getattr(req.url_rule, "provide_automatic_options", False):
        return  # Flask answers it without calling the view (CORS preflights carry no token)
    _load(needs, req)


# g key: the request the caller in g was loaded for (g can outlive one request when a
# test holds an app context).
LOADED_FOR = "authapi_caller_loaded_for"


def _load(needs: Needs, req: Request) -> None:
    found = g._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
    found.pop("current_user", None)
    found.pop("user", None)
    setattr(found, LOADED_FOR, req)
    token, from_cookie = access_token_from_request(req)
    if needs.changes_state and from_cookie and token:
        reject_cross_site()
    found.current_user = service.authenticate(token)
    if needs.who == ADMIN:
        # The role is read from the database, not from the cached user data: a
        # demotion takes effect on the very next request, even one racing the cache.
        found.user = find_user_by_id(found.current_user.id)


def current_user() -> service.CurrentUser:
    return g.current_user


def _requiring(needs: Needs, check: Callable[[Any], None]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            found = g._get_current_object()  # type: ignore[attr-defined]  # one proxy lookup
            req = request._get_current_object()  # type: ignore[attr-defined]
            if found.get(LOADED_FOR) is not req:
                _load(needs, req)  # the hook did not run for this view (an app without it)
            check(found)
            return view(*args, **kwargs)

        setattr(wrapped, NEEDS_ATTRIBUTE, needs)
        return wrapped  # type: ignore[return-value]

    return decorator


def _has_user(found: Any) -> None:
    """Loading raised already for a caller it could not authenticate. ``found``: ``g``."""
    if found.get("current_user") is None:
        raise Unauthorized(service.NOT_LOGGED_IN)


def login_required(*, changes_state: bool = False) -> Callable[[View], View]:
    """The view needs an authenticated caller (``current_user()``); state-changing
    cookie requests must come from the same site."""
    return _requiring(Needs(USER, changes_state), _has_user)


ADMINS_ONLY = "You are not allowed to do this: admins only"


def _is_admin(found: Any) -> None:
    _has_user(found)
    user = found.get("user")
    if user is None or user.disabled or user.role is not Role.ADMIN:
        raise Forbidden(ADMINS_ONLY, code="admins_only")


def admin_required(*, changes_state: bool = False) -> Callable[[View], View]:
    """``login_required``, and the caller must be an enabled admin (per the database)."""
    return _requiring(Needs(ADMIN, changes_state), _is_admin)
