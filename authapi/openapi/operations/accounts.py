"""Email verification and password reset."""

from __future__ import annotations

from authapi.accounts import service as account_service
from authapi.openapi.operation import BODY_ERRORS, Operation, Reply, quoted

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "verifyEmail",
        "GET",
        "/api/auth/verifyemail/{code}",
        "account",
        "Verify an email address with the code mailed at registration",
        ok=Reply(200, "Message", quoted(account_service.EMAIL_VERIFIED)),
        errors=((400, quoted(account_service.VERIFICATION_FAILED), "verification_failed"), 503),
    ),
    Operation(
        "resendVerification",
        "POST",
        "/api/auth/verifyemail/resend",
        "account",
        "Mail a new verification link (the same answer whether or not the account exists)",
        body="Email",
        ok=Reply(200, "Message"),
        errors=(*BODY_ERRORS, (429, "Too many account mails for this address or email"), 503),
    ),
    Operation(
        "forgotPassword",
        "POST",
        "/api/auth/forgotpassword",
        "account",
        "Mail a password reset link (the same answer whether or not the account exists)",
        body="Email",
        ok=Reply(200, "Message"),
        errors=(*BODY_ERRORS, (429, "Too many account mails for this address or email"), 503),
    ),
    Operation(
        "resetPassword",
        "PATCH",
        "/api/auth/resetpassword/{token}",
        "account",
        "Set a new password with a reset token: every session ends",
        body="ResetPassword",
        ok=Reply(200, "Message", headers={"Set-Cookie": "ClearAuthCookies"}),
        errors=(
            (400, quoted(account_service.RESET_FAILED) + ", or invalid input", "reset_failed"),
            413,
            415,
            503,
        ),
    ),
)
