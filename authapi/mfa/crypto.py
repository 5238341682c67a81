"""Secrets at rest: AES-256-GCM for TOTP secrets, a keyed hash for recovery codes.

Keys come from configuration only: ``MFA_ENCRYPTION_KEY`` (base64 of 32 bytes) encrypts,
and it and ``MFA_ENCRYPTION_PREVIOUS_KEYS`` decrypt, so the key can be rotated without
locking anyone out. Outside production a missing key is generated once into
``DEV_KEYS_DIR`` (like the development token keys); production refuses to start
without one (``check_mfa_config``).

A ciphertext is ``v1.<key id>.<base64url(nonce || AES-GCM output)>``; the key id is
the first 8 hex digits of the key's SHA-256 (it names the key, it reveals nothing of
it). The user id is the associated data, so a secret copied to another user's row
does not decrypt. Recovery codes are stored as ``<key id>$<HMAC-SHA256 hex>`` under a
key derived from the same key (HKDF): a copy of the database alone cannot be used to
guess codes offline.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app

KEY_BYTES = 32
NONCE_BYTES = 12
VERSION = "v1"
DEV_KEY_FILE = "mfa_encryption.key"


class MfaKeyError(ValueError):
    """A configured key is not base64 of 32 bytes."""


class DecryptionFailed(Exception):
    """The ciphertext was made with an unknown key, altered, or belongs to another user."""


@dataclass(frozen=True)
class MfaKey:
    kid: str
    key: bytes

    @property
    def hmac_key(self) -> bytes:
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"authapi recovery codes"
        ).derive(self.key)


@dataclass(frozen=True)
class MfaKeyRing:
    current: MfaKey
    by_kid: Mapping[str, MfaKey]


def parse_key(value: str, name: str) -> MfaKey:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MfaKeyError(f"{name} must be base64 (e.g. `openssl rand -base64 32`)") from None
    if len(key) != KEY_BYTES:
        raise MfaKeyError(f"{name} must be base64 of exactly {KEY_BYTES} bytes, got {len(key)}")
    return MfaKey(kid=hashlib.sha256(key).hexdigest()[:8], key=key)


def build_key_ring(current: str, previous: str) -> MfaKeyRing:
    key = parse_key(current, "MFA_ENCRYPTION_KEY")
    by_kid = {key.kid: key}
    for value in (item for item in previous.split(",") if item.strip()):
        older = parse_key(value, "MFA_ENCRYPTION_PREVIOUS_KEYS")
        by_kid.setdefault(older.kid, older)
    return MfaKeyRing(current=key, by_kid=by_kid)


def _dev_key(app: Flask) -> str:
    """Development and testing only: a key in DEV_KEYS_DIR, generated on first use."""
    directory = Path(app.root_path).parent / app.config["DEV_KEYS_DIR"]
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / DEV_KEY_FILE
    if not path.exists():
        path.write_text(base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii"))
        path.chmod(0o600)
        app.logger.warning("generated a development MFA encryption key in %s", directory)
    return path.read_text()


def init_app(app: Flask) -> None:
    configured = str(app.config["MFA_ENCRYPTION_KEY"])
    current = configured or _dev_key(app)
    app.extensions["authapi.mfa_keys"] = build_key_ring(
        current, str(app.config["MFA_ENCRYPTION_PREVIOUS_KEYS"])
    )


def _ring() -> MfaKeyRing:
    return current_app.extensions["authapi.mfa_keys"]


def encrypt(plaintext: str, *, user_id: str) -> str:
    key = _ring().current
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key.key).encrypt(nonce, plaintext.encode("utf-8"), user_id.encode("ascii"))
    return f"{VERSION}.{key.kid}.{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"


def decrypt(ciphertext: str, *, user_id: str) -> str:
    version, _, rest = ciphertext.partition(".")
    kid, _, payload = rest.partition(".")
    key = _ring().by_kid.get(kid)
    if version != VERSION or key is None:
        raise DecryptionFailed("unknown key")
    try:
        raw = base64.urlsafe_b64decode(payload)
        opened = AESGCM(key.key).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], user_id.encode("ascii")
        )
    except (binascii.Error, ValueError, InvalidTag):
        raise DecryptionFailed("cannot decrypt") from None
    return opened.decode("utf-8")


def hash_code(code: str) -> str:
    """The stored form of a recovery code (under the current key)."""
    key = _ring().current
    return f"{key.kid}${_hmac_hex(key, code)}"


def _hmac_hex(key: MfaKey, code: str) -> str:
    return hmac.new(key.hmac_key, code.encode("utf-8"), hashlib.sha256).hexdigest()


def code_digests(code: str) -> dict[str, str]:
    """The candidate's keyed hash under every known key: kid -> hex (computed once each)."""
    return {kid: _hmac_hex(key, code) for kid, key in _ring().by_kid.items()}


def matches(stored: str, digests: Mapping[str, Any]) -> bool:
    """Constant-time comparison of a stored hash with the candidate's digest for its key."""
    kid, _, digest = stored.partition("$")
    candidate = digests.get(kid, "")
    # compare_digest on equal-length ASCII; an unknown kid compares against "" (False).
    return hmac.compare_digest(digest.encode("ascii"), str(candidate).encode("ascii"))
