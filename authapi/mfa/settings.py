"""Startup checks of the second-factor settings (one of configuration.CHECKS)."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

from authapi.mfa import crypto

POSITIVE = (
    "MFA_TOKEN_EXPIRES_IN",
    "MFA_TOKEN_MAX_ATTEMPTS",
    "MFA_ENROLMENT_EXPIRES_IN",
    "MFA_ATTEMPTS_PER_ACCOUNT",
    "MFA_ATTEMPTS_WINDOW",
)


def check(config: Mapping[str, Any], given: Collection[str] = ()) -> Iterator[str]:
    """Yield each problem, naming the setting to fix."""
    for name in POSITIVE:
        if config[name] < 1:
            yield f"{name} must be a positive whole number"
    if not str(config["MFA_ISSUER"]).strip():
        yield "MFA_ISSUER must not be empty: it labels the account in authenticator apps"
    key, previous = str(config["MFA_ENCRYPTION_KEY"]), str(config["MFA_ENCRYPTION_PREVIOUS_KEYS"])
    if config["APP_ENV"] == "production":
        if not key:
            yield (
                "Production needs MFA_ENCRYPTION_KEY (base64 of 32 random bytes: "
                "`flask keys mfa`): it encrypts TOTP secrets at rest"
            )
        if config.get("CLOCK_FROZEN_AT"):
            yield "CLOCK_FROZEN_AT is for tests only and must be 0 in production"
    if not key and previous.strip():
        yield "MFA_ENCRYPTION_PREVIOUS_KEYS is set but MFA_ENCRYPTION_KEY is empty"
    if key:
        try:
            crypto.build_key_ring(key, previous)
        except crypto.MfaKeyError as bad:
            yield str(bad)
