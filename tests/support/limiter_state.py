"""Flask-Limiter's process-wide state, put back after a test has built apps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from authapi.extensions import limiter


@contextmanager
def limiter_state_restored() -> Iterator[None]:
    """Put the process-wide rate limiter back as it was.

    Flask-Limiter keeps ONE Limiter per process: the last app initialised with limits on
    decides, for every app, whether limits apply and which storage holds the counters,
    and every app's RATELIMIT_STORAGE_OPTIONS are merged into it (Sentinel's
    ``sentinel_kwargs`` would reach a later single-server client). Production runs one
    app per process; tests build many, some on servers they then stop, so conftest restores
    the limiter after every test (and the Redis suites before they stop their servers).
    """
    saved = dict(vars(limiter))
    saved_options = dict(limiter._storage_options)
    try:
        yield
    finally:
        vars(limiter).clear()
        vars(limiter).update(saved)
        limiter._storage_options.clear()
        limiter._storage_options.update(saved_options)
