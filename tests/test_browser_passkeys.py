"""End to end: passkeys on the demo page in real headless Chromium, with a virtual
authenticator (Chrome DevTools Protocol ``WebAuthn.addVirtualAuthenticator``: CTAP2,
internal transport, resident keys, user verification), driven by Playwright.

The page is opened at ``http://localhost:<port>``: the relying party is ``localhost``
and Chromium treats that origin as secure, so WebAuthn works over plain HTTP. The
app's WEBAUTHN_ORIGINS is set to that origin once the server has its port.
Screenshots go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from authapi.passkeys import service
from tests.helpers import PASSWORD, register
from tests.test_browser_demo import ARTIFACTS, LazyBrowser, expect

pytestmark = [pytest.mark.live_server, pytest.mark.browser]

EMAIL = "alice@example.com"


@pytest.fixture(scope="module")
def browser() -> Iterator[LazyBrowser]:
    lazy = LazyBrowser()
    yield lazy
    lazy.close()


class PasskeyDevice:
    """A browser profile with one tab and a platform authenticator (fingerprint, PIN)."""

    def __init__(self, browser: LazyBrowser, base_url: str) -> None:
        self.base_url = base_url
        self.context = browser.get().new_context(viewport={"width": 1100, "height": 1100})
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.traffic: list[str] = []
        self.page.on("console", lambda message: self.traffic.append(f"console: {message.text}"))
        self.page.on("pageerror", lambda error: self.traffic.append(f"page error: {error}"))
        self.page.on(
            "response",
            lambda response: self.traffic.append(
                f"{response.request.method} {response.url} -> {response.status}"
            ),
        )
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        added = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        self.authenticator_id = added["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator_id})
        return found["credentials"]

    def open(self) -> None:
        self.page.goto(self.base_url + "/")
        expect(self.page.locator("body")).to_have_attribute("data-ready", "true")

    def testid(self, test_id: str) -> Any:
        return self.page.get_by_test_id(test_id)

    def screenshot(self, step: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=ARTIFACTS / f"passkeys-{step}.png", full_page=True)

    def log_in_with_password(self) -> None:
        self.page.fill("#login-email", EMAIL)
        self.page.fill("#login-password", PASSWORD)
        self.testid("login-submit").click()

    def log_out(self) -> None:
        self.testid("logout").click()
        expect(self.testid("auth-state")).to_have_text("Logged out")

    def close(self) -> None:
        print(f"--- traffic of {self.base_url} ---", *self.traffic, sep="\n")
        self.context.close()


@pytest.fixture
def passkey_site(
    make_app: Callable[..., Flask], live_server: Callable[[Flask], Any]
) -> tuple[Flask, str]:
    app = make_app()
    server = live_server(app)
    port = server.url.rsplit(":", 1)[1]
    base_url = f"http://localhost:{port}"
    app.config["WEBAUTHN_ORIGINS"] = (base_url,)  # the page's origin, known once it listens
    register(app.test_client(), email=EMAIL)
    return app, base_url


@pytest.fixture
def device(browser: LazyBrowser, passkey_site: tuple[Flask, str]) -> Iterator[PasskeyDevice]:
    made = PasskeyDevice(browser, passkey_site[1])
    yield made
    made.close()


def add_passkey_through_ui(device: PasskeyDevice, name: str) -> None:
    device.page.fill("#passkey-name", name)
    device.testid("passkey-add").click()
    expect(device.testid("message")).to_have_text(f'Passkey "{name}" added.')
    expect(device.testid("passkey-row")).to_have_count(1)


def test_register_a_passkey_sign_in_with_it_alone_then_remove_it(device):
    device.open()
    device.log_in_with_password()
    expect(device.testid("auth-state")).to_have_text(re.compile("^Logged in as Alice"))
    expect(device.testid("passkeys-list")).to_contain_text("No passkeys yet.")

    add_passkey_through_ui(device, "Laptop")
    [credential] = device.credentials()
    assert credential["isResidentCredential"] is True  # discoverable: no name needed later
    assert credential["rpId"] == "localhost"
    registered_count = credential["signCount"]
    row = device.testid("passkey-row")
    expect(row.get_by_test_id("passkey-name-input")).to_have_value("Laptop")
    expect(row.get_by_test_id("passkey-last-used")).to_have_text("never")
    device.screenshot("01-added")

    row.get_by_test_id("passkey-name-input").fill("Work laptop")
    row.get_by_test_id("passkey-rename").click()
    expect(device.testid("message")).to_have_text('Passkey renamed to "Work laptop".')
    expect(device.testid("passkey-name-input")).to_have_value("Work laptop")

    # Log out, then in again with the passkey alone: no email, no password typed.
    device.log_out()
    expect(device.page.locator("#login-email")).to_have_value("")
    expect(device.page.locator("#login-password")).to_have_value("")
    device.testid("passkey-login").click()
    expect(device.testid("auth-state")).to_have_text("Logged in as Alice <alice@example.com>")
    expect(device.testid("me-email")).to_have_text(EMAIL)
    expect(device.testid("passkey-last-used")).not_to_have_text("never")
    assert device.credentials()[0]["signCount"] == registered_count + 1
    cookies = {cookie["name"] for cookie in device.context.cookies()}
    assert {"access_token", "refresh_token", "logged_in"} <= cookies
    device.screenshot("02-signed-in-with-passkey")

    # Removing it needs a confirmation: a wrong password is refused; with the field
    # empty, the passkey itself confirms. Then the passkey no longer signs in.
    device.page.fill("#passkey-confirm", "not the password")
    device.testid("passkey-remove").click()
    expect(device.testid("message")).to_contain_text("Invalid password")
    expect(device.testid("passkey-row")).to_have_count(1)
    device.page.fill("#passkey-confirm", "")
    device.testid("passkey-remove").click()
    expect(device.testid("message")).to_have_text('Passkey "Work laptop" removed.')
    expect(device.testid("passkeys-list")).to_contain_text("No passkeys yet.")
    device.log_out()
    device.testid("passkey-login").click()
    expect(device.testid("message")).to_have_text(service.PASSKEY_UNKNOWN)
    expect(device.testid("auth-state")).to_have_text("Logged out")
    assert not {"access_token", "refresh_token"} & {c["name"] for c in device.context.cookies()}
    device.screenshot("03-removed-passkey-refused")


# Records the mediation of every navigator.credentials.get() call, then makes the call.
RECORD_GET_CALLS = """
window.__getMediations = [];
const realGet = navigator.credentials.get.bind(navigator.credentials);
navigator.credentials.get = (options) => {
  window.__getMediations.push(options.mediation || "optional");
  return realGet(options);
};
"""


def test_the_email_fields_autofill_signs_in_with_a_passkey(device):
    """Conditional mediation: a page opened logged out asks for a passkey through the
    autofill of the field marked ``autocomplete="username webauthn"``; choosing the
    passkey there (the virtual authenticator picks it, as a person would in the
    list) signs in with no button pressed and nothing typed."""
    device.open()
    device.log_in_with_password()
    add_passkey_through_ui(device, "Phone")
    device.log_out()

    device.page.add_init_script(RECORD_GET_CALLS)
    with device.page.expect_response(
        lambda response: (
            response.url.endswith("/api/auth/passkeys/login") and response.status == 200
        )
    ):
        device.page.goto(device.base_url + "/")
    expect(device.testid("auth-state")).to_have_text("Logged in as Alice <alice@example.com>")
    expect(device.page.locator("#login-email")).to_have_attribute(
        "autocomplete", "username webauthn"
    )
    assert device.page.evaluate("window.__getMediations") == ["conditional"]
    expect(device.testid("passkey-last-used")).not_to_have_text("never")
    device.screenshot("04-signed-in-through-autofill")


def access_token_claims(device: PasskeyDevice) -> dict[str, Any]:
    """The payload of the access_token cookie, read without a key: only to look."""
    [token] = [c["value"] for c in device.context.cookies() if c["name"] == "access_token"]
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_passkey_answers_the_second_step_of_a_password_login(device, passkey_site):
    """With a passkey added, a password alone no longer signs in: the page asks for the
    second factor and "Use a passkey" answers it. The logged-out page keeps an autofill
    (conditional mediation) request waiting, and a virtual authenticator that simulates
    presence on its own answers it once the email field is used, signing in with the
    passkey alone; so presence is off while the password is typed and on again only for
    the button, as a person would touch the sensor only when asked."""
    device.open()
    device.log_in_with_password()
    expect(device.testid("auth-state")).to_have_text(re.compile("^Logged in as Alice"))
    add_passkey_through_ui(device, "Laptop")
    registered_count = device.credentials()[0]["signCount"]
    device.log_out()

    presence = {"authenticatorId": device.authenticator_id}
    device.cdp.send("WebAuthn.setAutomaticPresenceSimulation", {**presence, "enabled": False})
    device.log_in_with_password()
    expect(device.testid("mfa-login-card")).to_be_visible()
    expect(device.testid("message")).to_have_text("Password accepted. Confirm with your passkey.")
    expect(device.testid("mfa-use-passkey")).to_be_visible()
    expect(device.testid("auth-state")).to_have_text("Logged out")
    assert device.credentials()[0]["signCount"] == registered_count  # not used yet
    device.screenshot("05-second-step-asks-for-the-passkey")

    device.cdp.send("WebAuthn.setAutomaticPresenceSimulation", {**presence, "enabled": True})
    with device.page.expect_response(
        lambda response: response.url.endswith("/api/auth/login/mfa") and response.status == 200
    ):
        device.testid("mfa-use-passkey").click()
    expect(device.testid("auth-state")).to_have_text("Logged in as Alice <alice@example.com>")
    expect(device.testid("mfa-login-card")).to_be_hidden()
    expect(device.testid("passkey-last-used")).not_to_have_text("never")
    assert device.credentials()[0]["signCount"] == registered_count + 1

    amr = access_token_claims(device)["amr"]
    assert {"pwd", "mfa"} <= set(amr), amr
    sessions = device.page.evaluate(
        "async () => (await (await fetch('/api/auth/sessions')).json()).data.sessions"
    )
    assert len(sessions) == 1, sessions
    device.screenshot("06-signed-in-with-password-and-passkey")
