"""Standard Webhooks signatures (https://www.standardwebhooks.com), with its own package.

Secrets are ``whsec_`` + base64 of 32 random bytes. A message is signed with every
secret currently valid (after a rotation the old one too, for a while): the header
then carries one ``v1,<signature>`` per secret, separated by spaces, and a receiver
holding either secret verifies it.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def valid_secret(value: str) -> bool:
    """A ``whsec_`` secret whose key is 24 to 64 bytes (the spec's range)."""
    if not value.startswith(SECRET_PREFIX):
        return False
    try:
        key = base64.b64decode(value[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return False
    return 24 <= len(key) <= 64


def signature(keys: Sequence[str], message_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header: a ``v1,<base64>`` per secret."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return " ".join(Webhook(key).sign(message_id, moment, body) for key in keys)


def headers(keys: Sequence[str], message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """Every header of a signed request (``timestamp``: seconds, the time of sending)."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "authapi-webhooks",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(keys, message_id, timestamp, body),
    }
