"""Talking to a provider: discovery, the authorization URL, the code exchange, the ID token.

Authlib does the protocol (PKCE S256, the token request, client authentication) and
joserfc (Authlib's JOSE library) verifies the ID token. Discovery documents and JWKS
are fetched with a short timeout and cached per process for ``CACHE_SECONDS``; a key id
the cached JWKS does not know makes one fresh fetch (the provider rotated its keys).

Every failure becomes one of three exceptions the service maps to answers:
:class:`ProviderUnavailable` (the provider cannot be reached or answers nonsense: 503),
:class:`ProviderRefused` (it refused the code: replayed, expired, wrong verifier) and
:class:`InvalidIdToken` (signature, ``iss``, ``aud``, ``nonce``, ``exp``...).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from authapi import clock
from authapi.oauth.settings import GITHUB, GOOGLE, MICROSOFT, Provider

CACHE_SECONDS = 3600
# Asymmetric algorithms only: never "none", never HS* (keyed with the client secret).
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]
OIDC_SCOPE = "openid email profile"
GITHUB_SCOPE = "read:user user:email"
GITHUB_ENDPOINTS = {
    "issuer": "https://github.com",
    "authorization_endpoint": "https://github.com/login/oauth/authorize",
    "token_endpoint": "https://github.com/login/oauth/access_token",
}
GITHUB_API = "https://api.github.com"


class ProviderUnavailable(Exception):
    """The provider could not be reached, or answered with something unusable."""


class ProviderRefused(Exception):
    """The provider refused the authorization code (used, expired, wrong verifier...)."""


class InvalidIdToken(Exception):
    """The ID token failed verification; the message says which check (for the log)."""


@dataclass(frozen=True)
class ProviderIdentity:
    """Who the provider says signed in."""

    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    amr: tuple[str, ...] = ()


class _Cache:
    """Fetched JSON documents by URL, each kept CACHE_SECONDS (per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, url: str, *, force: bool = False) -> dict[str, Any]:
        with self._lock:
            entry = self._entries.get(url)
        if entry is not None and not force and time.monotonic() - entry[0] < CACHE_SECONDS:
            return entry[1]
        document = _get_json(url)
        with self._lock:
            self._entries[url] = (time.monotonic(), document)
        return document


def _cache() -> _Cache:
    return current_app.extensions.setdefault("authapi.oauth.cache", _Cache())


def _timeout() -> float:
    return float(current_app.config["OAUTH_HTTP_TIMEOUT"])


def _get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    try:
        response = requests.get(
            url, headers={"Accept": "application/json", **(headers or {})}, timeout=_timeout()
        )
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(f"{url}: {type(error).__name__}") from None


def metadata(provider: Provider) -> dict[str, Any]:
    """The provider's endpoints: discovered (OpenID Connect) or GitHub's fixed ones."""
    if provider.preset == GITHUB:
        return GITHUB_ENDPOINTS
    document = _cache().get(f"{provider.issuer}/.well-known/openid-configuration")
    if not isinstance(document, dict) or not all(
        isinstance(document.get(key), str)
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
    ):
        raise ProviderUnavailable(f"{provider.name}: incomplete discovery document")
    issuer = document["issuer"].rstrip("/")
    # Entra ID's multi-tenant document names a template issuer; checked per token.
    if issuer != provider.issuer and "{tenantid}" not in issuer:
        raise ProviderUnavailable(f"{provider.name}: discovery names issuer {issuer!r}")
    return document


def _session(provider: Provider, redirect_uri: str) -> OAuth2Session:
    return OAuth2Session(
        provider.client_id,
        provider.client_secret,
        scope=OIDC_SCOPE if provider.is_oidc else GITHUB_SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=(
            "client_secret_post" if provider.preset == GITHUB else "client_secret_basic"
        ),
        default_timeout=_timeout(),
    )


def authorization_url(
    provider: Provider, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
) -> str:
    """The provider's authorization URL with state, nonce (OpenID Connect) and PKCE S256."""
    endpoints = metadata(provider)
    extra = {"nonce": nonce} if provider.is_oidc else {}
    url, _ = _session(provider, redirect_uri).create_authorization_url(
        endpoints["authorization_endpoint"], state=state, code_verifier=code_verifier, **extra
    )
    return url


def exchange(
    provider: Provider, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
) -> ProviderIdentity:
    """Trade the code for tokens and say who signed in (the ID token, or GitHub's API)."""
    endpoints = metadata(provider)
    session = _session(provider, redirect_uri)
    try:
        token = session.fetch_token(
            endpoints["token_endpoint"],
            grant_type="authorization_code",
            code=code,
            code_verifier=code_verifier,
        )
    except OAuthError as error:
        raise ProviderRefused(str(error.error)) from None
    except (requests.RequestException, ValueError) as error:
        raise ProviderUnavailable(f"token endpoint: {type(error).__name__}") from None
    if not provider.is_oidc:
        return _github_identity(str(token.get("access_token") or ""))
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise InvalidIdToken("no id_token in the token response")
    access_token = token.get("access_token")
    identity = verify_id_token(provider, id_token, nonce=nonce, access_token=access_token)
    if identity.email is None and isinstance(access_token, str):
        identity = _with_userinfo(identity, endpoints, access_token)
    return identity


def _with_userinfo(
    identity: ProviderIdentity, endpoints: dict[str, Any], access_token: str
) -> ProviderIdentity:
    """Providers that keep profile claims out of the ID token (OpenID Connect Core 5.4)
    give them at the userinfo endpoint; only for the same ``sub`` (section 5.3.2)."""
    url = endpoints.get("userinfo_endpoint")
    if not isinstance(url, str):
        return identity
    claims = _get_json(url, {"Authorization": f"Bearer {access_token}"})
    if not isinstance(claims, dict) or claims.get("sub") != identity.subject:
        raise InvalidIdToken("userinfo: sub differs from the ID token's")
    return replace(
        identity,
        email=_text(claims.get("email")),
        email_verified=claims.get("email_verified") in (True, "true"),
        name=identity.name or _text(claims.get("name")),
    )


def _decode(id_token: str, jwks_uri: str) -> Any:
    last_error: Exception | None = None
    for force in (False, True):  # an unknown key id: the provider may have rotated keys
        try:
            keys = KeySet.import_key_set(_cache().get(jwks_uri, force=force))
            return jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
        except (JoseError, ValueError, TypeError, KeyError) as error:
            last_error = error
    raise InvalidIdToken(f"signature: {type(last_error).__name__}")


def verify_id_token(
    provider: Provider, id_token: str, *, nonce: str, access_token: Any = None
) -> ProviderIdentity:
    """Check signature (the provider's JWKS), iss, aud, azp, nonce, exp, iat, at_hash."""
    endpoints = metadata(provider)
    token = _decode(id_token, endpoints["jwks_uri"])
    issuer = endpoints["issuer"].rstrip("/").replace("{tenantid}", str(token.claims.get("tid")))
    issuers = [issuer, "accounts.google.com"] if provider.preset == GOOGLE else [issuer]
    options = {
        "iss": {"essential": True, "values": issuers},
        "aud": {"essential": True, "value": provider.client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True, "value": nonce},
    }
    params = {"nonce": nonce, "client_id": provider.client_id}
    if isinstance(access_token, str):
        params["access_token"] = access_token
    claims = CodeIDToken(token.claims, token.header, options, params)
    try:
        claims.validate(now=int(clock.now()), leeway=int(current_app.config["JWT_LEEWAY"]))
    except (JoseError, ValueError, TypeError) as error:
        raise InvalidIdToken(f"claims: {type(error).__name__} {error}") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise InvalidIdToken("claims: sub")
    amr = claims.get("amr")
    return ProviderIdentity(
        subject=subject,
        email=_text(claims.get("email")),
        email_verified=_email_verified(provider, claims),
        name=_text(claims.get("name")),
        amr=tuple(value for value in amr if isinstance(value, str))
        if isinstance(amr, list)
        else (),
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _email_verified(provider: Provider, claims: Any) -> bool:
    if provider.preset == MICROSOFT:
        # Entra ID's `email` is whatever a tenant admin typed (the "nOAuth" takeovers):
        # only the optional xms_edov claim says the domain owner verified it.
        return claims.get("xms_edov") in (True, "1", "true")
    return claims.get("email_verified") in (True, "true")


def _github_identity(access_token: str) -> ProviderIdentity:
    """GitHub's user and its primary verified email from the emails API."""
    headers = {
        "Authorization": f"Bearer {access_token}",
        "Accept": "application/vnd.github+json",
    }
    user = _get_json(f"{GITHUB_API}/user", headers)
    emails = _get_json(f"{GITHUB_API}/user/emails", headers)
    if not isinstance(user, dict) or not isinstance(user.get("id"), int):
        raise ProviderUnavailable("github: unexpected user document")
    listed = (
        [entry for entry in emails if isinstance(entry, dict)] if isinstance(emails, list) else []
    )
    chosen = next((e for e in listed if e.get("primary") and e.get("verified")), None) or next(
        (e for e in listed if e.get("verified")), None
    )
    return ProviderIdentity(
        subject=str(user["id"]),
        email=_text(chosen.get("email")) if chosen else None,
        email_verified=chosen is not None,
        name=_text(user.get("name")) or _text(user.get("login")),
    )
