"""JsonFormatter makes each line from a template per set of field names, and the access
line (every request's) written out: the text must be exactly what the JSON encoder gives."""

from __future__ import annotations

import datetime
import enum
import json
import logging
import sys
import uuid

import pytest

from authapi.logging_setup import AccessEntry, JsonFormatter, TextFormatter

CREATED = 1_764_000_000.25


class Scope(enum.StrEnum):
    LOCAL = "local"


class Level(enum.IntEnum):
    HIGH = 3


VALUES = [
    "plain",
    "",
    'quotes " and \\ backslash',
    "unicode é 漢字 \U0001f600, line\nbreaks\r\t, NUL \x00, U+2028 \u2028",
    "percent %s %d %% %(name)s",
    0,
    -17,
    10**30,
    True,
    False,
    None,
    0.1,
    1.0,
    1e-7,
    1e16,
    -0.0,
    float("nan"),
    float("inf"),
    float("-inf"),
    [1, "two", None],
    {"nested": {"deep": [True]}},
    datetime.datetime(2026, 12, 4, 10, 0, tzinfo=datetime.UTC),
    Scope.LOCAL,
    Level.HIGH,
]


def _encoded(level: str, logger: str, message: str, fields: dict, trailer=()) -> str:
    """The line as json.JSONEncoder(default=str) writes it (the formatter's contract)."""
    entry = {"ts": "2025-11-24T16:00:00.250Z", "level": level, "logger": logger}
    entry["message"] = message
    entry.update((key, value) for key, value in fields.items() if key not in entry)
    entry.update(trailer)
    return json.dumps(entry, default=str)


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_a_field_of_each_kind_is_written_as_the_encoder_writes_it(value):
    fields = {"request_id": "0123456789abcdef", "value": value, "after": 1}
    line = JsonFormatter().line(CREATED, "INFO", "authapi.access", "GET / 200", fields)
    assert line == _encoded("INFO", "authapi.access", "GET / 200", fields)


def test_the_access_line_is_the_encoders_and_reads_back():
    fields = {
        "request_id": "0123456789abcdef",
        "method": "GET",
        "path": "/api/users/m\u00e9",
        "route": "/api/users/me",
        "status": 200,
        "duration_ms": 0.35,
        "client_ip": "127.0.0.1",
        "user_id": None,
    }
    formatter = JsonFormatter()
    for _ in range(2):  # the second line comes from the remembered template
        line = formatter.line(CREATED, "INFO", "authapi.access", 'GET "/me" 200', fields)
        assert line == _encoded("INFO", "authapi.access", 'GET "/me" 200', fields)
    assert json.loads(line) == {
        "ts": "2025-11-24T16:00:00.250Z",
        "level": "INFO",
        "logger": "authapi.access",
        "message": 'GET "/me" 200',
        **fields,
    }


def test_fields_named_like_the_fixed_members_are_left_out():
    fields = {"level": "forged", "status": 200, "ts": "forged", "message": "forged"}
    line = JsonFormatter().line(CREATED, "INFO", "authapi.access", "real", fields)
    assert json.loads(line) == {
        "ts": "2025-11-24T16:00:00.250Z",
        "level": "INFO",
        "logger": "authapi.access",
        "message": "real",
        "status": 200,
    }


@pytest.mark.parametrize("name", ["%s", "%(x)s", 'a "quoted" name', "n\u00e4me"])
def test_a_field_name_that_needs_escaping_keeps_its_value(name):
    fields = {name: "value %s", "other": 2}
    line = JsonFormatter().line(CREATED, "INFO", "authapi.events", "m", fields)
    assert line == _encoded("INFO", "authapi.events", "m", fields)
    assert json.loads(line)[name] == "value %s"


def test_a_name_that_is_not_a_string_goes_through_the_encoder():
    fields = {1: "one", "two": 2}
    line = JsonFormatter().line(CREATED, "INFO", "authapi.events", "m", fields)
    assert json.loads(line)["1"] == "one"
    assert line == _encoded("INFO", "authapi.events", "m", fields)


def test_a_record_with_a_traceback_keeps_it_last():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.makeLogRecord(
            {"name": "authapi.errors", "levelno": logging.ERROR, "levelname": "ERROR"}
        )
        record.msg, record.created = "failed", CREATED
        record.fields = {"status": 500}
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert list(entry) == ["ts", "level", "logger", "message", "status", "exception"]
    assert "ValueError: boom" in entry["exception"]


ACCESS_ENTRIES = [
    AccessEntry(
        "0123456789abcdef", "GET", "/api/users/me", "/api/users/me", 200, 0.35, "127.0.0.1", None
    ),
    AccessEntry("x", "POST", '/a "b" \u00e9\u2028%s', "unmatched", 404, 12.0, None, "8d0f5a3e"),
    AccessEntry("x", "GET", "/", "/", 500, 1e-05, "::1", uuid.UUID(int=7)),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("formatter", [JsonFormatter, TextFormatter])
@pytest.mark.parametrize("entry", ACCESS_ENTRIES, ids=lambda entry: entry.path)
def test_the_access_line_is_the_line_its_fields_give(formatter, entry):
    written_out = formatter().access_line(CREATED, entry)
    assert written_out == formatter().line(
        CREATED, "INFO", "authapi.access", entry.message, entry._asdict()
    )
    if formatter is JsonFormatter:
        assert json.loads(written_out)["message"] == entry.message
