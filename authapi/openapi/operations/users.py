"""The calling user."""

from __future__ import annotations

from authapi import schemas
from authapi.admin import service as admin_service
from authapi.mfa import reauth
from authapi.openapi.components import ACCESS, MESSAGE, obj, page_of, success
from authapi.openapi.operation import BAD_QUERY, CROSS_SITE, Operation, Reply, quoted
from authapi.passkeys import service as passkeys_service
from authapi.users import email_change
from authapi.users import service as users_service
from authapi.users.schemas import EmailChangeCodeSchema, EmailChangeSchema

COMPONENTS = {
    "ProfileUpdate": (schemas.ProfileUpdateSchema, {"minProperties": 1}),
    "EmailChange": (EmailChangeSchema, {}),
    "EmailChangeCode": (EmailChangeCodeSchema, {}),
}
WRONG_CONFIRMATION = (
    400,
    quoted(
        reauth.INVALID_PASSWORD,
        reauth.INVALID_CODE,
        passkeys_service.CHALLENGE_FAILED,
        passkeys_service.PASSKEY_REFUSED,
        "Invalid input",
    )
    + " (none or several given)",
    "invalid_password",
)
TOO_MANY_CHECKS = (
    429,
    "Too many attempts for this user or session, failed password checks for this "
    "account from this address, or too many second-factor checks of the account",
)
BUSY = (503, "A dependency is down, or every password-hashing slot is taken")

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "getMe",
        "GET",
        "/api/users/me",
        "users",
        "The calling user, and the names of its second factors",
        auth=ACCESS,
        ok=Reply(200, "MeData"),
        errors=(401, 503),
    ),
    Operation(
        "updateMe",
        "PATCH",
        "/api/users/me",
        "users",
        "Change the caller's own name and photo",
        auth=ACCESS,
        body="ProfileUpdate",
        ok=Reply(200, "UserData"),
        errors=(
            (
                400,
                quoted("Invalid input")
                + ": `errors` names each field (any field but name and photo: role, "
                "email, verified, password...)",
            ),
            401,
            CROSS_SITE,
            413,
            415,
            503,
        ),
        description=(
            "Every session of the user sees the change on its next request; a "
            "`user.updated` webhook lists the `changes`."
        ),
    ),
    Operation(
        "deleteMe",
        "DELETE",
        "/api/users/me",
        "users",
        "Delete the caller's own account: needs the password, a current code or a "
        "passkey's answer to the confirmation options",
        auth=ACCESS,
        body="Confirmation",
        ok=Reply(200, "Success", headers={"Set-Cookie": "ClearAuthCookies"}),
        errors=(
            WRONG_CONFIRMATION,
            401,
            CROSS_SITE,
            (
                409,
                quoted(passkeys_service.NOTHING_TO_CONFIRM_WITH, admin_service.LAST_ADMIN)
                + " (before any check)",
                "nothing_to_confirm_with",
            ),
            413,
            415,
            TOO_MANY_CHECKS,
            BUSY,
        ),
        description=(
            "Every session ends at once (its tokens are refused), the address can "
            "register again; `user.deleted` and `session.revoked` (scope "
            "`account_deleted`) webhooks. An account without a password confirms with "
            "TOTP or a passkey (`POST /api/auth/passkeys/reauth/options`)."
        ),
    ),
    Operation(
        "requestEmailChange",
        "POST",
        "/api/users/me/email",
        "users",
        "Ask to change the caller's email address: a code is mailed to the new one",
        auth=ACCESS,
        body="EmailChange",
        ok=Reply(200, "Message", "The code is mailed; nothing changed yet"),
        errors=(
            (
                400,
                quoted(
                    reauth.INVALID_PASSWORD,
                    email_change.SAME_EMAIL,
                    reauth.INVALID_CODE,
                    passkeys_service.CHALLENGE_FAILED,
                    passkeys_service.PASSKEY_REFUSED,
                    "Invalid input",
                )
                + " (a wrong confirmation, none or several, or an invalid address)",
                "invalid_password",
            ),
            401,
            CROSS_SITE,
            (
                409,
                quoted(email_change.EMAIL_TAKEN, passkeys_service.NOTHING_TO_CONFIRM_WITH)
                + " (taken, or a look-alike of a taken address)",
                "email_taken",
            ),
            413,
            415,
            TOO_MANY_CHECKS,
            BUSY,
        ),
        description=(
            "Confirmed like a deletion (the password, a current TOTP code or a passkey's "
            "answer). The address must be free, as at registration (look-alikes "
            "included). The code (valid VERIFICATION_CODE_EXPIRES_IN, once; a newer "
            "request replaces it) goes to `POST /api/users/me/email/confirm`."
        ),
    ),
    Operation(
        "confirmEmailChange",
        "POST",
        "/api/users/me/email/confirm",
        "users",
        "Change the caller's email address with the code mailed to it",
        auth=ACCESS,
        body="EmailChangeCode",
        ok=Reply(200, "UserData", "Changed and verified; the old address is told"),
        errors=(
            (
                400,
                quoted(email_change.CHANGE_FAILED, email_change.SAME_EMAIL, "Invalid input")
                + " (unknown, used, replaced, expired, or asked for by another account)",
                "email_change_failed",
            ),
            401,
            CROSS_SITE,
            (409, quoted(email_change.EMAIL_TAKEN) + " (taken meanwhile)", "email_taken"),
            413,
            415,
            503,
        ),
        description=(
            "Only from a session of the account that asked: the owner of the new "
            "mailbox cannot attach it to someone else's account by using the code. "
            "Links mailed to the old address before (verification, password reset) stop "
            "working; a `user.updated` webhook lists `email`."
        ),
    ),
    Operation(
        "changePassword",
        "PATCH",
        "/api/users/me/password",
        "users",
        "Change the password: the caller's other sessions end",
        auth=ACCESS,
        body="ChangePassword",
        ok=Reply(
            200,
            success(message=MESSAGE, data=obj(sessions_ended={"type": "integer", "minimum": 0})),
        ),
        errors=(
            (
                400,
                quoted(users_service.WRONG_CURRENT_PASSWORD) + ", or invalid input",
                "wrong_current_password",
            ),
            401,
            CROSS_SITE,
            413,
            415,
            (
                429,
                "Too many password changes for this user or session, or failed password "
                "checks for this account from this address",
            ),
            (503, "A dependency is down, or every password-hashing slot is taken"),
        ),
    ),
    Operation(
        "myEvents",
        "GET",
        "/api/users/me/events",
        "users",
        "The caller's own audit log, newest first",
        auth=ACCESS,
        query=schemas.EventListQuerySchema,
        ok=Reply(200, success(data=page_of("events", "AuthEvent"))),
        errors=(BAD_QUERY, 401, 503),
    ),
)
