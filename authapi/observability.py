"""Watching the app from outside: request ids, one access log line per request, a log
line and a counter per auth event, and the /metrics endpoint.

Views, the guard and the services know nothing about this module: requests are seen
through Flask's hooks (``request_started``, ``after_request``), auth events through
the signals of :mod:`authapi.events`. Nothing logged here ever holds a password, a
token or a cookie value: the access line has the path without its query string (and
URL parts named like a token or code redacted), event lines keep only the fields
listed in ``EVENT_FIELDS``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from blinker import NamedSignal
from flask import Flask, Request, Response, current_app, g, has_request_context, request
from werkzeug.exceptions import HTTPException

from authapi import events, metrics
from authapi.configuration import ConfigurationError
from authapi.logging_setup import (
    ACCESS_MESSAGE,
    LOG_FORMATS,
    LOG_LEVELS,
    AccessEntry,
    configure_logging,
    sole_handler,
)
from authapi.response_headers import STARTED_KEY, request_id_for

STATE_KEY = "authapi.observability"
MAX_LOGGED_PATH = 512
# URL variables whose values are credentials (single-use codes, reset tokens...).
SENSITIVE_URL_VARIABLE = re.compile(r"token|code|secret|password", re.IGNORECASE)
# The only signal arguments that reach a log line; anything else a signal carries is dropped.
EVENT_FIELDS = ("scope", "ended", "generation", "reason", "by", "old_role", "new_role")
# token_refreshed: rotated, grace (a concurrent refresh) or recovered (a lost answer).
EVENT_FIELDS += ("outcome",)
EVENT_FIELDS += ("factor", "via")  # second factors (authapi.mfa): never a code or secret
WARNING_EVENTS = frozenset({events.login_failed, events.refresh_reuse_detected})
# Events that authenticate the caller: the access line then names their account.
AUTHENTICATING_EVENTS = frozenset({events.login_succeeded, events.token_refreshed})

access_log = logging.getLogger("authapi.access")
event_log = logging.getLogger("authapi.events")


@dataclass(frozen=True)
class _State:
    metrics_enabled: bool


def init_app(app: Flask) -> None:
    """Configure the log handler, hook into requests and auth events, add /metrics."""
    level, fmt = app.config["LOG_LEVEL"], app.config["LOG_FORMAT"]  # typed by the settings step
    if level not in LOG_LEVELS:
        raise ConfigurationError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
    if fmt not in LOG_FORMATS:
        raise ConfigurationError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    metrics_enabled = app.config["METRICS_ENABLED"]
    problem = metrics.check_multiprocess_dir() if metrics_enabled else None
    if problem:
        raise ConfigurationError(problem)
    flush_seconds = app.config["LOG_FLUSH_SECONDS"]
    if flush_seconds < 0:
        raise ConfigurationError("LOG_FLUSH_SECONDS must be 0 (write each line) or more")
    configure_logging(level, fmt, flush_seconds)

    app.extensions[STATE_KEY] = _State(metrics_enabled=metrics_enabled)
    app.after_request(_request_finisher(metrics_enabled))
    for signal, receiver in _EVENT_RECEIVERS:
        signal.connect(receiver, weak=False)  # the same receivers for every app: no duplicates
    if metrics_enabled:
        app.add_url_rule("/metrics", endpoint="metrics", view_func=metrics_view, methods=["GET"])


def request_id() -> str:
    """This request's id (see :mod:`authapi.response_headers`, which sends it back)."""
    return request_id_for(request.environ)


def _printable(text: str) -> str:
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _unmatched_url_variables(req: Request) -> dict[str, Any]:
    """The URL variables of a request no rule took: when only the method was wrong (a
    GET on a PATCH-only ``/resetpassword/<token>`` is a 405 whose path still holds the
    token)."""
    methods = getattr(req.routing_exception, "valid_methods", None)
    adapter = current_app.create_url_adapter(req)
    if not methods or adapter is None:
        return {}
    try:
        return adapter.match(method=methods[0])[1]
    except HTTPException:
        return {}


def loggable_path(req: Request) -> str:
    """The path without the query string, credential-like URL variables redacted."""
    path = req.path
    variables = req.view_args if req.url_rule is not None else _unmatched_url_variables(req)
    for name, value in (variables or {}).items():
        if SENSITIVE_URL_VARIABLE.search(name) and str(value):
            path = path.replace(str(value), "[redacted]")
    if not path.isprintable():
        path = _printable(path)
    return path if len(path) <= MAX_LOGGED_PATH else path[:MAX_LOGGED_PATH] + "..."


def _acting_user_id() -> str | None:
    found = vars(g._get_current_object())  # type: ignore[attr-defined]  # one proxy lookup
    current = found.get("current_user")
    return current.id if current is not None else found.get("event_user_id")


def _request_finisher(metrics_enabled: bool) -> Callable[[Response], Response]:
    """The after-request hook of an app: one histogram observation (with metrics on)
    and one access log line per request.

    Every request pays for this: the request object is taken out of its proxy once,
    the app's settings are read when the hook is made, not per request, and the line
    is built only if the access logger would write it.
    """

    def finish_request(response: Response) -> Response:
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        environ = req.environ
        started = environ.get(STARTED_KEY)
        duration = time.perf_counter() - started if started is not None else 0.0
        rule = req.url_rule
        route = rule.rule if rule is not None else metrics.UNMATCHED_ROUTE
        status = response.status_code
        if metrics_enabled:
            metrics.observe_request(req.method, route, status, duration)
        if access_log.isEnabledFor(logging.INFO):
            _log_access(req, route, status, duration)
        return response

    return finish_request


def _log_access(req: Request, route: str, status: int, duration: float) -> None:
    method = req.method
    entry = AccessEntry(
        request_id_for(req.environ),
        method if method.isprintable() else _printable(method),
        loggable_path(req),
        route,
        status,
        round(duration * 1000, 2),
        req.remote_addr,
        _acting_user_id(),
    )
    handler = sole_handler(access_log)
    if handler is None or not handler.append_access_line(entry):
        args, fields = entry.message_args, entry._asdict()
        _log_record(access_log, logging.INFO, ACCESS_MESSAGE, args, fields)


def _log(
    logger: logging.Logger, level: int, message: str, args: tuple, fields: dict[str, Any]
) -> None:
    """``logger.log(level, message, *args, extra={"fields": fields})``, cheaper.

    When the app's own handler is the only one a record would reach (as under
    gunicorn), the line is queued from its parts (``StderrHandler.append_line``: the
    same line, no LogRecord). Otherwise a record is made as ``_log_record`` makes it
    (docs/performance.md).
    """
    if not logger.isEnabledFor(level):
        return
    handler = sole_handler(logger)
    if handler is None or not handler.append_line(level, logger.name, message % args, fields):
        _log_record(logger, level, message, args, fields)


def _log_record(
    logger: logging.Logger, level: int, message: str, args: tuple, fields: dict[str, Any]
) -> None:
    """A record made without looking up the calling file and line, which no line of ours
    shows (the stack walk was about a third of what an access line cost); filters and
    handlers apply as usual."""
    extra = {"fields": fields}
    record = logger.makeRecord(logger.name, level, "", 0, message, args, None, extra=extra)
    logger.handle(record)


def metrics_view() -> Response:
    metrics.require_token(current_app.config["METRICS_TOKEN"], request.headers.get("Authorization"))
    body, content_type = metrics.render(request.headers.get("Accept"))
    return Response(body, content_type=content_type)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        value = value.value
    if value is None or isinstance(value, bool | int | float):
        return value
    return _printable(str(value))[:100]


def _count(signal: NamedSignal, data: dict[str, Any]) -> None:
    if signal is events.login_succeeded:
        metrics.logins.labels(outcome="success").inc()
    elif signal is events.login_failed:
        metrics.logins.labels(outcome="failure").inc()
    elif signal is events.token_refreshed:
        metrics.token_refreshes.inc()
    elif signal is events.refresh_reuse_detected:
        metrics.refresh_reuse_detected.inc()
    elif signal is events.logged_out:
        metrics.logouts.labels(scope=metrics.scope_label(data.get("scope"))).inc()


def _event_receiver(signal: NamedSignal) -> Callable[..., None]:
    name = signal.name.replace("-", "_")
    level = logging.WARNING if signal in WARNING_EVENTS else logging.INFO

    def receive(sender: Any, **data: Any) -> None:
        state = getattr(sender, "extensions", {}).get(STATE_KEY)
        if state is None:  # an app built without observability
            return
        user_id = data.get("user_id")
        fields: dict[str, Any] = {"event": name, "user_id": user_id}
        if has_request_context():
            fields["client_ip"] = request.remote_addr
            fields["request_id"] = request_id()
            if user_id and signal in AUTHENTICATING_EVENTS:
                g.event_user_id = user_id
        for key in EVENT_FIELDS:
            if key in data:
                fields[key] = _plain(data[key])
        _log(event_log, level, "auth event %s", (name,), fields)
        if state.metrics_enabled:
            _count(signal, data)

    return receive


# Every signal authapi.events defines, each with its own receiver, made once per process.
_EVENT_RECEIVERS = [
    (signal, _event_receiver(signal))
    for signal in vars(events).values()
    if isinstance(signal, NamedSignal)
]
