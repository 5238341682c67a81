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
token_refreshed = _signals.signal("token-refreshed")  # session_id, generation, outcome
refresh_reuse_detected = _signals.signal("refresh-reuse-detected")  # session_id
logged_out = _signals.signal("logged-out")  # session_id, scope, ended
password_changed = _signals.signal("password-changed")
# by: the acting admin's id, None when not done through the admin API (e.g. the CLI)
user_deleted = _signals.signal("user-deleted")  # by
email_verified = _signals.signal("email-verified")
# The user's own address changed, once the new one was proven (no address in it)
email_changed = _signals.signal("email-changed")
password_reset = _signals.signal("password-reset")  # ended (sessions)
role_changed = _signals.signal("role-changed")  # old_role, new_role, by
user_disabled = _signals.signal("user-disabled")  # by, ended (sessions)
user_enabled = _signals.signal("user-enabled")  # by
# A provider account linked to / unlinked from a user: provider, by (the user, or None)
identity_linked = _signals.signal("identity-linked")  # provider
identity_unlinked = _signals.signal("identity-unlinked")  # provider
# A login replaced a hash in an older format or parameters: old_format, new_format
password_rehashed = _signals.signal("password-rehashed")
# Second factors (authapi.mfa). factor: totp, recovery_code, passkey...; via: what the
# check was for (login, totp_confirm, totp_disable, recovery_codes, ...).
mfa_required = _signals.signal("mfa-required")  # the password was right; methods
mfa_enrolled = _signals.signal("mfa-enrolled")  # factor
mfa_removed = _signals.signal("mfa-removed")  # factor, by (the admin, if one did it)
mfa_used = _signals.signal("mfa-used")  # factor, via, left (recovery codes)
mfa_failed = _signals.signal("mfa-failed")  # factor, via, reason
recovery_codes_generated = _signals.signal("recovery-codes-generated")  # left
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
