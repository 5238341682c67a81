"""Provider sign-in rules: starting a flow, finishing it, and the identities table.

Linking rules (the account-takeover lessons of other projects):

- a known (provider, subject) signs in its user;
- a new subject whose email belongs to no account creates one (verified when the
  provider says the email is verified);
- a new subject whose email belongs to an account is linked to it **only** when the
  provider asserts the email is verified **and** the account's email is verified;
  otherwise the user is told to sign in with their password and link the provider
  from their settings (``account_exists``);
- linking from settings needs a live session and a subject no other user has;
- unlinking is refused when it would leave no way into the account (no password, no
  other identity, no passkey, no emailed code: :func:`authapi.ways_in.remain`).
"""

from __future__ import annotations

import logging
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from authapi import events, hooks, passwords, sessions, ways_in
from authapi.accounts.service import link_base
from authapi.auth import service as auth_service
from authapi.auth.service import CurrentUser, IssuedTokens
from authapi.errors import APIError, Conflict, NotFound
from authapi.extensions import db
from authapi.mfa import gate as mfa_gate
from authapi.models import Identity, User
from authapi.oauth import client, flows, redirects
from authapi.oauth.settings import Provider
from authapi.schemas import NAME_MAX, normalize_email, valid_email
from authapi.users.repository import (
    email_taken,
    find_user_by_email,
    find_user_by_id,
    find_user_for_change,
)

log = logging.getLogger(__name__)

FEDERATED_AMR = "fed"  # the session's amr after a provider sign-in

BAD_REDIRECT = "redirect_to must be FRONTEND_URL, a URL under it, or an allow-listed URL"
UNKNOWN_PROVIDER = "Unknown sign-in provider"
IDENTITY_NOT_FOUND = "Identity not found"
LAST_WAY_IN = (
    "This is the only way into your account: set a password (forgot password) "
    "or link another provider first"
)


class OAuthFailure(APIError):
    """A sign-in that cannot finish. ``code`` (also in the JSON error) is the front
    end's ``error`` parameter;
    ``redirect_to`` is where the browser goes back to (when known)."""

    def __init__(
        self, code: str, message: str, status_code: int = 400, extra: dict[str, Any] | None = None
    ) -> None:
        headers = {"Retry-After": "5"} if status_code == 503 else None
        super().__init__(message, status_code=status_code, headers=headers, code=code, extra=extra)
        self.redirect_to: str | None = None


def invalid_state() -> OAuthFailure:
    return OAuthFailure(
        "invalid_state", "This sign-in is invalid or has expired: please start again"
    )


def unavailable() -> OAuthFailure:
    return OAuthFailure(
        "provider_unavailable",
        "The sign-in provider could not be reached, please retry shortly",
        503,
    )


@dataclass(frozen=True)
class Finished:
    """A completed callback: tokens for a sign-in, or the identity a link created."""

    redirect_to: str
    issued: IssuedTokens | None = None
    identity: Identity | None = None


def providers() -> dict[str, Provider]:
    return current_app.extensions["authapi.oauth.providers"]


def get_provider(name: str) -> Provider:
    provider = providers().get(name)
    if provider is None:
        raise NotFound(UNKNOWN_PROVIDER, code="unknown_provider")
    return provider


def callback_url(provider: Provider) -> str:
    """``<API base>/api/auth/oauth/<name>/callback``: PUBLIC_URL, else this request's."""
    base = str(current_app.config["PUBLIC_URL"]).strip().rstrip("/")
    if not base and has_request_context():
        base = request.host_url.rstrip("/")
    return f"{base}/api/auth/oauth/{provider.name}/callback"


def redirect_bases() -> list[str]:
    base = link_base(request.host_url if has_request_context() else None)
    return [*([base] if base else []), *current_app.config["OAUTH_REDIRECT_ALLOWLIST"]]


def default_redirect() -> str | None:
    bases = redirect_bases()
    return bases[0] if bases else None


def checked_redirect(redirect_to: str | None) -> str:
    """The allow-listed place to come back to (FRONTEND_URL when none is given)."""
    if redirect_to is None or redirect_to == "":
        default = default_redirect()
        if default is None:
            raise APIError(BAD_REDIRECT, code="invalid_redirect")
        return default
    if not redirects.is_allowed(redirect_to, redirect_bases()):
        raise APIError(BAD_REDIRECT, code="invalid_redirect")
    return redirect_to


def begin(
    name: str, redirect_to: str | None, *, current: CurrentUser | None = None
) -> tuple[str, str]:
    """Start a sign-in (or, with ``current``, a link): (flow id for the cookie, provider URL)."""
    provider = get_provider(name)
    target = checked_redirect(redirect_to)
    callback = callback_url(provider)
    flow_id, flow = flows.start(
        provider.name,
        flows.LINK if current else flows.SIGN_IN,
        redirect_to=target,
        callback_url=callback,
        user_id=current.id if current else None,
        session_id=current.session_id if current else None,
    )
    try:
        url = client.authorization_url(
            provider,
            redirect_uri=callback,
            state=flow.state,
            nonce=flow.nonce,
            code_verifier=flow.code_verifier,
        )
    except client.ProviderUnavailable as error:
        log.warning("provider %s unreachable: %s", provider.name, error)
        failure = unavailable()
        failure.redirect_to = target
        raise failure from None
    return flow_id, url


def finish(
    name: str,
    flow_id: str | None,
    params: dict[str, str],
    *,
    ip: str,
    user_agent: str,
    replacing: str | None = None,
) -> Finished:
    """The callback: check the flow, exchange the code, then sign in or link."""
    provider = get_provider(name)
    flow = flows.take(flow_id, provider.name, params.get("state"))
    if flow is None:
        raise invalid_state()
    try:
        return _finish(provider, flow, params, ip=ip, user_agent=user_agent, replacing=replacing)
    except OAuthFailure as failure:
        failure.redirect_to = flow.redirect_to
        raise


def _finish(
    provider: Provider,
    flow: flows.Flow,
    params: dict[str, str],
    *,
    ip: str,
    user_agent: str,
    replacing: str | None,
) -> Finished:
    if params.get("error"):
        raise OAuthFailure("access_denied", "Sign-in was cancelled at the provider", 403)
    code = params.get("code")
    if not code or len(code) > 2048:
        raise invalid_state()
    try:
        identity = client.exchange(
            provider,
            code=code,
            redirect_uri=flow.callback_url,
            code_verifier=flow.code_verifier,
            nonce=flow.nonce,
        )
    except client.ProviderUnavailable as error:
        log.warning("provider %s unreachable: %s", provider.name, error)
        raise unavailable() from None
    except client.ProviderRefused as error:
        log.info("provider %s refused the code: %s", provider.name, error)
        raise OAuthFailure(
            "provider_refused", "The provider refused this sign-in: please start again"
        ) from None
    except client.InvalidIdToken as error:
        log.warning("provider %s: ID token refused (%s)", provider.name, error)
        raise OAuthFailure(
            "invalid_token", "The provider's answer could not be verified: please start again"
        ) from None
    if flow.purpose == flows.LINK:
        return Finished(flow.redirect_to, identity=_link(provider, flow, identity))
    user = _user_for(provider, identity)
    amr = _second_factor(provider, identity, user)
    user_id = str(user.id)
    session_id = sessions.create(user_id, ip=ip, user_agent=user_agent, amr=amr, spare=replacing)
    # As a password login does: a disable or deletion that committed since the account
    # was read wins (one that commits later ends this session itself).
    fresh = find_user_for_change(user.id)
    if fresh is None or fresh.disabled:
        sessions.delete(user_id, session_id, scope="session")  # reported: it was created
        if fresh is None:
            raise invalid_state()
        _refuse_inactive(fresh)
    issued = auth_service.start_session(
        fresh, session_id, amr=amr, via="oauth", provider=provider.name
    )
    return Finished(flow.redirect_to, issued=issued)


# RFC 8176 values that say the provider checked more than one factor.
MULTI_FACTOR_AMR = frozenset({"mfa", "otp", "hwk", "swk", "sms", "fpt", "face", "iris", "sc"})


def _second_factor(
    provider: Provider, identity: client.ProviderIdentity, user: User
) -> tuple[str, ...]:
    """The session's ``amr``: ``fed`` (a federated sign-in), plus ``mfa`` when the
    provider's own second factor counts. A user with a second factor of ours gives it
    (403 ``mfa_required`` with an ``mfa_token``, as after a password), unless the
    provider is trusted for MFA (OAUTH_<NAME>_TRUST_MFA) and its ``amr`` says it did."""
    if provider.trust_mfa and MULTI_FACTOR_AMR & set(identity.amr):
        return (FEDERATED_AMR, "mfa")
    try:
        mfa_gate.require_second_factor(user, (FEDERATED_AMR,))
    except APIError as challenge:
        raise OAuthFailure(challenge.code, challenge.message, 403, challenge.extra) from None
    return (FEDERATED_AMR,)


def _find_identity(provider: str, subject: str) -> Identity | None:
    return db.session.scalar(
        select(Identity).where(Identity.provider == provider, Identity.subject == subject)
    )


def _display_name(identity: client.ProviderIdentity, email: str) -> str:
    raw = identity.name or email.partition("@")[0]
    cleaned = "".join(ch for ch in raw if unicodedata.category(ch)[0] != "C").strip()
    return cleaned[:NAME_MAX] or "User"


def _refuse_inactive(user: User) -> None:
    """The password login's rule (auth.service.refuse_inactive), answered as a provider
    sign-in answers: ``?error=<code>`` on the front end, or JSON."""
    try:
        auth_service.refuse_inactive(user)
    except APIError as refusal:
        raise OAuthFailure(refusal.code, refusal.message, refusal.status_code) from None


def _user_for(provider: Provider, identity: client.ProviderIdentity) -> User:
    """The account this provider identity signs in to, linking or creating per the rules."""
    known = _find_identity(provider.name, identity.subject)
    if known is not None:
        user = db.session.get(User, known.user_id)
        assert user is not None  # the foreign key cascades deletions
        known.email, known.email_verified = identity.email, identity.email_verified
        db.session.commit()
        _refuse_inactive(user)
        return user
    email = normalize_email(identity.email or "")
    if not valid_email(email):
        raise OAuthFailure(
            "email_required", f"{provider.display_name} did not share a usable email address"
        )
    existing = find_user_by_email(email)
    # A look-alike of an existing address is that account's (never linked by email).
    if (existing is None and email_taken(email)) or (
        existing is not None and not (identity.email_verified and existing.verified)
    ):
        raise OAuthFailure(
            "account_exists",
            "An account with this email already exists: sign in with your password, "
            f"then link {provider.display_name} from your settings",
            409,
        )
    if existing is not None:
        _refuse_inactive(existing)  # before linking: a refused sign-in changes nothing
        _add_identity(existing, provider, identity)
        events.emit(events.identity_linked, user_id=str(existing.id), provider=provider.name)
        return existing
    name = _display_name(identity, email)
    try:
        hooks.before_user_created(email=email, name=name, source=f"oauth:{provider.name}")
    except APIError as refusal:  # browsers get it as ?error=<code> on the front end
        raise OAuthFailure(refusal.code, refusal.message, refusal.status_code) from None
    user = User(
        id=uuid.uuid4(),
        name=name,
        email=email,
        password=passwords.unusable_password(),
        verified=identity.email_verified,
    )
    db.session.add(user)
    _add_identity(user, provider, identity)  # one commit: the account and its link
    events.emit(events.user_registered, user_id=str(user.id), via="oauth", provider=provider.name)
    events.emit(events.identity_linked, user_id=str(user.id), provider=provider.name)
    _refuse_inactive(user)
    return user


def _add_identity(user: User, provider: Provider, identity: client.ProviderIdentity) -> Identity:
    """Insert the link; a concurrent callback for the same subject or email loses here."""
    row = Identity(
        user_id=user.id,
        provider=provider.name,
        subject=identity.subject,
        email=identity.email,
        email_verified=identity.email_verified,
    )
    try:
        db.session.flush()  # a new user first: no relationship() orders the two inserts
        db.session.add(row)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise OAuthFailure(
            "identity_in_use", "This sign-in is already in progress elsewhere: try again", 409
        ) from None
    return row


def _link(provider: Provider, flow: flows.Flow, identity: client.ProviderIdentity) -> Identity:
    """Link the identity to the user who started the flow from their settings."""
    assert flow.user_id is not None and flow.session_id is not None
    alive, *_ = sessions.touch(flow.user_id, flow.session_id)
    user = find_user_by_id(flow.user_id)
    if not alive or user is None or user.disabled:
        raise OAuthFailure("not_logged_in", auth_service.NOT_LOGGED_IN, 401)
    known = _find_identity(provider.name, identity.subject)
    if known is not None:
        if known.user_id != user.id:
            raise OAuthFailure(
                "identity_in_use",
                f"This {provider.display_name} account is already linked to another user",
                409,
            )
        return known
    row = _add_identity(user, provider, identity)
    events.emit(
        events.identity_linked, user_id=flow.user_id, provider=provider.name, by=flow.user_id
    )
    return row


def list_identities(current: CurrentUser) -> list[Identity]:
    return list(
        db.session.scalars(
            select(Identity)
            .where(Identity.user_id == uuid.UUID(current.id))
            .order_by(Identity.linked_at, Identity.id)
        )
    )


def unlink(current: CurrentUser, identity_id: str) -> None:
    """Remove one of the caller's identities, unless it is their last way in."""
    try:
        wanted = uuid.UUID(identity_id)
    except ValueError:
        raise NotFound(IDENTITY_NOT_FOUND) from None
    # Lock the user row: two concurrent unlinks of the last two identities serialise.
    user = db.session.scalar(select(User).where(User.id == uuid.UUID(current.id)).with_for_update())
    row = db.session.scalar(
        select(Identity).where(Identity.id == wanted, Identity.user_id == uuid.UUID(current.id))
    )
    if user is None or row is None:
        db.session.rollback()
        raise NotFound(IDENTITY_NOT_FOUND)
    if not ways_in.remain(user, identity=row.id):
        db.session.rollback()
        raise Conflict(LAST_WAY_IN, code="last_way_in")
    provider = row.provider
    db.session.delete(row)
    db.session.commit()
    events.emit(events.identity_unlinked, user_id=current.id, provider=provider, by=current.id)


def describe(identity: Identity) -> dict[str, Any]:
    provider = providers().get(identity.provider)
    return {
        "id": str(identity.id),
        "provider": identity.provider,
        "display_name": provider.display_name if provider else identity.provider,
        "email": identity.email,
        "email_verified": identity.email_verified,
        "linked_at": identity.linked_at.isoformat(),
    }
