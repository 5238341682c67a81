"""A deadline on every wait for PostgreSQL on the app's connections (``DATABASE_TIMEOUT``).

``connect_timeout`` bounds only the handshake and ``statement_timeout`` is enforced by
the server itself, so neither helps when PostgreSQL stops answering on a connection the
pool already holds (the server frozen, a network path that drops packets): libpq waits
with no limit, the pre-ping first, one gunicorn thread per request, until no thread is
left for anything else. psycopg2 lets one callback do every wait instead of libpq (its
"green" mode); this one gives up after the deadline and psycopg2 closes the connection,
which SQLAlchemy sees as a disconnection: the request answers 503, and the pool opens
fresh connections once the server is back. A request waits out the deadline once: after
that it neither waits for PostgreSQL again nor connects to it (work on the side that
falls back when the database is down, such as the audit row of a logout, would each
wait the whole deadline again).

The callback is psycopg2's, one per process, so it serves every psycopg2 connection;
only those of an app's engine carry a deadline (their class says how long). Others,
such as ``flask deploy`` creating the database, wait as long as libpq would. In green
mode psycopg2 refuses COPY, which :func:`blocking_waits` allows for the command line.
"""

from __future__ import annotations

import functools
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg2
from flask import g, has_request_context
from psycopg2 import extensions
from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext

_EVENTS = {extensions.POLL_READ: select.POLLIN, extensions.POLL_WRITE: select.POLLOUT}
GAVE_UP_KEY = "authapi_database_gave_up"


class DatabaseTimeout(psycopg2.OperationalError):
    """PostgreSQL did not answer within DATABASE_TIMEOUT."""


class DeadlineConnection(extensions.connection):
    """A connection whose every wait (connecting, a query, a commit) lasts at most
    ``deadline`` seconds; subclassed per value, as the class is all psycopg2 lets the
    engine choose, and connecting already waits."""

    deadline: float | None = None


@functools.cache
def connection_class(seconds: float) -> type[DeadlineConnection]:
    return type("DeadlineConnection", (DeadlineConnection,), {"deadline": seconds})


def gave_up() -> bool:
    """Has PostgreSQL already not answered within the deadline during this request?"""
    return has_request_context() and bool(g.get(GAVE_UP_KEY))


def _give_up(seconds: float) -> DatabaseTimeout:
    if has_request_context():
        setattr(g, GAVE_UP_KEY, True)
    return DatabaseTimeout(f"PostgreSQL did not answer within {seconds:g} s")


def wait(connection: extensions.connection) -> None:
    """psycopg2's wait callback: poll until done, or raise once the connection's
    deadline (from the start of this wait; at once if this request has waited one out
    already) has passed."""
    seconds = getattr(connection, "deadline", None)
    deadline = None if seconds is None else time.monotonic() + (0 if gave_up() else seconds)
    while True:
        state = connection.poll()
        if state == extensions.POLL_OK:
            return
        if state not in _EVENTS:
            raise psycopg2.OperationalError(f"unexpected poll state {state}")
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise _give_up(seconds or 0)
        poller = select.poll()
        poller.register(connection.fileno(), _EVENTS[state])
        poller.poll(None if remaining is None else remaining * 1000)


def bound(engine: Engine, seconds: float) -> None:
    """Give the engine's PostgreSQL connections a deadline of ``seconds`` per wait."""
    extensions.set_wait_callback(wait)
    factory = connection_class(float(seconds))

    @event.listens_for(engine, "do_connect")
    def with_deadline(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
        if gave_up():
            raise _give_up(factory.deadline or 0)
        cparams["connection_factory"] = factory

    @event.listens_for(engine, "handle_error")
    def no_reconnect_after_a_silent_ping(context: ExceptionContext) -> None:
        """A pre-ping that waited out the deadline: PostgreSQL is not answering, so
        the checkout fails now. Taken as a disconnection, the pool would open a new
        connection at once and wait the deadline a second time (a first request 503
        after 6 s instead of 3); the connection is discarded all the same."""
        if context.is_pre_ping and isinstance(context.original_exception, DatabaseTimeout):
            context.is_disconnect = False


@contextmanager
def blocking_waits() -> Iterator[None]:
    """libpq's own waits for the block: for COPY, which green mode refuses. Process-wide,
    so only for single-threaded command-line work, never while serving requests."""
    callback = extensions.get_wait_callback()
    extensions.set_wait_callback(None)
    try:
        yield
    finally:
        extensions.set_wait_callback(callback)
