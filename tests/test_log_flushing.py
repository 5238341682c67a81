"""LOG_FLUSH_SECONDS: info lines are written together by a background thread; a
WARNING or worse is written at once, after the lines waiting before it."""

from __future__ import annotations

import logging
import re
import sys
import threading

import pytest
from flask import request

from authapi.logging_setup import (
    ACCESS_LOGGER,
    LOGGER_NAME,
    AccessEntry,
    JsonFormatter,
    StderrHandler,
    TextFormatter,
    sole_handler,
)
from authapi.response_headers import REQUEST_ID_KEY
from tests.helpers import HANG

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
# Long enough that the flusher never writes by itself while a test looks.
NEVER = 3600.0


class Written:
    """What reached stderr so far (pytest's capsys; the handler writes to sys.stderr)."""

    def __init__(self, capsys) -> None:
        self.capsys = capsys
        self.text = ""

    def getvalue(self) -> str:
        self.text += self.capsys.readouterr().err
        return self.text


@pytest.fixture
def stream(capsys) -> Written:
    return Written(capsys)


@pytest.fixture
def handler():
    made = StderrHandler()
    made.setFormatter(TextFormatter())
    yield made
    made.close()


def _record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("authapi.test", level, __file__, 1, message, (), None)


def _messages(text: str) -> list[str]:
    return [line.split(": ", 1)[1] for line in text.splitlines()]


def test_info_lines_wait_and_a_warning_writes_them_first_in_order(handler, stream):
    handler.set_flush_seconds(NEVER)
    handler.handle(_record(logging.INFO, "first"))
    handler.handle(_record(logging.INFO, "second"))
    assert stream.getvalue() == ""
    handler.handle(_record(logging.WARNING, "third"))
    assert _messages(stream.getvalue()) == ["first", "second", "third"]
    handler.handle(_record(logging.INFO, "fourth"))
    assert _messages(stream.getvalue()) == ["first", "second", "third"]
    handler.flush()
    assert _messages(stream.getvalue()) == ["first", "second", "third", "fourth"]


def test_the_flusher_writes_waiting_lines_and_stops_when_switched_off(handler, stream):
    handler.set_flush_seconds(NEVER)
    handler.handle(_record(logging.INFO, "waiting"))
    flusher = handler._flusher
    assert flusher is not None and flusher.is_alive()
    handler.set_flush_seconds(0)  # writes what waits, wakes the flusher, which ends
    assert _messages(stream.getvalue()) == ["waiting"]
    flusher.join(HANG)
    assert not flusher.is_alive()
    handler.handle(_record(logging.INFO, "at once"))
    assert _messages(stream.getvalue()) == ["waiting", "at once"]


def test_the_flusher_writes_on_its_own(handler, stream):
    handler.set_flush_seconds(0.01)
    handler.handle(_record(logging.INFO, "soon"))
    flusher = handler._flusher
    handler.set_flush_seconds(0)
    flusher.join(HANG)
    assert _messages(stream.getvalue()) == ["soon"]


def test_closing_writes_what_waits(stream):
    closing = StderrHandler()
    closing.setFormatter(TextFormatter())
    closing.set_flush_seconds(NEVER)
    closing.handle(_record(logging.INFO, "last words"))
    closing.close()
    assert _messages(stream.getvalue()) == ["last words"]


def test_the_app_setting_buffers_access_lines(make_app, stream):
    app = make_app(LOG_FLUSH_SECONDS=NEVER, LOG_FORMAT="text")
    app_handler = next(
        h for h in logging.getLogger(LOGGER_NAME).handlers if isinstance(h, StderrHandler)
    )
    try:
        assert app.test_client().get("/api/healthChecker").status_code == 200
        assert "GET /api/healthChecker 200" not in stream.getvalue()
        app_handler.flush()
        assert "GET /api/healthChecker 200" in stream.getvalue()
    finally:
        make_app(LOG_FLUSH_SECONDS=0)  # the logger is process-wide: back to line by line
    assert app_handler.flush_seconds == 0


def test_a_negative_interval_is_refused(make_app):
    from authapi.configuration import ConfigurationError

    with pytest.raises(ConfigurationError, match="LOG_FLUSH_SECONDS"):
        make_app(LOG_FLUSH_SECONDS=-1)


class StalledReader:
    """A stderr whose reader has stopped: a write blocks until ``resume`` is set."""

    def __init__(self) -> None:
        self.writing = threading.Event()
        self.resume = threading.Event()
        self.text = ""

    def write(self, text: str) -> int:
        self.writing.set()
        self.resume.wait(HANG)
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_a_stalled_log_reader_blocks_the_flusher_not_the_threads_that_log(handler, monkeypatch):
    reader = StalledReader()
    monkeypatch.setattr(sys, "stderr", reader)
    handler.set_flush_seconds(NEVER)
    handler.handle(_record(logging.INFO, "first"))
    flusher = threading.Thread(target=handler.flush)  # as the flusher thread does
    flusher.start()
    try:
        reader.writing.wait(HANG)
        # The write is stuck in the pipe: the handler's lock is free all the same, so a
        # request thread logging its access line goes on.
        assert handler.lock.acquire(blocking=False)
        handler.lock.release()
        handler.handle(_record(logging.INFO, "second"))
    finally:
        reader.resume.set()
        flusher.join(HANG)
    handler.flush()
    assert _messages(reader.text) == ["first", "second"]


def test_lines_waiting_past_the_bound_are_written_by_the_thread_that_logs(handler, stream):
    handler.set_flush_seconds(NEVER)
    handler.MAX_WAITING = 3
    for line in ("one", "two", "three"):
        handler.handle(_record(logging.INFO, line))
    assert stream.getvalue() == ""
    handler.handle(_record(logging.INFO, "four"))
    assert _messages(stream.getvalue()) == ["one", "two", "three", "four"]


def test_a_forked_child_starts_with_a_free_write_lock_and_none_of_the_parents_lines(handler):
    handler.set_flush_seconds(NEVER)
    handler.handle(_record(logging.INFO, "the parent's"))
    handler._write_lock.acquire()  # as if the parent's flusher were writing at the fork
    handler._at_fork_reinit()  # what logging runs in the child after os.fork()
    assert handler._write_lock.acquire(blocking=False)
    handler._write_lock.release()
    assert not handler._waiting


def test_a_line_that_waits_takes_no_lock(handler, stream):
    handler.set_flush_seconds(NEVER)
    handler.handle(_record(logging.INFO, "starts the flusher"))
    holding, done = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with handler.lock:
            holding.set()
            done.wait(HANG)

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    holding.wait(HANG)
    logger = threading.Thread(target=handler.handle, args=(_record(logging.INFO, "no lock"),))
    logger.start()
    logger.join(HANG)
    try:
        assert not logger.is_alive()  # it did not queue behind the lock's holder
    finally:
        done.set()
        holder.join(HANG)
        logger.join(HANG)
    handler.flush()
    assert _messages(stream.getvalue()) == ["starts the flusher", "no lock"]


def test_lines_logged_by_many_threads_while_flushing_are_written_once_each(handler, stream):
    handler.set_flush_seconds(NEVER)
    handler.handle(_record(logging.INFO, "start"))
    threads, per_thread = 4, 500

    def log_lines(number: int) -> None:
        for index in range(per_thread):
            handler.handle(_record(logging.INFO, f"{number}-{index}"))
            if index % 50 == 0:
                handler.flush()

    workers = [threading.Thread(target=log_lines, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(HANG)
    handler.flush()
    written = _messages(stream.getvalue())
    expected = {f"{n}-{i}" for n in range(threads) for i in range(per_thread)} | {"start"}
    assert sorted(written) == sorted(expected)
    for number in range(threads):  # each thread's lines in the order it logged them
        mine = [line for line in written if line.startswith(f"{number}-")]
        assert mine == [f"{number}-{index}" for index in range(per_thread)]


# --- lines made from their parts (StderrHandler.append_line, the access line's way) ---


@pytest.mark.parametrize("formatter", [JsonFormatter, TextFormatter])
def test_a_line_from_its_parts_is_the_line_its_record_gives(formatter, handler, stream, app):
    handler.setFormatter(formatter())
    handler.set_flush_seconds(NEVER)
    fields = {"method": "GET", "path": "/a b", "status": 200, "user_id": None, "level": "x"}
    record = logging.LogRecord("authapi.access", logging.INFO, "", 0, "GET %s", ("/a b",), None)
    record.fields = fields
    with app.test_request_context("/"):
        request.environ[REQUEST_ID_KEY] = "0123456789abcdef"
        handler.handle(record)
        assert handler.append_line(logging.INFO, "authapi.access", "GET /a b", fields)
    handler.flush()
    from_record, from_parts = (
        TIMESTAMP.sub("TS", line, count=1) for line in stream.getvalue().splitlines()
    )
    assert from_parts == from_record  # made milliseconds apart: the same but for the time
    assert "0123456789abcdef" in from_parts


@pytest.mark.parametrize("formatter", [JsonFormatter, TextFormatter])
def test_an_access_line_from_its_entry_is_the_line_its_record_gives(formatter, handler, stream):
    handler.setFormatter(formatter())
    handler.set_flush_seconds(NEVER)
    entry = AccessEntry("0123456789abcdef", "GET", "/a b", "/<x>", 200, 1.5, "::1", None)
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, "", 0, entry.message, (), None)
    record.fields = entry._asdict()
    handler.handle(record)
    assert handler.append_access_line(entry)
    handler.flush()
    from_record, from_entry = (
        TIMESTAMP.sub("TS", line, count=1) for line in stream.getvalue().splitlines()
    )
    assert from_entry == from_record
    handler.addFilter(lambda record: True)
    assert not handler.append_access_line(entry)  # a filter must see a record


def test_a_line_from_its_parts_goes_the_usual_way_when_it_cannot_wait(handler, stream):
    fields = {"status": 200}
    assert not handler.append_line(logging.INFO, "authapi.access", "unbatched", fields)
    handler.set_flush_seconds(NEVER)
    handler.handle(_record(logging.INFO, "starts the flusher"))
    assert not handler.append_line(logging.WARNING, "authapi.access", "a warning", fields)
    handler.addFilter(lambda record: True)
    assert not handler.append_line(logging.INFO, "authapi.access", "filtered", fields)
    assert stream.getvalue() == ""  # nothing written: the caller logs a record instead


def test_the_sole_handler_is_ours_only_when_no_one_else_would_see_the_record(handler):
    parent = logging.getLogger("authapi.sole-test")
    child = logging.getLogger("authapi.sole-test.child")
    saved = parent.propagate
    parent.addHandler(handler)
    parent.propagate = False  # the root logger (pytest's handlers) out of the way
    try:
        assert sole_handler(child) is handler
        child.addFilter(lambda record: True)
        assert sole_handler(child) is None  # a filter must see a record
        child.filters.clear()
        child.disabled = True
        assert sole_handler(child) is None
        child.disabled = False
        extra = logging.NullHandler()
        parent.addHandler(extra)
        assert sole_handler(child) is None  # an operator's handler must get a record
        parent.removeHandler(extra)
        parent.propagate = True
        root_handler = logging.NullHandler()
        logging.getLogger().addHandler(root_handler)
        try:
            assert sole_handler(child) is None
        finally:
            logging.getLogger().removeHandler(root_handler)
    finally:
        parent.removeHandler(handler)
        parent.propagate = saved
