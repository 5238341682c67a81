"""EXPERIMENT, not the shipped app: authapi with bcrypt run at a lower CPU priority.

Used only to give evidence for a suggested change to authapi/passwords.py:

    BENCH_APP=bench.niced_bcrypt:app BENCH_HASH_NICE=19 .venv/bin/python bench/run.py

It wraps the app from wsgi.py and swaps the ``bcrypt`` module that
authapi.passwords uses for one whose hashpw/checkpw run in a small per-process
thread pool whose threads have a higher nice value (Linux nice is per thread).
When nothing else wants the CPU, hashing still gets every core (the login ceiling
is unchanged); when token-only requests need it, the scheduler gives them the CPU
first, so a login storm no longer slows every other request down.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import bcrypt

from authapi import passwords
from wsgi import app

NICE = int(os.environ.get("BENCH_HASH_NICE", "19"))
POOL_SIZE = int(os.environ.get("MAX_CONCURRENT_HASHES", "2"))


def _lower_priority() -> None:
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


_pool = ThreadPoolExecutor(
    max_workers=POOL_SIZE, thread_name_prefix="bcrypt", initializer=_lower_priority
)  # threads start on first use, i.e. in the worker process, after the fork


class _NicedBcrypt:
    gensalt = staticmethod(bcrypt.gensalt)

    @staticmethod
    def hashpw(password: bytes, salt: bytes) -> bytes:
        return _pool.submit(bcrypt.hashpw, password, salt).result()

    @staticmethod
    def checkpw(password: bytes, hashed: bytes) -> bool:
        return _pool.submit(bcrypt.checkpw, password, hashed).result()


passwords.bcrypt = _NicedBcrypt  # type: ignore[assignment]

__all__ = ["app"]
