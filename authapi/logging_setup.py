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
import sys
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
    last-resort handler does), so a replaced stderr (pytest's capture) is never stale."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr


def configure_logging(level: str, fmt: str) -> logging.Logger:
    """Give the ``authapi`` logger its one stderr handler, format and level.

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
    logger.setLevel(level)
    return logger
