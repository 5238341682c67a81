"""Webhook and hook settings: checked at startup, read as typed values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authapi.webhooks import signing, transport

# Claims a hook may never set, not even inside its namespace.
RESERVED_CLAIMS = frozenset(
    {"sub", "sid", "exp", "iss", "aud", "type", "iat", "nbf", "jti", "amr", "gen"}
)


def production(config: Mapping[str, Any]) -> bool:
    return config["APP_ENV"] == "production"


def webhook_policy(config: Mapping[str, Any]) -> transport.Policy:
    return transport.Policy(
        allow_private=bool(config["WEBHOOK_ALLOW_PRIVATE_TARGETS"]),
        https_only=production(config),
        connect_timeout=float(config["WEBHOOK_CONNECT_TIMEOUT"]),
        read_timeout=float(config["WEBHOOK_READ_TIMEOUT"]),
        max_response_bytes=int(config["WEBHOOK_RESPONSE_MAX_BYTES"]),
    )


def hook_policy(config: Mapping[str, Any]) -> transport.Policy:
    """Hooks are named by the operator, not by an admin through the API: private
    addresses are allowed (they usually run next to the server)."""
    timeout = float(config["HOOK_TIMEOUT"])
    return transport.Policy(
        allow_private=True,
        https_only=production(config),
        connect_timeout=timeout,
        read_timeout=timeout,
        max_response_bytes=16 * 1024,
    )


def problems(config: Mapping[str, Any]) -> list[str]:
    """What is wrong with the webhook and hook settings (empty: nothing)."""
    found: list[str] = []
    for name in (
        "WEBHOOK_CONNECT_TIMEOUT",
        "WEBHOOK_READ_TIMEOUT",
        "WEBHOOK_RETRY_BASE",
        "WEBHOOK_POLL_INTERVAL",
        "HOOK_TIMEOUT",
    ):
        if float(config[name]) <= 0:
            found.append(f"{name} must be a positive number of seconds")
    if int(config["WEBHOOK_MAX_ATTEMPTS"]) < 1:
        found.append("WEBHOOK_MAX_ATTEMPTS must be at least 1")
    if float(config["WEBHOOK_RETRY_FACTOR"]) < 1:
        found.append("WEBHOOK_RETRY_FACTOR must be at least 1")
    if not 0 <= float(config["WEBHOOK_RETRY_JITTER"]) < 1:
        found.append("WEBHOOK_RETRY_JITTER must be between 0 and 1 (a fraction of the delay)")
    for name in ("WEBHOOK_DISABLE_AFTER", "WEBHOOK_SECRET_GRACE"):
        if int(config[name]) < 0:
            found.append(f"{name} must be 0 or more")
    if int(config["WEBHOOK_RESPONSE_MAX_BYTES"]) < 0:
        found.append("WEBHOOK_RESPONSE_MAX_BYTES must be 0 or more")
    hooks = [
        name
        for name in ("HOOK_BEFORE_USER_CREATED_URL", "HOOK_CUSTOM_ACCESS_TOKEN_URL")
        if config[name]
    ]
    for name in hooks:
        try:
            transport.check_url(config[name], https_only=production(config))
        except transport.TargetRefused as refused:
            found.append(f"{name}: {refused}")
    if hooks and not signing.valid_secret(str(config["HOOK_SECRET"])):
        found.append(
            f"{' and '.join(hooks)} need HOOK_SECRET: a whsec_ secret "
            "(`flask webhooks new-secret` prints one)"
        )
    namespace = str(config["HOOK_CLAIMS_NAMESPACE"])
    if not namespace or namespace in RESERVED_CLAIMS or namespace in {"gen", "kid"}:
        found.append("HOOK_CLAIMS_NAMESPACE must be a claim name of its own (default: app)")
    return found
