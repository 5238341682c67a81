"""Where password hashing runs: a small low-priority thread pool per process.

The hash formats themselves (bcrypt, argon2id and the foreign ones imported users
bring) live in :mod:`authapi.hashers`.

Hashing is CPU-bound (about 0.2 s at cost 12) and releases the GIL, so a login
storm could occupy every worker thread and every core. Each process therefore
hashes in its own small pool of ``MAX_CONCURRENT_HASHES`` threads, and on Linux
those threads run at a lower CPU priority (``HASHING_NICE``): when the cores are
idle a hash gets them all, when token-only requests want them the kernel serves
those first. Measured in docs/performance.md: /me during a login storm.

The pool's queue is bounded too: at most ``MAX_CONCURRENT_HASHES`` hashes run and
``HASH_QUEUE_SIZE`` more wait; one more is refused at once with :class:`HashingBusy`
(a 503 with Retry-After), so a flood of password checks never holds every request
thread of a worker while requests that need no hash wait behind them.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial
from typing import TypeVar

from flask import current_app

from authapi import hashers

log = logging.getLogger(__name__)

MAX_PASSWORD_BYTES = 72  # bcrypt ignores (and bcrypt 5 rejects) anything longer
# The start of a stored hash no password matches (accounts made through a provider or
# an emailed code, or whose password the first proof of the address voided); a login
# against it makes one check against the dummy hash, as for an unknown email.
UNUSABLE_PASSWORD_PREFIX = "!"

Result = TypeVar("Result")


def unusable_password() -> str:
    """A stored "hash" that no password matches, different for every account."""
    return UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(32)


def is_usable(stored_hash: str) -> bool:
    """Could some password match this stored hash (not one of unusable_password())?"""
    return not stored_hash.startswith(UNUSABLE_PASSWORD_PREFIX)


_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}
_slots: dict[tuple[int, int], threading.BoundedSemaphore] = {}
_pools_lock = threading.Lock()


def _forget_pools() -> None:
    """A forked child has none of its parent's threads: it starts its own pools."""
    global _pools_lock
    _pools.clear()
    _slots.clear()
    _pools_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork either
    os.register_at_fork(after_in_child=_forget_pools)


def _lower_priority(nice: int) -> None:
    """Run this (hashing) thread at ``nice``, never at a higher priority than it has.

    Linux keeps a nice value per thread; elsewhere this would renice the process.
    """
    if nice <= 0 or not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, thread) < nice:
            os.setpriority(os.PRIO_PROCESS, thread, nice)
    except OSError as error:  # a sandbox that forbids it: hash at normal priority
        log.warning("could not lower the priority of a hashing thread: %s", error)


class HashingBusy(Exception):
    """Every hashing slot of this process is taken: retry shortly (503, Retry-After)."""


def _slots_for(size: int, queued: int) -> threading.BoundedSemaphore:
    """Room for ``size`` running hashes plus ``queued`` waiting ones, per process."""
    with _pools_lock:
        slots = _slots.get((size, queued))
        if slots is None:
            slots = _slots[(size, queued)] = threading.BoundedSemaphore(size + queued)
        return slots


def _pool() -> ThreadPoolExecutor:
    size = int(current_app.config["MAX_CONCURRENT_HASHES"])
    nice = int(current_app.config["HASHING_NICE"])
    with _pools_lock:
        pool = _pools.get((size, nice))
        if pool is None:
            pool = _pools[(size, nice)] = ThreadPoolExecutor(
                max_workers=size,
                thread_name_prefix="authapi-bcrypt",
                initializer=_lower_priority,
                initargs=(nice,),
            )
        return pool


def _in_pool(function: Callable[..., Result], *args: bytes) -> Result:
    """Run one hash in the hashing pool and wait for it (its exception, if any, too).

    Raises :class:`HashingBusy` at once when the pool and its queue are full.
    """
    slots = _slots_for(
        int(current_app.config["MAX_CONCURRENT_HASHES"]),
        int(current_app.config["HASH_QUEUE_SIZE"]),
    )
    if not slots.acquire(blocking=False):
        raise HashingBusy()
    try:
        return _pool().submit(function, *args).result()
    finally:
        slots.release()


def hash_password(password: str) -> str:
    """Hash a password with the configured hasher (PASSWORD_HASHER) and parameters.

    The caller has validated its length (authapi.password_policy).
    """
    settings = hash_settings()
    return _in_pool(partial(hashers.new_hash, password, settings))


@lru_cache(maxsize=8)
def _dummy_hash(settings: hashers.HashSettings) -> str:
    return _in_pool(partial(hashers.new_hash, "authapi-dummy-password", settings))


def verify_password(password: str, password_hash: str | None) -> bool:
    """Check a password against a stored hash; ``None`` checks against a dummy hash.

    The stored hash may be in any format :mod:`authapi.hashers` knows (imported
    users). An unknown email, a malformed stored hash or a password too long for
    bcrypt costs exactly one check too: against a dummy hash made by the configured
    hasher with its current parameters, so that failures look and take the same.
    """
    settings = hash_settings()
    if password_hash is not None:
        try:
            return _in_pool(partial(hashers.verify, password, password_hash, settings))
        except hashers.MalformedHash:
            pass
    _in_pool(partial(hashers.verify, password, _dummy_hash(settings), settings))
    return False


def hash_settings() -> hashers.HashSettings:
    return hashers.HashSettings.from_config(current_app.config)


def needs_rehash(password_hash: str) -> bool:
    """Is a stored hash in anything but the configured hasher and parameters?"""
    return hashers.needs_rehash(password_hash, hash_settings())
