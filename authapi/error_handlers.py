"""Errors become JSON responses here, and only here: the APIError family
(:mod:`authapi.errors`), werkzeug's HTTP errors, and the dependency failures (Redis,
PostgreSQL) that mean "retry shortly" (503).

The envelope: ``{"status": "fail"|"error", "code": ..., "message": ...}`` plus
``errors`` for field errors. ``code`` is stable and machine-readable; ``message``
is for people (tutorial front ends match on it too, so it does not change).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import redis
from flask import Flask, Response, current_app, jsonify, request
from redis import exceptions as redis_exc
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from authapi.draining import close_after, drain_request_body
from authapi.errors import (
    CODE_BY_STATUS,
    RETRY_AFTER_UNAVAILABLE,
    APIError,
    ServiceUnavailable,
    challenge_for,
)
from authapi.extensions import discard_session, limiter
from authapi.passwords import HashingBusy

log = logging.getLogger("authapi.errors")

# Werkzeug errors get our own sentences rather than its HTML-oriented descriptions.
HTTP_MESSAGES = {
    400: "Bad request",
    401: "You are not logged in",
    403: "Forbidden",
    405: "Method not allowed",
    413: "Request body too large (limit is {limit} bytes)",
    415: "Content-Type must be application/json",
    429: "Too many requests, please try again in {seconds} seconds",
    431: "Request headers too large",
}


def error_response(
    status_code: int,
    message: str,
    *,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    code = code or CODE_BY_STATUS.get(status_code, "error")
    body: dict[str, Any] = {
        "status": "fail" if status_code < 500 else "error",
        "code": code,
        "message": message,
    }
    if errors:
        body["errors"] = errors
    # More top-level fields (APIError.extra), never replacing the envelope's own.
    body.update({key: value for key, value in (extra or {}).items() if key not in body})
    response = jsonify(body)
    response.status_code = status_code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status_code == 401 and "WWW-Authenticate" not in response.headers:
        response.headers["WWW-Authenticate"] = challenge_for(code)
    return response


def _requested_path() -> str:
    query = request.query_string.decode("utf-8", "replace")
    return f"{request.path}?{query}" if query else request.path


def handle_api_error(error: APIError) -> Response:
    return error_response(
        error.status_code,
        error.message,
        errors=error.errors,
        headers=error.headers,
        code=error.code,
        extra=error.extra,
    )


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    headers: dict[str, str] = {}
    if status == 404:
        message = f"Route {_requested_path()} not found"
    elif status == 405:
        message = f"Method {request.method} not allowed on {request.path}"
        allowed = error.get_headers()
        headers = {name: value for name, value in allowed if name == "Allow"}
    elif status == 413:
        message = HTTP_MESSAGES[413].format(limit=current_app.config["MAX_CONTENT_LENGTH"])
    elif status == 429:
        seconds = _retry_after_seconds()
        message = HTTP_MESSAGES[429].format(seconds=seconds)
        headers = {"Retry-After": str(seconds)}
    elif status >= 500:
        message = "Something went wrong"
    else:
        message = HTTP_MESSAGES.get(status, error.name)
    code = CODE_BY_STATUS.get(status) or error.name.lower().replace(" ", "_").replace("'", "")
    return error_response(status, message, headers=headers, code=code)


def _retry_after_seconds() -> int:
    """Seconds until the breached rate limit's window frees a slot."""
    breached = limiter.current_limit
    if breached is None:
        return 60
    return max(1, math.ceil(breached.reset_at - time.time()))


def handle_dependency_down(error: Exception) -> Response:
    """Redis or PostgreSQL unreachable: fail closed with a retryable 503."""
    discard_session()
    log.warning("dependency unavailable: %s", type(error).__name__)
    return error_response(
        503, ServiceUnavailable.message, headers={"Retry-After": RETRY_AFTER_UNAVAILABLE}
    )


def handle_unexpected(error: Exception) -> Response:
    discard_session()
    # The route rule, not the path: a path can carry a reset token or a code.
    route = request.url_rule.rule if request.url_rule else "unmatched route"
    log.exception("unhandled error on %s %s", request.method, route)
    return error_response(500, "Something went wrong")


# SQLSTATE read_only_sql_transaction: a PostgreSQL that takes no writes (a standby, e.g.
# the old primary after a failover, or default_transaction_read_only), as Redis READONLY.
READ_ONLY_SQL_TRANSACTION = "25006"


def _is_connection_problem(error: sa_exc.DBAPIError) -> bool:
    return (
        bool(error.connection_invalidated)
        or isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)
        or getattr(error.orig, "pgcode", None) == READ_ONLY_SQL_TRANSACTION
    )


def handle_cluster_exception(error: redis_exc.RedisClusterException) -> Response:
    """redis-py's cluster client raises RedisClusterException, which is not a RedisError,
    when no node answers or the slots are not all covered (SlotNotCoveredError): the
    cluster is unavailable. Its two client-misuse subclasses stay 500s."""
    if isinstance(error, redis_exc.CrossSlotTransactionError | redis_exc.InvalidPipelineStack):
        return handle_unexpected(error)
    return handle_dependency_down(error)


def handle_redis_response_error(error: redis_exc.ResponseError) -> Response:
    """An error reply from a Redis that is up. MISCONF (a snapshotting Redis whose last
    save failed, a full disk: it refuses writes until a save works) has no class of its
    own in redis-py; it is Redis unavailable, like OOM. Any other error reply is a bug."""
    if str(error).startswith("MISCONF"):
        return handle_dependency_down(error)
    return handle_unexpected(error)


# Errors that always mean a dependency is unavailable: the API answers them with 503.
DEPENDENCY_DOWN: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    # Cluster and Sentinel failovers (Sentinel's MasterNotFoundError is a ConnectionError):
    # CLUSTERDOWN / MASTERDOWN while a slot has no master, TRYAGAIN during a resharding,
    # READONLY from a master demoted to replica.
    redis_exc.ClusterError,
    redis_exc.TryAgainError,
    redis_exc.ReadOnlyError,
    # A Redis that answers but takes no writes: maxmemory reached (noeviction).
    redis_exc.OutOfMemoryError,
    sa_exc.TimeoutError,  # no connection free in the pool in time
)


def is_dependency_down(error: BaseException) -> bool:
    """Would the API answer ``error`` with 503, a dependency unavailable? For work done
    outside a request (background jobs), which has no handler to ask."""
    if isinstance(error, DEPENDENCY_DOWN):
        return True
    if isinstance(error, redis_exc.ResponseError):
        return str(error).startswith("MISCONF")
    if isinstance(error, redis_exc.RedisClusterException):
        return not isinstance(
            error, redis_exc.CrossSlotTransactionError | redis_exc.InvalidPipelineStack
        )
    if isinstance(error, sa_exc.DBAPIError):
        return _is_connection_problem(error)
    return False


def handle_database_error(error: sa_exc.DBAPIError) -> Response:
    if _is_connection_problem(error):
        return handle_dependency_down(error)
    return handle_unexpected(error)


# Seconds a client should wait when every password-hashing slot is taken.
RETRY_AFTER_BUSY = "1"
HASHING_BUSY_MESSAGE = "Too many password checks in progress, please retry in a moment"


def handle_hashing_busy(error: HashingBusy) -> Response:
    """The bounded hashing queue is full: refuse now rather than hold a request thread."""
    discard_session()
    return error_response(
        503, HASHING_BUSY_MESSAGE, headers={"Retry-After": RETRY_AFTER_BUSY}, code="hashing_busy"
    )


def handle_too_large(error: RequestEntityTooLarge) -> Response:
    """413: drop a bounded rest of the body first, so the close is no TCP reset."""
    drain_request_body()
    return close_after(handle_http_exception(error))


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(APIError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    for unavailable in DEPENDENCY_DOWN:
        app.register_error_handler(unavailable, handle_dependency_down)
    # MISCONF (a Redis that cannot persist) is a ResponseError; no reachable cluster node
    # is a RedisClusterException; a lost PostgreSQL connection is a DBAPIError.
    app.register_error_handler(redis_exc.ResponseError, handle_redis_response_error)
    app.register_error_handler(redis_exc.RedisClusterException, handle_cluster_exception)
    app.register_error_handler(sa_exc.DBAPIError, handle_database_error)
    app.register_error_handler(HashingBusy, handle_hashing_busy)
    app.register_error_handler(RequestEntityTooLarge, handle_too_large)
    app.register_error_handler(Exception, handle_unexpected)
