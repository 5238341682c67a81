"""Work done after the answer: a small per-process pool that runs jobs in an app context.

Forgot-password, resend-verification and the emailed sign-in code (``POST
/api/auth/otp``) answer at once, the same for every address, and look the account
up, issue the code and queue the mail here: how long the answer takes (or what
/metrics records about it) tells nothing about the account. Tests wait for the jobs
with ``drain`` (``tests.support.smtp_sink.delivered`` does).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from flask import Flask, current_app

from authapi.error_handlers import is_dependency_down

log = logging.getLogger(__name__)

THREADS = 2
EXTENSION = "authapi.background"


class Background:
    """One per app, in ``app.extensions["authapi.background"]``."""

    def __init__(self, app: Flask) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0
        self._pending: set[Future[None]] = set()

    def submit(self, job: Callable[..., None], *args: Any) -> None:
        future = self._pool().submit(self._run, job, *args)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait for every submitted job; True when none is left (tests, shutdown)."""
        with self._lock:
            pending = list(self._pending)
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def _run(self, job: Callable[..., None], *args: Any) -> None:
        with self._app.app_context():
            try:
                job(*args)
            except Exception as error:
                name = getattr(job, "__name__", job)
                if is_dependency_down(error):
                    # Redis or PostgreSQL down: one line, as the API's 503s log it. The
                    # answer said nothing either way, so the person simply asks again.
                    log.warning("background job %s dropped: %s", name, type(error).__name__)
                else:
                    # On a pool thread nobody else would ever see it: log it, with the trace.
                    log.exception("background job %s failed", name)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _pool(self) -> ThreadPoolExecutor:
        # Threads do not survive a fork (gunicorn --preload): a child makes its own.
        with self._lock:
            if self._executor is None or self._pid != os.getpid():
                self._executor = ThreadPoolExecutor(
                    max_workers=THREADS, thread_name_prefix="authapi-background"
                )
                self._pid = os.getpid()
                self._pending = set()
            return self._executor


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = Background(app)


def submit(job: Callable[..., None], *args: Any) -> None:
    """Run ``job(*args)`` after this request, in an app context of its own."""
    current_app.extensions[EXTENSION].submit(job, *args)
