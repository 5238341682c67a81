"""Finishing a sign-in with its second factor: ``POST /api/auth/login/mfa``.

Order matters: the token's attempt and the account's attempt are counted (atomically,
in Redis) BEFORE the proof is checked, so neither concurrent nor sequential guessing
gets more than ``MFA_TOKEN_MAX_ATTEMPTS`` checks per token and
``MFA_ATTEMPTS_PER_ACCOUNT`` per account and window. The token is bound to the
password check that issued it: a password changed since then voids it. A good proof
spends the token and ends exactly like a password login (``sessions.create`` then
``start_session``), with ``amr`` = ``pwd`` + the factor's values + ``mfa``.
"""

from __future__ import annotations

from typing import Any

from authapi import events, sessions
from authapi.auth.service import IssuedTokens, start_session
from authapi.errors import APIError, Unauthorized, ValidationFailed
from authapi.mfa import attempts, challenge, factors
from authapi.mfa.reauth import INVALID_CODE
from authapi.models import User
from authapi.users.repository import find_user_by_id, find_user_for_change

INVALID_MFA_TOKEN = "Invalid or expired mfa_token: log in again"
TOKEN_EXHAUSTED = "Too many wrong codes: log in again"
ONE_PROOF = "Send the mfa_token and one of: {fields}"


def pick_proof(body: dict[str, Any]) -> tuple[factors.SecondFactor, Any]:
    """The one proof field of the body, and the factor kind it belongs to.

    A proof of the wrong JSON type (a number for a code) is a malformed body, refused
    before the token's attempts are counted: it is no guess at the code.
    """
    present = [field for field in factors.proof_fields() if field in body]
    if len(present) != 1:
        message = ONE_PROOF.format(fields=", ".join(factors.proof_fields()))
        raise ValidationFailed(message, errors={"_schema": [message]})
    factor = factors.by_proof_field(present[0])
    assert factor is not None
    proof = body[present[0]]
    if not isinstance(proof, factor.proof_type) or not proof:
        kind = "a non-empty string" if factor.proof_type is str else "a JSON object"
        message = f"{factor.proof_field} must be {kind}"
        raise ValidationFailed(message, errors={factor.proof_field: [message]})
    return factor, proof


def _may_sign_in(user: User, attempt: challenge.Attempt) -> bool:
    """The account is enabled and still has the password the token checked."""
    return not user.disabled and challenge.password_digest(user.password) == attempt.password_digest


def complete(
    token: str,
    factor: factors.SecondFactor,
    proof: Any,
    *,
    ip: str,
    user_agent: str,
    replacing: str | None = None,
) -> IssuedTokens:
    attempt = challenge.attempt(token)
    if attempt.outcome == "gone":
        raise Unauthorized(INVALID_MFA_TOKEN, code="invalid_mfa_token")
    if attempt.outcome == "exhausted":
        spent = {"factor": factor.name, "via": "login", "reason": "token_spent"}
        events.emit(events.mfa_failed, user_id=attempt.user_id, **spent)
        raise Unauthorized(TOKEN_EXHAUSTED, code="invalid_mfa_token")  # gone: log in again
    user_id = attempt.user_id
    attempts.spend(user_id)
    user = find_user_by_id(user_id)
    if user is None or not _may_sign_in(user, attempt):
        challenge.discard(attempt.token_id)
        raise Unauthorized(INVALID_MFA_TOKEN, code="invalid_mfa_token")
    result = factor.verify_login(factors.PendingLogin(user=user, token_id=attempt.token_id), proof)
    if isinstance(result, factors.Rejected):
        failed = {"factor": factor.name, "via": "login", "reason": result.reason}
        events.emit(events.mfa_failed, user_id=user_id, **failed)
        raise APIError(
            INVALID_CODE, errors={factor.proof_field: [INVALID_CODE]}, code="invalid_code"
        )
    if not challenge.consume(attempt.token_id):  # a concurrent request won with it
        raise Unauthorized(INVALID_MFA_TOKEN, code="invalid_mfa_token")
    attempts.refund(user_id)
    events.emit(events.mfa_used, user_id=user_id, factor=factor.name, via="login")
    # RFC 8176 names methods, not steps: an emailed code then a TOTP code is "otp" once.
    amr = tuple(dict.fromkeys((*attempt.first_amr, *result.amr, "mfa")))
    session_id = sessions.create(user_id, ip=ip, user_agent=user_agent, amr=amr, spare=replacing)
    # As a password login does: a disable, reset or deletion that committed since the
    # account was read is seen here (a later one ends this session itself).
    fresh = find_user_for_change(user.id)
    if fresh is None or not _may_sign_in(fresh, attempt):
        sessions.delete(user_id, session_id, scope="session")  # reported: it was created
        raise Unauthorized(INVALID_MFA_TOKEN, code="invalid_mfa_token")
    return start_session(fresh, session_id, amr=amr)
