"""Shared parts of the document: schema helpers, component schemas, headers, error
responses and security schemes (everything under ``components`` but what an area
module adds)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields, validate

from authapi import schemas
from authapi.models import AuthEventName, Role

JSON = "application/json"
HTML = "text/html"

ROLES = [role.value for role in Role]
EVENTS = [name.value for name in AuthEventName]


# --- JSON Schema helpers ---


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def schema_of(value: str | Mapping[str, Any]) -> dict[str, Any]:
    """A JSON Schema: a string names a component schema."""
    return ref(value) if isinstance(value, str) else dict(value)


def obj(**properties: str | Mapping[str, Any]) -> dict[str, Any]:
    """An object with exactly these properties, all required (a string names a component)."""
    return {
        "type": "object",
        "required": list(properties),
        "properties": {name: schema_of(value) for name, value in properties.items()},
        "additionalProperties": False,
    }


def success(**properties: str | Mapping[str, Any]) -> dict[str, Any]:
    """The success envelope: ``{"status": "success", **properties}``."""
    return obj(status={"const": "success"}, **properties)


def page_of(name: str, item: str) -> dict[str, Any]:
    """``data`` of a paginated list: ``{name: [item], page, per_page, total}``."""
    return obj(
        **{name: {"type": "array", "items": ref(item)}},
        page={"type": "integer", "minimum": 1},
        per_page={"type": "integer", "minimum": 1},
        total={"type": "integer", "minimum": 0},
    )


def dumped(schema: type[Schema]) -> dict[str, Any]:
    """For a response schema: every field it dumps is always there."""
    return {"required": list(schema().dump_fields)}


MESSAGE = {"type": "string"}
UUID = {"type": "string", "format": "uuid"}


# --- Marshmallow schemas as the document shows them ---


class UserDoc(schemas.UserSchema):
    """The user object; ``role`` is a fields.Function in UserSchema (no type for apispec)."""

    role = fields.String(validate=validate.OneOf(ROLES))


class AdminUserDoc(schemas.AdminUserSchema):
    role = fields.String(validate=validate.OneOf(ROLES))


class SessionDoc(schemas.SessionSchema):
    """A session as GET /api/auth/sessions lists it (``current`` is added by the view)."""

    created_at = fields.DateTime()
    last_used_at = fields.DateTime()
    expires_at = fields.DateTime()
    current = fields.Boolean(metadata={"description": "The session of this request"})


class AuthEventDoc(schemas.AuthEventSchema):
    event = fields.String(validate=validate.OneOf(EVENTS))


# name -> (marshmallow schema, JSON Schema keywords to add)
COMPONENTS: dict[str, tuple[type[Schema], dict[str, Any]]] = {
    "Register": (schemas.RegisterSchema, {}),
    "Login": (schemas.LoginSchema, {}),
    "Refresh": (schemas.RefreshSchema, {}),
    "ChangePassword": (schemas.ChangePasswordSchema, {}),
    "Email": (schemas.EmailSchema, {}),
    "ResetPassword": (schemas.ResetPasswordSchema, {}),
    "AdminUserUpdate": (schemas.AdminUserUpdateSchema, {"minProperties": 1}),
    "User": (UserDoc, dumped(UserDoc)),
    "AdminUser": (AdminUserDoc, dumped(AdminUserDoc)),
    "Session": (SessionDoc, dumped(SessionDoc)),
    "AuthEvent": (AuthEventDoc, dumped(AuthEventDoc)),
}


def field_hints(self: Any, field: fields.Field, **kwargs: Any) -> dict[str, Any]:
    """Constraints that the schemas check in custom validators, for the document.

    An apispec attribute function (``converter.add_attribute_function``).
    """
    hints: dict[str, Any] = {}
    if isinstance(field, schemas.Email):
        hints.update(
            format="email",
            maxLength=schemas.EMAIL_MAX,
            description="Trimmed, NFKC-normalised and lower-cased before use",
        )
    if schemas.validate_new_password in field.validators:
        hints.update(
            minLength=schemas.PASSWORD_MIN,
            description=(
                f"{schemas.PASSWORD_MIN} characters to 72 UTF-8 bytes (bcrypt) or to "
                "PASSWORD_MAX_LENGTH characters (argon2id, 256), no NUL; not a common "
                "password (and, when configured, not breached and strong enough)"
            ),
        )
    if schemas._validate_name in field.validators:
        hints.update(
            minLength=1,
            maxLength=schemas.NAME_MAX,
            description="Not blank, no control characters",
        )
    if schemas._validate_photo in field.validators:
        hints.update(
            minLength=1,
            maxLength=schemas.PHOTO_MAX,
            description="A file name (`default.png`) or an `https` URL, no spaces",
        )
    return hints


# --- Plain JSON Schema components ---

# Every error ``code`` the API answers with, and when (tests/test_structure.py checks
# that each code raised in authapi/ is listed here).
ERROR_CODES: dict[str, str] = {
    "unknown_provider": "No sign-in provider of that name is configured (404)",
    "invalid_redirect": "redirect_to is not FRONTEND_URL or under an allow-listed URL",
    "last_way_in": (
        "Unlinking this provider or removing this passkey would leave the account no way "
        "to sign in (409)"
    ),
    "bad_request": "A request the server cannot use (400)",
    "validation_failed": "Field errors in the body: `errors` maps each field to its messages",
    "invalid_query": "Invalid query parameters: `errors` names each parameter",
    "malformed_json": "The body is not valid (UTF-8) JSON, or names a key twice, or has NaN",
    "body_not_an_object": "The JSON body is not an object",
    "malformed_body": "The body could not be read (e.g. a broken chunked encoding)",
    "invalid_credentials": "Wrong email or password (an unknown email too)",
    "wrong_current_password": "The current password given to change it is wrong",
    "invalid_scope": "An unknown logout scope",
    "verification_failed": "An unknown, used or expired email verification code",
    "reset_failed": "An unknown, used or expired password reset token",
    "not_logged_in": "No access token, or an expired one: refresh, then retry",
    "invalid_token": "A forged, tampered or otherwise invalid access token",
    "session_ended": "The token's session has ended (logout, revocation, disabled account)",
    "refresh_failed": "The refresh token is missing, invalid, reused or its session ended",
    "forbidden": "Refused",
    "cross_site_refused": "A cookie-authenticated state change from another site",
    "admins_only": "The route is for enabled admins",
    "account_disabled": "The account has been disabled",
    "email_not_verified": "The email address must be verified first",
    "not_found": "No such route (or resource)",
    "session_not_found": "No such session of the caller",
    "user_not_found": "No such user",
    "method_not_allowed": "The path does not take this method (`Allow` lists those it does)",
    "conflict": "Conflict",
    "email_taken": "An account with that email already exists",
    "same_email": "The new email address is the account's own",
    "email_change_failed": (
        "An unknown, used, replaced or expired email change code, or another account's"
    ),
    "last_admin": "The change would leave no enabled admin",
    "nothing_to_confirm_with": (
        "The account has no password, TOTP or passkey to confirm the change with (409)"
    ),
    "own_factors": "An admin's reset of second factors is not for their own account (403)",
    "payload_too_large": "The body is larger than 10 kB",
    "unsupported_media_type": "The body is not `application/json`, or is compressed",
    "rate_limited": "Too many requests: retry after `Retry-After` seconds",
    "mfa_required": "The password was right; finish at POST /api/auth/login/mfa with `mfa_token`",
    "invalid_mfa_token": "An unknown, expired, used or spent mfa_token: log in again",
    "invalid_code": "A wrong, used or malformed second-factor code (or recovery code)",
    "invalid_password": "The password confirming a second-factor change is wrong",
    "too_many_attempts": "Too many second-factor checks for this account: `Retry-After`",
    "totp_already_enabled": "TOTP is already on: turn it off first",
    "no_totp_setup": "No TOTP setup is pending (or it expired)",
    "totp_not_enabled": "TOTP is not on",
    "no_second_factor": "The account has no second factor yet",
    "headers_too_large": "Request headers too large",
    "internal_error": "An unexpected server error",
    "service_unavailable": "PostgreSQL or Redis is unreachable: retry after `Retry-After` seconds",
    "hashing_busy": "Every password-hashing slot is taken: retry after `Retry-After` seconds",
    "metrics_token_required": "/metrics wants `Authorization: Bearer <METRICS_TOKEN>`",
    "password_check_unavailable": (
        "The breached-password check (`PWNED_PASSWORDS_URL`, failing closed) did not answer"
    ),
    "webhook_not_found": "No such webhook endpoint",
    "delivery_not_found": "No such delivery of this webhook endpoint",
    "webhook_disabled": "The webhook endpoint is disabled: enable it first",
    "sign_up_rejected": "The before-user-created hook refused the sign-up (its message)",
    "sign_up_unavailable": "The before-user-created hook gave no usable answer: retry later",
    "passkey_challenge_failed": (
        "The passkey answer's challenge was not issued here, is used or expired: new options"
    ),
    "passkey_unknown": "No passkey has that credential id (removed, or its account deleted)",
    "passkey_refused": "The passkey answer does not verify (signature, origin, RP ID, counter...)",
    "passkey_registration_failed": "The new passkey's answer does not verify",
    "passkey_not_found": "No such passkey of the caller",
    "passkey_already_registered": "That passkey is already registered (here or on another account)",
    "too_many_passkeys": "The account already has the most passkeys allowed (20)",
    "no_passkey": "The account of the mfa_token has no passkey to ask for",
}
ERROR_CODE = {
    "type": "string",
    "pattern": "^[a-z][a-z0-9_]*$",
    "description": (
        "Stable and machine-readable: match on this, not on `message`. "
        + "; ".join(f"`{code}`: {meaning}" for code, meaning in ERROR_CODES.items())
    ),
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Fail": {
        "description": "A client error (4xx)",
        "type": "object",
        "required": ["status", "code", "message"],
        "properties": {
            "status": {"const": "fail"},
            "code": ERROR_CODE,
            "message": {"type": "string", "minLength": 1},
            "errors": {
                "description": "Validation errors: each field (or `_schema`) and its messages",
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
            # 403 `mfa_required` of POST /api/auth/login (authapi.mfa, docs/mfa.md).
            "mfa_token": {
                "type": "string",
                "description": "Finishes the login at POST /api/auth/login/mfa (5 minutes)",
            },
            "methods": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Second factors the account can use: totp, passkey, recovery_code",
            },
        },
        "additionalProperties": False,
    },
    "ServerError": {
        "description": "A server-side error (5xx): never a stack trace",
        "type": "object",
        "required": ["status", "code", "message"],
        "properties": {
            "status": {"const": "error"},
            "code": ERROR_CODE,
            "message": {"type": "string", "minLength": 1},
        },
        "additionalProperties": False,
    },
    "AccessToken": {
        **success(access_token={"type": "string", "description": "The access JWT (RS256)"}),
        "description": "Browser mode: the refresh token is only in its HttpOnly cookie",
    },
    "TokenPair": {
        **success(
            access_token={"type": "string", "description": "The access JWT (RS256)"},
            expires_in={"type": "integer", "description": "Access token lifetime, seconds"},
            refresh_token={"type": "string", "description": "The refresh JWT (RS256)"},
            refresh_expires_in={
                "type": "integer",
                "description": "Refresh token lifetime, seconds",
            },
            token_type={"const": "Bearer"},
        ),
        "description": "Token mode (clients without cookies): both tokens in the body",
    },
    "Message": success(message=MESSAGE),
    "Success": success(),
    "UserData": success(data=obj(user="User")),
    "AdminUserData": success(data=obj(user="AdminUser")),
    "Jwk": {
        "type": "object",
        "required": ["kty", "n", "e", "kid", "alg", "use"],
        "properties": {
            "kty": {"const": "RSA"},
            "n": {"type": "string"},
            "e": {"type": "string"},
            "kid": {"type": "string", "description": "RFC 7638 thumbprint"},
            "alg": {"const": "RS256"},
            "use": {"const": "sig"},
        },
    },
}


# --- Shared headers and error responses ---

RETRY_AFTER = {"$ref": "#/components/headers/RetryAfter"}
WWW_AUTHENTICATE = {"$ref": "#/components/headers/WwwAuthenticate"}

HEADERS: dict[str, dict[str, Any]] = {
    "RetryAfter": {
        "description": "Seconds to wait before retrying",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "WwwAuthenticate": {
        "description": (
            'How to authenticate (RFC 9110, RFC 6750): `Bearer realm="authapi"`, with '
            '`error="invalid_token"` when an access token was sent and refused (expired, '
            'forged, revoked); `Bearer realm="metrics"` on `/metrics`'
        ),
        "required": True,
        "schema": {"type": "string"},
    },
    "SetAuthCookies": {
        "description": (
            "Browser mode: `access_token` (HttpOnly, Path `/`, Max-Age the access lifetime), "
            "`logged_in=true` (readable by scripts, Path `/`) and `refresh_token` (HttpOnly, "
            "Path `/api/auth`, Max-Age the refresh lifetime); all SameSite=Lax, Secure in "
            "production, no Domain. Absent in token mode."
        ),
        "schema": {"type": "string"},
    },
    "SetSignInCookies": {
        "description": (
            "As `SetAuthCookies` (absent in token mode). They overwrite the browser's: once "
            "the sign-in has succeeded, the session that the `refresh_token` cookie sent "
            "with it named (if it verifies, is still alive and is the same account's) "
            "ends (signing in again in a browser, told by its `Sec-Fetch-Site` header; "
            "switching accounts, and clients that are no browser, end nothing), with a "
            "`session.revoked` webhook of scope `replaced`; `MAX_SESSIONS_PER_USER` does "
            "not count it meanwhile. A failed or refused sign-in, one stopped at "
            "`mfa_required`, and token mode end nothing"
        ),
        "schema": {"type": "string"},
    },
    "ClearAuthCookies": {
        "description": (
            "`access_token`, `logged_in` and `refresh_token` set empty with an expiry in the "
            "past, on the Path each was set with"
        ),
        "schema": {"type": "string"},
    },
}

# status -> (component name, default description)
ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    400: (
        "BadRequest",
        "Invalid input: malformed JSON, a body that is not an object, or field errors "
        "(`errors` maps each field to its messages)",
    ),
    401: (
        "Unauthorized",
        "`You are not logged in` (no access token, or an expired one: refresh, then "
        "retry); another message for a forged, tampered or revoked token",
    ),
    403: ("Forbidden", "Refused"),
    404: ("NotFound", "Not found"),
    409: ("Conflict", "Conflict"),
    413: ("PayloadTooLarge", "Request body larger than 10 kB"),
    415: ("UnsupportedMediaType", "`Content-Type must be application/json`"),
    429: ("TooManyRequests", "Rate limit exceeded: retry after `Retry-After` seconds"),
    503: (
        "ServiceUnavailable",
        "PostgreSQL or Redis is unreachable: retry after `Retry-After` seconds",
    ),
}


EXAMPLE_CODES = {
    400: "validation_failed",
    401: "not_logged_in",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "service_unavailable",
}

# Real messages, the examples of the shared error responses. An operation's own error
# description quotes its message `like this` (the first quoted text is the example).
EXAMPLE_MESSAGES = {
    400: "Invalid input",
    401: "You are not logged in",
    403: "You are not allowed to do this",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large (limit is 10240 bytes)",
    415: "Content-Type must be application/json",
    429: "Too many requests, please try again in 60 seconds",
    503: "Service temporarily unavailable, please retry shortly",
}


# --- Security schemes and requirements ---

# Security requirements (alternatives).
ACCESS: tuple[dict[str, list[str]], ...] = ({"bearerAuth": []}, {"cookieAuth": []})
REFRESH: tuple[dict[str, list[str]], ...] = ({"refreshCookie": []},)

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The access token in `Authorization: Bearer <token>` (wins over a cookie)",
    },
    "cookieAuth": {
        "type": "apiKey",
        "in": "cookie",
        "name": "access_token",
        "description": "The access token in the HttpOnly `access_token` cookie set by login",
    },
    "refreshCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "refresh_token",
        "description": "The refresh token in the HttpOnly `refresh_token` cookie set by login",
    },
}
