"""Configuration: class-based defaults plus one explicit mapping from the environment.

Nothing here reads the environment at import time. ``create_app`` picks a class by
``APP_ENV``, applies :func:`settings_from_env` and then its own overrides, and
:func:`authapi.configuration.load_config` types every mapped setting with its parser
(whatever its source: class default, environment or override) and validates them
all at once. A new setting: a class attribute here, a line in ENV_MAPPING (``int``,
``float`` and ``str`` are applied strictly: ``True`` is not an integer) and, if a
value can be wrong, a check in ``authapi/configuration.py``. A ``RATELIMIT_*_PER_*``
setting is checked as a rate limit string (``"10 per minute"``) by itself.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Mapping
from typing import Any


class Config:
    """Defaults shared by every environment."""

    APP_ENV = "development"
    TESTING = False

    SQLALCHEMY_DATABASE_URI = "postgresql+psycopg2://postgres@127.0.0.1:5432/authapi"
    # pool_pre_ping survives a restarted PostgreSQL; the short timeouts turn an
    # unreachable database into a quick 503 instead of a hung worker.
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {
        "pool_pre_ping": True,
        "pool_size": 5,
        "max_overflow": 5,
        "pool_timeout": 3,
        "connect_args": {"connect_timeout": 3, "options": "-c statement_timeout=5000"},
    }
    # Seconds any one wait for PostgreSQL on the app's connections may last (connecting,
    # a query, a commit), also on a pooled connection to a server that stopped
    # answering, which neither timeout above covers (authapi/database_deadline.py): a
    # 503 within about 3 s. It replaces connect_timeout (libpq ignores it in psycopg2's
    # green mode); a query abandoned after it is still cancelled by statement_timeout.
    DATABASE_TIMEOUT = 3.0
    REDIS_URL = "redis://127.0.0.1:6379/0"
    # Instead of REDIS_URL (exactly one of the three; see docs/scaling.md): a Redis
    # Cluster named by some of its nodes, or a master watched by Redis Sentinel.
    REDIS_CLUSTER_NODES: tuple[str, ...] = ()  # ("host:port", ...)
    REDIS_SENTINELS: tuple[str, ...] = ()  # ("host:port", ...)
    REDIS_SENTINEL_MASTER = ""
    REDIS_PASSWORD = ""  # cluster / Sentinel data nodes (with REDIS_URL: in the URL)
    REDIS_SENTINEL_PASSWORD = ""  # the sentinels themselves
    REDIS_SOCKET_TIMEOUT = 1.0  # seconds; with one retry a dead Redis costs about 2 s
    REDIS_KEY_PREFIX = "authapi"

    # Base64 of PEM, as in the tutorial. Empty means "not configured".
    ACCESS_TOKEN_PRIVATE_KEY = ""
    ACCESS_TOKEN_PUBLIC_KEY = ""
    REFRESH_TOKEN_PRIVATE_KEY = ""
    REFRESH_TOKEN_PUBLIC_KEY = ""
    # Older access/refresh public keys that still verify (comma-separated base64 PEMs).
    ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS = ""
    REFRESH_TOKEN_PREVIOUS_PUBLIC_KEYS = ""
    ACCESS_TOKEN_EXPIRES_IN = 15  # minutes
    REFRESH_TOKEN_EXPIRES_IN = 60  # minutes
    SESSION_MAX_AGE = 24 * 60 * 60  # seconds: absolute cap no refresh extends
    REFRESH_REUSE_INTERVAL = 10  # seconds a superseded refresh token stays usable
    MAX_SESSIONS_PER_USER = 50  # live sessions per user; a new login ends the oldest beyond it
    JWT_ISSUER = "authapi"
    JWT_AUDIENCE = "authapi"
    JWT_LEEWAY = 30  # seconds of clock skew tolerated on exp/iat/nbf
    ACCESS_TOKEN_CACHE_SIZE = 2048  # verified access tokens remembered per process; 0 = off

    BCRYPT_ROUNDS = 12
    MAX_CONCURRENT_HASHES = 2  # per process; keeps a login storm from taking every thread
    HASHING_NICE = 5  # Linux: CPU priority of hashing threads (0 = same as requests)
    HASH_QUEUE_SIZE = 1  # per process: hashes that may wait for a slot; more -> 503 at once

    CORS_ORIGINS: tuple[str, ...] = ("http://localhost:3000",)
    COOKIE_SECURE = False
    REFRESH_COOKIE_PATH = "/api/auth"
    REFRESH_COOKIE_SAMESITE = "Lax"  # or "Strict" (see docs/security.md)
    MAX_CONTENT_LENGTH = 10 * 1024
    TRUSTED_PROXY_COUNT = 0

    RATELIMIT_ENABLED = True
    RATELIMIT_LOGIN_PER_ADDRESS = "20 per minute"
    # Failed password checks (login, current password) per (account, client address):
    # a hard limit. Per account, from anywhere: a ceiling that browsers which signed in
    # to the account before (DEVICE_COOKIE_DAYS) and signed-in callers do not hit.
    RATELIMIT_LOGIN_PER_ACCOUNT_ADDRESS = "10 per 15 minutes"
    RATELIMIT_LOGIN_PER_ACCOUNT = "100 per hour"
    RATELIMIT_REGISTER_PER_ADDRESS = "10 per hour"
    RATELIMIT_REFRESH_PER_SESSION = "30 per minute"  # counted once the token is verified
    RATELIMIT_REFRESH_PER_ADDRESS = "300 per minute"
    RATELIMIT_PASSWORD_CHANGE_PER_USER = "10 per hour"
    RATELIMIT_PASSWORD_CHANGE_PER_SESSION = "5 per 15 minutes"
    # Verification re-sends and password-reset requests (they send mail), shared. Never
    # a 429: mails beyond a budget are dropped silently, and the answer is the same.
    RATELIMIT_ACCOUNT_EMAILS_PER_ACCOUNT_ADDRESS = "3 per hour"
    RATELIMIT_ACCOUNT_EMAILS_PER_ADDRESS = "10 per hour"
    RATELIMIT_ACCOUNT_EMAILS_PER_ACCOUNT = "20 per day"
    DEVICE_COOKIE_DAYS = 365  # the known-device cookie (see authapi/devices.py)

    # Mail (SMTP). An empty MAIL_SERVER writes messages to the log instead (not in
    # production, where they are dropped with an error in the log).
    MAIL_SERVER = ""
    MAIL_PORT = 25
    MAIL_USERNAME = ""
    MAIL_PASSWORD = ""
    MAIL_USE_TLS = False  # STARTTLS after connecting (usually port 587)
    MAIL_USE_SSL = False  # TLS from the first byte (usually port 465)
    MAIL_SENDER = "authapi <no-reply@localhost>"
    MAIL_TIMEOUT = 10.0  # seconds per SMTP connection; sending never blocks a request
    # Seconds before each new attempt at a mail the SMTP server could not take for now
    # (unreachable, a 4xx answer); empty: one attempt only. A 5xx refusal is final.
    MAIL_RETRY_DELAYS: tuple[float, ...] = (5.0, 30.0, 120.0)
    # Base URL of the links in mails; empty = the API's own URL as the client reached
    # it (development and testing only: production never trusts the Host header).
    FRONTEND_URL = ""
    REQUIRE_VERIFIED_EMAIL = False  # refuse login (403) until the address is verified
    VERIFICATION_CODE_EXPIRES_IN = 24 * 60  # minutes
    RESET_TOKEN_EXPIRES_IN = 10  # minutes

    # Logs: one handler on the `authapi` logger, to stderr. LOG_FORMAT json or text.
    LOG_LEVEL = "INFO"
    LOG_FORMAT = "text"
    # Seconds info lines may wait to be written together (0: each at once; gunicorn.conf.py
    # sets 0.1 for the server). WARNING and worse are always written at once.
    LOG_FLUSH_SECONDS = 0.0
    METRICS_ENABLED = True  # GET /metrics (Prometheus); keep it off the public internet
    AUDIT_RETENTION_DAYS = 365  # `flask audit prune` deletes older audit rows; 0 keeps all
    METRICS_TOKEN = ""  # if set, /metrics asks for `Authorization: Bearer <token>`

    # Webhooks (docs/webhooks.md): endpoints are managed through /api/webhooks, events
    # go out from an outbox table through `flask webhooks worker`.
    WEBHOOK_ALLOW_PRIVATE_TARGETS = False  # loopback/private/link-local targets (dev, tests)
    WEBHOOK_CONNECT_TIMEOUT = 3.0  # seconds
    WEBHOOK_READ_TIMEOUT = 10.0  # seconds for the receiver's whole answer
    WEBHOOK_RESPONSE_MAX_BYTES = 1024  # of a receiver's answer body, read and kept
    WEBHOOK_MAX_ATTEMPTS = 10  # then the delivery is marked failed
    WEBHOOK_RETRY_BASE = 5.0  # seconds before the first retry (then x WEBHOOK_RETRY_FACTOR)
    WEBHOOK_RETRY_FACTOR = 3.2  # 9 retries over about 22 hours
    WEBHOOK_RETRY_JITTER = 0.2  # each delay +/- this fraction, at random
    WEBHOOK_DISABLE_AFTER = 5  # consecutive failed deliveries disable an endpoint (0 = never)
    WEBHOOK_SECRET_GRACE = 24 * 60 * 60  # seconds a rotated-out secret still signs
    WEBHOOK_POLL_INTERVAL = 1.0  # seconds the worker waits when nothing is due
    # Blocking hooks (synchronous, signed like webhooks with HOOK_SECRET).
    HOOK_BEFORE_USER_CREATED_URL = ""
    HOOK_CUSTOM_ACCESS_TOKEN_URL = ""
    HOOK_SECRET = ""  # whsec_<base64>; `flask webhooks new-secret` prints one
    HOOK_TIMEOUT = 2.0  # seconds (connect, and the whole answer)
    HOOK_FAIL_OPEN = False  # before-user-created: a hook that fails lets the sign-up through
    HOOK_CLAIMS_NAMESPACE = "app"  # the access-token claim the hook's claims go under

    # Passkeys (WebAuthn). The relying party is the site passkeys belong to: its RP ID is
    # a domain (the page's host or a parent of it), and only pages on WEBAUTHN_ORIGINS
    # may use them. The defaults work for the demo on http://localhost:8000 and a front
    # end on http://localhost:3000 (browsers allow plain http on localhost only).
    WEBAUTHN_RP_ID = "localhost"
    WEBAUTHN_RP_NAME = "authapi"
    WEBAUTHN_ORIGINS: tuple[str, ...] = ("http://localhost:8000", "http://localhost:3000")

    CLOCK_OFFSET = 0  # seconds; tests only (see authapi/clock.py)
    CLOCK_FROZEN_AT = 0.0  # UNIX seconds; tests only: 0 = the real clock (authapi/clock.py)
    DEV_KEYS_DIR = "instance/keys"

    # Sign-in with another provider (issue 17, docs/providers.md). OAUTH_PROVIDERS names
    # them; each NAME has OAUTH_<NAME>_ISSUER, _CLIENT_ID, _CLIENT_SECRET and optional
    # _PRESET (google, microsoft, github), _DISPLAY_NAME, _TRUST_MFA: those are copied
    # from the environment as they are (see oauth_settings_from_env). Empty = off.
    OAUTH_PROVIDERS: tuple[str, ...] = ()
    OAUTH_REDIRECT_ALLOWLIST: tuple[str, ...] = ()  # front-end URLs besides FRONTEND_URL
    PUBLIC_URL = ""  # the API's public base URL (callback URLs); required in production
    OAUTH_HTTP_TIMEOUT = 5.0  # seconds per request to a provider
    OAUTH_FLOW_EXPIRES_IN = 10.0  # minutes from "Sign in with..." to the callback
    # Email one-time codes (passwordless)
    OTP_SIGNUP = False  # a code for an unknown email creates a (verified) account
    OTP_EXPIRES_IN = 10.0  # minutes
    RATELIMIT_OTP_PER_ADDRESS = "10 per hour"
    # Per email address AND client address: another client cannot use up the owner's.
    RATELIMIT_OTP_PER_ACCOUNT = "3 per 10 minutes"
    RATELIMIT_OTP_VERIFY_PER_ADDRESS = "20 per minute"
    # Passwords (issue 14, docs/passwords.md). New hashes: bcrypt (BCRYPT_ROUNDS) or
    # argon2id (OWASP's minimum is the floor: 19 MiB and 2 iterations, or an equivalent).
    PASSWORD_HASHER = "bcrypt"  # bcrypt | argon2id
    ARGON2_TIME_COST = 2
    ARGON2_MEMORY_COST = 19456  # KiB
    ARGON2_PARALLELISM = 1
    PASSWORD_MAX_LENGTH = 256  # characters, with argon2id (bcrypt: 72 UTF-8 bytes)
    # Imported Firebase scrypt hashes: the project's hash parameters (base64).
    FIREBASE_SCRYPT_SIGNER_KEY = ""
    FIREBASE_SCRYPT_SALT_SEPARATOR = ""
    FLASK_SECURITY_PASSWORD_SALT = ""  # imported flask-security$ hashes
    PASSWORD_COMMON_CHECK = True  # refuse passwords on zxcvbn's common-password list
    PASSWORD_MIN_STRENGTH = 0  # zxcvbn score 1-4 a new password needs; 0 = no check
    # Have I Been Pwned range API (k-anonymity), off when empty,
    # e.g. https://api.pwnedpasswords.com/range/
    PWNED_PASSWORDS_URL = ""
    PWNED_PASSWORDS_TIMEOUT = 2.0  # seconds
    PWNED_PASSWORDS_FAIL_OPEN = True  # API down: accept the password (false: 503)
    PWNED_PASSWORDS_CACHE_TTL = 24 * 60 * 60  # seconds a range answer is kept in Redis
    # Second factors (docs/mfa.md). MFA_ENCRYPTION_KEY: base64 of 32 random bytes, the
    # AES-GCM key of TOTP secrets at rest (`openssl rand -base64 32`); required in production,
    # generated into DEV_KEYS_DIR elsewhere. Older keys that still decrypt: comma-separated.
    MFA_ENCRYPTION_KEY = ""
    MFA_ENCRYPTION_PREVIOUS_KEYS = ""
    MFA_ISSUER = "authapi"  # the account's label in authenticator apps
    MFA_TOKEN_EXPIRES_IN = 300  # seconds an mfa_token (password checked, code pending) lives
    MFA_TOKEN_MAX_ATTEMPTS = 5  # wrong codes one mfa_token is worth
    MFA_ENROLMENT_EXPIRES_IN = 600  # seconds to confirm a new TOTP secret
    MFA_ATTEMPTS_PER_ACCOUNT = 10  # code/password checks per account per window
    MFA_ATTEMPTS_WINDOW = 900  # seconds


class DevelopmentConfig(Config):
    APP_ENV = "development"
    WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # receivers on this machine
    # Every attempt still counts (the limit is what keeps 409s from listing who has an
    # account), but a developer's own demo and Postman runs from 127.0.0.1 must not
    # lock them out for an hour: production keeps the low defaults above.
    RATELIMIT_REGISTER_PER_ADDRESS = "1000 per hour"
    RATELIMIT_ACCOUNT_EMAILS_PER_ADDRESS = "1000 per hour"


class TestingConfig(Config):
    APP_ENV = "testing"
    TESTING = True
    BCRYPT_ROUNDS = 4
    SQLALCHEMY_DATABASE_URI = "postgresql+psycopg2://postgres@127.0.0.1:5432/authapi_test"
    REDIS_URL = "redis://127.0.0.1:6379/15"


class ProductionConfig(Config):
    APP_ENV = "production"
    COOKIE_SECURE = True
    LOG_FORMAT = "json"
    METRICS_ENABLED = False  # turn it on with METRICS_TOKEN, or on an internal-only bind


CONFIG_BY_ENV: dict[str, type[Config]] = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def _as_bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
    raise ValueError(f"expected a boolean (true/false), got {value!r}")


def as_int(value: str | int) -> int:
    """An integer, from an integer or its text (not a bool, not 1.5)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ValueError(f"expected an integer, got {value!r}")


def as_float(value: str | float) -> float:
    """A finite number, from a number or its text (not a bool).

    ``float()`` also reads ``nan`` and ``inf``, which no setting means: they would get
    past the range checks (``nan > 0`` is false, but so is ``nan <= 0``) and crash later.
    """
    number = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value.strip())
    if not math.isfinite(number):
        raise ValueError(f"expected a number, got {value!r}")
    return number


def as_str(value: str) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"expected a string, got {value!r}")


# ENV_MAPPING may name the builtins; these are what they mean for a setting.
STRICT_PARSERS: dict[Callable[..., Any], Callable[[Any], Any]] = {
    int: as_int,
    float: as_float,
    str: as_str,
}


def parser_for(parse: Callable[..., Any]) -> Callable[[Any], Any]:
    return STRICT_PARSERS.get(parse, parse)


def database_uri(value: str) -> str:
    """Pin the psycopg2 driver: SQLAlchemy 2.1 maps plain ``postgresql://`` to psycopg 3."""
    value = as_str(value)
    for scheme in ("postgres://", "postgresql://"):
        if value.startswith(scheme):
            return "postgresql+psycopg2://" + value[len(scheme) :]
    return value


def _as_list(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"expected a comma-separated list, got {value!r}")
    return tuple(item.strip() for item in items if item.strip())


def _as_seconds_list(value: str | tuple[float, ...] | list[float]) -> tuple[float, ...]:
    """Durations in seconds, comma-separated in text: ``"5,30,120"``."""
    items = _as_list(value) if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError(f"expected comma-separated seconds, got {value!r}")
    return tuple(as_float(item) for item in items)


def _log_level(value: str) -> str:
    level = as_str(value).strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ValueError(f"expected DEBUG, INFO, WARNING, ERROR or CRITICAL, got {value!r}")
    return level


def _log_format(value: str) -> str:
    fmt = as_str(value).strip().lower()
    if fmt not in {"json", "text"}:
        raise ValueError(f"expected json or text, got {value!r}")
    return fmt


def _provider_names(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """OAUTH_PROVIDERS: names, lower-cased (the variables use them upper-cased)."""
    return tuple(name.lower() for name in _as_list(value))


# Parsers that take a typed value as well as its text: applied to every value of their
# setting, whatever its source. Another parser only ever gets text.
TYPED_PARSERS: frozenset[Callable[[Any], Any]] = frozenset(
    {as_int, as_float, as_str, _as_bool, _as_list, database_uri, _log_level, _log_format}
    | {_provider_names, _as_seconds_list}
)


# Environment variable -> (config key, parser). The only place the environment is read.
ENV_MAPPING: dict[str, tuple[str, Callable[[str], Any]]] = {
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", database_uri),
    "REDIS_URL": ("REDIS_URL", str),
    "REDIS_CLUSTER_NODES": ("REDIS_CLUSTER_NODES", _as_list),
    "REDIS_SENTINELS": ("REDIS_SENTINELS", _as_list),
    "REDIS_SENTINEL_MASTER": ("REDIS_SENTINEL_MASTER", str),
    "REDIS_PASSWORD": ("REDIS_PASSWORD", str),
    "REDIS_SENTINEL_PASSWORD": ("REDIS_SENTINEL_PASSWORD", str),
    "ACCESS_TOKEN_PRIVATE_KEY": ("ACCESS_TOKEN_PRIVATE_KEY", str),
    "ACCESS_TOKEN_PUBLIC_KEY": ("ACCESS_TOKEN_PUBLIC_KEY", str),
    "REFRESH_TOKEN_PRIVATE_KEY": ("REFRESH_TOKEN_PRIVATE_KEY", str),
    "REFRESH_TOKEN_PUBLIC_KEY": ("REFRESH_TOKEN_PUBLIC_KEY", str),
    "ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS": ("ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS", str),
    "REFRESH_TOKEN_PREVIOUS_PUBLIC_KEYS": ("REFRESH_TOKEN_PREVIOUS_PUBLIC_KEYS", str),
    "ACCESS_TOKEN_EXPIRES_IN": ("ACCESS_TOKEN_EXPIRES_IN", float),
    "REFRESH_TOKEN_EXPIRES_IN": ("REFRESH_TOKEN_EXPIRES_IN", float),
    "SESSION_MAX_AGE": ("SESSION_MAX_AGE", int),
    "REFRESH_REUSE_INTERVAL": ("REFRESH_REUSE_INTERVAL", int),
    "JWT_ISSUER": ("JWT_ISSUER", str),
    "JWT_AUDIENCE": ("JWT_AUDIENCE", str),
    "JWT_LEEWAY": ("JWT_LEEWAY", int),
    "ACCESS_TOKEN_CACHE_SIZE": ("ACCESS_TOKEN_CACHE_SIZE", int),
    "CORS_ORIGINS": ("CORS_ORIGINS", _as_list),
    "COOKIE_SECURE": ("COOKIE_SECURE", _as_bool),
    "BCRYPT_ROUNDS": ("BCRYPT_ROUNDS", int),
    "MAX_CONCURRENT_HASHES": ("MAX_CONCURRENT_HASHES", int),
    "HASHING_NICE": ("HASHING_NICE", int),
    "HASH_QUEUE_SIZE": ("HASH_QUEUE_SIZE", int),
    "TRUSTED_PROXY_COUNT": ("TRUSTED_PROXY_COUNT", int),
    "RATELIMIT_ENABLED": ("RATELIMIT_ENABLED", _as_bool),
    "RATELIMIT_LOGIN_PER_ADDRESS": ("RATELIMIT_LOGIN_PER_ADDRESS", str),
    "RATELIMIT_LOGIN_PER_ACCOUNT": ("RATELIMIT_LOGIN_PER_ACCOUNT", str),
    "RATELIMIT_REGISTER_PER_ADDRESS": ("RATELIMIT_REGISTER_PER_ADDRESS", str),
    "RATELIMIT_REFRESH_PER_SESSION": ("RATELIMIT_REFRESH_PER_SESSION", str),
    "RATELIMIT_ACCOUNT_EMAILS_PER_ADDRESS": ("RATELIMIT_ACCOUNT_EMAILS_PER_ADDRESS", str),
    "RATELIMIT_ACCOUNT_EMAILS_PER_ACCOUNT": ("RATELIMIT_ACCOUNT_EMAILS_PER_ACCOUNT", str),
    "RATELIMIT_LOGIN_PER_ACCOUNT_ADDRESS": ("RATELIMIT_LOGIN_PER_ACCOUNT_ADDRESS", str),
    "RATELIMIT_REFRESH_PER_ADDRESS": ("RATELIMIT_REFRESH_PER_ADDRESS", str),
    "RATELIMIT_PASSWORD_CHANGE_PER_USER": ("RATELIMIT_PASSWORD_CHANGE_PER_USER", str),
    "RATELIMIT_PASSWORD_CHANGE_PER_SESSION": ("RATELIMIT_PASSWORD_CHANGE_PER_SESSION", str),
    "RATELIMIT_ACCOUNT_EMAILS_PER_ACCOUNT_ADDRESS": (
        "RATELIMIT_ACCOUNT_EMAILS_PER_ACCOUNT_ADDRESS",
        str,
    ),
    "DEVICE_COOKIE_DAYS": ("DEVICE_COOKIE_DAYS", float),
    "MAIL_SERVER": ("MAIL_SERVER", str),
    "MAIL_PORT": ("MAIL_PORT", int),
    "MAIL_USERNAME": ("MAIL_USERNAME", str),
    "MAIL_PASSWORD": ("MAIL_PASSWORD", str),
    "MAIL_USE_TLS": ("MAIL_USE_TLS", _as_bool),
    "MAIL_USE_SSL": ("MAIL_USE_SSL", _as_bool),
    "MAIL_SENDER": ("MAIL_SENDER", str),
    "MAIL_TIMEOUT": ("MAIL_TIMEOUT", float),
    "MAIL_RETRY_DELAYS": ("MAIL_RETRY_DELAYS", _as_seconds_list),
    "FRONTEND_URL": ("FRONTEND_URL", str),
    "REQUIRE_VERIFIED_EMAIL": ("REQUIRE_VERIFIED_EMAIL", _as_bool),
    "VERIFICATION_CODE_EXPIRES_IN": ("VERIFICATION_CODE_EXPIRES_IN", float),
    "RESET_TOKEN_EXPIRES_IN": ("RESET_TOKEN_EXPIRES_IN", float),
    "LOG_LEVEL": ("LOG_LEVEL", _log_level),
    "LOG_FORMAT": ("LOG_FORMAT", _log_format),
    "LOG_FLUSH_SECONDS": ("LOG_FLUSH_SECONDS", float),
    "METRICS_ENABLED": ("METRICS_ENABLED", _as_bool),
    "OAUTH_PROVIDERS": ("OAUTH_PROVIDERS", _provider_names),
    "OAUTH_REDIRECT_ALLOWLIST": ("OAUTH_REDIRECT_ALLOWLIST", _as_list),
    "PUBLIC_URL": ("PUBLIC_URL", str),
    "OAUTH_HTTP_TIMEOUT": ("OAUTH_HTTP_TIMEOUT", float),
    "OAUTH_FLOW_EXPIRES_IN": ("OAUTH_FLOW_EXPIRES_IN", float),
    "OTP_SIGNUP": ("OTP_SIGNUP", _as_bool),
    "OTP_EXPIRES_IN": ("OTP_EXPIRES_IN", float),
    "RATELIMIT_OTP_PER_ADDRESS": ("RATELIMIT_OTP_PER_ADDRESS", str),
    "RATELIMIT_OTP_PER_ACCOUNT": ("RATELIMIT_OTP_PER_ACCOUNT", str),
    "RATELIMIT_OTP_VERIFY_PER_ADDRESS": ("RATELIMIT_OTP_VERIFY_PER_ADDRESS", str),
    "WEBHOOK_ALLOW_PRIVATE_TARGETS": ("WEBHOOK_ALLOW_PRIVATE_TARGETS", _as_bool),
    "WEBHOOK_CONNECT_TIMEOUT": ("WEBHOOK_CONNECT_TIMEOUT", float),
    "WEBHOOK_READ_TIMEOUT": ("WEBHOOK_READ_TIMEOUT", float),
    "WEBHOOK_RESPONSE_MAX_BYTES": ("WEBHOOK_RESPONSE_MAX_BYTES", int),
    "WEBHOOK_MAX_ATTEMPTS": ("WEBHOOK_MAX_ATTEMPTS", int),
    "WEBHOOK_RETRY_BASE": ("WEBHOOK_RETRY_BASE", float),
    "WEBHOOK_RETRY_FACTOR": ("WEBHOOK_RETRY_FACTOR", float),
    "WEBHOOK_RETRY_JITTER": ("WEBHOOK_RETRY_JITTER", float),
    "WEBHOOK_DISABLE_AFTER": ("WEBHOOK_DISABLE_AFTER", int),
    "WEBHOOK_SECRET_GRACE": ("WEBHOOK_SECRET_GRACE", int),
    "WEBHOOK_POLL_INTERVAL": ("WEBHOOK_POLL_INTERVAL", float),
    "HOOK_BEFORE_USER_CREATED_URL": ("HOOK_BEFORE_USER_CREATED_URL", str),
    "HOOK_CUSTOM_ACCESS_TOKEN_URL": ("HOOK_CUSTOM_ACCESS_TOKEN_URL", str),
    "HOOK_SECRET": ("HOOK_SECRET", str),
    "HOOK_TIMEOUT": ("HOOK_TIMEOUT", float),
    "HOOK_FAIL_OPEN": ("HOOK_FAIL_OPEN", _as_bool),
    "HOOK_CLAIMS_NAMESPACE": ("HOOK_CLAIMS_NAMESPACE", str),
    "METRICS_TOKEN": ("METRICS_TOKEN", str),
    "REFRESH_COOKIE_SAMESITE": ("REFRESH_COOKIE_SAMESITE", str),
    "MAX_SESSIONS_PER_USER": ("MAX_SESSIONS_PER_USER", int),
    "AUDIT_RETENTION_DAYS": ("AUDIT_RETENTION_DAYS", int),
    "PASSWORD_HASHER": ("PASSWORD_HASHER", str),
    "ARGON2_TIME_COST": ("ARGON2_TIME_COST", int),
    "ARGON2_MEMORY_COST": ("ARGON2_MEMORY_COST", int),
    "ARGON2_PARALLELISM": ("ARGON2_PARALLELISM", int),
    "PASSWORD_MAX_LENGTH": ("PASSWORD_MAX_LENGTH", int),
    "FIREBASE_SCRYPT_SIGNER_KEY": ("FIREBASE_SCRYPT_SIGNER_KEY", str),
    "FIREBASE_SCRYPT_SALT_SEPARATOR": ("FIREBASE_SCRYPT_SALT_SEPARATOR", str),
    "FLASK_SECURITY_PASSWORD_SALT": ("FLASK_SECURITY_PASSWORD_SALT", str),
    "PASSWORD_COMMON_CHECK": ("PASSWORD_COMMON_CHECK", _as_bool),
    "PASSWORD_MIN_STRENGTH": ("PASSWORD_MIN_STRENGTH", int),
    "PWNED_PASSWORDS_URL": ("PWNED_PASSWORDS_URL", str),
    "PWNED_PASSWORDS_TIMEOUT": ("PWNED_PASSWORDS_TIMEOUT", float),
    "PWNED_PASSWORDS_FAIL_OPEN": ("PWNED_PASSWORDS_FAIL_OPEN", _as_bool),
    "PWNED_PASSWORDS_CACHE_TTL": ("PWNED_PASSWORDS_CACHE_TTL", int),
    "MFA_ENCRYPTION_KEY": ("MFA_ENCRYPTION_KEY", str),
    "MFA_ENCRYPTION_PREVIOUS_KEYS": ("MFA_ENCRYPTION_PREVIOUS_KEYS", str),
    "MFA_ISSUER": ("MFA_ISSUER", str),
    "MFA_TOKEN_EXPIRES_IN": ("MFA_TOKEN_EXPIRES_IN", int),
    "MFA_TOKEN_MAX_ATTEMPTS": ("MFA_TOKEN_MAX_ATTEMPTS", int),
    "MFA_ENROLMENT_EXPIRES_IN": ("MFA_ENROLMENT_EXPIRES_IN", int),
    "MFA_ATTEMPTS_PER_ACCOUNT": ("MFA_ATTEMPTS_PER_ACCOUNT", int),
    "MFA_ATTEMPTS_WINDOW": ("MFA_ATTEMPTS_WINDOW", int),
    "WEBAUTHN_RP_ID": ("WEBAUTHN_RP_ID", str),
    "WEBAUTHN_RP_NAME": ("WEBAUTHN_RP_NAME", str),
    "WEBAUTHN_ORIGINS": ("WEBAUTHN_ORIGINS", _as_list),
}

# Per provider NAME in OAUTH_PROVIDERS: OAUTH_<NAME>_<suffix>, kept as given.
OAUTH_PROVIDER_SUFFIXES = (
    "ISSUER",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "PRESET",
    "DISPLAY_NAME",
    "TRUST_MFA",
)


def oauth_settings_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The OAUTH_<NAME>_* variables of the providers OAUTH_PROVIDERS names."""
    settings: dict[str, str] = {}
    for name in _provider_names(environ.get("OAUTH_PROVIDERS", "")):
        for suffix in OAUTH_PROVIDER_SUFFIXES:
            variable = f"OAUTH_{name.upper()}_{suffix}"
            if environ.get(variable):
                settings[variable] = environ[variable]
    return settings


def parse_environment(environ: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The set environment variables as config keys, and the problems, each naming its
    variable (every one, not just the first)."""
    settings: dict[str, Any] = {}
    problems = []
    for env_name, (key, parse) in ENV_MAPPING.items():
        raw = environ.get(env_name)
        if raw is None or raw == "":
            continue
        try:
            settings[key] = parser_for(parse)(raw)
        except ValueError as exc:
            problems.append(f"{env_name}: {exc}")
    settings.update(oauth_settings_from_env(environ))
    return settings, problems


def settings_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Translate the set environment variables into config keys.

    Raises ``ValueError`` naming the variable when a value cannot be parsed.
    """
    settings, problems = parse_environment(environ)
    if problems:
        raise ValueError("; ".join(problems))
    return settings


def config_class_for(environ: Mapping[str, str] | None = None) -> type[Config]:
    """The config class named by APP_ENV (development by default)."""
    environ = os.environ if environ is None else environ
    name = environ.get("APP_ENV", "development").strip().lower() or "development"
    try:
        return CONFIG_BY_ENV[name]
    except KeyError:
        choices = ", ".join(CONFIG_BY_ENV)
        raise ValueError(f"APP_ENV must be one of {choices}, got {name!r}") from None
