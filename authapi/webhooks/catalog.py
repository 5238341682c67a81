"""The event types an endpoint can subscribe to, and the JSON each one sends.

Every body is a Standard Webhooks payload: ``{"type", "timestamp", "data"}``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

USER_CREATED = "user.created"
USER_VERIFIED = "user.verified"
USER_UPDATED = "user.updated"
USER_DISABLED = "user.disabled"
USER_DELETED = "user.deleted"
PASSWORD_CHANGED = "password.changed"
SESSION_CREATED = "session.created"
SESSION_REVOKED = "session.revoked"
REFRESH_REUSE_DETECTED = "refresh.reuse_detected"
MFA_ENROLLED = "mfa.enrolled"
MFA_REMOVED = "mfa.removed"
MFA_USED = "mfa.used"
MFA_FAILED = "mfa.failed"
MFA_RECOVERY_CODES_GENERATED = "mfa.recovery_codes_generated"

EVENT_TYPES: tuple[str, ...] = (
    USER_CREATED,
    USER_VERIFIED,
    USER_UPDATED,
    USER_DISABLED,
    USER_DELETED,
    PASSWORD_CHANGED,
    SESSION_CREATED,
    SESSION_REVOKED,
    REFRESH_REUSE_DETECTED,
    MFA_ENROLLED,
    MFA_REMOVED,
    MFA_USED,
    MFA_FAILED,
    MFA_RECOVERY_CODES_GENERATED,
)


def body(event_type: str, data: dict[str, Any], *, at: float) -> str:
    """The exact text sent (and signed): compact, keys sorted, the same on every retry."""
    timestamp = datetime.fromtimestamp(at, tz=UTC).isoformat().replace("+00:00", "Z")
    payload = {"type": event_type, "timestamp": timestamp, "data": data}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
