"""A software WebAuthn client and authenticator, for server-side tests without a browser.

It does what a browser and a platform authenticator do, per the WebAuthn spec: makes
an EC P-256 key pair per credential, builds ``authenticatorData`` (RP ID hash, flags,
sign counter, attested credential data with a COSE key), ``clientDataJSON`` and an
attestation object of format "none", and signs assertions with ECDSA/SHA-256. Its
answers are real: the server verifies them with py_webauthn exactly as it would a
browser's. Every field can be bent (another RP ID or origin, a counter, a user
handle, the flags) to build the attacks the server must refuse.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_UP = 0x01  # user present
FLAG_UV = 0x04  # user verified
FLAG_BE = 0x08  # backup eligible
FLAG_BS = 0x10  # backed up
FLAG_AT = 0x40  # attested credential data included

ES256 = -7


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    """One credential on the authenticator: a discoverable (resident) key."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


@dataclass
class SoftAuthenticator:
    """A passkey provider. ``backup_eligible``/``backed_up`` make synced passkeys;
    ``counter_step`` 0 makes one that keeps no counter (as synced passkeys do)."""

    origin: str = "http://localhost:8000"
    backup_eligible: bool = False
    backed_up: bool = False
    counter_step: int = 1
    aaguid: bytes = bytes(16)
    credentials: dict[bytes, Credential] = field(default_factory=dict)

    # --- registration: navigator.credentials.create() -----------------------------

    def create(self, options: dict[str, Any], **bend: Any) -> dict[str, Any]:
        """The JSON a browser sends for ``credential.toJSON()`` after create()."""
        rp_id = bend.get("rp_id", options["rp"]["id"])
        private_key = ec.generate_private_key(ec.SECP256R1())
        credential = Credential(
            credential_id=bend.get("credential_id", os.urandom(16)),
            private_key=private_key,
            rp_id=rp_id,
            user_handle=unb64url(options["user"]["id"]),
        )
        numbers = private_key.public_key().public_numbers()
        cose_key = cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: ES256,  # alg
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        attested = (
            self.aaguid
            + struct.pack(">H", len(credential.credential_id))
            + credential.credential_id
            + cose_key
        )
        flags = bend.get("flags", self._flags() | FLAG_AT)
        auth_data = self._auth_data(rp_id, flags, credential.sign_count) + attested
        client_data = self._client_data(
            "webauthn.create", bend.get("challenge", options["challenge"]), bend
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        if bend.get("keep", True):
            self.credentials[credential.credential_id] = credential
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {"credProps": {"rk": True}},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal", "hybrid"],
            },
        }

    # --- authentication: navigator.credentials.get() ------------------------------

    def get(
        self, options: dict[str, Any], credential_id: bytes | None = None, **bend: Any
    ) -> dict[str, Any]:
        """An assertion by ``credential_id`` (default: the only, or first allowed, one)."""
        credential = self._pick(options, credential_id)
        credential.sign_count += self.counter_step
        rp_id = bend.get("rp_id", options.get("rpId", credential.rp_id))
        sign_count = bend.get("sign_count", credential.sign_count)
        auth_data = self._auth_data(rp_id, bend.get("flags", self._flags()), sign_count)
        client_data = self._client_data(
            "webauthn.get", bend.get("challenge", options["challenge"]), bend
        )
        signed = auth_data + hashlib.sha256(client_data).digest()
        signer = bend.get("signer", credential.private_key)
        signature = signer.sign(signed, ec.ECDSA(hashes.SHA256()))
        user_handle = bend.get("user_handle", credential.user_handle)
        return {
            "id": b64url(credential.credential_id),
            "rawId": b64url(credential.credential_id),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(user_handle) if user_handle is not None else None,
            },
        }

    # --- the parts ----------------------------------------------------------------

    def _pick(self, options: dict[str, Any], credential_id: bytes | None) -> Credential:
        if credential_id is not None:
            return self.credentials[credential_id]
        allowed = [unb64url(item["id"]) for item in options.get("allowCredentials", [])]
        for candidate in allowed or list(self.credentials):
            if candidate in self.credentials:
                return self.credentials[candidate]
        raise LookupError("no credential on this authenticator for these options")

    def _flags(self) -> int:
        flags = FLAG_UP | FLAG_UV
        if self.backup_eligible:
            flags |= FLAG_BE
        if self.backed_up:
            flags |= FLAG_BS
        return flags

    @staticmethod
    def _auth_data(rp_id: str, flags: int, sign_count: int) -> bytes:
        rp_id_hash = hashlib.sha256(rp_id.encode("utf-8")).digest()
        return rp_id_hash + bytes([flags]) + struct.pack(">I", sign_count)

    def _client_data(self, kind: str, challenge: str, bend: dict[str, Any]) -> bytes:
        data = {
            "type": bend.get("type", kind),
            "challenge": challenge,
            "origin": bend.get("origin", self.origin),
            "crossOrigin": False,
        }
        return json.dumps(data, separators=(",", ":")).encode("utf-8")
