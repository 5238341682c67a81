"""The configured providers, read once from the config and checked at startup.

Names and variables are fixed by the deployment docs: ``OAUTH_PROVIDERS=google,corp``
and per NAME ``OAUTH_<NAME>_ISSUER``, ``_CLIENT_ID``, ``_CLIENT_SECRET``, optional
``_PRESET`` (google, microsoft, github), ``_DISPLAY_NAME`` and ``_TRUST_MFA``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

NAME_FORMAT = re.compile(r"[a-z][a-z0-9]{0,31}")

GOOGLE = "google"
MICROSOFT = "microsoft"
GITHUB = "github"
PRESETS = (GOOGLE, MICROSOFT, GITHUB)

# What a preset fills in when the deployment leaves it out.
PRESET_ISSUERS = {
    GOOGLE: "https://accounts.google.com",
    # Any Entra ID tenant; a single-tenant app sets its own .../<tenant>/v2.0 issuer.
    MICROSOFT: "https://login.microsoftonline.com/common/v2.0",
    GITHUB: "https://github.com",
}
PRESET_DISPLAY_NAMES = {GOOGLE: "Google", MICROSOFT: "Microsoft", GITHUB: "GitHub"}


class ProviderConfigError(ValueError):
    """A provider's settings are incomplete or unsafe; the message names the variable."""


@dataclass(frozen=True)
class Provider:
    name: str
    issuer: str
    client_id: str
    client_secret: str
    preset: str | None
    display_name: str
    trust_mfa: bool

    @property
    def is_oidc(self) -> bool:
        """GitHub is plain OAuth 2.0 (no ID token): its own endpoints and emails API."""
        return self.preset != GITHUB


def _flag(value: Any, variable: str) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value or "").strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"", "0", "false", "no", "off"}:
        return False
    raise ProviderConfigError(f"{variable} must be true or false")


def _provider(name: str, config: Mapping[str, Any]) -> Provider:
    prefix = f"OAUTH_{name.upper()}_"

    def setting(suffix: str) -> str:
        return str(config.get(prefix + suffix) or "").strip()

    preset = setting("PRESET").lower() or None
    if preset is not None and preset not in PRESETS:
        raise ProviderConfigError(f"{prefix}PRESET must be one of {', '.join(PRESETS)}")
    issuer = (setting("ISSUER") or PRESET_ISSUERS.get(preset or "", "")).rstrip("/")
    missing = [
        prefix + suffix
        for suffix, value in (
            ("ISSUER", issuer),
            ("CLIENT_ID", setting("CLIENT_ID")),
            ("CLIENT_SECRET", setting("CLIENT_SECRET")),
        )
        if not value
    ]
    if missing:
        raise ProviderConfigError(
            f"provider {name!r} is incomplete: set {', '.join(missing)} (or remove {name!r} "
            "from OAUTH_PROVIDERS)"
        )
    parts = urlsplit(issuer)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query:
        raise ProviderConfigError(f"{prefix}ISSUER must be an https:// URL, got {issuer!r}")
    if parts.scheme == "http" and config["APP_ENV"] == "production":
        raise ProviderConfigError(f"{prefix}ISSUER must use https:// in production")
    return Provider(
        name=name,
        issuer=issuer,
        client_id=setting("CLIENT_ID"),
        client_secret=setting("CLIENT_SECRET"),
        preset=preset,
        display_name=setting("DISPLAY_NAME") or PRESET_DISPLAY_NAMES.get(preset or "", name),
        trust_mfa=_flag(config.get(prefix + "TRUST_MFA"), prefix + "TRUST_MFA"),
    )


def providers_from_config(config: Mapping[str, Any]) -> dict[str, Provider]:
    """Every configured provider by name (empty: the feature is off)."""
    providers: dict[str, Provider] = {}
    for name in config.get("OAUTH_PROVIDERS") or ():
        if not NAME_FORMAT.fullmatch(name):
            raise ProviderConfigError(
                f"OAUTH_PROVIDERS: {name!r} is not a provider name (a-z then a-z0-9, at most 32)"
            )
        if name in providers:
            raise ProviderConfigError(f"OAUTH_PROVIDERS names {name!r} twice")
        providers[name] = _provider(name, config)
    return providers


def _check_base_url(config: Mapping[str, Any], name: str) -> None:
    value = str(config.get(name) or "")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ProviderConfigError(f"{name} must be an http(s):// URL, got {value!r}")
    if parts.username is not None or parts.query or parts.fragment:
        raise ProviderConfigError(f"{name} must have no user, query or fragment: {value!r}")


def check(config: Mapping[str, Any]) -> dict[str, Provider]:
    """Startup check of everything provider sign-in reads; the providers when valid."""
    providers = providers_from_config(config)
    if not providers:
        return providers
    if config.get("PUBLIC_URL"):
        _check_base_url(config, "PUBLIC_URL")
    for entry in config.get("OAUTH_REDIRECT_ALLOWLIST") or ():
        _check_base_url({"OAUTH_REDIRECT_ALLOWLIST": entry}, "OAUTH_REDIRECT_ALLOWLIST")
    if float(config["OAUTH_HTTP_TIMEOUT"]) <= 0 or float(config["OAUTH_FLOW_EXPIRES_IN"]) <= 0:
        raise ProviderConfigError("OAUTH_HTTP_TIMEOUT and OAUTH_FLOW_EXPIRES_IN must be positive")
    if config["APP_ENV"] == "production":
        missing = [name for name in ("PUBLIC_URL", "FRONTEND_URL") if not config.get(name)]
        if missing:
            raise ProviderConfigError(
                f"OAUTH_PROVIDERS needs {' and '.join(missing)} in production: callback URLs "
                "and redirects are never built from the request's Host header there"
            )
    return providers
