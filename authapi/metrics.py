"""Prometheus metrics: what is measured, and the text served at GET /metrics.

The metric objects are process-wide (prometheus_client keeps them in its default
registry), so every app built in a process shares them: tests assert deltas.

Under gunicorn each worker is its own process. With ``PROMETHEUS_MULTIPROC_DIR``
set (to an empty directory, before the workers start) every worker writes its
values there and /metrics adds up all of them (prometheus_client's multiprocess
mode). prometheus_client reads that variable itself when it is imported, so it is an
environment variable only, never app configuration.
"""

from __future__ import annotations

import hmac
import os
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder

from authapi.errors import Unauthorized, bearer_challenge
from authapi.private_dir import UnsafeDirectory, check_private_dir

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "unmatched"
METRICS_REALM = "metrics"  # the realm of the METRICS_TOKEN challenge
# Anything else a client invents ("FOO /") is counted as "other": bounded label values.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LOGOUT_SCOPES = ("local", "others", "global", "session", "replaced")

http_request_duration = Histogram(
    "authapi_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route (the URL rule) and status.",
    ["method", "route", "status"],
)
logins = Counter("authapi_logins", "Login attempts by outcome (success or failure).", ["outcome"])
token_refreshes = Counter(
    "authapi_token_refreshes",
    "Refreshes answered with new tokens: rotations, answers within the grace window, and "
    "answers to a client that lost a rotation's answer.",
)
refresh_reuse_detected = Counter(
    "authapi_refresh_reuse_detected",
    "Superseded refresh tokens replayed after the grace window (the session is revoked).",
)
logouts = Counter(
    "authapi_logouts", "Logouts by scope (local, others, global, session).", ["scope"]
)

# Series that exist from the start at 0, so rate() and alerts see them before any event.
for _outcome in ("success", "failure"):
    logins.labels(outcome=_outcome)
for _scope in LOGOUT_SCOPES:
    logouts.labels(scope=_scope)


# The histogram's children by label values: ``labels()`` checks and locks on every call,
# a dict lookup does not. Bounded like the labels themselves (methods x routes x statuses).
_request_series: dict[tuple[str, str, int], Any] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """One observation of ``http_request_duration``."""
    key = (method_label(method), route, status)
    series = _request_series.get(key)
    if series is None:
        series = http_request_duration.labels(method=key[0], route=route, status=str(status))
        _request_series[key] = series
    series.observe(seconds)


def method_label(method: str) -> str:
    return method if method in KNOWN_METHODS else "other"


def scope_label(scope: object) -> str:
    return scope if isinstance(scope, str) and scope in LOGOUT_SCOPES else "other"


def multiprocess_dir() -> str | None:
    """The directory shared by gunicorn's workers, or None in single-process mode."""
    return os.environ.get(MULTIPROC_ENV)


def check_multiprocess_dir() -> str | None:
    """A problem with PROMETHEUS_MULTIPROC_DIR worth refusing to start for, or None."""
    path = multiprocess_dir()
    if path is not None and not os.path.isdir(path):
        return (
            f"{MULTIPROC_ENV} must name an existing directory (got {path!r}); "
            "unset it for a single process"
        )
    if path is not None:
        try:
            check_private_dir(path)
        except UnsafeDirectory as error:
            return f"{MULTIPROC_ENV}: {error}"
    return None


def require_token(expected: str, authorization: str | None) -> None:
    """With METRICS_TOKEN set, a scrape must send it as a Bearer token (401 otherwise)."""
    if not expected:
        return
    scheme, _, given = (authorization or "").strip().partition(" ")
    sent = scheme.lower() == "bearer"
    if not sent or not hmac.compare_digest(
        given.strip().encode("utf-8", "replace"), expected.encode("utf-8")
    ):
        challenge = bearer_challenge(METRICS_REALM, error="invalid_token" if sent else None)
        raise Unauthorized(
            "A valid metrics token is required",
            code="metrics_token_required",
            headers={"WWW-Authenticate": challenge},
        )


def render(accept: str | None) -> tuple[bytes, str]:
    """The exposition text (or OpenMetrics if the scraper asks) and its content type."""
    if multiprocess_dir() is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type
