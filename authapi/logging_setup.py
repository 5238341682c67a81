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
import os
import sys
import threading
from datetime import UTC, datetime
from typing import Any, TextIO

from flask import has_request_context, request
from flask.logging import default_handler

from authapi.response_headers import REQUEST_ID_KEY

LOGGER_NAME = "authapi"
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_RESERVED = ("ts", "level", "logger", "message")


# Lines are written on every request: one encoder, not one per ``json.dumps`` call.
_encode = json.JSONEncoder(default=str).encode


def _timestamp(record: logging.LogRecord) -> str:
    """``2025-01-31T12:00:00.123Z`` (UTC, milliseconds)."""
    seconds = int(record.created)
    return f"{_second(seconds)}.{int((record.created - seconds) * 1000):03d}Z"


@functools.lru_cache(maxsize=4)
def _second(seconds: int) -> str:
    """The timestamp up to the second: the same for every line of that second."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's structured fields, plus the request id when logged inside a request."""
    fields = dict(getattr(record, "fields", None) or {})
    if "request_id" not in fields and has_request_context():
        request_id = request.environ.get(REQUEST_ID_KEY)
        if request_id:
            fields["request_id"] = request_id
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record_fields(record).items():
            if key not in _RESERVED:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _encode(entry)


def _text_value(value: Any) -> str:
    text = "-" if value is None else str(value)
    if text == "" or any(ch.isspace() or ch in '"=' or not ch.isprintable() for ch in text):
        return json.dumps(text)  # quoted and escaped: a value can never forge a line
    return text


class TextFormatter(logging.Formatter):
    """``2025-01-31T12:00:00.123Z INFO authapi.access: message key=value ...``"""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        pairs = " ".join(
            f"{key}={_text_value(value)}" for key, value in record_fields(record).items()
        )
        if pairs:
            line = f"{line} {pairs}"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line


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
    """

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)
        self.flush_seconds = 0.0
        self._waiting: list[str] = []
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
            self._write_waiting()
        self._wake.set()  # the flusher waits with the new interval, or ends

    def emit(self, record: logging.LogRecord) -> None:
        if self.flush_seconds <= 0:
            super().emit(record)
            return
        try:
            line = self.format(record) + self.terminator
        except Exception:  # as StreamHandler.emit: a bad record must not break the caller
            self.handleError(record)
            return
        # Called under the handler's lock (Handler.handle).
        if self._flusher_pid != os.getpid():
            self._start_flusher()
        self._waiting.append(line)
        if record.levelno >= logging.WARNING:
            self._write_waiting()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_waiting()
            super().flush()

    def close(self) -> None:
        """Write what waits and stop the flusher (``logging.shutdown`` calls it at exit)."""
        self.set_flush_seconds(0)
        super().close()

    def _write_waiting(self) -> None:
        if self._waiting:
            text, self._waiting = "".join(self._waiting), []
            stream = self.stream
            stream.write(text)
            stream.flush()

    def _start_flusher(self) -> None:
        if self._flusher_pid:  # forked: the parent writes the lines it was holding
            self._waiting = []
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
