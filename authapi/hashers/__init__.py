"""Password hash formats: the two we write (bcrypt, argon2id) and the foreign ones we
can check, so users imported from another system log in with their old password.

Each format is a small object (:class:`authapi.hashers.base.Format`) that recognises
its strings, checks a password against one, and tells whether a string's parameters
are sane enough to import. This package knows formats only: where hashing runs (the
bounded, low-priority thread pool) is :mod:`authapi.passwords`' business.
"""

from __future__ import annotations

from authapi.hashers.argon2_family import ARGON2
from authapi.hashers.base import Format, HashSettings, MalformedHash
from authapi.hashers.bcrypt_family import BCRYPT, DJANGO_BCRYPT_SHA256
from authapi.hashers.pbkdf2_family import DJANGO_PBKDF2, PASSLIB_PBKDF2, WERKZEUG_PBKDF2
from authapi.hashers.scrypt_family import FIREBASE_SCRYPT, WERKZEUG_SCRYPT
from authapi.hashers.wrappers import FLASK_SECURITY

__all__ = [
    "FORMATS",
    "Format",
    "HashSettings",
    "MalformedHash",
    "identify",
    "needs_rehash",
    "new_hash",
    "verify",
]

# Order matters only where prefixes overlap: the wrappers first.
FORMATS: tuple[Format, ...] = (
    FLASK_SECURITY,
    DJANGO_BCRYPT_SHA256,
    BCRYPT,
    ARGON2,
    WERKZEUG_PBKDF2,
    WERKZEUG_SCRYPT,
    DJANGO_PBKDF2,
    PASSLIB_PBKDF2,
    FIREBASE_SCRYPT,
)


def identify(encoded: str) -> Format | None:
    """The format a stored string is in, or None if it is none we know."""
    for candidate in FORMATS:
        if candidate.matches(encoded):
            return candidate
    return None


def verify(password: str, encoded: str, settings: HashSettings) -> bool:
    """Check a password against a stored string of any known format.

    Raises :class:`MalformedHash` when the string is in no known format or is broken.
    """
    found = identify(encoded)
    if found is None:
        raise MalformedHash("unknown password hash format")
    return found.verify(password, encoded, settings)


def new_hash(password: str, settings: HashSettings) -> str:
    """Hash a password with the configured hasher and its parameters."""
    if settings.hasher == "argon2id":
        return ARGON2.hash(password, settings)
    return BCRYPT.hash(password, settings)


def needs_rehash(encoded: str, settings: HashSettings) -> bool:
    """Is this stored string anything but the configured hasher with its parameters?"""
    if settings.hasher == "argon2id":
        return not ARGON2.is_current(encoded, settings)
    return not BCRYPT.is_current(encoded, settings)
