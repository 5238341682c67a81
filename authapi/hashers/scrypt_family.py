"""scrypt as Werkzeug stores it, and Firebase Authentication's modified scrypt.

- Werkzeug: ``scrypt:<n>:<r>:<p>$<salt>$<hex>``.
- Firebase (``firebase auth:export``): scrypt(password, salt + salt separator,
  N=2^mem_cost, r=rounds, p=1, 64 bytes); the first 32 bytes are an AES-256-CTR key
  (zero IV) that encrypts the project's signer key; the result is the stored hash.
  The signer key and salt separator are the project's (FIREBASE_SCRYPT_SIGNER_KEY,
  FIREBASE_SCRYPT_SALT_SEPARATOR); each user's hash is stored here as
  ``$firebase-scrypt$rounds=<r>,mem_cost=<m>$<base64 salt>$<base64 hash>``.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from authapi.hashers.base import HashSettings, MalformedHash, b64decode_strict, parse_int

_HEX_128 = re.compile(r"[0-9a-f]{128}")
MAX_MEMORY = 1024**3  # bytes an imported scrypt hash may use per check


def _memory(n: int, r: int, p: int) -> int:
    """The memory a check may use (``maxmem``); MalformedHash above MAX_MEMORY. The one
    rule for both the import and the login, so a hash that imports can be checked."""
    need = 128 * n * r * p + 128 * r * (p + 2) + (1 << 20)
    if need > MAX_MEMORY:
        raise MalformedHash("scrypt parameters need more than 1 GiB")
    return need


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    need = _memory(n, r, p)
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=need, dklen=64)


class WerkzeugScrypt:
    name = "werkzeug_scrypt"

    def matches(self, encoded: str) -> bool:
        return encoded.startswith("scrypt:")

    def _parse(self, encoded: str) -> tuple[int, int, int, bytes, str]:
        method, _, rest = encoded.partition("$")
        salt, _, expected = rest.partition("$")
        parts = method.split(":")
        if len(parts) != 4 or not salt or not expected:
            raise MalformedHash("not a Werkzeug scrypt:n:r:p hash")
        n = parse_int(parts[1], "scrypt n", 2, 1 << 24)
        if n & (n - 1):
            raise MalformedHash("scrypt n must be a power of two")
        r = parse_int(parts[2], "scrypt r", 1, 64)
        p = parse_int(parts[3], "scrypt p", 1, 64)
        if not _HEX_128.fullmatch(expected):
            raise MalformedHash("Werkzeug scrypt checksum must be 128 hex digits")
        return n, r, p, salt.encode("utf-8"), expected

    def verify(self, password: str, encoded: str, settings: HashSettings) -> bool:
        n, r, p, salt, expected = self._parse(encoded)
        return hmac.compare_digest(_scrypt(password, salt, n, r, p).hex(), expected)

    def check_importable(self, encoded: str, settings: HashSettings) -> None:
        n, r, p, _, _ = self._parse(encoded)
        _memory(n, r, p)


_FIREBASE = re.compile(r"\$firebase-scrypt\$rounds=(\d+),mem_cost=(\d+)\$([^$]+)\$([^$]+)\Z")


class FirebaseScrypt:
    name = "firebase_scrypt"
    prefix = "$firebase-scrypt$"

    def matches(self, encoded: str) -> bool:
        return encoded.startswith(self.prefix)

    def _parse(self, encoded: str) -> tuple[int, int, bytes, bytes]:
        match = _FIREBASE.match(encoded)
        if match is None:
            raise MalformedHash(
                "Firebase hash must be $firebase-scrypt$rounds=R,mem_cost=M$SALT$HASH"
            )
        rounds = parse_int(match.group(1), "Firebase rounds", 1, 64)
        mem_cost = parse_int(match.group(2), "Firebase mem_cost", 1, 20)
        salt, expected = b64decode_strict(match.group(3)), b64decode_strict(match.group(4))
        return rounds, mem_cost, salt, expected

    def verify(self, password: str, encoded: str, settings: HashSettings) -> bool:
        rounds, mem_cost, salt, expected = self._parse(encoded)
        if not settings.firebase_signer_key:
            raise MalformedHash("FIREBASE_SCRYPT_SIGNER_KEY is not configured")
        derived = _scrypt(password, salt + settings.firebase_salt_separator, 2**mem_cost, rounds, 1)
        encryptor = Cipher(algorithms.AES(derived[:32]), modes.CTR(bytes(16))).encryptor()
        actual = encryptor.update(settings.firebase_signer_key) + encryptor.finalize()
        return hmac.compare_digest(actual, expected)

    def check_importable(self, encoded: str, settings: HashSettings) -> None:
        rounds, mem_cost, _, _ = self._parse(encoded)
        _memory(2**mem_cost, rounds, 1)
        if not settings.firebase_signer_key:
            raise MalformedHash(
                "Firebase scrypt hashes need FIREBASE_SCRYPT_SIGNER_KEY (and "
                "FIREBASE_SCRYPT_SALT_SEPARATOR) from the project's password hash parameters"
            )


WERKZEUG_SCRYPT = WerkzeugScrypt()
FIREBASE_SCRYPT = FirebaseScrypt()
