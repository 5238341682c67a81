"""What every hash format provides, and the settings they read."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

HASHERS = ("bcrypt", "argon2id")


class MalformedHash(ValueError):
    """A stored string that is in no known format, or broken inside its format."""


@dataclass(frozen=True)
class HashSettings:
    """The configuration the formats need, read once per call from the app config."""

    hasher: str = "bcrypt"
    bcrypt_rounds: int = 12
    argon2_time_cost: int = 2
    argon2_memory_cost: int = 19456  # KiB
    argon2_parallelism: int = 1
    firebase_signer_key: bytes = b""
    firebase_salt_separator: bytes = b""
    flask_security_salt: str = ""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HashSettings:
        return cls(
            hasher=str(config["PASSWORD_HASHER"]),
            bcrypt_rounds=int(config["BCRYPT_ROUNDS"]),
            argon2_time_cost=int(config["ARGON2_TIME_COST"]),
            argon2_memory_cost=int(config["ARGON2_MEMORY_COST"]),
            argon2_parallelism=int(config["ARGON2_PARALLELISM"]),
            firebase_signer_key=b64decode_strict(str(config["FIREBASE_SCRYPT_SIGNER_KEY"])),
            firebase_salt_separator=b64decode_strict(str(config["FIREBASE_SCRYPT_SALT_SEPARATOR"])),
            flask_security_salt=str(config["FLASK_SECURITY_PASSWORD_SALT"]),
        )

    def current(self) -> tuple[Any, ...]:
        """The parameters that decide what a new hash looks like (a cache key)."""
        if self.hasher == "argon2id":
            return (
                self.hasher,
                self.argon2_time_cost,
                self.argon2_memory_cost,
                self.argon2_parallelism,
            )
        return (self.hasher, self.bcrypt_rounds)


class Format(Protocol):
    """One family of stored strings."""

    name: str

    def matches(self, encoded: str) -> bool:
        """Does this string claim to be in this format (by its prefix)?"""

    def verify(self, password: str, encoded: str, settings: HashSettings) -> bool:
        """Does the password match? Raises MalformedHash for a broken string."""

    def check_importable(self, encoded: str, settings: HashSettings) -> None:
        """Raise MalformedHash (with a reason) unless the string can be imported:
        well-formed, parameters within sane bounds, settings it needs configured."""


def b64decode_strict(value: str, *, altchars: bytes | None = None) -> bytes:
    """Standard base64 (padding optional); MalformedHash on anything else."""
    value = value.strip()
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), altchars, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedHash("invalid base64") from None


def parse_int(value: str, what: str, low: int, high: int) -> int:
    """A decimal integer within [low, high]; MalformedHash otherwise."""
    if not value.isdigit() or len(value) > 12:
        raise MalformedHash(f"{what} must be a whole number")
    number = int(value)
    if not low <= number <= high:
        raise MalformedHash(f"{what} must be between {low} and {high}")
    return number
