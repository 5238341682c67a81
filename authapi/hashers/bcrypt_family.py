"""bcrypt (``$2a$``/``$2b$``/``$2y$``, any cost) and Django's ``bcrypt_sha256$``."""

from __future__ import annotations

import binascii
import hashlib
import re

import bcrypt

from authapi.hashers.base import HashSettings, MalformedHash

MAX_BYTES = 72  # bcrypt ignores (and bcrypt 5 rejects) anything longer
# Each cost step doubles the work: cost 12 takes ~0.24 s here, 16 ~4 s (about what the
# other formats' import bounds allow: pbkdf2's 10,000,000 iterations ~2.5 s), 31 about
# a day and a half, for every login attempt on that account.
IMPORT_MAX_COST = 16
_BCRYPT = re.compile(r"\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}\Z")


def _check(candidate: bytes, encoded: str) -> bool:
    """One bcrypt check; a password over 72 bytes is checked (truncated) and fails,
    so that it costs what any other wrong password costs."""
    too_long = len(candidate) > MAX_BYTES
    try:
        matches = bcrypt.checkpw(candidate[:MAX_BYTES], encoded.encode("ascii"))
    except (ValueError, UnicodeEncodeError):  # "Invalid salt"
        raise MalformedHash("invalid bcrypt hash") from None
    return matches and not too_long


def _cost(encoded: str) -> int:
    match = _BCRYPT.match(encoded)
    if match is None:
        raise MalformedHash("not a bcrypt hash ($2a$, $2b$ or $2y$, cost, 53 characters)")
    cost = int(match.group(1))
    if not 4 <= cost <= 31:
        raise MalformedHash("bcrypt cost must be between 4 and 31")
    return cost


def _importable_cost(encoded: str) -> None:
    """A well-formed bcrypt hash whose check costs at most IMPORT_MAX_COST: a higher
    cost would let anyone who knows the address tie up a hashing thread for hours per
    login attempt."""
    if _cost(encoded) > IMPORT_MAX_COST:
        raise MalformedHash(f"bcrypt cost above {IMPORT_MAX_COST} (each step doubles the work)")


class Bcrypt:
    name = "bcrypt"

    def matches(self, encoded: str) -> bool:
        return encoded.startswith(("$2a$", "$2b$", "$2y$"))

    def verify(self, password: str, encoded: str, settings: HashSettings) -> bool:
        return _check(password.encode("utf-8"), encoded)

    def check_importable(self, encoded: str, settings: HashSettings) -> None:
        _importable_cost(encoded)

    def hash(self, password: str, settings: HashSettings) -> str:
        salt = bcrypt.gensalt(settings.bcrypt_rounds)
        return bcrypt.hashpw(password.encode("utf-8"), salt).decode("ascii")

    def is_current(self, encoded: str, settings: HashSettings) -> bool:
        try:
            return encoded.startswith("$2b$") and _cost(encoded) == settings.bcrypt_rounds
        except MalformedHash:
            return False


class DjangoBcryptSha256:
    """Django's BCryptSHA256PasswordHasher: bcrypt over the hex SHA-256 of the password
    (which lifts bcrypt's 72-byte limit)."""

    name = "django_bcrypt_sha256"
    prefix = "bcrypt_sha256$"

    def matches(self, encoded: str) -> bool:
        return encoded.startswith(self.prefix)

    def verify(self, password: str, encoded: str, settings: HashSettings) -> bool:
        digest = binascii.hexlify(hashlib.sha256(password.encode("utf-8")).digest())
        return _check(digest, encoded[len(self.prefix) :])

    def check_importable(self, encoded: str, settings: HashSettings) -> None:
        _importable_cost(encoded[len(self.prefix) :])


BCRYPT = Bcrypt()
DJANGO_BCRYPT_SHA256 = DjangoBcryptSha256()
