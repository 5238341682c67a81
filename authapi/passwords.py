"""Password hashing with bcrypt.

Hashing is CPU-bound and releases the GIL, so a login storm could occupy every
worker thread. A per-process semaphore bounds concurrent hashes so that requests
that only verify a token keep being served.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import bcrypt
from flask import current_app

MAX_PASSWORD_BYTES = 72  # bcrypt ignores (and bcrypt 5 rejects) anything longer

_hash_slots: dict[int, threading.BoundedSemaphore] = {}
_hash_slots_lock = threading.Lock()


def _slots() -> threading.BoundedSemaphore:
    limit = int(current_app.config["MAX_CONCURRENT_HASHES"])
    with _hash_slots_lock:
        if limit not in _hash_slots:
            _hash_slots[limit] = threading.BoundedSemaphore(limit)
        return _hash_slots[limit]


def password_fits_bcrypt(password: str) -> bool:
    return len(password.encode("utf-8")) <= MAX_PASSWORD_BYTES


def hash_password(password: str) -> str:
    """Hash a password with the configured cost. The caller has validated its length."""
    rounds = int(current_app.config["BCRYPT_ROUNDS"])
    with _slots():
        return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


@lru_cache(maxsize=8)
def _dummy_hash(rounds: int) -> bytes:
    return bcrypt.hashpw(b"authapi-dummy-password", bcrypt.gensalt(rounds))


def verify_password(password: str, password_hash: str | None) -> bool:
    """Check a password against a stored hash; ``None`` checks against a dummy hash.

    Always costs exactly one bcrypt check, whether the account exists, the password
    is too long for bcrypt, or the stored hash is malformed, so that failures look
    and take the same.
    """
    encoded = password.encode("utf-8")
    too_long = len(encoded) > MAX_PASSWORD_BYTES
    rounds = int(current_app.config["BCRYPT_ROUNDS"])
    target = _dummy_hash(rounds) if password_hash is None else password_hash.encode("ascii")
    candidate = encoded[:MAX_PASSWORD_BYTES] if too_long else encoded
    with _slots():
        try:
            matches = bcrypt.checkpw(candidate, target)
        except ValueError:  # malformed stored hash ("Invalid salt")
            _checkpw_dummy(candidate, rounds)
            return False
    return matches and password_hash is not None and not too_long


def _checkpw_dummy(candidate: bytes, rounds: int) -> None:
    bcrypt.checkpw(candidate, _dummy_hash(rounds))
