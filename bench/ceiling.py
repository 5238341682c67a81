"""The bcrypt ceiling: how many cost-12 checks per second this machine does on all cores.

A login is one ``bcrypt.checkpw`` plus a little work around it, so no server can log
people in faster than this; the login scenario is reported as a fraction of it.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import Any

import bcrypt

ROUNDS = 12
_PASSWORD = b"bench-password-1234"


def _check(stored: bytes, count: int) -> tuple[int, float]:
    start = time.perf_counter()
    for _ in range(count):
        if not bcrypt.checkpw(_PASSWORD, stored):
            raise RuntimeError("bcrypt check failed")
    return count, time.perf_counter() - start


def _ready(_: int) -> int:
    return os.getpid()


def _default_signals() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not run.py's handler


def measure(per_process: int, processes: int | None = None) -> dict[str, Any]:
    """``processes`` (default: every core) each check ``per_process`` hashes at once."""
    processes = processes or os.cpu_count() or 1
    stored = bcrypt.hashpw(_PASSWORD, bcrypt.gensalt(ROUNDS))
    context = multiprocessing.get_context("fork")
    pool = context.Pool(processes, initializer=_default_signals)
    try:
        pool.map(_ready, range(processes))  # the processes exist before the clock starts
        start = time.perf_counter()
        results = pool.starmap(_check, [(stored, per_process)] * processes)
        wall = time.perf_counter() - start
        pool.close()
    finally:
        pool.terminate()
        pool.join()
    total = sum(count for count, _ in results)
    single = [elapsed / count for count, elapsed in results]
    return {
        "rounds": ROUNDS,
        "processes": processes,
        "hashes": total,
        "seconds": round(wall, 3),
        "hashes_per_s": round(total / wall, 2),
        "ms_per_hash": round(1000 * sum(single) / len(single), 1),
    }
