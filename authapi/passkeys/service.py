"""The passkey rules: adding, listing, renaming and removing passkeys, and signing in
with one (alone, or as the second factor after a password).

Every assertion goes through :func:`_verify_assertion`, in this order: the challenge
is consumed (single use, whatever follows), the credential is looked up by its id,
it must belong to the expected user (the user handle the authenticator returned,
and for a second factor the user who passed the password), py_webauthn checks the
signature, RP ID, origin, user verification and sign counter, the backup
eligibility must be what it was at registration, and the new counter is stored
only if no concurrent use stored one as high. Each refusal is audited
(``passkey_failed``, with the check that failed).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from authapi import events, sessions, ways_in
from authapi.auth import service as auth_service
from authapi.auth.service import IssuedTokens
from authapi.errors import APIError, Conflict, NotFound, Unauthorized
from authapi.extensions import db
from authapi.mfa import challenge as mfa_challenge
from authapi.mfa import login as mfa_login
from authapi.mfa import service as mfa_service
from authapi.mfa import totp
from authapi.mfa.reauth import confirm_presence
from authapi.models import User
from authapi.passkeys import ceremonies, challenges, relying_party
from authapi.passkeys.models import Passkey
from authapi.users.repository import find_user_by_id, find_user_for_change
from authapi.webhooks import catalog, outbox

if TYPE_CHECKING:
    from webauthn.helpers.structs import AuthenticationCredential, RegistrationCredential

MAX_PASSKEYS = 20
DEFAULT_NAME = "Passkey"

CHALLENGE_FAILED = "Passkey challenge expired or already used: ask for new options"
PASSKEY_UNKNOWN = "Passkey not recognised: it may have been removed from its account"
PASSKEY_REFUSED = "Passkey verification failed"
REGISTRATION_REFUSED = "Passkey registration failed"
PASSKEY_NOT_FOUND = "Passkey not found"
ALREADY_REGISTERED = "This passkey is already registered"
TOO_MANY = f"An account can have at most {MAX_PASSKEYS} passkeys"
NO_PASSKEY = "This account has no passkey"
LAST_WAY_IN = (
    "This passkey is the only way into your account: set a password (forgot password) "
    "or link a provider first"
)
NOTHING_TO_CONFIRM_WITH = (
    "Your account has no password, TOTP or passkey to confirm this change with: add a "
    "passkey, or set a password (forgot password), first"
)
FACTOR = "passkey"  # its name among the second factors (authapi.mfa.factors)


def user_handle(user_id: str | uuid.UUID) -> bytes:
    """The WebAuthn user handle: the account id's 16 bytes (no email, no name)."""
    return uuid.UUID(str(user_id)).bytes


def _passkeys_of(user_id: str | uuid.UUID) -> list[Passkey]:
    query = (
        select(Passkey)
        .where(Passkey.user_id == uuid.UUID(str(user_id)))
        .order_by(Passkey.created_at, Passkey.id)
    )
    return list(db.session.scalars(query))


def _stored(passkeys: list[Passkey]) -> list[ceremonies.StoredCredential]:
    return [
        ceremonies.StoredCredential(credential_id=key.credential_id, transports=key.transports)
        for key in passkeys
    ]


class Refused(APIError):
    """A passkey answer that proves nothing: 400. ``reason`` names the check that failed,
    for the audit log (see :func:`audited`)."""

    status_code = 400
    message = PASSKEY_REFUSED
    code = "passkey_refused"

    def __init__(
        self, reason: str, *, user_id: str | None = None, passkey: Passkey | None = None
    ) -> None:
        super().__init__()
        self.reason = reason
        self.user_id = user_id
        self.passkey_id = str(passkey.id) if passkey else None


class ChallengeFailed(Refused):
    message = CHALLENGE_FAILED
    code = "passkey_challenge_failed"


class UnknownPasskey(Refused):
    message = PASSKEY_UNKNOWN
    code = "passkey_unknown"


class RegistrationRefused(Refused):
    message = REGISTRATION_REFUSED
    code = "passkey_registration_failed"


def audited(refused: Refused) -> Refused:
    """Record a refusal (``passkey_failed``) and hand it back to be raised."""
    events.emit(
        events.passkey_failed,
        user_id=refused.user_id,
        reason=refused.reason,
        passkey_id=refused.passkey_id,
    )
    return refused


# --- adding and managing passkeys (logged in) ---------------------------------------


def registration_options(user_id: str) -> dict[str, Any]:
    user = auth_service.caller_account(user_id)
    existing = _passkeys_of(user_id)
    if len(existing) >= MAX_PASSKEYS:
        raise Conflict(TOO_MANY, code="too_many_passkeys")
    challenge = challenges.issue(challenges.REGISTER, user_id=user_id)
    return ceremonies.registration_options(
        relying_party.current(),
        challenge=challenge,
        user_handle=user_handle(user.id),
        user_name=user.email,
        display_name=user.name,
        existing=_stored(existing),
    )


def register(user_id: str, credential: RegistrationCredential, name: str | None) -> Passkey:
    """Verify a new credential against the caller's own registration challenge; store it."""
    user = auth_service.caller_account(user_id)
    signed = ceremonies.challenge_of(credential.response.client_data_json)
    challenge = challenges.consume(challenges.REGISTER, signed) if signed else None
    if challenge is None or challenge.user_id != user_id:
        raise audited(ChallengeFailed("challenge", user_id=user_id))
    try:
        new = ceremonies.verify_registration(relying_party.current(), credential, challenge.value)
    except ceremonies.CeremonyFailed:
        raise audited(RegistrationRefused("registration", user_id=user_id)) from None
    if len(_passkeys_of(user_id)) >= MAX_PASSKEYS:
        raise Conflict(TOO_MANY, code="too_many_passkeys")
    passkey = Passkey(
        user_id=user.id,
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        transports=new.transports,
        backup_eligible=new.backup_eligible,
        backed_up=new.backed_up,
        aaguid=new.aaguid,
        name=name or DEFAULT_NAME,
    )
    db.session.add(passkey)
    outbox.queue(catalog.MFA_ENROLLED, user_id, factor=FACTOR)
    try:
        db.session.commit()
    except IntegrityError:  # the credential id is unique across all accounts
        db.session.rollback()
        raise Conflict(ALREADY_REGISTERED, code="passkey_already_registered") from None
    events.emit(events.passkey_added, user_id=user_id, passkey_id=str(passkey.id))
    mfa_service.factor_added(user, FACTOR)  # the mail, mfa_enrolled, the cached user
    return passkey


def list_passkeys(user_id: str) -> list[Passkey]:
    return _passkeys_of(user_id)


def count(user_id: str | uuid.UUID) -> int:
    query = select(func.count()).where(Passkey.user_id == uuid.UUID(str(user_id)))
    return int(db.session.scalar(query) or 0)


def _owned(user_id: str, passkey_id: uuid.UUID) -> Passkey:
    """One of the caller's passkeys; someone else's is as unknown as a missing one."""
    passkey = db.session.get(Passkey, passkey_id)
    if passkey is None or str(passkey.user_id) != user_id:
        raise NotFound(PASSKEY_NOT_FOUND, code="passkey_not_found")
    return passkey


def rename(user_id: str, passkey_id: uuid.UUID, name: str) -> Passkey:
    passkey = _owned(user_id, passkey_id)
    passkey.name = name
    db.session.commit()
    events.emit(events.passkey_renamed, user_id=user_id, passkey_id=str(passkey.id))
    return passkey


def reauth_options(user_id: str) -> dict[str, Any]:
    """Options for the signed-in user to confirm a change with one of their passkeys
    (an account without a password has nothing else to confirm with)."""
    passkeys = _passkeys_of(user_id)
    if not passkeys:
        raise APIError(NO_PASSKEY, code="no_passkey")
    challenge = challenges.issue(challenges.REAUTH, user_id=user_id)
    return ceremonies.authentication_options(
        relying_party.current(), challenge=challenge, allowed=_stored(passkeys)
    )


def _confirm_with_passkey(user_id: str, credential: AuthenticationCredential) -> None:
    """An answer to :func:`reauth_options` signed by one of the user's passkeys; or an
    audited :class:`Refused`. Nothing to guess (the challenge is single use and bound
    to the user), so no attempt is spent."""
    try:
        passkey = _verify_assertion(credential, challenges.REAUTH, user_id=user_id)
    except Refused as refused:
        raise audited(refused) from None
    events.emit(events.passkey_used, user_id=user_id, passkey_id=str(passkey.id), via="reauth")


def confirm_change(
    user: User,
    *,
    password: str | None = None,
    code: str | None = None,
    credential: AuthenticationCredential | None = None,
    via: str,
) -> None:
    """A sensitive change confirmed by the signed-in user: the password, a current TOTP
    code (each try spends one of the account's second-factor attempts) or a passkey's
    answer to :func:`reauth_options`; a 400 if wrong. ``via``: what it confirms (in
    the events of a wrong password or code).

    An account with none of them (made by a provider or an emailed code, no TOTP, no
    passkey) is refused with a 409 before anything is checked: otherwise a stolen
    access token alone would be enough.
    """
    if not _can_confirm(user):
        raise Conflict(NOTHING_TO_CONFIRM_WITH, code="nothing_to_confirm_with")
    if credential is not None:
        _confirm_with_passkey(str(user.id), credential)
    else:
        confirm_presence(user, code=code, password=password, via=via)


def _can_confirm(user: User) -> bool:
    return ways_in.has_usable_password(user) or totp.is_enabled(user.id) or count(user.id) > 0


def _keep_a_way_in(user: User, passkey_id: uuid.UUID) -> None:
    """409 if this passkey is the account's last way in: no other passkey, and no
    password, provider or emailed code (:mod:`authapi.ways_in`)."""
    if not ways_in.remain(user, passkey=passkey_id):
        db.session.rollback()  # releases the row lock
        raise Conflict(LAST_WAY_IN, code="last_way_in")


def remove(
    user_id: str,
    passkey_id: uuid.UUID,
    *,
    password: str | None = None,
    code: str | None = None,
    credential: AuthenticationCredential | None = None,
) -> None:
    """Remove one passkey, confirmed as :func:`confirm_change` says; never the
    account's last way in."""
    user = auth_service.caller_account(user_id)
    _owned(user_id, passkey_id)  # 404 for a passkey that is not the caller's
    _keep_a_way_in(user, passkey_id)  # before the confirmation: a refusal spends nothing
    confirm_change(user, password=password, code=code, credential=credential, via="passkey_remove")
    locked = find_user_for_change(user.id, lock=True)
    if locked is None:  # deleted meanwhile
        raise NotFound(PASSKEY_NOT_FOUND, code="passkey_not_found")
    _keep_a_way_in(locked, passkey_id)  # again under the row lock: two removals may race
    if not db.session.execute(delete(Passkey).where(Passkey.id == passkey_id)).rowcount:
        db.session.rollback()  # removed by a concurrent request
        raise NotFound(PASSKEY_NOT_FOUND, code="passkey_not_found")
    outbox.queue(catalog.MFA_REMOVED, user_id, factor=FACTOR, by=None)
    db.session.commit()
    events.emit(events.passkey_removed, user_id=user_id, passkey_id=str(passkey_id))
    # The mail and mfa_removed; the recovery codes go if no second factor is left.
    mfa_service.factor_removed(user, FACTOR)


def remove_all(user_id: uuid.UUID) -> int:
    """Every passkey of the account (the admin reset ``DELETE /api/users/<id>/mfa``,
    the first proof of the address); the caller commits, audits and mails."""
    result = db.session.execute(delete(Passkey).where(Passkey.user_id == user_id))
    return int(result.rowcount or 0)


# --- signing in ----------------------------------------------------------------------


def login_options() -> dict[str, Any]:
    """Options for a sign-in by any discoverable passkey (no account named)."""
    challenge = challenges.issue(challenges.LOGIN)
    return ceremonies.authentication_options(relying_party.current(), challenge=challenge)


def _verify_assertion(
    credential: AuthenticationCredential,
    purpose: str,
    *,
    user_id: str | None = None,
    bound_to: str | None = None,
) -> Passkey:
    """The passkey that signed this answer, its use recorded; or :class:`Refused`.

    ``user_id``/``bound_to``: for a second factor, the account and the mfa_token the
    challenge was issued for; for a confirmation, the signed-in account (a passkey
    sign-in names no account beforehand).
    """
    signed = ceremonies.challenge_of(credential.response.client_data_json)
    challenge = challenges.consume(purpose, signed) if signed else None
    if challenge is None or (challenge.user_id, challenge.bound_to) != (user_id, bound_to):
        raise ChallengeFailed("challenge", user_id=user_id)
    passkey = db.session.scalar(select(Passkey).where(Passkey.credential_id == credential.raw_id))
    if passkey is None:
        raise UnknownPasskey("unknown_credential", user_id=user_id)
    owner = str(passkey.user_id)
    if user_id is not None and owner != user_id:
        # Someone else's passkey offered as this account's second factor.
        raise Refused("other_user", user_id=user_id, passkey=passkey)
    handle = credential.response.user_handle
    if (user_id is None and handle is None) or (
        handle is not None and handle != user_handle(owner)
    ):
        # A discoverable credential names its account: it must be the key's owner.
        raise Refused("user_handle", user_id=owner, passkey=passkey)
    try:
        assertion = ceremonies.verify_assertion(
            relying_party.current(),
            credential,
            challenge.value,
            public_key=passkey.public_key,
            sign_count=passkey.sign_count,
        )
    except ceremonies.CeremonyFailed as failure:
        raise Refused(failure.reason, user_id=owner, passkey=passkey) from None
    if assertion.backup_eligible != passkey.backup_eligible:
        # Fixed when the credential was made: a change means another authenticator.
        raise Refused("backup_eligibility", user_id=owner, passkey=passkey)
    _record_use(passkey, assertion, owner, second_factor=purpose == challenges.SECOND_FACTOR)
    return passkey


def _record_use(
    passkey: Passkey, assertion: ceremonies.Assertion, owner: str, *, second_factor: bool
) -> None:
    """Store the new counter unless a concurrent use already stored one as high; a
    second factor's use commits with its ``mfa.used`` event."""
    moved_forward = (
        Passkey.sign_count < assertion.sign_count
        if assertion.sign_count > 0
        else Passkey.sign_count == 0  # an authenticator without a counter: always 0
    )
    result = db.session.execute(
        update(Passkey)
        .where(Passkey.id == passkey.id, moved_forward)
        .values(
            sign_count=assertion.sign_count,
            backed_up=assertion.backed_up,
            last_used_at=func.now(),
        )
    )
    if second_factor and result.rowcount == 1:
        outbox.queue(catalog.MFA_USED, owner, factor=FACTOR, via="login", left=None)
    db.session.commit()
    if result.rowcount != 1:
        raise Refused("counter", user_id=owner, passkey=passkey)


def login(
    credential: AuthenticationCredential,
    *,
    ip: str,
    user_agent: str,
    replacing: str | None = None,
) -> IssuedTokens:
    """A complete sign-in with a passkey: no email, no password, no further factor."""
    try:
        passkey = _verify_assertion(credential, challenges.LOGIN)
    except Refused as refused:
        raise audited(refused) from None
    user_id = str(passkey.user_id)
    user = find_user_by_id(user_id)
    if user is None:  # deleted since the assertion was checked
        raise audited(UnknownPasskey("unknown_credential"))
    auth_service.refuse_inactive(user)  # the password login's own rule
    # A passkey with user verification is two factors in one: the device and the
    # fingerprint, face or PIN that unlocked it.
    amr = (key_kind(passkey), "mfa")
    session_id = sessions.create(user_id, ip=ip, user_agent=user_agent, amr=amr, spare=replacing)
    # As in the password login: a disable or deletion that committed meanwhile wins.
    fresh = find_user_for_change(user.id)
    if fresh is None or fresh.disabled:
        sessions.delete(user_id, session_id, scope="session")  # reported: it was created
        if fresh is None:
            raise audited(UnknownPasskey("unknown_credential"))
        auth_service.refuse_inactive(fresh)
    events.emit(events.passkey_used, user_id=user_id, passkey_id=str(passkey.id), via="login")
    return auth_service.start_session(fresh, session_id, amr=amr)


def key_kind(passkey: Passkey) -> str:
    """RFC 8176 ``amr``: ``swk`` for a synced passkey (its key can leave the hardware:
    backup eligible), ``hwk`` for one bound to its device."""
    return "swk" if passkey.backup_eligible else "hwk"


# --- as a second factor (authapi.mfa) ------------------------------------------------


def second_factor_options(mfa_token: str) -> dict[str, Any]:
    """Options for the passkeys of the account an mfa_token is waiting for; the
    challenge is bound to that account and that token. Spends no attempt."""
    pending = mfa_challenge.peek(mfa_token)
    if pending is None:
        raise Unauthorized(mfa_login.INVALID_MFA_TOKEN, code="invalid_mfa_token")
    passkeys = _passkeys_of(pending.user_id)
    if not passkeys:
        raise APIError(NO_PASSKEY, code="no_passkey")
    challenge = challenges.issue(
        challenges.SECOND_FACTOR, user_id=pending.user_id, bound_to=pending.token_id
    )
    return ceremonies.authentication_options(
        relying_party.current(), challenge=challenge, allowed=_stored(passkeys)
    )


def verify_second_factor(
    user_id: str, token_id: str, credential: AuthenticationCredential
) -> Passkey:
    """The passkey of ``user_id`` that answered options made for this mfa_token; or an
    audited :class:`Refused`. The mfa package has counted the attempt already."""
    try:
        passkey = _verify_assertion(
            credential, challenges.SECOND_FACTOR, user_id=user_id, bound_to=token_id
        )
    except Refused as refused:
        raise audited(refused) from None
    events.emit(events.passkey_used, user_id=user_id, passkey_id=str(passkey.id), via="mfa")
    return passkey
