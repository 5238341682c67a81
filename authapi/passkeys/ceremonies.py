"""The WebAuthn ceremonies, checked by py_webauthn: options out, credentials in.

Nothing here touches the database or Redis: it turns our records into the options a
browser needs, and an answer from the browser into verified facts, or raises
:class:`CeremonyFailed`. py_webauthn checks the client data (type, challenge,
origin), the authenticator data (RP ID hash, user present, user verified, the sign
counter) and the signature or attestation.

py_webauthn (5 MB in each process) is imported by the first ceremony, inside the
functions below, rather than when the app starts.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authapi.passkeys.challenges import LIFETIME
from authapi.passkeys.relying_party import RelyingParty
from authapi.passkeys.schemas import decode

if TYPE_CHECKING:
    from webauthn.helpers.structs import (
        AuthenticationCredential,
        PublicKeyCredentialDescriptor,
        RegistrationCredential,
    )

log = logging.getLogger(__name__)

TIMEOUT_MS = LIFETIME * 1000
_BASE64URL = re.compile(r"[A-Za-z0-9_-]{16,128}={0,2}")


def _bad_answer() -> tuple[type[Exception], ...]:
    """What py_webauthn and its parsers (cbor2, base64, cryptography) raise on a bad answer."""
    from webauthn.helpers.exceptions import WebAuthnException

    return (WebAuthnException, ValueError, TypeError, KeyError, IndexError, OverflowError)


class CeremonyFailed(Exception):
    """The browser's answer does not prove what it must.

    ``reason`` is for the audit log: ``counter`` when the sign counter did not move
    forward, ``verification`` for anything else.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class StoredCredential:
    """What options name: a credential id and how its authenticator is reached."""

    credential_id: bytes
    transports: list[str]


@dataclass(frozen=True)
class NewCredential:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: list[str]
    backup_eligible: bool
    backed_up: bool
    aaguid: str


@dataclass(frozen=True)
class Assertion:
    sign_count: int
    backup_eligible: bool
    backed_up: bool


def challenge_of(client_data_json: bytes) -> bytes | None:
    """The challenge the browser signed (still unchecked), to find its record by."""
    try:
        client_data = json.loads(client_data_json.decode("utf-8"))
        encoded = client_data["challenge"]
        if not isinstance(encoded, str) or not _BASE64URL.fullmatch(encoded):
            return None
        return decode(encoded)
    except (ValueError, TypeError, KeyError):  # ValidationError is a ValueError
        return None


def _descriptors(credentials: Iterable[StoredCredential]) -> list[PublicKeyCredentialDescriptor]:
    from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

    descriptors = []
    for credential in credentials:
        transports = []
        for transport in credential.transports:
            try:
                transports.append(AuthenticatorTransport(transport))
            except ValueError:
                continue  # one this py_webauthn does not know: leave it out of the hint
        descriptors.append(
            PublicKeyCredentialDescriptor(id=credential.credential_id, transports=transports)
        )
    return descriptors


def registration_options(
    party: RelyingParty,
    *,
    challenge: bytes,
    user_handle: bytes,
    user_name: str,
    display_name: str,
    existing: Iterable[StoredCredential],
) -> dict[str, Any]:
    """Options for ``navigator.credentials.create()``, as JSON (base64url for bytes).

    A discoverable credential (so the user can sign in without typing a name) with
    user verification (a PIN or biometric: the passkey alone is then two factors);
    no attestation (we trust no list of authenticator models, and "none" is private).
    """
    from webauthn import generate_registration_options
    from webauthn.helpers import options_to_json_dict
    from webauthn.helpers.structs import (
        AttestationConveyancePreference,
        AuthenticatorSelectionCriteria,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    options = generate_registration_options(
        rp_id=party.id,
        rp_name=party.name,
        user_id=user_handle,
        user_name=user_name,
        user_display_name=display_name,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(existing),
    )
    return options_to_json_dict(options)


def authentication_options(
    party: RelyingParty, *, challenge: bytes, allowed: Iterable[StoredCredential] = ()
) -> dict[str, Any]:
    """Options for ``navigator.credentials.get()``; no ``allowed``: any discoverable one."""
    from webauthn import generate_authentication_options
    from webauthn.helpers import options_to_json_dict
    from webauthn.helpers.structs import UserVerificationRequirement

    options = generate_authentication_options(
        rp_id=party.id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(allowed),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json_dict(options)


def verify_registration(
    party: RelyingParty, credential: RegistrationCredential, challenge: bytes
) -> NewCredential:
    from webauthn import verify_registration_response
    from webauthn.helpers.structs import CredentialDeviceType

    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=party.id,
            expected_origin=list(party.origins),
            require_user_verification=True,
        )
    except _bad_answer() as error:
        log.info("passkey registration refused: %s", error)
        raise CeremonyFailed("verification") from None
    transports = [transport.value for transport in credential.response.transports or []]
    return NewCredential(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=transports,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
        aaguid=verified.aaguid,
    )


def verify_assertion(
    party: RelyingParty,
    credential: AuthenticationCredential,
    challenge: bytes,
    *,
    public_key: bytes,
    sign_count: int,
) -> Assertion:
    """Check a signed answer against the stored key; a counter that did not move
    forward (a cloned authenticator, or a replay) is refused here too."""
    from webauthn import verify_authentication_response
    from webauthn.helpers.structs import CredentialDeviceType

    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=party.id,
            expected_origin=list(party.origins),
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=True,
        )
    except _bad_answer() as error:
        log.info("passkey assertion refused: %s", error)
        reason = "counter" if _counter_went_back(credential, sign_count) else "verification"
        raise CeremonyFailed(reason) from None
    return Assertion(
        sign_count=verified.new_sign_count,
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backed_up=verified.credential_backed_up,
    )


def _counter_went_back(credential: AuthenticationCredential, stored: int) -> bool:
    """py_webauthn's counter rule, asked again only to name a refusal in the audit log."""
    from webauthn.helpers import parse_authenticator_data

    try:
        count = parse_authenticator_data(credential.response.authenticator_data).sign_count
    except _bad_answer():
        return False
    return (count > 0 or stored > 0) and count <= stored
