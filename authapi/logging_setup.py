"""Log output: one handler on the ``authapi`` logger, writing to stderr, in JSON lines
(production) or readable text.

Only the ``authapi`` logger (and its children: ``authapi.access``, ``authapi.auth``,
``authapi.errors``...) is configured; the root logger is left alone, so gunicorn's own
logging, pytest's ``caplog`` and an embedding application keep working. Records still
propagate to the root logger, which has no handler under gunicorn.

A record can carry structured fields with ``extra={"fields": {...}}``: the JSON
formatter puts them at the top level, the text formatter appends ``key=value`` pairs.
Inside a request every line also gets the request id.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, TextIO

from flask import has_request_context, request
from flask.logging import default_handler

from authapi.response_headers import REQUEST_ID_KEY

LOGGER_NAME = "authapi"
ACCESS_LOGGER = "authapi.access"
ACCESS_MESSAGE = "%s %s %s %sms"  # method, path, status, duration in ms
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_RESERVED = ("ts", "level", "logger", "message")


# Lines are written on every request: one encoder, not one per ``json.dumps`` call.
_encode = json.JSONEncoder(default=str).encode
# The encoder's own escaping of a string (ensure_ascii), in C.
_quote = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def _timestamp(created: float) -> str:
    """``2025-01-31T12:00:00.123Z`` (UTC, milliseconds)."""
    seconds = int(created)
    return f"{_second(seconds)}.{int((created - seconds) * 1000):03d}Z"


@functools.lru_cache(maxsize=4)
def _second(seconds: int) -> str:
    """The timestamp up to the second: the same for every line of that second."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def record_fields(record: logging.LogRecord) -> Mapping[str, Any]:
    """The record's structured fields, plus the request id when logged inside a request."""
    return with_request_id(getattr(record, "fields", None) or {})


def with_request_id(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    """``fields``, plus the request id when logged inside a request."""
    if "request_id" in fields:  # the access line's own
        return fields
    merged = dict(fields)
    if has_request_context():
        request_id = request.environ.get(REQUEST_ID_KEY)
        if request_id:
            merged["request_id"] = request_id
    return merged


class AccessEntry(NamedTuple):
    """What the access line of a request says (``ACCESS_LOGGER``, INFO)."""

    request_id: str
    method: str
    path: str
    route: str
    status: int
    duration_ms: float
    client_ip: str | None
    user_id: str | None

    @property
    def message_args(self) -> tuple[str, str, int, float]:
        """The arguments of ``ACCESS_MESSAGE`` (a LogRecord's ``args``)."""
        return self.method, self.path, self.status, self.duration_ms

    @property
    def message(self) -> str:
        return ACCESS_MESSAGE % self.message_args


class LineFormatter(logging.Formatter):
    """A formatter whose line can also be made from its parts, with no LogRecord
    (``StderrHandler.append_line``): both ways give the same line."""

    def format(self, record: logging.LogRecord) -> str:
        trailer = []
        if record.exc_info:
            trailer.append(("exception", self.formatException(record.exc_info)))
        if record.stack_info:
            trailer.append(("stack", self.formatStack(record.stack_info)))
        return self.line(
            record.created,
            record.levelname,
            record.name,
            record.getMessage(),
            record_fields(record),
            trailer,
        )

    def line(
        self,
        created: float,
        level: str,
        logger: str,
        message: str,
        fields: Mapping[str, Any],
        trailer: Sequence[tuple[str, str]] = (),
    ) -> str:
        """The line; ``trailer``: (name, text) of a traceback or stack, if any."""
        raise NotImplementedError

    def access_line(self, created: float, entry: AccessEntry) -> str:
        """The access line: what ``line`` makes of the entry."""
        return self.line(created, "INFO", ACCESS_LOGGER, entry.message, entry._asdict())


class JsonFormatter(LineFormatter):
    """One JSON object per line: ts, level, logger, message, then the fields.

    The line is the text ``json.JSONEncoder(default=str).encode`` gives for that
    object, made from a template per set of field names (the access line's are always
    the same) and each value's own JSON: about half the CPU of encoding a dict, which
    every request pays for its access line (docs/performance.md). A line with a
    traceback or stack, or a field name that is not a string, goes through the encoder.
    """

    def line(
        self,
        created: float,
        level: str,
        logger: str,
        message: str,
        fields: Mapping[str, Any],
        trailer: Sequence[tuple[str, str]] = (),
    ) -> str:
        template = None if trailer else _fields_template(tuple(fields))
        if template is None:
            return self._encoded_line(created, level, logger, message, fields, trailer)
        text, kept = template
        values = fields.values() if kept is None else map(fields.get, kept)
        encoded = tuple([_json(value) for value in values])
        return (
            f'{{"ts": "{_timestamp(created)}", "level": {_quote(level)}, '
            f'"logger": {_quote(logger)}, "message": {_quote(message)}{text % encoded}'
        )

    def access_line(self, created: float, entry: AccessEntry) -> str:
        """What ``line`` makes of the entry, written out: every request writes one, and
        the template and a value's type lookup were half of what it cost
        (docs/performance.md)."""
        request_id, method, path, route, status, duration_ms, client_ip, user_id = entry
        return (
            f'{{"ts": "{_timestamp(created)}", "level": "INFO", "logger": "{ACCESS_LOGGER}", '
            f'"message": {_quote(entry.message)}, "request_id": {_quote(request_id)}, '
            f'"method": {_quote(method)}, "path": {_quote(path)}, "route": {_quote(route)}, '
            f'"status": {_json(status)}, "duration_ms": {_json(duration_ms)}, '
            f'"client_ip": {_quote(client_ip) if type(client_ip) is str else _json(client_ip)}, '
            f'"user_id": {_quote(user_id) if type(user_id) is str else _json(user_id)}}}'
        )

    @staticmethod
    def _encoded_line(
        created: float,
        level: str,
        logger: str,
        message: str,
        fields: Mapping[str, Any],
        trailer: Sequence[tuple[str, str]],
    ) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(created),
            "level": level,
            "logger": logger,
            "message": message,
        }
        for key, value in fields.items():
            if key not in _RESERVED:
                entry[key] = value
        entry.update(trailer)
        return _encode(entry)


@functools.lru_cache(maxsize=256)
def _fields_template(names: tuple[Any, ...]) -> tuple[str, tuple[str, ...] | None] | None:
    """The end of a line whose fields are ``names``, a ``%s`` for each value, and the
    names whose values go there (None: all of them, in order); None if a name is not a
    string (the encoder then decides)."""
    if not all(type(name) is str for name in names):
        return None
    kept = tuple(name for name in names if name not in _RESERVED)
    text = "".join(f", {_quote(name).replace('%', '%%')}: %s" for name in kept) + "}"
    return text, (None if kept == names else kept)


def _float_json(value: float) -> str:
    """A float as the encoder writes it (``NaN`` and ``Infinity`` are not repr's)."""
    return float.__repr__(value) if math.isfinite(value) else _encode(value)


# A value's JSON by its exact type, for the kinds a field holds (no Python call for
# text, integers, booleans and None); any other type goes through the encoder.
_VALUE_JSON: dict[type, Callable[[Any], str]] = {
    str: _quote,
    int: int.__repr__,
    float: _float_json,
    bool: {True: "true", False: "false"}.__getitem__,
    type(None): {None: "null"}.__getitem__,
}


def _json(value: Any) -> str:
    """A value as the encoder writes it inside a line."""
    return _VALUE_JSON.get(type(value), _encode)(value)


def _text_value(value: Any) -> str:
    text = "-" if value is None else str(value)
    if text == "" or any(ch.isspace() or ch in '"=' or not ch.isprintable() for ch in text):
        return json.dumps(text)  # quoted and escaped: a value can never forge a line
    return text


class TextFormatter(LineFormatter):
    """``2025-01-31T12:00:00.123Z INFO authapi.access: message key=value ...``"""

    def line(
        self,
        created: float,
        level: str,
        logger: str,
        message: str,
        fields: Mapping[str, Any],
        trailer: Sequence[tuple[str, str]] = (),
    ) -> str:
        line = f"{_timestamp(created)} {level} {logger}: {message}"
        pairs = " ".join(f"{key}={_text_value(value)}" for key, value in fields.items())
        if pairs:
            line = f"{line} {pairs}"
        for _, text in trailer:
            line = f"{line}\n{text}"
        return line


def sole_handler(logger: logging.Logger) -> StderrHandler | None:
    """The StderrHandler that alone would see a record of ``logger``, as
    ``Logger.handle`` goes: none when ``logger`` itself filters or is disabled, or when
    another handler on the way up (an operator's, pytest's ``caplog`` on the root
    logger) must get a real record."""
    if logger.filters or logger.disabled:
        return None
    found = None
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            if found is not None or not isinstance(handler, StderrHandler):
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    return found


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record (as the stdlib's
    last-resort handler does), so a replaced stderr (pytest's capture) is never stale.

    With ``flush_seconds`` > 0 (``LOG_FLUSH_SECONDS``), lines below WARNING are kept in
    memory and written together by a background thread at that interval, instead of one
    write to the pipe or file per line: under load, one system call for many access
    lines instead of one per request (docs/performance.md). A WARNING or worse writes
    at once, after the lines waiting before it, so the order is kept and an error is
    never held back. At exit (``logging.shutdown``) what waits is written; a killed
    process loses at most ``flush_seconds`` of info lines.

    A line that waits takes no lock: it is formatted by the thread that logs it and
    appended to a deque (thread-safe). Under the handler's lock, which ``Handler.handle``
    takes for every record, a worker's request threads queued behind each other and
    the GIL on every access line (docs/performance.md). The flusher writes outside that
    lock too: a reader that falls behind (a full pipe to a log collector) blocks the
    flusher, not the threads that log. Lines then wait in memory, up to ``MAX_WAITING``;
    past that, a thread that logs writes them itself and waits for the reader, as
    without batching.
    """

    MAX_WAITING = 10_000  # lines (a few MB): what a stalled reader may leave in memory

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)
        self.flush_seconds = 0.0
        self._waiting: deque[str] = deque()
        # Held for each write to the stream, and only ever taken while holding self.lock:
        # writes keep the order in which their lines were taken, the two locks cannot
        # deadlock, and the flusher lets go of self.lock before it writes.
        self._write_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._flusher_pid = 0  # the process the flusher runs in (a forked child: none)
        self._wake = threading.Event()

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr

    def set_flush_seconds(self, seconds: float) -> None:
        """0: every line written at once (what waits is written now)."""
        with self.lock:  # type: ignore[union-attr]
            self.flush_seconds = seconds
        self.flush()
        self._wake.set()  # the flusher waits with the new interval, or ends

    def handle(self, record: logging.LogRecord) -> logging.LogRecord | bool:
        """``Handler.handle``, except that a line that waits takes no lock."""
        if (
            self.flush_seconds <= 0
            or record.levelno >= logging.WARNING
            or self._flusher_pid != os.getpid()
            or len(self._waiting) >= self.MAX_WAITING
        ):
            return super().handle(record)  # filters, then emit() under the lock
        filtered = self.filter(record)
        if filtered:
            try:
                self._waiting.append(self.format(record) + self.terminator)
            except Exception:  # as StreamHandler.emit: a bad record must not break the caller
                self.handleError(record)
        return filtered

    def append_line(self, level: int, logger: str, message: str, fields: Mapping[str, Any]) -> bool:
        """Queue the line a record below WARNING would give, made from its parts with no
        LogRecord: for the access line, which every request writes, the record, the
        logger's handler lookup and the formatter's reading of the record were about
        two thirds of its cost (docs/performance.md). Only for a caller that checked
        ``sole_handler``; False when the line must go the usual way (not batched, a
        filter on this handler, another formatter...): the caller then logs a record.
        """
        formatter = self._formatter_for_waiting_line(level)
        if formatter is None:
            return False
        line = formatter.line(
            time.time(), logging.getLevelName(level), logger, message, with_request_id(fields)
        )
        self._waiting.append(line + self.terminator)
        return True

    def append_access_line(self, entry: AccessEntry) -> bool:
        """``append_line`` for the access line (``LineFormatter.access_line``)."""
        formatter = self._formatter_for_waiting_line(logging.INFO)
        if formatter is None:
            return False
        self._waiting.append(formatter.access_line(time.time(), entry) + self.terminator)
        return True

    def _formatter_for_waiting_line(self, level: int) -> LineFormatter | None:
        """The formatter, if a line of ``level`` made from its parts may wait here."""
        formatter = self.formatter
        if (
            level >= logging.WARNING
            or level < self.level
            or self.filters
            or not isinstance(formatter, LineFormatter)
            or self.flush_seconds <= 0
            or self._flusher_pid != os.getpid()
            or len(self._waiting) >= self.MAX_WAITING
        ):
            return None
        return formatter

    def emit(self, record: logging.LogRecord) -> None:
        # Called under the handler's lock (Handler.handle).
        try:
            line = self.format(record) + self.terminator
        except Exception:  # as StreamHandler.emit
            self.handleError(record)
            return
        if self.flush_seconds > 0 and self._flusher_pid != os.getpid():
            self._start_flusher()
        self._waiting.append(line)
        if (
            self.flush_seconds <= 0
            or record.levelno >= logging.WARNING
            or len(self._waiting) >= self.MAX_WAITING
        ):
            try:
                with self._write_lock:  # after a write in progress, if any
                    self._write(self._take_waiting())
            except RecursionError:  # as StreamHandler.emit
                raise
            except Exception:
                self.handleError(record)

    def flush(self) -> None:
        """Write what waits; the handler's lock is held only while the lines are taken."""
        with self.lock:  # type: ignore[union-attr]
            text = self._take_waiting()
            self._write_lock.acquire()  # after a write in progress, if any
        try:
            self._write(text)
        finally:
            self._write_lock.release()

    def _at_fork_reinit(self) -> None:
        """In a forked child (logging calls it): a write the parent's flusher had in
        progress at the fork must not leave the child's lock held forever."""
        super()._at_fork_reinit()
        self._write_lock = threading.Lock()
        self._waiting = deque()  # the parent writes the lines it was holding

    def close(self) -> None:
        """Write what waits and stop the flusher (``logging.shutdown`` calls it at exit)."""
        self.set_flush_seconds(0)
        super().close()

    def _take_waiting(self) -> str:
        """The lines that wait, in order, as one text; lines appended meanwhile (by
        threads that take no lock) stay for the next write."""
        waiting, lines = self._waiting, []
        for _ in range(len(waiting)):
            lines.append(waiting.popleft())
        return "".join(lines)

    def _write(self, text: str) -> None:
        if text:
            stream = self.stream
            stream.write(text)
            stream.flush()

    def _start_flusher(self) -> None:
        self._flusher_pid = os.getpid()
        self._wake.clear()  # a wake-up meant for an earlier flusher
        self._flusher = threading.Thread(target=self._flush_forever, name="log-flusher")
        self._flusher.daemon = True
        self._flusher.start()

    def _flush_forever(self) -> None:
        pid = os.getpid()
        while self.flush_seconds > 0 and self._flusher_pid == pid:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except (OSError, ValueError):  # a closed or broken stream: keep the process alive
                continue
        with self.lock:  # type: ignore[union-attr]
            if self._flusher_pid == pid:
                self._flusher_pid = 0  # the next buffered line starts a new one


def configure_logging(level: str, fmt: str, flush_seconds: float = 0.0) -> logging.Logger:
    """Give the ``authapi`` logger its one stderr handler, format, level and flushing.

    The logger is process-wide: the last app built decides (one app per process in
    production). Flask's default handler is removed so lines are not written twice.
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.removeHandler(default_handler)
    handler = next((h for h in logger.handlers if isinstance(h, StderrHandler)), None)
    if handler is None:
        handler = StderrHandler()
        logger.addHandler(handler)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.set_flush_seconds(flush_seconds)
    logger.setLevel(level)
    return logger
