"""Passkeys (WebAuthn): adding and managing them, and signing in with one."""

from __future__ import annotations

from typing import Any

from marshmallow import fields

from authapi.auth import service as auth_service
from authapi.mfa import login as mfa_login
from authapi.mfa import reauth
from authapi.mfa.schemas import MfaTokenSchema
from authapi.openapi.components import ACCESS, UUID, dumped, obj, ref, success
from authapi.openapi.operation import BODY_ERRORS, CROSS_SITE, Operation, Reply, quoted
from authapi.openapi.operations.auth import AUTH_MODE
from authapi.openapi.operations.mfa import TOO_MANY
from authapi.passkeys import schemas
from authapi.passkeys import service as passkeys

TAGS = (
    {
        "name": "passkeys",
        "description": "Passkeys (WebAuthn): sign in with no password, or as a second factor",
    },
)


class PasskeyDoc(schemas.PasskeySchema):
    last_used_at = fields.DateTime(allow_none=True)


COMPONENTS = {
    "PasskeyRegister": (schemas.RegisterSchema, {}),
    "PasskeyLogin": (schemas.LoginSchema, {}),
    "PasskeyRename": (schemas.RenameSchema, {}),
    "Confirmation": (schemas.ConfirmationSchema, {}),
    "PasskeyMfaToken": (MfaTokenSchema, {}),
    "Passkey": (PasskeyDoc, dumped(PasskeyDoc)),
}

B64URL = {"type": "string", "description": "base64url, no padding"}
DESCRIPTORS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["id", "type"],
        "properties": {
            "id": B64URL,
            "type": {"const": "public-key"},
            "transports": {"type": "array", "items": {"type": "string"}},
        },
    },
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "PasskeyCreationOptions": {
        "description": (
            "Options for `navigator.credentials.create({publicKey})`, JSON-encoded "
            "(`PublicKeyCredential.parseCreationOptionsFromJSON`)"
        ),
        "type": "object",
        "required": [
            "rp",
            "user",
            "challenge",
            "pubKeyCredParams",
            "timeout",
            "excludeCredentials",
            "authenticatorSelection",
            "attestation",
        ],
        "properties": {
            "rp": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
            },
            "user": {
                "type": "object",
                "required": ["id", "name", "displayName"],
                "properties": {
                    "id": B64URL,
                    "name": {"type": "string"},
                    "displayName": {"type": "string"},
                },
            },
            "challenge": B64URL,
            "pubKeyCredParams": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "alg"],
                    "properties": {"type": {"const": "public-key"}, "alg": {"type": "integer"}},
                },
            },
            "timeout": {"type": "integer", "description": "Milliseconds"},
            "excludeCredentials": DESCRIPTORS,
            "authenticatorSelection": {
                "type": "object",
                "properties": {
                    "residentKey": {"const": "required"},
                    "requireResidentKey": {"const": True},
                    "userVerification": {"const": "required"},
                },
            },
            "attestation": {"const": "none"},
        },
    },
    "PasskeyRequestOptions": {
        "description": (
            "Options for `navigator.credentials.get({publicKey})`, JSON-encoded "
            "(`PublicKeyCredential.parseRequestOptionsFromJSON`)"
        ),
        "type": "object",
        "required": ["challenge", "timeout", "rpId", "allowCredentials", "userVerification"],
        "properties": {
            "challenge": B64URL,
            "timeout": {"type": "integer", "description": "Milliseconds"},
            "rpId": {"type": "string"},
            "allowCredentials": DESCRIPTORS,
            "userVerification": {"const": "required"},
        },
    },
    "PasskeyData": success(data=obj(passkey="Passkey")),
}

PASSKEY_ID = {"passkey_id": UUID}
NOT_FOUND = (
    404,
    quoted(passkeys.PASSKEY_NOT_FOUND) + " (a malformed id: no such route)",
    "passkey_not_found",
)
CHALLENGE = passkeys.CHALLENGE_FAILED

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "passkeyRegistrationOptions",
        "POST",
        "/api/auth/passkeys/register/options",
        "passkeys",
        "Start adding a passkey: creation options with a fresh challenge (5 minutes, once)",
        auth=ACCESS,
        ok=Reply(200, success(data=obj(options="PasskeyCreationOptions"))),
        errors=(401, CROSS_SITE, (409, quoted(passkeys.TOO_MANY), "too_many_passkeys"), 503),
    ),
    Operation(
        "registerPasskey",
        "POST",
        "/api/auth/passkeys/register",
        "passkeys",
        "Add a passkey: the browser's answer to the creation options, and a name",
        auth=ACCESS,
        body="PasskeyRegister",
        ok=Reply(201, "PasskeyData", "Added; the user is mailed"),
        errors=(
            (
                400,
                quoted(CHALLENGE, passkeys.REGISTRATION_REFUSED, "Invalid input"),
                "passkey_challenge_failed",
            ),
            413,
            415,
            401,
            CROSS_SITE,
            (
                409,
                quoted(passkeys.ALREADY_REGISTERED, passkeys.TOO_MANY),
                "passkey_already_registered",
            ),
            503,
        ),
    ),
    Operation(
        "listPasskeys",
        "GET",
        "/api/auth/passkeys",
        "passkeys",
        "The caller's passkeys, oldest first",
        auth=ACCESS,
        ok=Reply(200, success(data=obj(passkeys={"type": "array", "items": ref("Passkey")}))),
        errors=(401, 503),
    ),
    Operation(
        "renamePasskey",
        "PATCH",
        "/api/auth/passkeys/{passkey_id}",
        "passkeys",
        "Rename one of the caller's passkeys",
        auth=ACCESS,
        path_params=PASSKEY_ID,
        body="PasskeyRename",
        ok=Reply(200, "PasskeyData"),
        errors=(*BODY_ERRORS, 401, CROSS_SITE, NOT_FOUND, 503),
    ),
    Operation(
        "passkeyReauthOptions",
        "POST",
        "/api/auth/passkeys/reauth/options",
        "passkeys",
        "Confirm a change with a passkey: request options for the caller's passkeys",
        auth=ACCESS,
        ok=Reply(200, success(data=obj(options="PasskeyRequestOptions"))),
        errors=((400, quoted(passkeys.NO_PASSKEY), "no_passkey"), 401, CROSS_SITE, 503),
        description=(
            "The options list the caller's passkeys and are bound to the caller (5 "
            'minutes, once): send the answer as `{"credential"}` to remove a passkey '
            "or delete the account (`DELETE /api/users/me`). "
            "An account without a password or TOTP has nothing else to confirm with."
        ),
    ),
    Operation(
        "removePasskey",
        "DELETE",
        "/api/auth/passkeys/{passkey_id}",
        "passkeys",
        "Remove one of the caller's passkeys: needs the password, a current code or a "
        "passkey's answer to the confirmation options",
        auth=ACCESS,
        path_params=PASSKEY_ID,
        body="Confirmation",
        ok=Reply(200, "Success", "Removed; the user is mailed"),
        errors=(
            (
                400,
                quoted(
                    reauth.INVALID_CODE,
                    reauth.INVALID_PASSWORD,
                    CHALLENGE,
                    passkeys.PASSKEY_REFUSED,
                    "Invalid input",
                )
                + " (none or several given)",
                "invalid_code",
            ),
            413,
            415,
            401,
            CROSS_SITE,
            NOT_FOUND,
            (
                409,
                quoted(passkeys.LAST_WAY_IN)
                + " (no other passkey, no password, no provider, and no mail sent)",
                "last_way_in",
            ),
            TOO_MANY,
            503,
        ),
    ),
    Operation(
        "passkeyLoginOptions",
        "POST",
        "/api/auth/passkeys/login/options",
        "passkeys",
        "Start a passkey sign-in: request options for any passkey of this site",
        ok=Reply(200, success(data=obj(options="PasskeyRequestOptions"))),
        errors=((429, "Too many passkey sign-ins from this address"), 503),
        description=(
            "No account is named: the passkey (a discoverable credential) says whose it "
            "is. Use it for a sign-in button or the email field's autofill "
            '(`mediation: "conditional"`).'
        ),
    ),
    Operation(
        "passkeyLogin",
        "POST",
        "/api/auth/passkeys/login",
        "passkeys",
        "Sign in with a passkey: no email, no password, no further factor",
        body="PasskeyLogin",
        headers=(AUTH_MODE,),
        ok=Reply(
            200,
            {"oneOf": [ref("AccessToken"), ref("TokenPair")]},
            "Logged in, exactly like a password login",
            headers={"Set-Cookie": "SetSignInCookies"},
        ),
        errors=(
            (
                400,
                quoted(
                    passkeys.PASSKEY_REFUSED,
                    CHALLENGE,
                    passkeys.PASSKEY_UNKNOWN,
                    "Invalid input",
                ),
                "passkey_refused",
            ),
            413,
            415,
            (
                403,
                quoted(auth_service.ACCOUNT_DISABLED, auth_service.EMAIL_NOT_VERIFIED),
                "account_disabled",
            ),
            (429, "Too many passkey sign-ins from this address"),
            503,
        ),
    ),
    Operation(
        "passkeyMfaOptions",
        "POST",
        "/api/auth/login/mfa/passkey-options",
        "passkeys",
        "Passkey options for the second step of a password login (an mfa_token)",
        body="PasskeyMfaToken",
        ok=Reply(200, success(data=obj(options="PasskeyRequestOptions"))),
        errors=(
            (400, quoted(passkeys.NO_PASSKEY, "Invalid input"), "no_passkey"),
            413,
            415,
            (401, quoted(mfa_login.INVALID_MFA_TOKEN), "invalid_mfa_token"),
            (429, "Too many passkey sign-ins from this address"),
            503,
        ),
        description=(
            "The options list the account's passkeys and are bound to this mfa_token: "
            'send the answer as `{"mfa_token", "credential"}` to `POST /api/auth/login/mfa`. '
            "No attempt of the token is spent here."
        ),
    ),
)
