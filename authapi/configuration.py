"""Loading configuration into an app, refusing unsafe production settings, loading keys."""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from authapi import embedded, keys, redis_connection
from authapi.passkeys import relying_party
from authapi.tokens import TokenKeys
from config import config_class_for, settings_from_env

KEY_NAMES = (
    "ACCESS_TOKEN_PRIVATE_KEY",
    "ACCESS_TOKEN_PUBLIC_KEY",
    "REFRESH_TOKEN_PRIVATE_KEY",
    "REFRESH_TOKEN_PUBLIC_KEY",
)


log = logging.getLogger("authapi")


class ConfigurationError(RuntimeError):
    """The server must not start with this configuration; the message says what to fix."""


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Class defaults (by APP_ENV), then the environment, then explicit overrides."""
    overrides = dict(overrides or {})
    environ = dict(os.environ)
    if "APP_ENV" in overrides:
        environ["APP_ENV"] = overrides["APP_ENV"]
    try:
        app.config.from_object(config_class_for(environ))
        from_env = settings_from_env(environ)
    except ValueError as error:
        raise ConfigurationError(f"Invalid configuration: {error}") from None
    app.config.update(from_env)
    app.config.update(overrides)
    embedded.choose_backends(app.config, {*from_env, *overrides}, app.instance_path)
    if "SQLALCHEMY_ENGINE_OPTIONS" not in overrides and embedded.is_sqlite(
        app.config["SQLALCHEMY_DATABASE_URI"]
    ):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    configure_rate_limit_storage(app.config)
    given = {name for name, value in {**from_env, **overrides}.items() if value not in ("", None)}
    check_config(app.config, given)
    described = embedded.describe(app.config)
    if described:
        log.warning(
            "DEVELOPMENT MODE with embedded backends: %s. Set DATABASE_URL and REDIS_URL "
            "to use PostgreSQL and Redis.",
            " and ".join(described),
        )


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


def check_redis_config(config: Mapping[str, Any], given: Collection[str]) -> None:
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
        raise ConfigurationError(
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
                raise ConfigurationError(f"{name}: {error}") from None
    if mode == redis_connection.SENTINEL and not config.get("REDIS_SENTINEL_MASTER"):
        raise ConfigurationError(
            "REDIS_SENTINELS needs REDIS_SENTINEL_MASTER: the name the sentinels monitor "
            "the master under (`sentinel monitor <name> ...`)"
        )
    if mode != redis_connection.SENTINEL:
        for name in ("REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD"):
            if config.get(name):
                raise ConfigurationError(
                    f"{name} is set but REDIS_SENTINELS is empty: list the sentinels "
                    f"as host:port,host:port (or leave {name} empty)"
                )
    if mode == redis_connection.URL:
        if not config.get("REDIS_URL"):
            raise ConfigurationError(
                "REDIS_URL is empty: set it (redis://host:6379/0), or name a cluster with "
                "REDIS_CLUSTER_NODES, or Sentinel with REDIS_SENTINELS"
            )
        if config.get("REDIS_PASSWORD"):
            raise ConfigurationError(
                "With REDIS_URL the password goes in the URL (redis://:password@host:6379/0); "
                "REDIS_PASSWORD is for REDIS_CLUSTER_NODES and REDIS_SENTINELS"
            )


def check_mail_config(config: Mapping[str, Any]) -> None:
    """Mail and the links it carries (issue 7: account lifecycle)."""
    if config["MAIL_USE_TLS"] and config["MAIL_USE_SSL"]:
        raise ConfigurationError(
            "Set one of MAIL_USE_TLS (STARTTLS, usually port 587) and MAIL_USE_SSL "
            "(TLS from the start, usually port 465), not both"
        )
    frontend_url = config["FRONTEND_URL"]
    if frontend_url and not frontend_url.startswith(("http://", "https://")):
        raise ConfigurationError("FRONTEND_URL must start with http:// or https://")
    for name in ("VERIFICATION_CODE_EXPIRES_IN", "RESET_TOKEN_EXPIRES_IN"):
        if float(config[name]) <= 0:
            raise ConfigurationError(f"{name} must be a positive number of minutes")
    production = config["APP_ENV"] == "production"
    if production and config["REQUIRE_VERIFIED_EMAIL"]:
        missing = [name for name in ("MAIL_SERVER", "FRONTEND_URL") if not config[name]]
        if missing:
            raise ConfigurationError(
                f"REQUIRE_VERIFIED_EMAIL needs {' and '.join(missing)} in production: "
                "without verification mails nobody could log in"
            )


def check_config(config: Mapping[str, Any], given: Collection[str] = ()) -> None:
    """Refuse to start on a configuration that is inconsistent or unsafe.

    ``given``: the settings explicitly set (environment or overrides), as opposed to
    class defaults.
    """
    check_redis_config(config, given)
    check_mail_config(config)
    passkey_problems = relying_party.check_config(config)
    if passkey_problems:
        raise ConfigurationError("; ".join(passkey_problems))
    origins = tuple(config["CORS_ORIGINS"])
    if any(origin.strip() in {"*", "null"} for origin in origins):
        raise ConfigurationError(
            "CORS_ORIGINS must list exact front-end origins (e.g. https://app.example.com); "
            "'*' or 'null' would let any site make credentialed requests"
        )
    if int(config["MAX_CONCURRENT_HASHES"]) < 1:
        raise ConfigurationError("MAX_CONCURRENT_HASHES must be at least 1")
    if not 0 <= int(config["HASHING_NICE"]) <= 19:
        raise ConfigurationError("HASHING_NICE must be between 0 and 19")
    if int(config["ACCESS_TOKEN_CACHE_SIZE"]) < 0:
        raise ConfigurationError("ACCESS_TOKEN_CACHE_SIZE must be 0 (off) or a positive number")
    if config["APP_ENV"] != "production":
        return
    missing = [name for name in KEY_NAMES if not config.get(name)]
    if missing:
        raise ConfigurationError(
            f"Production needs {', '.join(missing)}: run `flask keys generate` and set them"
        )
    if embedded.describe(dict(config)):
        raise ConfigurationError(
            "Production needs PostgreSQL and Redis: set DATABASE_URL and REDIS_URL "
            "(SQLite and the in-process Redis are for development only)"
        )
    if config["CLOCK_OFFSET"]:
        raise ConfigurationError("CLOCK_OFFSET is for tests only and must be 0 in production")
    if not config["COOKIE_SECURE"]:
        raise ConfigurationError("Production needs COOKIE_SECURE=true (cookies only over HTTPS)")


def _dev_keys(app: Flask) -> dict[str, str]:
    """Development only: keys in instance/keys, generated on first use."""
    directory = Path(app.root_path).parent / app.config["DEV_KEYS_DIR"]
    directory.mkdir(parents=True, exist_ok=True)
    values: dict[str, str] = {}
    for kind in ("access", "refresh"):
        private_path = directory / f"{kind}_private.pem"
        public_path = directory / f"{kind}_public.pem"
        if not private_path.exists():
            private_key = keys.generate_private_key()
            private_path.write_bytes(keys.private_pem(private_key))
            private_path.chmod(0o600)
            public_path.write_bytes(keys.public_pem(private_key.public_key()))
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
        return TokenKeys(
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
