"""Auth events as blinker signals: the service says what happened, listeners decide
what to do with it (log lines, metrics, the audit table) without the service
knowing about any of them.

Every signal is sent with the app as sender and the keyword argument ``user_id``
(str, or None where no account is known) plus the ones named in the comment;
listeners run inside the request, so they read the client address and user agent
from it. No signal ever carries a password, token or cookie value.
"""

from __future__ import annotations

from typing import Any

from blinker import Namespace
from flask import current_app

_signals = Namespace()

user_registered = _signals.signal("user-registered")
login_succeeded = _signals.signal("login-succeeded")  # session_id
# user_id is None for unknown emails; reason: unknown_email, wrong_password, disabled,
# unverified
login_failed = _signals.signal("login-failed")
token_refreshed = _signals.signal("token-refreshed")  # session_id, generation
refresh_reuse_detected = _signals.signal("refresh-reuse-detected")  # session_id
logged_out = _signals.signal("logged-out")  # session_id, scope, ended
password_changed = _signals.signal("password-changed")
# by: the acting admin's id, None when not done through the admin API (e.g. the CLI)
user_deleted = _signals.signal("user-deleted")  # by
email_verified = _signals.signal("email-verified")
password_reset = _signals.signal("password-reset")  # ended (sessions)
role_changed = _signals.signal("role-changed")  # old_role, new_role, by
user_disabled = _signals.signal("user-disabled")  # by, ended (sessions)
user_enabled = _signals.signal("user-enabled")  # by
# Passkeys: passkey_id (the row id, never the credential) on each; reason on failures
# (challenge, unknown_credential, other_user, user_handle, verification, counter,
# backup_eligibility, registration); via on uses (login, mfa); by on admin removals.
passkey_added = _signals.signal("passkey-added")  # passkey_id
passkey_renamed = _signals.signal("passkey-renamed")  # passkey_id
passkey_removed = _signals.signal("passkey-removed")  # passkey_id, by
passkey_used = _signals.signal("passkey-used")  # passkey_id, via
passkey_failed = _signals.signal("passkey-failed")  # reason, passkey_id


def emit(signal: Any, **data: Any) -> None:
    signal.send(current_app._get_current_object(), **data)
