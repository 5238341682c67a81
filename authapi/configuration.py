"""The settings step: every setting loaded, typed and validated in one place at startup.

``load_config`` takes the class defaults (by ``APP_ENV``, from :mod:`config`), then
the environment (:data:`config.ENV_MAPPING`), then ``create_app``'s overrides; types
every mapped setting with its parser whatever its source (``"15"`` and ``15`` are
the same setting); checks them all; and refuses to start with *every* problem listed
at once (:class:`ConfigurationError`). The durations are then offered once, as
``timedelta`` s, by :func:`authapi.durations.durations`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from limits import parse_many

from authapi import durations, embedded, hashers, keys, redis_connection
from authapi.hashers.argon2_family import meets_owasp_minimum
from authapi.mfa import settings as mfa_settings
from authapi.passkeys import relying_party
from authapi.tokens import TokenKeys
from authapi.webhooks import settings as webhook_settings
from config import (
    ENV_MAPPING,
    TYPED_PARSERS,
    config_class_for,
    parse_environment,
    parser_for,
)

# A mail's retries end within the default lifetime of the shortest-lived code it may
# carry (a password reset, an emailed sign-in code: 10 minutes).
MAX_MAIL_RETRY_SECONDS = 600

KEY_NAMES = (
    "ACCESS_TOKEN_PRIVATE_KEY",
    "ACCESS_TOKEN_PUBLIC_KEY",
    "REFRESH_TOKEN_PRIVATE_KEY",
    "REFRESH_TOKEN_PUBLIC_KEY",
)


log = logging.getLogger("authapi")


class ConfigurationError(RuntimeError):
    """The server must not start with this configuration; the message says what to fix."""


def _refuse(problems: list[str]) -> None:
    if len(problems) == 1:
        raise ConfigurationError(f"Invalid configuration: {problems[0]}")
    if problems:
        listed = "\n".join(f"- {problem}" for problem in problems)
        raise ConfigurationError(f"Invalid configuration ({len(problems)} problems):\n{listed}")


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Class defaults (by APP_ENV), then the environment, then explicit overrides;
    then every mapped setting typed, and all of them checked."""
    overrides = dict(overrides or {})
    environ = dict(os.environ)
    if "APP_ENV" in overrides:
        environ["APP_ENV"] = overrides["APP_ENV"]
    try:
        app.config.from_object(config_class_for(environ))
    except ValueError as error:
        raise ConfigurationError(f"Invalid configuration: {error}") from None
    from_env, problems = parse_environment(environ)
    app.config.update(from_env)
    app.config.update(overrides)
    problems += type_settings(app.config)
    _refuse(problems)  # the checks below need typed values
    embedded.choose_backends(app.config, {*from_env, *overrides}, app.instance_path)
    if "SQLALCHEMY_ENGINE_OPTIONS" not in overrides and embedded.is_sqlite(
        app.config["SQLALCHEMY_DATABASE_URI"]
    ):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    configure_rate_limit_storage(app.config)
    given = {name for name, value in {**from_env, **overrides}.items() if value not in ("", None)}
    check_config(app.config, given)
    durations.init_app(app)
    described = embedded.describe(app.config)
    if described:
        log.warning(
            "DEVELOPMENT MODE with embedded backends: %s. Set DATABASE_URL and REDIS_URL "
            "to use PostgreSQL and Redis.",
            " and ".join(described),
        )


def type_settings(config: dict[str, Any]) -> list[str]:
    """Every mapped setting through its parser, whatever its source; the problems.

    A text value always goes through its parser. A typed value goes through the
    parsers of config.TYPED_PARSERS (``int``, ``float``, ``str`` strictly, booleans,
    lists...); a parser made for text only (a new setting's own) is trusted with it.
    """
    problems = []
    for key, parse in {key: parse for key, parse in ENV_MAPPING.values()}.items():
        if key not in config:
            continue
        value, parse = config[key], parser_for(parse)
        if not isinstance(value, str) and parse not in TYPED_PARSERS:
            continue
        try:
            config[key] = parse(value)
        except ValueError as error:
            problems.append(f"{key}: {error}")
    return problems


def configure_rate_limit_storage(config: dict[str, Any]) -> None:
    """Counters live in the app's Redis unless RATELIMIT_STORAGE_URI says otherwise,
    with the same short timeouts, so a dead Redis is a quick 503."""
    # Retry-After is set by the 429 handler only (the library would add it everywhere).
    config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    if embedded.is_memory_redis(config["REDIS_URL"]):
        config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
        return
    # The same Redis topology as the sessions: one server, a cluster or Sentinel.
    uri, options = redis_connection.rate_limit_storage(config)
    config.setdefault("RATELIMIT_STORAGE_URI", uri)
    config.setdefault("RATELIMIT_STORAGE_OPTIONS", options)


# --- The checks: each yields the problems it finds (a sentence saying what to fix) ---

Problems = Iterator[str]


def check_redis_config(config: Mapping[str, Any], given: Collection[str]) -> Problems:
    """Redis is named exactly one way: REDIS_URL (one server), REDIS_CLUSTER_NODES (a
    Redis Cluster) or REDIS_SENTINELS + REDIS_SENTINEL_MASTER (Sentinel).

    REDIS_URL has a default, so it counts as set only when ``given`` (a non-empty
    environment variable or create_app override); the others when they are non-empty.
    """
    named = [
        *(["REDIS_URL"] if "REDIS_URL" in given else []),
        *(name for name in ("REDIS_CLUSTER_NODES", "REDIS_SENTINELS") if config.get(name)),
    ]
    if len(named) > 1:
        yield (
            f"Redis is configured more than once ({', '.join(named)}): set exactly one of "
            "REDIS_URL (one server), REDIS_CLUSTER_NODES (a Redis Cluster) or "
            "REDIS_SENTINELS with REDIS_SENTINEL_MASTER (Sentinel), and leave the others empty"
        )
    mode = redis_connection.redis_mode(config)
    for name in ("REDIS_CLUSTER_NODES", "REDIS_SENTINELS"):
        if config.get(name):
            try:
                redis_connection.parse_addresses(config[name])
            except ValueError as error:
                yield f"{name}: {error}"
    if mode == redis_connection.SENTINEL and not config.get("REDIS_SENTINEL_MASTER"):
        yield (
            "REDIS_SENTINELS needs REDIS_SENTINEL_MASTER: the name the sentinels monitor "
            "the master under (`sentinel monitor <name> ...`)"
        )
    if mode != redis_connection.SENTINEL:
        for name in ("REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD"):
            if config.get(name):
                yield (
                    f"{name} is set but REDIS_SENTINELS is empty: list the sentinels "
                    f"as host:port,host:port (or leave {name} empty)"
                )
    if mode == redis_connection.URL:
        if not config.get("REDIS_URL"):
            yield (
                "REDIS_URL is empty: set it (redis://host:6379/0), or name a cluster with "
                "REDIS_CLUSTER_NODES, or Sentinel with REDIS_SENTINELS"
            )
        if config.get("REDIS_PASSWORD"):
            yield (
                "With REDIS_URL the password goes in the URL (redis://:password@host:6379/0); "
                "REDIS_PASSWORD is for REDIS_CLUSTER_NODES and REDIS_SENTINELS"
            )


def check_mail_config(config: Mapping[str, Any], given: Collection[str]) -> Problems:
    """Mail and the links it carries."""
    if config["MAIL_USE_TLS"] and config["MAIL_USE_SSL"]:
        yield (
            "Set one of MAIL_USE_TLS (STARTTLS, usually port 587) and MAIL_USE_SSL "
            "(TLS from the start, usually port 465), not both"
        )
    if not 0 < config["MAIL_PORT"] < 65536:
        yield "MAIL_PORT must be a port number (1 to 65535)"
    if config["MAIL_TIMEOUT"] <= 0:
        yield "MAIL_TIMEOUT must be a positive number of seconds"
    delays = config["MAIL_RETRY_DELAYS"]
    if any(delay < 0 for delay in delays) or sum(delays) > MAX_MAIL_RETRY_SECONDS:
        yield (
            "MAIL_RETRY_DELAYS must be seconds of 0 or more, at most "
            f"{MAX_MAIL_RETRY_SECONDS} in all (a mail's code outlives its last attempt)"
        )
    frontend_url = config["FRONTEND_URL"]
    if frontend_url and not frontend_url.startswith(("http://", "https://")):
        yield "FRONTEND_URL must start with http:// or https://"
    if str(config["MAIL_SERVER"]).strip() and not frontend_url:
        yield (
            "MAIL_SERVER is set but FRONTEND_URL is not: links in mails are built from "
            "FRONTEND_URL only, never from the request's Host header; set it to the "
            "address users open (https://app.example.com)"
        )
    production = config["APP_ENV"] == "production"
    if production and config["REQUIRE_VERIFIED_EMAIL"]:
        missing = [name for name in ("MAIL_SERVER", "FRONTEND_URL") if not config[name]]
        if missing:
            yield (
                f"REQUIRE_VERIFIED_EMAIL needs {' and '.join(missing)} in production: "
                "without verification mails nobody could log in"
            )


# Lifetimes: (setting, unit); each must be positive.
LIFETIMES = (
    ("ACCESS_TOKEN_EXPIRES_IN", "minutes"),
    ("REFRESH_TOKEN_EXPIRES_IN", "minutes"),
    ("SESSION_MAX_AGE", "seconds"),
    ("VERIFICATION_CODE_EXPIRES_IN", "minutes"),
    ("RESET_TOKEN_EXPIRES_IN", "minutes"),
)
# Counts and durations that may be 0 but not negative.
NOT_NEGATIVE = ("JWT_LEEWAY", "REFRESH_REUSE_INTERVAL", "TRUSTED_PROXY_COUNT")


def check_tokens_and_sessions(config: Mapping[str, Any], given: Collection[str]) -> Problems:
    for name, unit in LIFETIMES:
        if config[name] <= 0:
            yield f"{name} must be a positive number of {unit}"
    for name in NOT_NEGATIVE:
        if config[name] < 0:
            yield f"{name} must be 0 or more"
    if 0 < config["SESSION_MAX_AGE"] < config["REFRESH_TOKEN_EXPIRES_IN"] * 60:
        yield (
            f"REFRESH_TOKEN_EXPIRES_IN ({config['REFRESH_TOKEN_EXPIRES_IN']:g} minutes) is "
            f"longer than SESSION_MAX_AGE ({config['SESSION_MAX_AGE']} seconds), the cap no "
            "refresh goes past: shorten the first or raise the second"
        )
    if not 4 <= config["BCRYPT_ROUNDS"] <= 31:
        rounds = config["BCRYPT_ROUNDS"]
        yield f"BCRYPT_ROUNDS must be between 4 and 31 (bcrypt's range), not {rounds}"


def is_rate_limit_setting(name: str) -> bool:
    """``RATELIMIT_<ACTION>_PER_<KEY>`` settings are limit strings (``RATELIMIT_ENABLED``,
    ``RATELIMIT_STORAGE_URI``... configure Flask-Limiter itself)."""
    return name.startswith("RATELIMIT_") and "_PER_" in name


def check_rate_limits(config: Mapping[str, Any], given: Collection[str]) -> Problems:
    """Flask-Limiter would skip an unparsable limit at request time: no limit at all."""
    for name in sorted(filter(is_rate_limit_setting, config)):
        value = config[name]
        try:
            if not isinstance(value, str) or not parse_many(value):
                raise ValueError(value)
        except ValueError:
            yield (
                f"{name}: {value!r} is not a rate limit: write e.g. '10 per minute', "
                "'5/second' or '100 per hour; 1000 per day'"
            )


def is_origin(value: str) -> bool:
    """``http(s)://host[:port]`` as a browser writes it in ``Origin`` (lower case, no
    default port, nothing after the host), which CORS and the cross-site check compare
    exactly: anything else would never match and silently turn the front end away."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and "@" not in parts.netloc
        and value == f"{parts.scheme}://{parts.netloc}"
        and value == value.lower()
        and port != {"http": 80, "https": 443}[parts.scheme]
    )


def check_limits_and_origins(config: Mapping[str, Any], given: Collection[str]) -> Problems:
    origins = tuple(config["CORS_ORIGINS"])
    if any(origin.strip() in {"*", "null"} for origin in origins):
        yield (
            "CORS_ORIGINS must list exact front-end origins (e.g. https://app.example.com); "
            "'*' or 'null' would let any site make credentialed requests"
        )
    else:
        for origin in origins:
            if not is_origin(origin):
                yield (
                    f"CORS_ORIGINS: {origin!r} is not an origin: write scheme://host[:port] "
                    "with nothing after it (https://app.example.com), as browsers send it"
                )
    if config["MAX_CONCURRENT_HASHES"] < 1:
        yield "MAX_CONCURRENT_HASHES must be at least 1"
    if not 0 <= config["HASHING_NICE"] <= 19:
        yield "HASHING_NICE must be between 0 and 19"
    if config["HASH_QUEUE_SIZE"] < 0:
        yield "HASH_QUEUE_SIZE must be 0 or more"
    if config["MAX_SESSIONS_PER_USER"] < 1:
        yield "MAX_SESSIONS_PER_USER must be at least 1"
    if config["AUDIT_RETENTION_DAYS"] < 0:
        yield "AUDIT_RETENTION_DAYS must be 0 (keep everything) or more"
    if config["REFRESH_COOKIE_SAMESITE"] not in ("Lax", "Strict"):
        yield "REFRESH_COOKIE_SAMESITE must be Lax or Strict"
    if config["DEVICE_COOKIE_DAYS"] <= 0:
        yield "DEVICE_COOKIE_DAYS must be a positive number of days"
    if config["ACCESS_TOKEN_CACHE_SIZE"] < 0:
        yield "ACCESS_TOKEN_CACHE_SIZE must be 0 (off) or a positive number"


def check_production(config: Mapping[str, Any], given: Collection[str]) -> Problems:
    if config["APP_ENV"] != "production":
        return
    missing = [name for name in KEY_NAMES if not config.get(name)]
    if missing:
        yield f"Production needs {', '.join(missing)}: run `flask keys generate` and set them"
    if embedded.describe(dict(config)):
        yield (
            "Production needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL "
            "(SQLite and the in-process Redis are for development only)"
        )
    if config["CLOCK_OFFSET"]:
        yield "CLOCK_OFFSET is for tests only and must be 0 in production"
    if not config["COOKIE_SECURE"]:
        yield "Production needs COOKIE_SECURE=true (cookies only over HTTPS)"


def check_sign_in_methods(config: Mapping[str, Any], given: Collection[str]) -> Problems:
    """Provider sign-in and email codes (issue 17)."""
    from authapi.oauth import settings as oauth_settings

    try:
        oauth_settings.check(config)
    except oauth_settings.ProviderConfigError as error:
        yield str(error)
    if config["OTP_EXPIRES_IN"] <= 0:
        yield "OTP_EXPIRES_IN must be a positive number of minutes"


def check_password_config(config: Mapping[str, Any], given: Collection[str]) -> Problems:
    """Password hashing and checks (issue 14: docs/passwords.md)."""
    hasher = config["PASSWORD_HASHER"]
    if hasher not in hashers.base.HASHERS:
        yield f"PASSWORD_HASHER must be bcrypt or argon2id, got {hasher!r}"
    memory, time_cost = config["ARGON2_MEMORY_COST"], config["ARGON2_TIME_COST"]
    if not meets_owasp_minimum(memory, time_cost) or config["ARGON2_PARALLELISM"] < 1:
        yield (
            "ARGON2_MEMORY_COST (KiB) and ARGON2_TIME_COST are below OWASP's minimum for "
            "argon2id: use at least 19456 KiB with 2 iterations (or 47104/1, 12288/3, "
            "9216/4, 7168/5), and ARGON2_PARALLELISM >= 1"
        )
    if not 8 <= config["PASSWORD_MAX_LENGTH"] <= 4096:
        yield "PASSWORD_MAX_LENGTH must be between 8 and 4096 characters"
    for name in ("FIREBASE_SCRYPT_SIGNER_KEY", "FIREBASE_SCRYPT_SALT_SEPARATOR"):
        try:
            hashers.base.b64decode_strict(config[name])
        except hashers.MalformedHash:
            yield f"{name} must be base64 (as Firebase shows it)"
    if not 0 <= config["PASSWORD_MIN_STRENGTH"] <= 4:
        yield "PASSWORD_MIN_STRENGTH must be 0 (off) or a zxcvbn score 1-4"
    url = config["PWNED_PASSWORDS_URL"]
    if url and not url.startswith(("http://", "https://")):
        yield "PWNED_PASSWORDS_URL must start with https:// (or http://)"
    if not 0 < config["PWNED_PASSWORDS_TIMEOUT"] <= 30:
        yield "PWNED_PASSWORDS_TIMEOUT must be between 0 and 30 seconds"
    if config["PWNED_PASSWORDS_CACHE_TTL"] < 1:
        yield "PWNED_PASSWORDS_CACHE_TTL must be at least 1 second"


def check_webhooks(config: Mapping[str, Any], given: Collection[str]) -> Problems:
    """Webhook and hook settings (docs/webhooks.md)."""
    yield from webhook_settings.problems(config)


# Every check, run in this order; a new one: append it.
CHECKS: list[Callable[[Mapping[str, Any], Collection[str]], Problems]] = [
    check_redis_config,
    check_mail_config,
    check_tokens_and_sessions,
    check_rate_limits,
    check_limits_and_origins,
    check_production,
    check_sign_in_methods,
    check_password_config,
    mfa_settings.check,
    check_webhooks,
    relying_party.check_config,
]


def check_config(config: Mapping[str, Any], given: Collection[str] = ()) -> None:
    """Refuse to start on a configuration that is inconsistent or unsafe, naming every
    problem at once.

    ``given``: the settings explicitly set (environment or overrides), as opposed to
    class defaults.
    """
    _refuse([problem for check in CHECKS for problem in check(config, given)])


def _dev_keys(app: Flask) -> dict[str, str]:
    """Development only: keys in instance/keys, generated on first use."""
    directory = Path(app.root_path).parent / app.config["DEV_KEYS_DIR"]
    directory.mkdir(parents=True, exist_ok=True)
    values: dict[str, str] = {}
    for kind in ("access", "refresh"):
        private_path = directory / f"{kind}_private.pem"
        public_path = directory / f"{kind}_public.pem"
        if not private_path.exists():
            keys.write_key_pair(directory, kind, keys.generate_private_key())
            app.logger.warning("generated development %s token keys in %s", kind, directory)
        values[f"{kind.upper()}_TOKEN_PRIVATE_KEY"] = private_path.read_text()
        values[f"{kind.upper()}_TOKEN_PUBLIC_KEY"] = public_path.read_text()
    return values


def load_token_keys(app: Flask) -> TokenKeys:
    config = dict(app.config)
    if not all(config.get(name) for name in KEY_NAMES):
        if config["APP_ENV"] == "production":
            raise ConfigurationError("token keys are required in production")
        config.update(_dev_keys(app))
    try:
        token_keys = TokenKeys(
            access=keys.build_key_ring(
                config["ACCESS_TOKEN_PRIVATE_KEY"],
                config["ACCESS_TOKEN_PUBLIC_KEY"],
                config["ACCESS_TOKEN_PREVIOUS_PUBLIC_KEYS"],
                "ACCESS_TOKEN",
            ),
            refresh=keys.build_key_ring(
                config["REFRESH_TOKEN_PRIVATE_KEY"],
                config["REFRESH_TOKEN_PUBLIC_KEY"],
                config["REFRESH_TOKEN_PREVIOUS_PUBLIC_KEYS"],
                "REFRESH_TOKEN",
            ),
        )
    except keys.KeyConfigError as error:
        raise ConfigurationError(str(error)) from None
    shared = token_keys.access.verifying_keys.keys() & token_keys.refresh.verifying_keys.keys()
    if shared:
        # One key for both kinds would publish the refresh tokens' key in the JWKS, and
        # leave only the type claim between the two kinds (SECURITY.md: separate pairs).
        raise ConfigurationError(
            "the access and refresh tokens need their own key pairs: a key of "
            "ACCESS_TOKEN_* is also one of REFRESH_TOKEN_* (flask keys generate makes both)"
        )
    return token_keys
