"""Sign in with another provider (OpenID Connect / OAuth 2.0), linked identities, and
sign-in with a code sent by email (docs/providers.md). The provider routes exist only
when OAUTH_PROVIDERS names some."""

from __future__ import annotations

from authapi.auth import service as auth_service
from authapi.email_otp import service as otp_service
from authapi.email_otp.schemas import OtpVerifySchema
from authapi.oauth import service as oauth_service
from authapi.oauth.schemas import LinkSchema
from authapi.openapi.components import ACCESS, HTML, MESSAGE, UUID, obj, ref, success
from authapi.openapi.operation import BODY_ERRORS, CROSS_SITE, Operation, Reply, quoted
from authapi.openapi.operations.auth import AUTH_MODE

TAGS = [
    {"name": "providers", "description": "Sign in with another provider; linked identities"},
    {"name": "codes", "description": "Sign in with a one-time code sent by email"},
]

SCHEMAS = {
    "Provider": obj(name={"type": "string"}, display_name={"type": "string"}),
    "Identity": obj(
        id=UUID,
        provider={"type": "string"},
        display_name={"type": "string"},
        email={"type": ["string", "null"]},
        email_verified={"type": "boolean"},
        linked_at={"type": "string", "format": "date-time"},
    ),
}

COMPONENTS = {"Link": (LinkSchema, {}), "OtpVerify": (OtpVerifySchema, {})}

OFF = (404, quoted(oauth_service.UNKNOWN_PROVIDER), "unknown_provider")
PROVIDER = {"provider": {"type": "string", "pattern": "^[a-z][a-z0-9]{0,31}$"}}
LOGGED_IN = Reply(
    200,
    {"oneOf": [ref("AccessToken"), ref("TokenPair")]},
    "Signed in: `AccessToken` and cookies, or `TokenPair` with `X-Auth-Mode: token`",
    headers={"Set-Cookie": "SetSignInCookies"},
)
REDIRECT = "Browsers (an `Accept` naming `text/html`): to the provider, or back to the front end"
UNAVAILABLE = (
    503,
    "The provider (or PostgreSQL or Redis) cannot be reached; browsers are sent to the "
    "front end with `?error=provider_unavailable`",
)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "listProviders",
        "GET",
        "/api/auth/providers",
        "providers",
        "The sign-in providers a front end may offer",
        when="OAUTH_PROVIDERS",
        ok=Reply(200, success(data=obj(providers={"type": "array", "items": ref("Provider")}))),
        errors=(503,),
    ),
    Operation(
        "authorizeWithProvider",
        "GET",
        "/api/auth/oauth/{provider}/authorize",
        "providers",
        "Start a sign-in: redirect to the provider (state, nonce, PKCE S256)",
        path_params=PROVIDER,
        query=(
            {
                "in": "query",
                "name": "redirect_to",
                "required": False,
                "description": "Where to come back to: FRONTEND_URL, a URL under it, or an "
                "allow-listed one (default FRONTEND_URL)",
                "schema": {"type": "string", "format": "uri"},
            },
        ),
        when="OAUTH_PROVIDERS",
        ok=Reply(302, {}, REDIRECT + " (with the short-lived `oauth_flow` cookie)", media_types=()),
        errors=(
            (400, quoted(oauth_service.BAD_REDIRECT), "invalid_redirect"),
            OFF,
            429,
            UNAVAILABLE,
        ),
    ),
    Operation(
        "providerCallback",
        "GET",
        "/api/auth/oauth/{provider}/callback",
        "providers",
        "Where the provider sends the browser back: check state, code and ID token, sign in",
        path_params=PROVIDER,
        headers=(AUTH_MODE,),
        query=tuple(
            {"in": "query", "name": name, "required": False, "schema": {"type": "string"}}
            for name in ("state", "code", "error")
        ),
        when="OAUTH_PROVIDERS",
        ok=Reply(
            302,
            {},
            REDIRECT + ": signed in (the auth cookies, as `SetSignInCookies` says: the "
            "browser's previous session ends), linked (`?linked=<provider>`), or "
            "`?error=<code>` (docs/providers.md lists the codes)",
            media_types=(),
        ),
        more=(LOGGED_IN, Reply(200, success(data=obj(identity="Identity")), "JSON: linked")),
        errors=(
            (
                400,
                "Invalid or expired sign-in (state), refused code, or an ID token that "
                "failed a check",
            ),
            (401, "A link whose session has ended"),
            (
                403,
                quoted(auth_service.ACCOUNT_DISABLED)
                + " (or, with REQUIRE_VERIFIED_EMAIL, unverified), cancelled at the provider, "
                "a sign-up refused by the hook, or `mfa_required` (with `mfa_token` and "
                "`methods`): finish at POST /api/auth/login/mfa",
                "account_disabled",
            ),
            OFF,
            (
                409,
                "An account with this email exists (link it from the settings), or the "
                "identity is linked to another user",
            ),
            UNAVAILABLE,
        ),
    ),
    Operation(
        "linkProvider",
        "POST",
        "/api/auth/identities/{provider}/link",
        "providers",
        "Start linking a provider to the caller's account: open `authorization_url`",
        auth=ACCESS,
        path_params=PROVIDER,
        body="Link",
        body_required=False,
        when="OAUTH_PROVIDERS",
        ok=Reply(
            200,
            success(data=obj(authorization_url={"type": "string", "format": "uri"})),
            "The provider URL to open (with the `oauth_flow` cookie)",
        ),
        errors=(
            (400, quoted(oauth_service.BAD_REDIRECT) + ", or invalid input", "invalid_redirect"),
            401,
            CROSS_SITE,
            OFF,
            413,
            415,
            UNAVAILABLE,
        ),
    ),
    Operation(
        "listIdentities",
        "GET",
        "/api/auth/identities",
        "providers",
        "The provider identities linked to the caller's account",
        auth=ACCESS,
        when="OAUTH_PROVIDERS",
        ok=Reply(200, success(data=obj(identities={"type": "array", "items": ref("Identity")}))),
        errors=(401, 503),
    ),
    Operation(
        "unlinkIdentity",
        "DELETE",
        "/api/auth/identities/{identity_id}",
        "providers",
        "Unlink one of the caller's identities",
        auth=ACCESS,
        when="OAUTH_PROVIDERS",
        ok=Reply(200, "Success"),
        errors=(
            401,
            CROSS_SITE,
            (404, quoted(oauth_service.IDENTITY_NOT_FOUND)),
            (409, quoted(oauth_service.LAST_WAY_IN), "last_way_in"),
            503,
        ),
    ),
    Operation(
        "requestSignInCode",
        "POST",
        "/api/auth/otp",
        "codes",
        "Mail a 6-digit sign-in code and link (the same answer for every address)",
        body="Email",
        ok=Reply(200, success(message=MESSAGE), quoted(otp_service.CODE_SENT)),
        errors=(*BODY_ERRORS, (429, "Too many codes for this address, or this email"), 503),
    ),
    Operation(
        "verifySignInCode",
        "POST",
        "/api/auth/otp/verify",
        "codes",
        "Sign in with the emailed code (single use, 10 minutes, 5 wrong tries)",
        body="OtpVerify",
        headers=(AUTH_MODE,),
        ok=LOGGED_IN,
        errors=(
            (400, quoted(otp_service.INVALID_CODE) + ", or invalid input", "invalid_code"),
            413,
            415,
            (
                403,
                quoted(auth_service.ACCOUNT_DISABLED)
                + ", a sign-up (OTP_SIGNUP) refused by the before-user-created hook, or "
                "`Second factor required` (code `mfa_required`, with `mfa_token` and "
                "`methods`; no cookie, no session): finish at POST /api/auth/login/mfa",
                "account_disabled",
            ),
            (429, "Too many checks from this address"),
            503,
        ),
    ),
    Operation(
        "demoProviders",
        "GET",
        "/signin/providers",
        "docs",
        "The sign-in providers for the demo page (empty when none is configured)",
        ok=Reply(200, success(data=obj(providers={"type": "array", "items": ref("Provider")}))),
    ),
    Operation(
        "signInCodePage",
        "GET",
        "/signin/otp",
        "docs",
        "The page sign-in code emails link to (signs in with a POST on a button press)",
        ok=Reply(200, {"type": "string"}, "An HTML page", media_types=(HTML,)),
    ),
)
