"""EXPERIMENTS, not the shipped app: authapi with suggested changes patched in at
import time, to measure a suggestion before anyone edits authapi/.

    BENCH_APP=bench.experiments:app BENCH_EXPERIMENTS=single_parse,niced_bcrypt \\
        .venv/bin/python bench/run.py

BENCH_EXPERIMENTS names the patches (comma-separated):

single_parse
    authapi.tokens.decode calls ``jwt.get_unverified_header`` to find the key id and
    then ``jwt.decode``, which parses (and alphabet-checks, character by character)
    all three segments of the token a second time. The patch reads the kid from the
    small header segment only; ``jwt.decode`` still validates everything.

niced_bcrypt
    bcrypt's hashpw/checkpw run in a small per-process thread pool whose threads
    have nice BENCH_HASH_NICE (default 19; Linux nice is per thread). When nothing
    else wants the CPU, hashing still gets every core; when token-only requests
    need it, the scheduler serves them first, so a login storm slows them less.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import bcrypt
import jwt

from authapi import passwords
from wsgi import app

ENABLED = {name.strip() for name in os.environ.get("BENCH_EXPERIMENTS", "").split(",")}
NICE = int(os.environ.get("BENCH_HASH_NICE", "19"))
POOL_SIZE = int(os.environ.get("MAX_CONCURRENT_HASHES", "2"))


def header_only(token: str) -> dict[str, Any]:
    """The JOSE header, decoded from the first segment alone."""
    segment = token.split(".", 1)[0] if isinstance(token, str) else ""
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error):
        raise jwt.DecodeError("Invalid header") from None
    if not isinstance(header, dict):
        raise jwt.DecodeError("Invalid header")
    return header


def _lower_priority() -> None:
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


_pool = ThreadPoolExecutor(
    max_workers=POOL_SIZE, thread_name_prefix="bcrypt", initializer=_lower_priority
)  # threads start on first use, i.e. in the worker process, after the fork


class NicedBcrypt:
    gensalt = staticmethod(bcrypt.gensalt)

    @staticmethod
    def hashpw(password: bytes, salt: bytes) -> bytes:
        return _pool.submit(bcrypt.hashpw, password, salt).result()

    @staticmethod
    def checkpw(password: bytes, hashed: bytes) -> bool:
        return _pool.submit(bcrypt.checkpw, password, hashed).result()


if "single_parse" in ENABLED:
    jwt.get_unverified_header = header_only  # authapi.tokens looks it up on each call
if "niced_bcrypt" in ENABLED:
    passwords.bcrypt = NicedBcrypt  # type: ignore[assignment]

__all__ = ["app"]
