"""Startup checks of the second-factor settings (called by configuration.check_config)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authapi.mfa import crypto

POSITIVE = (
    "MFA_TOKEN_EXPIRES_IN",
    "MFA_TOKEN_MAX_ATTEMPTS",
    "MFA_ENROLMENT_EXPIRES_IN",
    "MFA_ATTEMPTS_PER_ACCOUNT",
    "MFA_ATTEMPTS_WINDOW",
)


def check(config: Mapping[str, Any], error: type[Exception]) -> None:
    """Raise ``error`` naming the setting to fix."""
    for name in POSITIVE:
        if int(config[name]) < 1:
            raise error(f"{name} must be a positive whole number")
    if not str(config["MFA_ISSUER"]).strip():
        raise error("MFA_ISSUER must not be empty: it labels the account in authenticator apps")
    key, previous = str(config["MFA_ENCRYPTION_KEY"]), str(config["MFA_ENCRYPTION_PREVIOUS_KEYS"])
    if config["APP_ENV"] == "production":
        if not key:
            raise error(
                "Production needs MFA_ENCRYPTION_KEY (base64 of 32 random bytes, e.g. "
                "`openssl rand -base64 32`): it encrypts TOTP secrets at rest"
            )
        if config.get("CLOCK_FROZEN_AT"):
            raise error("CLOCK_FROZEN_AT is for tests only and must be 0 in production")
    try:
        if key:
            crypto.build_key_ring(key, previous)
        elif previous.strip():
            raise error("MFA_ENCRYPTION_PREVIOUS_KEYS is set but MFA_ENCRYPTION_KEY is empty")
    except crypto.MfaKeyError as bad:
        raise error(str(bad)) from None
