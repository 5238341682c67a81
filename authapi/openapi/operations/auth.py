"""Register, log in, refresh, log out; the caller's sessions."""

from __future__ import annotations

from authapi.auth import guard
from authapi.auth import service as auth_service
from authapi.openapi.components import ACCESS, REFRESH, obj, ref, success
from authapi.openapi.operation import (
    BODY_ERRORS,
    CROSS_SITE,
    Operation,
    Reply,
    also,
    quoted,
)

REFRESH_REFUSED = (
    403,
    quoted(auth_service.REFRESH_FAILED, guard.CROSS_SITE_MESSAGE),
    "refresh_failed",
)

AUTH_MODE = {
    "in": "header",
    "name": "X-Auth-Mode",
    "required": False,
    "description": (
        "`token`: no cookies; the refresh token comes back in the body (`TokenPair`), for "
        "clients that cannot keep cookies. Compared without case or surrounding spaces; "
        "any other value (or none) is the cookie mode"
    ),
    # Not an enum: another value is no error, it is the cookie mode (schemathesis saw
    # one accepted and reported the enum as a lie).
    "schema": {"type": "string", "examples": ["token"]},
}

LOGOUT_SCOPE = {
    "in": "query",
    "name": "scope",
    "required": False,
    "description": "Sessions to end: this one, all others, or all",
    "schema": {"type": "string", "enum": ["local", "others", "global"], "default": "local"},
}


LOGOUT = Operation(
    "logout",
    "GET",
    "/api/auth/logout",
    "auth",
    "Log out: end this session (or others, or all) and clear the cookies",
    auth=ACCESS,
    query=(LOGOUT_SCOPE,),
    ok=Reply(200, "Success", headers={"Set-Cookie": "ClearAuthCookies"}),
    errors=(
        (400, quoted("scope must be one of local, others, global"), "invalid_scope"),
        401,
        CROSS_SITE,
        503,
    ),
    description="GET as in the tutorial; POST does the same.",
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "register",
        "POST",
        "/api/auth/register",
        "auth",
        "Create an account",
        body="Register",
        ok=Reply(201, "UserData", "Created; a verification mail is sent"),
        errors=(
            *BODY_ERRORS,
            (409, quoted("User with that email already exists"), "email_taken"),
            (429, "Too many registrations from this address"),
            503,
        ),
        description="`role` and `verified` are never taken from the body.",
    ),
    Operation(
        "login",
        "POST",
        "/api/auth/login",
        "auth",
        "Log in: start a session, get an access token (and the cookies)",
        body="Login",
        headers=(AUTH_MODE,),
        ok=Reply(
            200,
            {"oneOf": [ref("AccessToken"), ref("TokenPair")]},
            "Logged in: `AccessToken` and cookies (they replace the browser's session, if "
            "it had one), or `TokenPair` with `X-Auth-Mode: token`",
            headers={"Set-Cookie": "SetSignInCookies"},
        ),
        errors=(
            (
                400,
                quoted(auth_service.INVALID_CREDENTIALS)
                + " (an unknown email too), or invalid input",
                "invalid_credentials",
            ),
            413,
            415,
            (
                403,
                quoted(auth_service.ACCOUNT_DISABLED, auth_service.EMAIL_NOT_VERIFIED)
                + ", or `Second factor required` (code `mfa_required`, with `mfa_token` and "
                "`methods`; no cookie, no session): finish at POST /api/auth/login/mfa",
                "account_disabled",
            ),
            (
                429,
                "Too many attempts from this address, or failed password checks for this "
                "account from this address (a hard limit) or from anywhere (a ceiling that "
                "browsers with a known_device cookie pass)",
            ),
            (503, "A dependency is down, or every password-hashing slot is taken"),
        ),
    ),
    Operation(
        "refreshWithCookie",
        "GET",
        "/api/auth/refresh",
        "auth",
        "New access token from the refresh_token cookie (the refresh token rotates)",
        auth=REFRESH,
        ok=Reply(200, "AccessToken", headers={"Set-Cookie": "SetAuthCookies"}),
        errors=(
            REFRESH_REFUSED,
            (413, "A (JSON) body larger than 10 kB"),
            (429, "Too many refreshes from this address, or for this (verified) session"),
            503,
        ),
    ),
    Operation(
        "refresh",
        "POST",
        "/api/auth/refresh",
        "auth",
        "New tokens from a refresh token in the body, or from the cookie",
        auth=(*REFRESH, {}),
        body="Refresh",
        body_required=False,
        ok=Reply(
            200,
            {"oneOf": [ref("AccessToken"), ref("TokenPair")]},
            "With `refresh_token` in the body: a rotated `TokenPair` in the body. "
            "Otherwise as GET: `AccessToken` and rotated cookies.",
            headers={"Set-Cookie": "SetAuthCookies"},
        ),
        errors=(
            *BODY_ERRORS,
            REFRESH_REFUSED,
            (429, "Too many refreshes from this address, or for this (verified) session"),
            503,
        ),
    ),
    LOGOUT,
    also(LOGOUT, "POST", "logoutPost"),
    Operation(
        "listSessions",
        "GET",
        "/api/auth/sessions",
        "sessions",
        "The caller's sessions (one per logged-in device)",
        auth=ACCESS,
        ok=Reply(200, success(data=obj(sessions={"type": "array", "items": ref("Session")}))),
        errors=(401, 503),
    ),
    Operation(
        "endSession",
        "DELETE",
        "/api/auth/sessions/{session_id}",
        "sessions",
        "End one of the caller's sessions (clears the cookies if it is this one)",
        auth=ACCESS,
        ok=Reply(200, "Success", headers={"Set-Cookie": "ClearAuthCookies"}),
        errors=(401, CROSS_SITE, (404, quoted("Session not found"), "session_not_found"), 503),
    ),
)
