"""How a sign-in answers: cookies for browsers, or tokens in the body for token mode.

Every route that signs someone in (password login, and any other method) answers
through :func:`token_response`, so all of them honour ``X-Auth-Mode: token`` alike,
and every sign-in that sets cookies sets them with :func:`set_sign_in_cookies`, so all
of them end the session of the refresh cookie they overwrite alike.
"""

from __future__ import annotations

from flask import Response, jsonify, request

from authapi.auth.cookies import REFRESH_COOKIE, set_access_cookies, set_refresh_cookie
from authapi.auth.service import IssuedTokens, end_replaced_session, session_named_by

AUTH_MODE_HEADER = "X-Auth-Mode"


def client_ip() -> str:
    return request.remote_addr or ""


def client_user_agent() -> str:
    return request.headers.get("User-Agent", "")


def wants_tokens_in_body() -> bool:
    return request.headers.get(AUTH_MODE_HEADER, "").strip().lower() == "token"


def sent_by_a_browser() -> bool:
    """Browsers (Chrome 76, Firefox 90, Safari 16.4 and later) send Fetch Metadata's
    ``Sec-Fetch-Site`` with every request, fetch and navigation alike; curl, servers and
    the HTTP clients of scripts and test suites send none. (Node's own fetch sends
    ``Sec-Fetch-Mode: cors`` but not ``Sec-Fetch-Site``: not a browser.) Only a browser
    gets one session per account (:func:`set_sign_in_cookies`): a script that signs in
    again through one cookie jar may still use the first token as a Bearer token, which
    the tutorial allows."""
    return "Sec-Fetch-Site" in request.headers


def replaced_session_id() -> str | None:
    """The session a sign-in answered with cookies replaces: the one the browser's
    refresh cookie names (it verifies), ended by :func:`set_sign_in_cookies` once the
    sign-in succeeded. Views pass it to their sign-in as ``replacing``, so the session
    cap spares it meanwhile. None in token mode, which sets no cookie and ends nothing,
    and for a client that is no browser."""
    if wants_tokens_in_body() or not sent_by_a_browser():
        return None
    named = session_named_by(request.cookies.get(REFRESH_COOKIE))
    return None if named is None else named[1]


def _set_cookies(response: Response, issued: IssuedTokens) -> None:
    set_access_cookies(response, issued.access_token, issued.access_lifetime)
    set_refresh_cookie(response, issued.refresh_token, issued.refresh_lifetime)


def cookie_response(issued: IssuedTokens) -> Response:
    """A refresh's answer: the same session's rotated cookies."""
    response = jsonify(status="success", access_token=issued.access_token)
    _set_cookies(response, issued)
    return response


def set_sign_in_cookies(response: Response, issued: IssuedTokens) -> None:
    """A new sign-in's cookies, on an answer to a sign-in that has fully succeeded. They
    overwrite the browser's, so the session its refresh cookie named, if any and the
    same account's, ends first (:func:`~authapi.auth.service.end_replaced_session`,
    which never fails it), when a browser sent it (:func:`sent_by_a_browser`)."""
    if sent_by_a_browser():
        end_replaced_session(
            request.cookies.get(REFRESH_COOKIE),
            user_id=issued.user_id,
            new_session_id=issued.session_id,
        )
    _set_cookies(response, issued)


def body_response(issued: IssuedTokens) -> Response:
    return jsonify(
        status="success",
        access_token=issued.access_token,
        expires_in=issued.access_lifetime,
        refresh_token=issued.refresh_token,
        refresh_expires_in=issued.refresh_lifetime,
        token_type="Bearer",
    )


def token_response(issued: IssuedTokens) -> Response:
    """The answer to a successful sign-in, in the mode the client asked for."""
    if wants_tokens_in_body():
        return body_response(issued)
    response = jsonify(status="success", access_token=issued.access_token)
    set_sign_in_cookies(response, issued)
    return response
