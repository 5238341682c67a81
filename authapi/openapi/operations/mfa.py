"""Second factors: TOTP, recovery codes, the second step of a login, the admin reset."""

from __future__ import annotations

from authapi.auth import guard
from authapi.mfa import attempts, reauth, service
from authapi.mfa import login as mfa_login
from authapi.mfa.schemas import TOKEN_MAX, CodeOrPasswordSchema, CodeSchema
from authapi.openapi.components import ACCESS, UUID, obj, ref, success
from authapi.openapi.operation import BODY_ERRORS, CROSS_SITE, Operation, Reply, quoted
from authapi.openapi.operations.auth import AUTH_MODE

TAGS = [{"name": "mfa", "description": "Second factors: TOTP and recovery codes"}]

CODES = {"type": "array", "items": {"type": "string"}, "minItems": 10, "maxItems": 10}

COMPONENTS = {
    "MfaCode": (CodeSchema, {}),
    "CodeOrPassword": (
        CodeOrPasswordSchema,
        {"description": "A current TOTP code or the password (one of them)"},
    ),
}

SCHEMAS = {
    "LoginMfa": {
        "description": "The mfa_token and ONE proof: `code` (TOTP), `recovery_code`, or what "
        "another registered factor kind reads (a passkey's `credential`)",
        "type": "object",
        "required": ["mfa_token"],
        "properties": {
            "mfa_token": {"type": "string", "minLength": 1, "maxLength": TOKEN_MAX},
            "code": {"type": "string", "description": "6 digits from the authenticator app"},
            "recovery_code": {"type": "string", "description": "One of the `xxxxx-xxxxx` codes"},
        },
    },
    "MfaStatus": success(
        data=obj(
            totp={"type": "boolean"},
            passkeys={"type": "integer", "minimum": 0},
            recovery_codes_left={"type": "integer", "minimum": 0},
        )
    ),
    "TotpSetup": success(
        data=obj(
            secret={"type": "string", "description": "Base32; shown this once"},
            otpauth_url={"type": "string", "description": "otpauth://totp/... for the QR"},
            qr_svg={"type": "string", "description": "SVG document: show it as an image"},
        )
    ),
    "RecoveryCodes": success(data=obj(recovery_codes=CODES)),
    "MeData": success(
        data=obj(
            user="User",
            mfa={
                "type": "array",
                "items": {"type": "string"},
                "description": "The account's second factors (`totp`, `passkey`)",
            },
        )
    ),
}

TOO_MANY = (
    429,
    quoted(attempts.TOO_MANY_ATTEMPTS) + " (the account's second-factor checks)",
    "too_many_attempts",
)
# The answers of every route that asks for the password or a current code (reauth).
WRONG_PROOF = (
    400,
    quoted(reauth.INVALID_CODE, reauth.INVALID_PASSWORD, "Invalid input")
    + " (neither or both given)",
    "invalid_code",
)
STATE_CHANGE = (401, CROSS_SITE, 503)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "mfaStatus",
        "GET",
        "/api/auth/mfa",
        "mfa",
        "The caller's second factors",
        auth=ACCESS,
        ok=Reply(200, "MfaStatus"),
        errors=(401, 503),
    ),
    Operation(
        "startTotp",
        "POST",
        "/api/auth/mfa/totp",
        "mfa",
        "Start TOTP setup: a new secret, its otpauth URL and QR (pending until confirmed)",
        auth=ACCESS,
        ok=Reply(200, "TotpSetup"),
        errors=(*STATE_CHANGE, (409, quoted(service.TOTP_ALREADY_ENABLED), "totp_already_enabled")),
    ),
    Operation(
        "confirmTotp",
        "POST",
        "/api/auth/mfa/totp/confirm",
        "mfa",
        "Turn TOTP on with a code from the new secret; returns 10 recovery codes, once",
        auth=ACCESS,
        body="MfaCode",
        ok=Reply(200, "RecoveryCodes"),
        errors=(
            (400, quoted(reauth.INVALID_CODE) + ", or invalid input", "invalid_code"),
            413,
            415,
            *STATE_CHANGE,
            (409, quoted(service.NO_PENDING_TOTP, service.TOTP_ALREADY_ENABLED), "no_totp_setup"),
            TOO_MANY,
        ),
    ),
    Operation(
        "disableTotp",
        "DELETE",
        "/api/auth/mfa/totp",
        "mfa",
        "Turn TOTP off (with the password or a current code)",
        auth=ACCESS,
        body="CodeOrPassword",
        ok=Reply(200, "Success"),
        errors=(
            WRONG_PROOF,
            413,
            415,
            *STATE_CHANGE,
            (404, quoted(service.TOTP_NOT_ENABLED), "totp_not_enabled"),
            TOO_MANY,
        ),
    ),
    Operation(
        "replaceRecoveryCodes",
        "POST",
        "/api/auth/mfa/recovery-codes",
        "mfa",
        "A new set of 10 recovery codes; the old ones stop working at once",
        auth=ACCESS,
        body="CodeOrPassword",
        ok=Reply(200, "RecoveryCodes"),
        errors=(
            WRONG_PROOF,
            413,
            415,
            *STATE_CHANGE,
            (409, quoted(service.NO_SECOND_FACTOR), "no_second_factor"),
            TOO_MANY,
        ),
    ),
    Operation(
        "loginMfa",
        "POST",
        "/api/auth/login/mfa",
        "auth",
        "Finish a login with its second factor (after a 403 `mfa_required`)",
        body="LoginMfa",
        headers=(AUTH_MODE,),
        ok=Reply(
            200,
            {"oneOf": [ref("AccessToken"), ref("TokenPair")]},
            "Logged in, exactly as POST /api/auth/login",
            headers={"Set-Cookie": "SetSignInCookies"},
        ),
        errors=(
            *BODY_ERRORS,
            (
                401,
                quoted(mfa_login.INVALID_MFA_TOKEN, mfa_login.TOKEN_EXHAUSTED)
                + ": unknown, expired, used, voided by a password change, or spent by 5 wrong "
                "codes",
                "invalid_mfa_token",
            ),
            (429, "Too many codes for this account, or requests from this address"),
            503,
        ),
        description="`Invalid code` (400) for a wrong code. Each attempt is counted before "
        "the check, per mfa_token (5) and per account.",
    ),
    Operation(
        "adminRemoveMfa",
        "DELETE",
        "/api/users/{user_id}/mfa",
        "admin",
        "Remove every second factor of a user; their sessions end, they are mailed",
        auth=ACCESS,
        path_params={"user_id": UUID},
        ok=Reply(
            200,
            success(
                data=obj(
                    removed={
                        "type": "object",
                        "additionalProperties": {"type": "integer", "minimum": 0},
                        "description": "How many of each kind were removed",
                    }
                )
            ),
        ),
        errors=(
            401,
            (
                403,
                quoted(guard.ADMINS_ONLY, guard.CROSS_SITE_MESSAGE, service.OWN_FACTORS),
                "admins_only",
            ),
            (404, quoted("User not found") + " (a malformed id: no such route)", "user_not_found"),
            503,
        ),
    ),
)
