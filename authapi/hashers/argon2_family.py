"""Argon2 (``$argon2id$``, ``$argon2i$``) with argon2-cffi; argon2id is what we write."""

from __future__ import annotations

from functools import lru_cache

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from authapi.hashers.base import HashSettings, MalformedHash

# OWASP's Password Storage Cheat Sheet: argon2id with at least one of these
# (memory KiB, iterations) pairs, parallelism 1. Our configuration may not go below.
OWASP_MINIMUMS = ((47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5))
IMPORT_MAX_MEMORY = 1024 * 1024  # KiB: an imported hash may ask for at most 1 GiB
IMPORT_MAX_TIME = 100
# argon2 (the C library under argon2-cffi) runs one thread per lane: p=1024 took 0.29 s
# against 0.01 s for p=1 at the same memory here, and 1 GiB allows p=131,072 threads
# per check. Real hashes use 1 to 8 lanes.
IMPORT_MAX_PARALLELISM = 16


def meets_owasp_minimum(memory_cost: int, time_cost: int) -> bool:
    return any(memory_cost >= m and time_cost >= t for m, t in OWASP_MINIMUMS)


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_cost: int, parallelism: int) -> argon2.PasswordHasher:
    return argon2.PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        hash_len=32,
        salt_len=16,
        type=argon2.Type.ID,
    )


def _configured(settings: HashSettings) -> argon2.PasswordHasher:
    return _hasher(
        settings.argon2_time_cost, settings.argon2_memory_cost, settings.argon2_parallelism
    )


def _parameters(encoded: str) -> argon2.Parameters:
    try:
        return argon2.extract_parameters(encoded)
    except InvalidHashError:
        raise MalformedHash("invalid argon2 hash") from None


class Argon2:
    name = "argon2"

    def matches(self, encoded: str) -> bool:
        return encoded.startswith(("$argon2id$", "$argon2i$"))

    def verify(self, password: str, encoded: str, settings: HashSettings) -> bool:
        # The parameters come from the string; any hasher object verifies any of them.
        try:
            return _configured(settings).verify(encoded, password)
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError):
            raise MalformedHash("invalid argon2 hash") from None

    def check_importable(self, encoded: str, settings: HashSettings) -> None:
        parameters = _parameters(encoded)
        if (
            parameters.memory_cost > IMPORT_MAX_MEMORY
            or parameters.time_cost > IMPORT_MAX_TIME
            or parameters.parallelism > IMPORT_MAX_PARALLELISM
        ):
            raise MalformedHash(
                "argon2 parameters too large (at most 1 GiB, 100 iterations, 16 lanes)"
            )

    def hash(self, password: str, settings: HashSettings) -> str:
        return _configured(settings).hash(password)

    def is_current(self, encoded: str, settings: HashSettings) -> bool:
        if not encoded.startswith("$argon2id$"):
            return False
        try:
            return not _configured(settings).check_needs_rehash(encoded)
        except InvalidHashError:
            return False


ARGON2 = Argon2()
