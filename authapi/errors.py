"""The APIError family: errors with a status, a message safe to show and a stable
machine-readable ``code``. Raised deep down (services, guards, body parsing) and
turned into the JSON envelope in one place, :mod:`authapi.error_handlers`.

No Flask, Redis or SQLAlchemy here: any layer can import it.
"""

from __future__ import annotations

from typing import Any

# When an APIError is given another status but no code: the status' usual code.
CODE_BY_STATUS = {
    400: "bad_request",
    401: "not_logged_in",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    431: "headers_too_large",
    500: "internal_error",
    503: "service_unavailable",
}


class APIError(Exception):
    """An error with a status code, a message safe to show to the client and a
    ``code`` (``snake_case``) that clients can match on: messages may be reworded,
    codes are stable."""

    status_code = 400
    message = "Bad request"
    code = "bad_request"

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int | None = None,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message or self.message)
        if message is not None:
            self.message = message
        if status_code is not None:
            self.status_code = status_code
        if code is not None:
            self.code = code
        elif status_code is not None and type(self).code == APIError.code:
            self.code = CODE_BY_STATUS.get(status_code, self.code)
        self.errors = errors
        self.headers = headers or {}
        # More top-level envelope fields (e.g. the mfa_token of a 403 mfa_required).
        self.extra = extra or {}


class ValidationFailed(APIError):
    status_code = 400
    message = "Invalid input"
    code = "validation_failed"


class Unauthorized(APIError):
    status_code = 401
    message = "You are not logged in"
    code = "not_logged_in"


# Every 401 names how to authenticate (RFC 9110 section 11.6.1): the access token is a
# Bearer token (RFC 6750 section 3), which the cookie carries too.
API_REALM = "authapi"
# 401 codes that mean "the token you sent is not accepted" (RFC 6750's invalid_token);
# not_logged_in also answers a request that sent none, which gets no error attribute.
REJECTED_TOKEN_CODES = frozenset({"invalid_token", "session_ended"})


def bearer_challenge(realm: str = API_REALM, *, error: str | None = None) -> str:
    """A ``WWW-Authenticate`` value: ``Bearer realm="..."[, error="..."]``."""
    challenge = f'Bearer realm="{realm}"'
    return f'{challenge}, error="{error}"' if error else challenge


def challenge_for(code: str) -> str:
    """The ``WWW-Authenticate`` of a 401 with this ``code`` that did not set its own."""
    return bearer_challenge(error="invalid_token" if code in REJECTED_TOKEN_CODES else None)


class Forbidden(APIError):
    status_code = 403
    message = "You are not allowed to do this"
    code = "forbidden"


class NotFound(APIError):
    status_code = 404
    message = "Not found"
    code = "not_found"


class Conflict(APIError):
    status_code = 409
    message = "Conflict"
    code = "conflict"


# Seconds a client should wait after a 503 (a dependency down).
RETRY_AFTER_UNAVAILABLE = "5"


class ServiceUnavailable(APIError):
    status_code = 503
    message = "Service temporarily unavailable, please retry shortly"
    code = "service_unavailable"

    def __init__(self, message: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"Retry-After": RETRY_AFTER_UNAVAILABLE})
        super().__init__(message, **kwargs)
