"""RSA key loading: base64-of-PEM configuration values into signing/verifying key rings."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

MIN_RSA_BITS = 2048


class KeyConfigError(ValueError):
    """A configured key is missing, unreadable or too weak."""


def decode_pem(value: str, name: str) -> bytes:
    """Accept base64 of a PEM (as in the tutorial) or a raw PEM."""
    value = value.strip()
    if value.startswith("-----BEGIN"):
        return value.encode("ascii")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{name} is not base64 of a PEM key") from None


def load_private_key(value: str, name: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(decode_pem(value, name), password=None)
    except (ValueError, TypeError):
        raise KeyConfigError(f"{name} is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyConfigError(f"{name} must be an RSA key")
    if key.key_size < MIN_RSA_BITS:
        raise KeyConfigError(f"{name} must be at least {MIN_RSA_BITS} bits")
    return key


def load_public_key(value: str, name: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(decode_pem(value, name))
    except (ValueError, TypeError):
        raise KeyConfigError(f"{name} is not a PEM public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyConfigError(f"{name} must be an RSA key")
    if key.key_size < MIN_RSA_BITS:
        raise KeyConfigError(f"{name} must be at least {MIN_RSA_BITS} bits")
    return key


def public_jwk(key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The public JWK of a key (members n and e only)."""
    jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
    return {"kty": "RSA", "n": jwk["n"], "e": jwk["e"]}


def key_id(key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint: stable, derived from the key, nothing to configure."""
    canonical = json.dumps(public_jwk(key), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class KeyRing:
    """One token kind's keys: the current signing key and every key that still verifies."""

    signing_key: rsa.RSAPrivateKey
    signing_kid: str
    verifying_keys: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)


def build_key_ring(
    private_value: str, public_value: str, previous_values: str, prefix: str
) -> KeyRing:
    private_key = load_private_key(private_value, f"{prefix}_PRIVATE_KEY")
    public_key = load_public_key(public_value, f"{prefix}_PUBLIC_KEY")
    if public_jwk(private_key.public_key()) != public_jwk(public_key):
        raise KeyConfigError(f"{prefix}_PUBLIC_KEY does not match {prefix}_PRIVATE_KEY")
    kid = key_id(public_key)
    verifying = {kid: public_key}
    for index, value in enumerate(v for v in previous_values.split(",") if v.strip()):
        old_key = load_public_key(value, f"{prefix}_PREVIOUS_PUBLIC_KEYS[{index}]")
        verifying.setdefault(key_id(old_key), old_key)
    return KeyRing(signing_key=private_key, signing_kid=kid, verifying_keys=verifying)


def generate_private_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_key_pair(directory: Path, kind: str, private_key: rsa.RSAPrivateKey) -> None:
    """``<kind>_private.pem`` (mode 0600) and ``<kind>_public.pem`` in ``directory``:
    the one writer of key files (``flask keys generate/rotate --out``, development keys)."""
    directory.mkdir(parents=True, exist_ok=True)
    private_path = directory / f"{kind}_private.pem"
    private_path.touch(mode=0o600)
    private_path.chmod(0o600)
    private_path.write_bytes(private_pem(private_key))
    (directory / f"{kind}_public.pem").write_bytes(public_pem(private_key.public_key()))


def env_value(pem: bytes) -> str:
    """A PEM as a configuration value: base64 of the PEM, as in the tutorial."""
    return base64.b64encode(pem).decode("ascii")
