"""PBKDF2 as Werkzeug, Django and passlib (Flask-Security) store it.

- Werkzeug: ``pbkdf2:sha256:<iterations>$<salt>$<hex>``
- Django: ``pbkdf2_sha256$<iterations>$<salt>$<base64>``
- passlib: ``$pbkdf2-sha512$<rounds>$<ab64 salt>$<ab64 checksum>`` (``-sha256`` too)
"""

from __future__ import annotations

import hashlib
import hmac
import re

from authapi.hashers.base import HashSettings, MalformedHash, b64decode_strict, parse_int

_HEX_64 = re.compile(r"[0-9a-f]{64}")
MAX_ITERATIONS = 10_000_000  # an import may not ask for more work than this per login


def _pbkdf2(digest: str, password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac(digest, password.encode("utf-8"), salt, iterations)


class WerkzeugPbkdf2:
    name = "werkzeug_pbkdf2"

    def matches(self, encoded: str) -> bool:
        return encoded.startswith("pbkdf2:sha256")

    def _parse(self, encoded: str) -> tuple[int, bytes, str]:
        method, _, rest = encoded.partition("$")
        salt, _, expected = rest.partition("$")
        parts = method.split(":")
        if parts[:2] != ["pbkdf2", "sha256"] or len(parts) > 3 or not salt or not expected:
            raise MalformedHash("not a Werkzeug pbkdf2:sha256 hash")
        # Werkzeug 2.x/3.x wrote the iterations; without them its default was 260000
        # (2.0) and later more, so a string without them cannot be checked reliably.
        if len(parts) != 3:
            raise MalformedHash("Werkzeug pbkdf2 hash without an iteration count")
        iterations = parse_int(parts[2], "pbkdf2 iterations", 1, MAX_ITERATIONS)
        if not _HEX_64.fullmatch(expected):
            raise MalformedHash("Werkzeug pbkdf2:sha256 checksum must be 64 hex digits")
        return iterations, salt.encode("utf-8"), expected

    def verify(self, password: str, encoded: str, settings: HashSettings) -> bool:
        iterations, salt, expected = self._parse(encoded)
        actual = _pbkdf2("sha256", password, salt, iterations).hex()
        return hmac.compare_digest(actual, expected)

    def check_importable(self, encoded: str, settings: HashSettings) -> None:
        self._parse(encoded)


class DjangoPbkdf2:
    name = "django_pbkdf2_sha256"
    prefix = "pbkdf2_sha256$"

    def matches(self, encoded: str) -> bool:
        return encoded.startswith(self.prefix)

    def _parse(self, encoded: str) -> tuple[int, bytes, bytes]:
        parts = encoded.split("$")
        if len(parts) != 4 or not parts[2]:
            raise MalformedHash("not a Django pbkdf2_sha256 hash")
        iterations = parse_int(parts[1], "pbkdf2 iterations", 1, MAX_ITERATIONS)
        expected = b64decode_strict(parts[3])
        if len(expected) != 32:
            raise MalformedHash("Django pbkdf2_sha256 checksum must be 32 bytes")
        return iterations, parts[2].encode("utf-8"), expected

    def verify(self, password: str, encoded: str, settings: HashSettings) -> bool:
        iterations, salt, expected = self._parse(encoded)
        return hmac.compare_digest(_pbkdf2("sha256", password, salt, iterations), expected)

    def check_importable(self, encoded: str, settings: HashSettings) -> None:
        self._parse(encoded)


def _ab64decode(value: str) -> bytes:
    """passlib's "adapted base64": ``.`` instead of ``+``, no padding."""
    return b64decode_strict(value.replace(".", "+"))


class PasslibPbkdf2:
    name = "passlib_pbkdf2"
    digests = {"$pbkdf2-sha512$": ("sha512", 64), "$pbkdf2-sha256$": ("sha256", 32)}

    def matches(self, encoded: str) -> bool:
        return encoded.startswith(tuple(self.digests))

    def _parse(self, encoded: str) -> tuple[str, int, bytes, bytes]:
        prefix = encoded[: encoded.find("$", 1) + 1]
        if prefix not in self.digests:
            raise MalformedHash("not a passlib pbkdf2 hash")
        digest, size = self.digests[prefix]
        parts = encoded[len(prefix) :].split("$")
        if len(parts) != 3:
            raise MalformedHash("passlib pbkdf2 hash must be $pbkdf2-...$rounds$salt$checksum")
        rounds = parse_int(parts[0], "pbkdf2 rounds", 1, MAX_ITERATIONS)
        salt, expected = _ab64decode(parts[1]), _ab64decode(parts[2])
        if not salt or len(expected) != size:
            raise MalformedHash(f"passlib {digest} checksum must be {size} bytes")
        return digest, rounds, salt, expected

    def verify(self, password: str, encoded: str, settings: HashSettings) -> bool:
        digest, rounds, salt, expected = self._parse(encoded)
        return hmac.compare_digest(_pbkdf2(digest, password, salt, rounds), expected)

    def check_importable(self, encoded: str, settings: HashSettings) -> None:
        self._parse(encoded)


WERKZEUG_PBKDF2 = WerkzeugPbkdf2()
DJANGO_PBKDF2 = DjangoPbkdf2()
PASSLIB_PBKDF2 = PasslibPbkdf2()
