"""Sign in with another provider, against a real OpenID provider (oidc-provider on Node).

The provider runs its own login and consent pages; a real HTTP client
(:class:`BrowserlessLogin`) fills them in, and the Flask test client plays the
browser that started the sign-in (it holds the ``oauth_flow`` cookie).

Bad ID tokens the provider never issues on its own (another audience, another issuer,
expired, another nonce) come from the provider-side fixture: it changes the claims of
the provider's next real ID token and signs it again with the provider's own published
key (or, for the unknown-key case, with a key that is not in the provider's JWKS).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from authapi import sessions
from authapi.configuration import ConfigurationError
from authapi.extensions import db
from authapi.models import AuthEvent, Identity, User
from authapi.oauth import redirects
from authapi.webhooks import signing
from tests.helpers import FETCH_METADATA, PASSWORD, assert_fail, login, register, update_all_users
from tests.support.oidc_provider import BrowserlessLogin, OidcProvider, query, rsa_jwk
from tests.support.passkeys import add_passkey, passkey_login
from tests.support.receiver import Answer
from tests.support.servers import free_port
from tests.support.smtp_sink import reset_by_mail, verify_by_mail
from tests.support.soft_authenticator import SoftAuthenticator
from tests.support.webhooks import (
    WEBHOOK_SETTINGS,
    create_webhook,
    make_admin,
    payloads,
    run_worker,
)

CALLBACK = "http://localhost/api/auth/oauth/test/callback"
FRONTEND = "http://app.example.com/app"
BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}

# The OpenID provider is a Node.js process.
pytestmark = pytest.mark.subprocess


@pytest.fixture(scope="session")
def client_credentials(oidc_provider: OidcProvider) -> tuple[str, str]:
    return oidc_provider.register_client(CALLBACK)


@pytest.fixture
def provider(oidc_provider: OidcProvider) -> Any:
    oidc_provider.reset()
    yield oidc_provider
    oidc_provider.reset()


def provider_config(issuer: str, client_id: str, secret: str, **extra: Any) -> dict[str, Any]:
    return {
        "OAUTH_PROVIDERS": ("test",),
        "OAUTH_TEST_ISSUER": issuer,
        "OAUTH_TEST_CLIENT_ID": client_id,
        "OAUTH_TEST_CLIENT_SECRET": secret,
        "OAUTH_TEST_DISPLAY_NAME": "Test OP",
        "FRONTEND_URL": FRONTEND,
        **extra,
    }


@pytest.fixture
def oauth_app(
    make_app: Callable[..., Flask], provider: OidcProvider, client_credentials: tuple[str, str]
) -> Flask:
    return make_app(**provider_config(provider.issuer, *client_credentials))


@pytest.fixture
def mail_oauth_app(
    make_app: Callable[..., Flask],
    provider: OidcProvider,
    client_credentials: tuple[str, str],
    smtp_sink: Any,
) -> Flask:
    """Provider sign-in with mail delivered to the SMTP sink (resets, verification)."""
    return make_app(**{**smtp_sink.config, **provider_config(provider.issuer, *client_credentials)})


def start(client: FlaskClient, redirect_to: str | None = FRONTEND + "/home") -> str:
    """GET authorize like a browser; the provider URL (the flow cookie is in the jar)."""
    url = "/api/auth/oauth/test/authorize"
    if redirect_to is not None:
        url += "?" + redirects.urlencode({"redirect_to": redirect_to})
    response = client.get(url, headers=BROWSER)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert client.get_cookie("oauth_flow", path="/api/auth/oauth") is not None
    return response.headers["Location"]


def provider_login(authorization_url: str, login_name: str, **options: Any) -> str:
    """Through the provider's own login and consent pages: the callback URL it sends back."""
    return BrowserlessLogin(CALLBACK).run(authorization_url, login_name, **options)


def call_back(client: FlaskClient, callback_url: str, headers: dict[str, str] = BROWSER) -> Any:
    parts = urlsplit(callback_url)
    return client.get(f"{parts.path}?{parts.query}", headers=headers)


def sign_in(client: FlaskClient, login_name: str, **headers: str) -> Any:
    callback = provider_login(start(client), login_name)
    return call_back(client, callback, {**BROWSER, **headers})


def assert_error_redirect(response: Any, code: str, target: str = FRONTEND + "/home") -> None:
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.split("?")[0] == target
    assert query(location)["error"] == code
    assert "access_token" not in response.headers.get("Set-Cookie", "")


def users_and_identities(app: Flask) -> tuple[int, int]:
    with app.app_context():
        users = db.session.scalar(select(func.count()).select_from(User))
        identities = db.session.scalar(select(func.count()).select_from(Identity))
        db.session.remove()
    return users, identities


# --- the happy path -----------------------------------------------------------------


def test_providers_are_listed_for_front_ends(oauth_app: Flask) -> None:
    response = oauth_app.test_client().get("/api/auth/providers")
    assert response.status_code == 200
    assert response.json["data"]["providers"] == [{"name": "test", "display_name": "Test OP"}]


def test_the_authorize_redirect_carries_state_nonce_and_pkce(oauth_app: Flask, provider) -> None:
    client = oauth_app.test_client()
    url = start(client)
    assert url.startswith(provider.issuer + "/auth?")
    params = query(url)
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == CALLBACK
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 43 and len(params["nonce"]) >= 43
    assert "openid" in params["scope"].split()
    cookie = client.get_cookie("oauth_flow", path="/api/auth/oauth")
    assert cookie.http_only and cookie.same_site == "Lax" and cookie.max_age == 600
    # The flow id is not the state: a leaked state alone is of no use.
    assert cookie.value != params["state"]


def test_a_full_sign_in_creates_a_verified_account_and_signs_in_like_a_password_login(
    oauth_app: Flask, provider
) -> None:
    provider.set_account("sub-alice", email="Alice@Example.com", email_verified=True, name="Al")
    client = oauth_app.test_client()
    authorization_url = start(client)
    journey = BrowserlessLogin(CALLBACK)
    callback = journey.run(authorization_url, "sub-alice")
    assert journey.pages == ["login", "consent"]  # the provider's own pages
    response = call_back(client, callback)

    assert response.status_code == 302
    assert response.headers["Location"] == FRONTEND + "/home"
    cookies = {c.key: c for c in client._cookies.values()}
    assert {"access_token", "refresh_token", "logged_in"} <= set(cookies)
    assert client.get_cookie("oauth_flow", path="/api/auth/oauth") is None  # used up
    me = client.get("/api/users/me")
    assert me.status_code == 200
    user = me.json["data"]["user"]
    assert user["email"] == "alice@example.com"
    assert user["name"] == "Al"
    assert user["verified"] is True
    sessions = client.get("/api/auth/sessions").json["data"]["sessions"]
    assert len(sessions) == 1

    with oauth_app.app_context():
        identity = db.session.scalar(select(Identity))
        assert (identity.provider, identity.subject) == ("test", "sub-alice")
        assert identity.email_verified is True
        login_event = db.session.scalar(
            select(AuthEvent).where(AuthEvent.event == "login_succeeded")
        )
        assert login_event.details["provider"] == "test"
        assert login_event.details["via"] == "oauth"
        db.session.remove()

    # No password works on it, and a second sign-in finds the same account.
    assert_fail(
        client.post(
            "/api/auth/login", json={"email": "alice@example.com", "password": "!" + PASSWORD}
        ),
        400,
        "Invalid email or password",
    )
    again = oauth_app.test_client()
    assert sign_in(again, "sub-alice").status_code == 302
    assert again.get("/api/users/me").json["data"]["user"]["id"] == user["id"]
    assert users_and_identities(oauth_app) == (1, 1)


def test_a_provider_sign_in_ends_the_session_the_browser_held(oauth_app: Flask, provider) -> None:
    """Its cookies overwrite the browser's (test_signing_in_again.py): the session they
    named ends if it was the same account's earlier one; another account's (switching
    accounts) stays."""
    client = oauth_app.test_client()
    client.environ_base.update(FETCH_METADATA)  # only a browser's sign-ins replace
    register(client, email="sam@example.com")
    sam = login(client, "sam@example.com")
    provider.set_account("sub-rita", email="rita@example.com", email_verified=True, name="Rita")
    assert sign_in(client, "sub-rita").status_code == 302
    anonymous = oauth_app.test_client()
    assert (
        anonymous.get("/api/users/me", headers={"Authorization": f"Bearer {sam}"}).status_code
        == 200
    )
    [first] = client.get("/api/auth/sessions").json["data"]["sessions"]
    assert sign_in(client, "sub-rita").status_code == 302
    [second] = client.get("/api/auth/sessions").json["data"]["sessions"]
    assert second["id"] != first["id"]


def test_json_clients_get_the_token_response(oauth_app: Flask, provider) -> None:
    client = oauth_app.test_client()
    callback = provider_login(start(client), "bob@example.com")
    response = call_back(client, callback, {**JSON, "X-Auth-Mode": "token"})
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "success" and body["token_type"] == "Bearer"
    assert body["refresh_token"] and body["access_token"]
    assert "access_token=" not in response.headers.get("Set-Cookie", "")
    me = client.get("/api/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json["data"]["user"]["email"] == "bob@example.com"


def test_without_redirect_to_the_browser_goes_back_to_frontend_url(oauth_app: Flask) -> None:
    client = oauth_app.test_client()
    response = call_back(client, provider_login(start(client, None), "carol@example.com"))
    assert response.status_code == 302
    assert response.headers["Location"] == FRONTEND


def test_the_callback_url_uses_public_url_when_set(
    make_app: Callable[..., Flask], provider: OidcProvider
) -> None:
    app = make_app(
        **provider_config(provider.issuer, "x", "y", PUBLIC_URL="https://api.example.com")
    )
    url = start(app.test_client())
    assert query(url)["redirect_uri"] == "https://api.example.com/api/auth/oauth/test/callback"


# --- state, browser binding, replay -------------------------------------------------


@pytest.mark.parametrize("state", [None, "", "wrong-state"])
def test_a_missing_or_wrong_state_is_refused(oauth_app: Flask, state: str | None) -> None:
    client = oauth_app.test_client()
    callback = provider_login(start(client), "dave@example.com")
    params = query(callback)
    if state is None:
        del params["state"]
    else:
        params["state"] = state
    response = client.get(
        "/api/auth/oauth/test/callback?" + redirects.urlencode(params), headers=BROWSER
    )
    assert_error_redirect(response, "invalid_state", FRONTEND)
    assert client.get("/api/users/me").status_code == 401
    assert users_and_identities(oauth_app) == (0, 0)


def test_a_callback_in_another_browser_is_refused(oauth_app: Flask) -> None:
    victim, attacker = oauth_app.test_client(), oauth_app.test_client()
    # The attacker starts a sign-in and gets the victim's browser to open its callback.
    callback = provider_login(start(attacker), "mallory@example.com")
    response = call_back(victim, callback)
    assert_error_redirect(response, "invalid_state", FRONTEND)
    assert victim.get("/api/users/me").status_code == 401
    # Also when the victim's browser has a sign-in of its own in progress.
    start(victim)
    assert_error_redirect(call_back(victim, callback), "invalid_state", FRONTEND)
    assert_fail(call_back(victim, callback, JSON), 400)
    assert users_and_identities(oauth_app) == (0, 0)


def test_a_replayed_callback_or_code_is_refused(oauth_app: Flask) -> None:
    client = oauth_app.test_client()
    callback = provider_login(start(client), "erin@example.com")
    assert call_back(client, callback).status_code == 302
    # The same callback again: the flow was used up.
    assert_error_redirect(call_back(client, callback), "invalid_state", FRONTEND)
    # The same code with a fresh flow's state: the provider refuses the used code
    # (and the new flow's PKCE verifier does not match it either).
    fresh = start(client)
    params = {**query(callback), "state": query(fresh)["state"]}
    response = client.get(
        "/api/auth/oauth/test/callback?" + redirects.urlencode(params), headers=BROWSER
    )
    assert_error_redirect(response, "provider_refused")
    assert users_and_identities(oauth_app) == (1, 1)


def test_denied_consent_lands_on_the_front_end_with_an_error(oauth_app: Flask) -> None:
    client = oauth_app.test_client()
    callback = provider_login(start(client), "frank@example.com", consent=False)
    assert query(callback)["error"] == "access_denied"
    assert_error_redirect(call_back(client, callback), "access_denied")
    assert users_and_identities(oauth_app) == (0, 0)


def test_head_never_starts_or_uses_a_flow(oauth_app: Flask) -> None:
    client = oauth_app.test_client()
    head = client.head("/api/auth/oauth/test/authorize")
    assert head.status_code == 405 and head.mimetype == "application/json"
    assert client.get_cookie("oauth_flow", path="/api/auth/oauth") is None
    callback = provider_login(start(client), "gina@example.com")
    parts = urlsplit(callback)
    assert client.head(f"{parts.path}?{parts.query}").status_code == 405
    assert call_back(client, callback).status_code == 302  # still usable


# --- the ID token -------------------------------------------------------------------


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"aud": "another-client"}, id="another-audience"),
        pytest.param({"aud": ["another-client"]}, id="another-audience-list"),
        pytest.param({"iss": "http://127.0.0.1:1"}, id="another-issuer"),
        pytest.param({"nonce": "not-the-nonce"}, id="nonce-mismatch"),
        pytest.param("expired", id="expired"),
        pytest.param("unpublished-key", id="signed-with-an-unpublished-key"),
    ],
)
def test_an_id_token_that_fails_a_check_is_refused(oauth_app: Flask, provider, claims: Any) -> None:
    now = int(time.time())
    if claims == "expired":
        provider.patch_next_id_token(iat=now - 7200, exp=now - 3600)
    elif claims == "unpublished-key":
        provider.patch_next_id_token(key=rsa_jwk("test-signing-key"))  # same kid, other key
    else:
        provider.patch_next_id_token(**claims)
    client = oauth_app.test_client()
    callback = provider_login(start(client), "henry@example.com")
    assert_error_redirect(call_back(client, callback), "invalid_token")
    assert client.get("/api/users/me").status_code == 401
    assert users_and_identities(oauth_app) == (0, 0)


def test_the_same_patch_with_the_real_claims_is_accepted(oauth_app: Flask, provider) -> None:
    """Control for the test above: the re-signing fixture itself yields valid tokens."""
    provider.patch_next_id_token(name="Re-signed")
    client = oauth_app.test_client()
    response = call_back(client, provider_login(start(client), "ivy@example.com"))
    assert response.status_code == 302 and "error" not in response.headers["Location"]
    assert client.get("/api/users/me").json["data"]["user"]["name"] == "Re-signed"


def test_json_clients_get_a_json_error(oauth_app: Flask, provider) -> None:
    provider.patch_next_id_token(aud="another-client")
    client = oauth_app.test_client()
    callback = provider_login(start(client), "jack@example.com")
    response = call_back(client, callback, JSON)
    assert_fail(response, 400)
    assert response.json["code"] == "invalid_token"  # the same code browsers get


# --- accounts and emails ------------------------------------------------------------


def test_an_unverified_provider_email_never_takes_over_an_account(
    oauth_app: Flask, provider
) -> None:
    client = oauth_app.test_client()
    register(client, email="kate@example.com")
    update_all_users(oauth_app, verified=True)
    provider.set_account("attacker-sub", email="kate@example.com", email_verified=False)
    browser = oauth_app.test_client()
    response = sign_in(browser, "attacker-sub")
    assert_error_redirect(response, "account_exists")
    assert browser.get("/api/users/me").status_code == 401
    assert users_and_identities(oauth_app) == (1, 0)
    json_client = oauth_app.test_client()
    callback = provider_login(start(json_client), "attacker-sub")
    assert_fail(call_back(json_client, callback, JSON), 409)


def test_a_verified_provider_email_does_not_link_to_an_unverified_account(
    oauth_app: Flask, provider
) -> None:
    """Pre-account hijacking: someone registered the address first, never verified it."""
    register(oauth_app.test_client(), email="liam@example.com")
    provider.set_account("liam-sub", email="liam@example.com", email_verified=True)
    assert_error_redirect(sign_in(oauth_app.test_client(), "liam-sub"), "account_exists")
    assert users_and_identities(oauth_app) == (1, 0)


def test_a_provider_email_that_looks_like_an_account_is_account_exists(
    oauth_app: Flask, provider
) -> None:
    """Look-alike addresses are one account: a provider vouching for the Cyrillic twin
    of an existing address neither links to it nor makes a second account."""
    register(oauth_app.test_client(), email="ace@example.com")
    provider.set_account("twin-sub", email="\u0430\u0441\u0435@example.com", email_verified=True)
    browser = oauth_app.test_client()
    assert_error_redirect(sign_in(browser, "twin-sub"), "account_exists")
    assert users_and_identities(oauth_app) == (1, 0)


def test_both_emails_verified_links_the_existing_account(oauth_app: Flask, provider) -> None:
    client = oauth_app.test_client()
    user = register(client, email="mia@example.com")
    update_all_users(oauth_app, verified=True)
    provider.set_account("mia-sub", email="mia@example.com", email_verified=True)
    browser = oauth_app.test_client()
    assert sign_in(browser, "mia-sub").status_code == 302
    assert browser.get("/api/users/me").json["data"]["user"]["id"] == user["id"]
    assert users_and_identities(oauth_app) == (1, 1)


def test_a_disabled_account_cannot_sign_in_through_a_provider(oauth_app: Flask) -> None:
    assert sign_in(oauth_app.test_client(), "nina@example.com").status_code == 302
    update_all_users(oauth_app, disabled=True)
    browser = oauth_app.test_client()
    assert_error_redirect(sign_in(browser, "nina@example.com"), "account_disabled")
    assert browser.get("/api/users/me").status_code == 401


def test_a_provider_without_an_email_is_refused(oauth_app: Flask, provider) -> None:
    provider.set_account("no-email-sub", name="Nobody")
    assert_error_redirect(sign_in(oauth_app.test_client(), "no-email-sub"), "email_required")
    assert users_and_identities(oauth_app) == (0, 0)


def test_a_provider_only_user_can_set_a_password_through_the_reset_flow(
    mail_oauth_app: Flask, provider: OidcProvider, smtp_sink: Any
) -> None:
    from tests.support.smtp_sink import delivered

    app = mail_oauth_app
    assert sign_in(app.test_client(), "olga@example.com").status_code == 302
    client = app.test_client()
    assert (
        client.post("/api/auth/forgotpassword", json={"email": "olga@example.com"}).status_code
        == 200
    )
    delivered(app, smtp_sink)
    token = smtp_sink.last_with("/resetpassword/", "olga@example.com").link("/resetpassword/")
    reset = client.patch(
        f"/api/auth/resetpassword/{token}",
        json={"password": PASSWORD, "passwordConfirm": PASSWORD},
    )
    assert reset.status_code == 200
    login(client, "olga@example.com", PASSWORD)


def owner_proves_the_mailbox(app: Flask, sink: Any, email: str, via: str) -> FlaskClient:
    """The address's owner proves it: a verification link (not signed in after it),
    a password reset or a sign-in with an emailed code. Their client."""
    from tests.support.smtp_sink import delivered

    owner = app.test_client()
    if via == "reset":
        reset_by_mail(owner, app, sink, email, PASSWORD)
        login(owner, email, PASSWORD)
    elif via == "verify":
        resend = owner.post("/api/auth/verifyemail/resend", json={"email": email})
        assert resend.status_code == 200
        verify_by_mail(owner, app, sink, email)
    else:
        assert owner.post("/api/auth/otp", json={"email": email}).status_code == 200
        delivered(app, sink)
        code = sink.last_with("/signin/otp", email).subject.rsplit(" ", 1)[-1]
        signed_in = owner.post("/api/auth/otp/verify", json={"email": email, "code": code})
        assert signed_in.status_code == 200, signed_in.json
    return owner


@pytest.mark.parametrize("via", ["verify", "reset", "otp"])
def test_an_account_made_with_an_unverified_provider_email_is_not_kept_by_its_maker(
    mail_oauth_app: Flask, provider: OidcProvider, smtp_sink: Any, via: str
) -> None:
    """Pre-account hijacking the other way round: someone signs up through a provider
    that does not vouch for the address (email_verified false) with the victim's
    address; the victim, unable to register, takes the account through their mailbox
    and uses it. The provider identity must not open it afterwards."""
    app = mail_oauth_app
    provider.set_account("mallory-sub", email="quinn@example.com", email_verified=False)
    attacker = app.test_client()
    assert sign_in(attacker, "mallory-sub").status_code == 302
    assert attacker.get("/api/users/me").json["data"]["user"]["verified"] is False

    owner = owner_proves_the_mailbox(app, smtp_sink, "quinn@example.com", via)
    assert users_and_identities(app) == (1, 0)
    if via != "verify":
        me = owner.get("/api/users/me").json["data"]["user"]
        assert me["verified"] is True
        assert owner.get("/api/auth/identities").json["data"]["identities"] == []

    # The maker's session has ended, and signing in through the provider again is the
    # takeover refused for any unverified provider email.
    assert attacker.get("/api/users/me").status_code == 401
    again = app.test_client()
    assert_error_redirect(sign_in(again, "mallory-sub"), "account_exists")
    assert again.get("/api/users/me").status_code == 401
    assert users_and_identities(app) == (1, 0)


def test_the_verification_link_reports_the_sessions_of_the_accounts_maker(
    make_app: Callable[..., Flask],
    provider: OidcProvider,
    client_credentials: tuple[str, str],
    smtp_sink: Any,
    receiver: Any,
) -> None:
    """The link ends the maker's sessions (the provider identity it unlinks let them
    in): a ``session.revoked`` with the scope ``email_verified`` says so."""
    app = make_app(
        **{
            **smtp_sink.config,
            **provider_config(provider.issuer, *client_credentials),
            **WEBHOOK_SETTINGS,
        }
    )
    webhook = create_webhook(app.test_client(), make_admin(app), receiver.url, ["session.revoked"])
    provider.set_account("mallory-sub", email="quinn@example.com", email_verified=False)
    attacker = app.test_client()
    assert sign_in(attacker, "mallory-sub").status_code == 302
    user_id = attacker.get("/api/users/me").json["data"]["user"]["id"]
    owner_proves_the_mailbox(app, smtp_sink, "quinn@example.com", "verify")
    run_worker(app)
    assert [payload["data"] for payload in payloads(receiver, webhook["secret"])] == [
        {"user_id": user_id, "scope": "email_verified", "ended": 1}
    ]


def test_a_verified_provider_identity_stays_linked_when_its_owner_resets(
    mail_oauth_app: Flask, provider: OidcProvider, smtp_sink: Any
) -> None:
    app = mail_oauth_app
    provider.set_account("rita-sub", email="rita@example.com", email_verified=True)
    assert sign_in(app.test_client(), "rita-sub").status_code == 302
    owner_proves_the_mailbox(app, smtp_sink, "rita@example.com", "reset")
    browser = app.test_client()
    assert sign_in(browser, "rita-sub").status_code == 302
    assert browser.get("/api/users/me").status_code == 200
    assert users_and_identities(app) == (1, 1)


# --- linking and unlinking ----------------------------------------------------------


def link(client: FlaskClient, redirect_to: str = FRONTEND + "/settings") -> str:
    response = client.post("/api/auth/identities/test/link", json={"redirect_to": redirect_to})
    assert response.status_code == 200, response.json
    return response.json["data"]["authorization_url"]


def test_link_from_settings_then_sign_in_with_the_provider(oauth_app: Flask, provider) -> None:
    client = oauth_app.test_client()
    user = register(client, email="paul@example.com")
    login(client, "paul@example.com")
    provider.set_account("paul-elsewhere", email="p.other@example.org", email_verified=False)
    callback = provider_login(link(client), "paul-elsewhere")
    response = call_back(client, callback)
    assert response.status_code == 302
    assert response.headers["Location"] == FRONTEND + "/settings?linked=test"
    listed = client.get("/api/auth/identities").json["data"]["identities"]
    assert [(i["provider"], i["email"], i["email_verified"]) for i in listed] == [
        ("test", "p.other@example.org", False)
    ]
    # Now the provider signs in to Paul's account, whatever its email says.
    other = oauth_app.test_client()
    assert sign_in(other, "paul-elsewhere").status_code == 302
    assert other.get("/api/users/me").json["data"]["user"]["id"] == user["id"]


def test_linking_needs_a_login_and_a_same_site_request(oauth_app: Flask) -> None:
    client = oauth_app.test_client()
    assert_fail(client.post("/api/auth/identities/test/link", json={}), 401)
    register(client, email="quinn@example.com")
    login(client, "quinn@example.com")
    response = client.post(
        "/api/auth/identities/test/link", json={}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert_fail(response, 403, "Cross-site request refused")
    assert_fail(client.post("/api/auth/identities/nope/link", json={}), 404)
    assert_fail(
        client.post("/api/auth/identities/test/link", json={"redirect_to": "https://evil.com"}),
        400,
    )


def test_a_subject_linked_to_someone_else_cannot_be_linked_again(oauth_app: Flask) -> None:
    assert sign_in(oauth_app.test_client(), "rita@example.com").status_code == 302
    client = oauth_app.test_client()
    register(client, email="sam@example.com")
    login(client, "sam@example.com")
    response = call_back(client, provider_login(link(client), "rita@example.com"))
    assert_error_redirect(response, "identity_in_use", FRONTEND + "/settings")
    assert client.get("/api/auth/identities").json["data"]["identities"] == []


def test_a_link_whose_session_ended_is_refused(oauth_app: Flask) -> None:
    client = oauth_app.test_client()
    register(client, email="tom@example.com")
    login(client, "tom@example.com")
    authorization_url = link(client)
    client.get("/api/auth/logout")
    response = call_back(client, provider_login(authorization_url, "tom-elsewhere"))
    assert_error_redirect(response, "not_logged_in", FRONTEND + "/settings")
    assert users_and_identities(oauth_app) == (1, 0)


@pytest.mark.parametrize("via", ["verify", "reset", "otp"])
def test_a_provider_linked_before_the_address_was_proven_goes_with_the_first_proof(
    mail_oauth_app: Flask, provider: OidcProvider, smtp_sink: Any, via: str
) -> None:
    """Linking from the settings needs only a session: someone who registered the
    victim's address links their own provider account to it. The owner's first proof
    of the address unlinks it (it does not vouch for that address)."""
    app = mail_oauth_app
    squatter = app.test_client()
    register(squatter, email="xena@example.com")
    login(squatter, "xena@example.com")
    provider.set_account("xena-squatter", email="squatter@example.org", email_verified=True)
    assert call_back(squatter, provider_login(link(squatter), "xena-squatter")).status_code == 302
    assert users_and_identities(app) == (1, 1)

    owner_proves_the_mailbox(app, smtp_sink, "xena@example.com", via)
    assert users_and_identities(app) == (1, 0)
    assert squatter.get("/api/users/me").status_code == 401
    again = app.test_client()
    sign_in(again, "xena-squatter")  # a new account for squatter@example.org, not Xena's
    assert users_and_identities(app) == (2, 1)


def test_unlinking_the_last_way_in_is_refused(oauth_app: Flask, provider) -> None:
    client = oauth_app.test_client()
    assert sign_in(client, "uma@example.com").status_code == 302
    (identity,) = client.get("/api/auth/identities").json["data"]["identities"]
    assert_fail(
        client.delete(f"/api/auth/identities/{identity['id']}"),
        409,
        "This is the only way into your account: set a password (forgot password) "
        "or link another provider first",
    )
    # With a second identity, one of them can go.
    provider.set_account("uma-second", email="uma2@example.org", email_verified=True)
    assert call_back(client, provider_login(link(client), "uma-second")).status_code == 302
    assert client.delete(f"/api/auth/identities/{identity['id']}").status_code == 200
    (left,) = client.get("/api/auth/identities").json["data"]["identities"]
    assert_fail(client.delete(f"/api/auth/identities/{left['id']}"), 409)


def test_a_passkey_is_a_way_in_that_lets_the_only_identity_go(oauth_app: Flask) -> None:
    """Made through the provider (no password) with a passkey added: the passkey signs
    in, so the identity is not the last way in (it was refused before)."""
    client = oauth_app.test_client()
    assert sign_in(client, "yael@example.com").status_code == 302
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator)
    (identity,) = client.get("/api/auth/identities").json["data"]["identities"]
    assert client.delete(f"/api/auth/identities/{identity['id']}").status_code == 200
    assert passkey_login(oauth_app.test_client(), authenticator).status_code == 200


def test_a_password_user_can_unlink_their_only_identity(oauth_app: Flask) -> None:
    client = oauth_app.test_client()
    register(client, email="vera@example.com")
    login(client, "vera@example.com")
    call_back(client, provider_login(link(client), "vera-elsewhere"))
    (identity,) = client.get("/api/auth/identities").json["data"]["identities"]
    stranger = oauth_app.test_client()
    register(stranger, email="walt@example.com")
    login(stranger, "walt@example.com")
    assert_fail(stranger.delete(f"/api/auth/identities/{identity['id']}"), 404)
    assert_fail(stranger.delete("/api/auth/identities/not-a-uuid"), 404)
    assert_fail(stranger.delete(f"/api/auth/identities/{uuid.uuid4()}"), 404)
    assert client.delete(f"/api/auth/identities/{identity['id']}").status_code == 200
    assert client.get("/api/auth/identities").json["data"]["identities"] == []
    with oauth_app.app_context():
        events = set(db.session.scalars(select(AuthEvent.event)))
        db.session.remove()
    assert {"identity_linked", "identity_unlinked"} <= events


# --- redirect_to --------------------------------------------------------------------

REFUSED_REDIRECTS = [
    "//evil.com",
    "//evil.com/app",
    "\\evil.com",
    "/\\evil.com",
    "\\\\evil.com\\app",
    "https:evil.com",
    "http://app.example.com.evil.com/app",
    "http://app.example.com@evil.com/app",
    "http://user@app.example.com/app",
    "http://evil.com/app",
    "https://app.example.com/app",  # another scheme
    "http://app.example.com:8080/app",  # another port
    "http://app.example.com/application",  # not under /app
    "http://app.example.com/",
    "http://app.example.com/app/../admin",
    "http://app.example.com/app/%2e%2e/admin",
    "http://app.example.com/app%2f..%2fadmin",
    "http://app.example.com/app/\t/x",
    "http://app.example.com/app\r\nSet-Cookie:x=y",
    "javascript:alert(1)",
    "data:text/html,hi",
    "/app/relative",
    "app.example.com/app",
    "http://evil.com\\@app.example.com/app",
    "http://[::1]/app",
]


@pytest.mark.parametrize("target", REFUSED_REDIRECTS)
def test_redirect_tricks_are_refused(oauth_app: Flask, target: str) -> None:
    client = oauth_app.test_client()
    url = "/api/auth/oauth/test/authorize?" + redirects.urlencode({"redirect_to": target})
    response = client.get(url, headers=BROWSER)
    assert_fail(
        response, 400, "redirect_to must be FRONTEND_URL, a URL under it, or an allow-listed URL"
    )
    assert client.get_cookie("oauth_flow", path="/api/auth/oauth") is None


@pytest.mark.parametrize(
    "target",
    [
        FRONTEND,
        FRONTEND + "/",
        FRONTEND + "/deep/page?tab=1",
        "HTTP://APP.EXAMPLE.COM:80/app/x",
        "https://partner.example.net/return",
    ],
)
def test_allowed_redirects(
    make_app: Callable[..., Flask], provider: OidcProvider, target: str
) -> None:
    app = make_app(
        **provider_config(
            provider.issuer, "x", "y", OAUTH_REDIRECT_ALLOWLIST=("https://partner.example.net/",)
        )
    )
    url = "/api/auth/oauth/test/authorize?" + redirects.urlencode({"redirect_to": target})
    assert app.test_client().get(url, headers=BROWSER).status_code == 302


def test_an_allow_list_entry_is_matched_by_the_same_rule() -> None:
    bases = ["https://partner.example.net/return"]
    assert redirects.is_allowed("https://partner.example.net/return/x", bases)
    assert not redirects.is_allowed("https://partner.example.net/returnx", bases)
    assert not redirects.is_allowed("https://partner.example.net.evil/return", bases)


# --- the provider is down -----------------------------------------------------------


def test_an_unreachable_provider_is_a_503_for_json_and_an_error_for_browsers(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(**provider_config(f"http://127.0.0.1:{free_port()}", "x", "y"))
    client = app.test_client()
    response = client.get("/api/auth/oauth/test/authorize", headers=JSON)
    assert_fail(response, 503)
    assert response.headers["Retry-After"]
    browser = client.get(
        "/api/auth/oauth/test/authorize?redirect_to=" + FRONTEND + "/home", headers=BROWSER
    )
    assert_error_redirect(browser, "provider_unavailable")


def test_a_provider_that_goes_down_before_the_callback(
    make_app: Callable[..., Flask],
) -> None:
    down = OidcProvider().start()
    try:
        credentials = down.register_client(CALLBACK)
        app = make_app(**provider_config(down.issuer, *credentials))
        client = app.test_client()
        callback = provider_login(start(client), "xena@example.com")
        json_client = app.test_client()
        json_callback = provider_login(start(json_client), "xena@example.com")
    finally:
        down.stop()
    assert_error_redirect(call_back(client, callback), "provider_unavailable")
    response = call_back(json_client, json_callback, JSON)
    assert_fail(response, 503)
    assert users_and_identities(app) == (0, 0)


# --- the feature switch and its configuration --------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/auth/providers",
        "/api/auth/oauth/test/authorize",
        "/api/auth/oauth/test/callback",
        "/api/auth/identities",
    ],
)
def test_without_providers_the_routes_answer_404(client: FlaskClient, path: str) -> None:
    assert_fail(client.get(path), 404, f"Route {path} not found")


def test_unknown_provider_is_404(oauth_app: Flask) -> None:
    assert_fail(oauth_app.test_client().get("/api/auth/oauth/other/authorize"), 404)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"OAUTH_PROVIDERS": ("corp",)}, "OAUTH_CORP_ISSUER, OAUTH_CORP_CLIENT_ID"),
        (
            {"OAUTH_PROVIDERS": ("corp",), "OAUTH_CORP_ISSUER": "https://id.example.com"},
            "OAUTH_CORP_CLIENT_ID, OAUTH_CORP_CLIENT_SECRET",
        ),
        ({"OAUTH_PROVIDERS": ("Bad-Name",)}, "is not a provider name"),
        (
            {"OAUTH_PROVIDERS": ("x",), "OAUTH_X_PRESET": "myspace"},
            "OAUTH_X_PRESET must be one of google, microsoft, github",
        ),
        (
            {
                "OAUTH_PROVIDERS": ("x",),
                "OAUTH_X_ISSUER": "ftp://id.example.com",
                "OAUTH_X_CLIENT_ID": "a",
                "OAUTH_X_CLIENT_SECRET": "b",
            },
            "OAUTH_X_ISSUER must be an https:// URL",
        ),
    ],
)
def test_incomplete_provider_settings_stop_the_start(
    base_config: dict[str, Any], overrides: dict[str, Any], message: str
) -> None:
    from authapi import create_app

    with pytest.raises(ConfigurationError, match=message):
        create_app({**base_config, **overrides})


def test_production_needs_https_issuers_and_a_public_url(base_config: dict[str, Any]) -> None:
    from authapi import create_app

    production = {
        **base_config,
        "APP_ENV": "production",
        "COOKIE_SECURE": True,
        "OAUTH_PROVIDERS": ("google",),
        "OAUTH_GOOGLE_PRESET": "google",
        "OAUTH_GOOGLE_CLIENT_ID": "id",
        "OAUTH_GOOGLE_CLIENT_SECRET": "secret",
    }
    with pytest.raises(ConfigurationError, match="PUBLIC_URL and FRONTEND_URL"):
        create_app(production)
    with pytest.raises(ConfigurationError, match="must use https:// in production"):
        create_app({**production, "OAUTH_GOOGLE_ISSUER": "http://id.example.com"})
    app = create_app(
        {**production, "PUBLIC_URL": "https://api.example.com", "FRONTEND_URL": FRONTEND}
    )
    with app.app_context():
        db.engine.dispose()


def test_provider_settings_come_from_the_documented_environment_names() -> None:
    from config import settings_from_env

    settings = settings_from_env(
        {
            "OAUTH_PROVIDERS": "Google, corp",
            "OAUTH_GOOGLE_PRESET": "google",
            "OAUTH_GOOGLE_CLIENT_ID": "gid",
            "OAUTH_GOOGLE_CLIENT_SECRET": "gsecret",
            "OAUTH_CORP_ISSUER": "https://id.corp.example",
            "OAUTH_CORP_CLIENT_ID": "cid",
            "OAUTH_CORP_CLIENT_SECRET": "csecret",
            "OAUTH_CORP_DISPLAY_NAME": "Corp SSO",
            "OAUTH_OTHER_CLIENT_ID": "not listed, not read",
            "OAUTH_REDIRECT_ALLOWLIST": "https://a.example/x, https://b.example",
            "PUBLIC_URL": "https://api.example.com",
        }
    )
    assert settings["OAUTH_PROVIDERS"] == ("google", "corp")
    assert settings["OAUTH_CORP_DISPLAY_NAME"] == "Corp SSO"
    assert settings["OAUTH_GOOGLE_PRESET"] == "google"
    assert "OAUTH_OTHER_CLIENT_ID" not in settings
    assert settings["OAUTH_REDIRECT_ALLOWLIST"] == ("https://a.example/x", "https://b.example")


def test_the_provider_routes_are_documented_when_they_exist(oauth_app: Flask) -> None:
    from tests.test_openapi import documented_operations, fetch_document, routed_operations

    documented = documented_operations(fetch_document(oauth_app.test_client()))
    assert ("GET", "/api/auth/oauth/{provider}/callback") in documented
    assert documented == routed_operations(oauth_app)


def test_two_concurrent_callbacks_with_one_flow_sign_in_once(oauth_app: Flask) -> None:
    """GETDEL takes the flow: of two racing uses of one callback, exactly one wins."""
    import threading

    starter = oauth_app.test_client()
    callback = provider_login(start(starter), "race@example.com")
    flow_id = starter.get_cookie("oauth_flow", path="/api/auth/oauth").value
    clients = [oauth_app.test_client() for _ in range(2)]
    for client in clients:
        client.set_cookie("oauth_flow", flow_id, path="/api/auth/oauth")
    results: list[Any] = [None, None]
    barrier = threading.Barrier(2)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = call_back(clients[index], callback, JSON)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(response.status_code for response in results) == [200, 400]
    assert users_and_identities(oauth_app) == (1, 1)


def test_the_before_user_created_hook_can_refuse_a_provider_sign_up(
    make_app: Callable[..., Flask],
    provider: OidcProvider,
    client_credentials: tuple[str, str],
    receiver: Any,
) -> None:
    secret = signing.new_secret()
    hook = {"HOOK_BEFORE_USER_CREATED_URL": receiver.url, "HOOK_SECRET": secret}
    app = make_app(**provider_config(provider.issuer, *client_credentials, **hook))
    receiver.answer(Answer(200, {"decision": "reject", "message": "Not from this provider"}))
    assert_error_redirect(sign_in(app.test_client(), "olga@example.com"), "sign_up_rejected")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
    [call] = receiver.received
    payload = call.verified(secret)
    assert payload["data"]["source"] == "oauth:test"
    assert payload["data"]["user"]["email"] == "olga@example.com"


def a_disable_commits_before_the_session_is_made(app: Flask, monkeypatch: Any) -> None:
    """An admin's disable that commits after the sign-in read the account and before its
    session exists (the session is made by the real sessions.create, right after)."""
    real_create = sessions.create

    def create_after_a_disable(user_id: str, **kwargs: Any) -> str:
        update_all_users(app, disabled=True)
        return real_create(user_id, **kwargs)

    monkeypatch.setattr(sessions, "create", create_after_a_disable)


def test_a_disable_committed_during_a_provider_sign_in_wins(
    oauth_app: Flask, redis_client: Any, monkeypatch: Any
) -> None:
    assert sign_in(oauth_app.test_client(), "oona@example.com").status_code == 302
    first = set(redis_client.scan_iter("*:session:*"))  # the sign-in that made the account
    a_disable_commits_before_the_session_is_made(oauth_app, monkeypatch)
    browser = oauth_app.test_client()
    assert_error_redirect(sign_in(browser, "oona@example.com"), "account_disabled")
    assert browser.get("/api/users/me").status_code == 401
    assert set(redis_client.scan_iter("*:session:*")) == first  # the new one ended again


def test_a_disabled_account_gets_no_provider_linked_by_a_refused_sign_in(
    oauth_app: Flask, provider
) -> None:
    client = oauth_app.test_client()
    register(client, email="pia@example.com")
    update_all_users(oauth_app, verified=True, disabled=True)
    provider.set_account("pia-sub", email="pia@example.com", email_verified=True)
    assert_error_redirect(sign_in(oauth_app.test_client(), "pia-sub"), "account_disabled")
    assert users_and_identities(oauth_app) == (1, 0)
