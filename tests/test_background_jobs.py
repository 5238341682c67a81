"""Jobs run after the answer (authapi.background): what their failures leave in the log."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import redis
from flask import Flask

from authapi import background
from tests.helpers import HANG
from tests.support.servers import free_port


def run_job(app: Flask, job: Callable[[], None]) -> None:
    """Submit ``job`` as a view would, wait for it, and return what it logged."""
    with app.test_request_context():
        background.submit(job)
    assert app.extensions[background.EXTENSION].drain(HANG)


def background_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "authapi.background"]


def test_a_job_that_finds_redis_down_is_dropped_with_one_warning(app, caplog):
    """A forgot-password mail whose job meets a Redis that is down: one line saying so,
    as the API's 503s log it, not a traceback for every such job."""
    nobody_listens = free_port()

    def needs_redis() -> None:
        redis.Redis(host="127.0.0.1", port=nobody_listens, socket_connect_timeout=HANG).ping()

    caplog.set_level(logging.INFO, logger="authapi.background")
    run_job(app, needs_redis)
    [record] = background_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "background job needs_redis dropped: ConnectionError"
    assert record.exc_info is None


def test_a_job_that_fails_for_any_other_reason_is_logged_with_its_trace(app, caplog):
    def broken() -> None:
        raise ValueError("a bug")

    caplog.set_level(logging.INFO, logger="authapi.background")
    run_job(app, broken)
    [record] = background_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "background job broken failed"
    assert record.exc_info is not None and record.exc_info[0] is ValueError
