"""Work done after the answer, on a small per-process pool, inside an app context.

``POST /api/auth/otp`` must cost the same for known and unknown addresses, so the
request only stores a code and queues a job; the job looks the account up and mails
(or not). Created on first use in each process: threads do not survive a fork.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from flask import Flask, current_app

from authapi.extensions import db

log = logging.getLogger(__name__)

THREADS = 2


class Jobs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0
        self._pending: set[Future[None]] = set()

    def submit(self, app: Flask, job: Callable[..., None], *args: Any) -> None:
        future = self._pool().submit(self._run, app, job, *args)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait for every queued job; True when none is left (tests, shutdown)."""
        with self._lock:
            pending = list(self._pending)
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    @staticmethod
    def _run(app: Flask, job: Callable[..., None], *args: Any) -> None:
        with app.app_context():
            try:
                job(*args)
            except Exception:
                # On a pool thread nobody else would see it: log it, with the trace.
                log.exception("background job %s failed", getattr(job, "__name__", job))
            finally:
                db.session.remove()

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None or self._pid != os.getpid():
                self._executor = ThreadPoolExecutor(
                    max_workers=THREADS, thread_name_prefix="authapi-otp"
                )
                self._pid = os.getpid()
                self._pending = set()
            return self._executor


def jobs(app: Flask | None = None) -> Jobs:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return app.extensions.setdefault("authapi.email_otp.jobs", Jobs())


def submit(job: Callable[..., None], *args: Any) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    jobs(app).submit(app, job, *args)
