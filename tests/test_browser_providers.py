"""The demo page in headless Chromium with a real OpenID provider (oidc-provider on Node):
"Sign in with <provider>" through the provider's own login and consent pages, linking
from the settings, unlinking, and the buttons only when a provider is configured.

Chromium and Playwright as in ``tests/test_browser_demo.py`` (whose ``browser`` fixture
this module uses). Screenshots go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

# Without playwright this module fails to import: an error, never a skip.
from playwright.sync_api import Page, expect

from authapi.extensions import db
from tests.helpers import PASSWORD, register
from tests.support.oidc_provider import OidcProvider
from tests.support.servers import free_port, serve_app
from tests.test_browser_demo import ARTIFACTS, LazyBrowser, browser  # noqa: F401 - a fixture

pytestmark = [pytest.mark.live_server, pytest.mark.browser, pytest.mark.subprocess]


@pytest.fixture
def site(
    make_app: Callable[..., Flask], oidc_provider: OidcProvider
) -> Iterator[tuple[Flask, str]]:
    oidc_provider.reset()
    # The app's port is chosen before the app exists: the provider must know the
    # callback URL when the client is registered.
    port = free_port()
    client_id, secret = oidc_provider.register_client(
        f"http://127.0.0.1:{port}/api/auth/oauth/test/callback"
    )
    app = make_app(
        OAUTH_PROVIDERS=("test",),
        OAUTH_TEST_ISSUER=oidc_provider.issuer,
        OAUTH_TEST_CLIENT_ID=client_id,
        OAUTH_TEST_CLIENT_SECRET=secret,
        OAUTH_TEST_DISPLAY_NAME="Test OP",
    )
    server = serve_app(app, port)
    yield app, server.url
    server.stop()
    oidc_provider.reset()


@pytest.fixture
def new_page(browser: LazyBrowser) -> Iterator[Callable[[], Page]]:  # noqa: F811
    contexts: list[Any] = []

    def make() -> Page:
        context = browser.get().new_context(viewport={"width": 1100, "height": 1000})
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def shot(page: Page, step: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"providers-{step}.png", full_page=True)


def open_demo(page: Page, url: str) -> None:
    page.goto(url + "/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")


def through_the_provider(page: Page, issuer: str, login: str, step: str) -> None:
    """The provider's own pages: its login form, then its consent page."""
    expect(page).to_have_url(re.compile("^" + re.escape(issuer) + "/interaction/"))
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    shot(page, f"{step}-provider-login")
    page.click("button[type=submit]")
    expect(page.get_by_role("button", name="Continue")).to_be_visible()
    shot(page, f"{step}-provider-consent")
    page.get_by_role("button", name="Continue").click()


def test_sign_in_with_the_provider_then_unlinking_the_only_way_in_is_refused(
    site: tuple[Flask, str], oidc_provider: OidcProvider, new_page: Callable[[], Page]
) -> None:
    _, url = site
    oidc_provider.set_account(
        "browser-sub", email="Zoe@Example.com", email_verified=True, name="Zoe"
    )
    page = new_page()
    open_demo(page, url)
    expect(page.get_by_test_id("auth-state")).to_have_text("Logged out")
    button = page.get_by_test_id("sign-in-with-test")
    expect(button).to_have_text("Sign in with Test OP")
    shot(page, "01-logged-out-with-provider-button")
    button.click()

    through_the_provider(page, oidc_provider.issuer, "browser-sub", "02")

    expect(page).to_have_url(url + "/")
    expect(page.get_by_test_id("auth-state")).to_have_text("Logged in as Zoe <zoe@example.com>")
    expect(page.get_by_test_id("session-row")).to_have_count(1)
    rows = page.get_by_test_id("identity-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Test OP: Zoe@Example.com")
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies()}
    assert {"access_token", "refresh_token", "logged_in"} <= set(cookies)
    assert cookies["access_token"]["httpOnly"] is True
    assert "oauth_flow" not in cookies
    shot(page, "03-signed-in")

    page.get_by_test_id("unlink-identity").click()
    expect(page.get_by_test_id("message")).to_have_text(
        "This is the only way into your account: set a password (forgot password) "
        "or link another provider first"
    )
    expect(page.get_by_test_id("identity-row")).to_have_count(1)


def test_link_from_the_settings_then_unlink(
    site: tuple[Flask, str], oidc_provider: OidcProvider, new_page: Callable[[], Page]
) -> None:
    app, url = site
    register(app.test_client(), email="yan@example.com", name="Yan")
    oidc_provider.set_account("yan-elsewhere", email="yan@corp.example", email_verified=True)
    page = new_page()
    open_demo(page, url)
    page.fill("#login-email", "yan@example.com")
    page.fill("#login-password", PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("auth-state")).to_have_text("Logged in as Yan <yan@example.com>")
    expect(page.get_by_test_id("identities-panel")).to_be_visible()
    expect(page.get_by_test_id("identity-row")).to_have_count(0)
    shot(page, "10-settings-before-link")

    page.get_by_test_id("link-test").click()
    through_the_provider(page, oidc_provider.issuer, "yan-elsewhere", "11")

    expect(page.get_by_test_id("message")).to_have_text("Test OP is now linked to your account.")
    expect(page).to_have_url(url + "/")  # the ?linked= parameter was shown, then dropped
    expect(page.get_by_test_id("identity-row")).to_have_count(1)
    expect(page.get_by_test_id("identity-row")).to_contain_text("yan@corp.example")
    shot(page, "12-linked")

    page.get_by_test_id("unlink-identity").click()
    expect(page.get_by_test_id("message")).to_have_text("Test OP unlinked.")
    expect(page.get_by_test_id("identity-row")).to_have_count(0)
    shot(page, "13-unlinked")
    with app.app_context():
        from authapi.models import Identity

        assert db.session.query(Identity).count() == 0
        db.session.remove()


def test_a_refused_sign_in_comes_back_with_a_message(
    site: tuple[Flask, str], oidc_provider: OidcProvider, new_page: Callable[[], Page]
) -> None:
    app, url = site
    register(app.test_client(), email="xia@example.com")  # not verified
    oidc_provider.set_account("xia-sub", email="xia@example.com", email_verified=True)
    page = new_page()
    open_demo(page, url)
    page.get_by_test_id("sign-in-with-test").click()
    through_the_provider(page, oidc_provider.issuer, "xia-sub", "20")
    expect(page.get_by_test_id("message")).to_have_text(
        "An account with this email already exists: log in with your password, "
        "then link the provider below your sessions."
    )
    expect(page.get_by_test_id("auth-state")).to_have_text("Logged out")
    expect(page).to_have_url(url + "/")
    shot(page, "21-account-exists")


def test_no_provider_buttons_without_providers(
    app: Flask, live_server: Callable[[Flask], Any], new_page: Callable[[], Page]
) -> None:
    url = live_server(app).url
    page = new_page()
    open_demo(page, url)
    expect(page.get_by_test_id("providers-card")).to_be_hidden()
    expect(page.get_by_test_id("otp-request-form")).to_be_visible()


def test_the_mailed_code_link_signs_in_only_on_the_button(
    make_app: Callable[..., Flask],
    smtp_sink: Any,
    live_server: Callable[[Flask], Any],
    new_page: Callable[[], Page],
) -> None:
    from tests.support.smtp_sink import delivered

    app = make_app(**smtp_sink.config)
    url = live_server(app).url
    app.config["FRONTEND_URL"] = url  # the mailed link opens this server's own page
    register(app.test_client(), email="wes@example.com", name="Wes")
    page = new_page()
    open_demo(page, url)
    page.fill("#otp-email", "wes@example.com")
    page.get_by_test_id("otp-request-submit").click()
    expect(page.get_by_test_id("message")).to_contain_text("a code is on its way")
    delivered(app, smtp_sink)
    mail = smtp_sink.messages[-1]
    link = next(word for word in mail.text.split() if "/signin/otp#" in word)

    # What a link scanner's browser does: open the page. Nothing is used up.
    page.goto(link)
    expect(page.locator("#otp-link-email")).to_have_value("wes@example.com")
    assert "#" not in page.url  # the code left the address bar
    shot(page, "30-otp-link-page")
    open_demo(page, url)
    expect(page.get_by_test_id("auth-state")).to_have_text("Logged out")

    # The person presses the button.
    page.goto(link)
    page.get_by_test_id("otp-link-submit").click()
    expect(page.get_by_test_id("message")).to_have_text("Signed in.")
    open_demo(page, url)
    expect(page.get_by_test_id("auth-state")).to_have_text("Logged in as Wes <wes@example.com>")
    shot(page, "31-otp-signed-in")
