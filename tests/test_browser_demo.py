"""End to end: the demo page at ``/`` in a real headless Chromium, driven by Playwright.

The browser is Debian's ``/usr/bin/chromium`` (``.ci/install-browser.sh`` installs it
and the ``playwright`` package; Playwright never downloads a browser here). Without
either, these tests fail with a message saying so: they are never skipped.

Token expiry is simulated without sleeping: removing the ``access_token`` cookie from
the browser context is exactly what the browser does when its Max-Age runs out.
Screenshots of each step go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from tests.helpers import HANG, PASSWORD, register

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError as error:  # each test fails with it, see require_browser()
    PLAYWRIGHT_IMPORT_ERROR: ImportError | None = error
else:
    PLAYWRIGHT_IMPORT_ERROR = None

CHROMIUM = Path("/usr/bin/chromium")
# The machine has no internet: keep Chromium from phoning home or trying QUIC.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "run .ci/install-browser.sh (Debian's chromium and the pinned playwright)"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "browser"

AUTH_COOKIES = {"access_token", "refresh_token", "logged_in"}
ME = "/api/users/me"
REFRESH = "/api/auth/refresh"
SESSIONS = "/api/auth/sessions"

pytestmark = [pytest.mark.live_server, pytest.mark.browser]


def require_browser() -> None:
    """Fail (never skip) the calling test when the browser tooling is missing."""
    if PLAYWRIGHT_IMPORT_ERROR is not None:
        pytest.fail(
            f"the playwright package is not importable ({PLAYWRIGHT_IMPORT_ERROR}): {INSTALL_HINT}",
            pytrace=False,
        )
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: {INSTALL_HINT}", pytrace=False)


class LazyBrowser:
    """One Chromium for the module, launched by the first test that asks for it.

    Launching inside the test (not in fixture setup) makes a missing browser a
    test failure with a clear message rather than a setup error.
    """

    def __init__(self) -> None:
        self._playwright: Any = None
        self._browser: Browser | None = None

    def get(self) -> Browser:
        if self._browser is None:
            require_browser()
            expect.set_options(timeout=HANG * 1000)
            self._playwright = sync_playwright().start()
            self._browser = self._playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
            )
        return self._browser

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()


# The email field's passkey autofill (conditional mediation) asks for sign-in options
# as a logged-out page loads: a request about no account, which never fails, so the
# "no request" checks below leave it out (tests/test_browser_passkeys.py covers it).
PASSKEY_AUTOFILL = ("POST", "/api/auth/passkeys/login/options")


@pytest.fixture(scope="module")
def browser() -> Iterator[LazyBrowser]:
    lazy = LazyBrowser()
    yield lazy
    lazy.close()


@dataclass
class Device:
    """One browser profile (context) with one tab: what a person's laptop or phone is."""

    name: str
    context: BrowserContext
    page: Page
    base_url: str
    requests: list[tuple[str, str]] = field(default_factory=list)
    responses: list[tuple[str, str, int]] = field(default_factory=list)
    # Every API exchange with its message, printed when a test fails.
    transcript: list[str] = field(default_factory=list)

    def open(self) -> None:
        self.page.goto(self.base_url + "/")
        expect(self.page.locator("body")).to_have_attribute("data-ready", "true")

    def testid(self, test_id: str) -> Any:
        return self.page.get_by_test_id(test_id)

    def screenshot(self, step: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=ARTIFACTS / f"{step}.png", full_page=True)

    def document_cookie(self) -> str:
        return self.page.evaluate("document.cookie")

    def cookies(self) -> dict[str, dict[str, Any]]:
        return {cookie["name"]: cookie for cookie in self.context.cookies()}

    def expire_access_token(self) -> None:
        """What the browser does when the access_token cookie's Max-Age runs out."""
        self.context.clear_cookies(name="access_token")
        assert "access_token" not in self.cookies()

    def api_calls(self, path: str) -> list[tuple[str, str]]:
        return [call for call in self.requests if call[1] == path]

    def forget_traffic(self) -> None:
        self.requests.clear()
        self.responses.clear()


def _message(response: Any) -> str:
    try:
        return str(response.json().get("message", ""))
    except Exception:  # a body that is gone or not JSON: the status says enough
        return ""


@pytest.fixture
def new_device(
    browser: LazyBrowser, app: Flask, live_server: Callable[[Flask], Any]
) -> Iterator[Callable[[str], Device]]:
    """A factory of independent browser contexts on one live server."""
    base_url = live_server(app).url
    devices: list[Device] = []

    def make(name: str) -> Device:
        context = browser.get().new_context(viewport={"width": 1100, "height": 900})
        page = context.new_page()
        device = Device(name, context, page, base_url)

        def on_request(request: Any) -> None:
            path = urlsplit(request.url).path
            if path.startswith("/api/") and (request.method, path) != PASSKEY_AUTOFILL:
                device.requests.append((request.method, path))

        def on_response(response: Any) -> None:
            path = urlsplit(response.url).path
            if path.startswith("/api/"):
                device.responses.append((response.request.method, path, response.status))
                message = _message(response) if response.status >= 400 else ""
                device.transcript.append(
                    f"{response.request.method} {path} -> {response.status} {message}"
                )

        page.on("request", on_request)
        page.on("response", on_response)
        devices.append(device)
        return device

    yield make
    for device in devices:
        print(f"--- API traffic of {device.name} ---", *device.transcript, sep="\n")
        device.context.close()


def is_api_response(path: str, status: int) -> Callable[[Any], bool]:
    return lambda response: urlsplit(response.url).path == path and response.status == status


def register_through_ui(device: Device, name: str, email: str, password: str) -> None:
    device.page.fill("#register-name", name)
    device.page.fill("#register-email", email)
    device.page.fill("#register-password", password)
    device.page.fill("#register-password-confirm", password)
    device.testid("register-submit").click()
    expect(device.testid("message")).to_have_text(
        f"Account created for {email}. You can log in now."
    )


def login_through_ui(device: Device, email: str, password: str) -> None:
    device.page.fill("#login-email", email)
    device.page.fill("#login-password", password)
    device.testid("login-submit").click()
    expect(device.testid("auth-state")).to_have_text(re.compile(r"^Logged in as "))
    expect(device.testid("me-email")).to_have_text(email)


def test_the_page_shows_validation_and_credential_errors_from_the_envelope(new_device):
    device = new_device("errors")
    device.open()
    expect(device.testid("auth-state")).to_have_text("Logged out")
    expect(device.testid("message")).to_be_hidden()  # logged out on load, quietly
    expect(device.testid("logged-in-flag")).to_have_text("not set")

    device.page.fill("#register-name", "   ")
    device.page.fill("#register-email", "not-an-email")
    device.page.fill("#register-password", "short")
    device.page.fill("#register-password-confirm", "different")
    device.testid("register-submit").click()
    expect(device.testid("message")).to_have_text("Invalid input")
    expect(device.testid("register-error-name")).to_have_text("Name is required")
    expect(device.testid("register-error-email")).to_have_text("Invalid email address")
    expect(device.testid("register-error-password")).to_have_text(
        "Password must be at least 8 characters"
    )
    expect(device.testid("register-error-passwordConfirm")).to_have_text("Passwords do not match")
    expect(device.page.locator("#register-password-confirm")).to_have_attribute(
        "aria-invalid", "true"
    )
    device.screenshot("errors-01-register-validation")

    register_through_ui(device, "Alice", "alice@example.com", PASSWORD)
    expect(device.testid("register-error-passwordConfirm")).to_have_text("")
    expect(device.page.locator("#login-email")).to_have_value("alice@example.com")

    device.page.fill("#register-name", "Alice Again")
    device.page.fill("#register-email", "ALICE@example.com")
    device.page.fill("#register-password", PASSWORD)
    device.page.fill("#register-password-confirm", PASSWORD)
    device.testid("register-submit").click()
    expect(device.testid("message")).to_have_text("User with that email already exists")

    device.page.fill("#login-email", "alice@example.com")
    device.page.fill("#login-password", "wrong password")
    device.testid("login-submit").click()
    expect(device.testid("message")).to_have_text("Invalid email or password")
    expect(device.testid("auth-state")).to_have_text("Logged out")
    device.screenshot("errors-02-wrong-password")


def test_login_cookies_transparent_refresh_and_logout(new_device):
    device = new_device("laptop")
    device.open()
    device.screenshot("flow-01-logged-out")

    register_through_ui(device, "Alice", "alice@example.com", PASSWORD)
    device.screenshot("flow-02-registered")
    login_through_ui(device, "alice@example.com", PASSWORD)
    expect(device.testid("me-name")).to_have_text("Alice")
    expect(device.testid("me-role")).to_have_text("user")
    expect(device.testid("session-row")).to_have_count(1)
    expect(device.testid("session-row")).to_have_attribute("data-current", "true")

    # The page can read only the logged_in flag; both tokens are HttpOnly cookies.
    document_cookie = device.document_cookie()
    assert "logged_in=true" in document_cookie
    assert "access_token" not in document_cookie
    assert "refresh_token" not in document_cookie
    expect(device.testid("document-cookie")).to_have_text("logged_in=true")
    expect(device.testid("logged-in-flag")).to_have_text("set (true)")
    cookies = device.cookies()
    assert set(cookies) == AUTH_COOKIES
    assert cookies["access_token"]["httpOnly"] is True
    assert cookies["refresh_token"]["httpOnly"] is True
    assert cookies["logged_in"]["httpOnly"] is False
    device.screenshot("flow-03-logged-in")

    # An expired access token: /me answers 401 "You are not logged in", the page
    # refreshes once and retries, and the person notices nothing.
    old_refresh_token = cookies["refresh_token"]["value"]
    device.expire_access_token()
    device.forget_traffic()
    with device.page.expect_response(is_api_response(ME, 200)):
        device.testid("refresh-me").click()
    # Requests are recorded in the order the page sent them; response events may
    # arrive out of order, so their statuses are compared without order.
    assert device.requests == [("GET", ME), ("GET", REFRESH), ("GET", ME)]
    assert sorted(device.responses) == [("GET", REFRESH, 200), ("GET", ME, 200), ("GET", ME, 401)]
    expect(device.testid("auth-state")).to_have_text("Logged in as Alice <alice@example.com>")
    expect(device.testid("me-email")).to_have_text("alice@example.com")
    expect(device.testid("message")).to_be_hidden()
    cookies = device.cookies()
    assert set(cookies) == AUTH_COOKIES
    assert cookies["refresh_token"]["value"] != old_refresh_token  # rotated on use
    device.screenshot("flow-04-refreshed-transparently")

    # Two requests that both meet an expired access token share one refresh.
    device.expire_access_token()
    device.forget_traffic()
    with (
        device.page.expect_response(is_api_response(ME, 200)),
        device.page.expect_response(is_api_response(SESSIONS, 200)),
    ):
        device.testid("reload-all").click()
    assert device.api_calls(REFRESH) == [("GET", REFRESH)]
    assert device.api_calls(ME) == [("GET", ME), ("GET", ME)]
    assert device.api_calls(SESSIONS) == [("GET", SESSIONS), ("GET", SESSIONS)]
    expect(device.testid("session-row")).to_have_count(1)
    expect(device.testid("auth-state")).to_have_text(re.compile(r"^Logged in as Alice"))
    expect(device.testid("message")).to_be_hidden()

    # Logout ends the session and clears every auth cookie.
    device.testid("logout").click()
    expect(device.testid("auth-state")).to_have_text("Logged out")
    expect(device.testid("message")).to_have_text("Logged out.")
    expect(device.testid("logged-in-flag")).to_have_text("not set")
    expect(device.testid("document-cookie")).to_have_text("(empty)")
    expect(device.testid("me-panel")).to_be_hidden()
    expect(device.testid("login-form")).to_be_visible()
    assert not AUTH_COOKIES & set(device.cookies())
    assert device.document_cookie() == ""
    device.screenshot("flow-05-logged-out-again")

    # A reload stays logged out, without asking the API: no logged_in flag, no login.
    device.forget_traffic()
    device.open()
    expect(device.testid("auth-state")).to_have_text("Logged out")
    assert device.requests == []


def test_the_page_loads_logged_out_without_a_request_or_a_console_error(new_device):
    device = new_device("first visit")
    console_errors: list[str] = []
    device.page.on(
        "console", lambda message: message.type == "error" and console_errors.append(message.text)
    )
    device.page.on("pageerror", lambda error: console_errors.append(str(error)))
    device.open()
    expect(device.testid("auth-state")).to_have_text("Logged out")
    expect(device.testid("login-form")).to_be_visible()
    assert console_errors == []
    assert device.requests == []
    # A reload with a live login (the logged_in flag set) does ask who we are.
    register_through_ui(device, "Alice", "alice@example.com", PASSWORD)
    login_through_ui(device, "alice@example.com", PASSWORD)
    device.forget_traffic()
    device.open()
    expect(device.testid("me-email")).to_have_text("alice@example.com")
    assert ("GET", ME) in device.requests
    assert console_errors == []


def test_a_second_browser_is_an_independent_session_that_can_be_ended(app, new_device):
    register(app.test_client(), email="alice@example.com", name="Alice")
    laptop, phone = new_device("laptop"), new_device("phone")
    for device in (laptop, phone):
        device.open()
        login_through_ui(device, "alice@example.com", PASSWORD)

    laptop.testid("reload-sessions").click()
    for device in (laptop, phone):
        rows = device.testid("session-row")
        expect(rows).to_have_count(2)
        expect(device.page.locator('[data-testid=session-row][data-current="true"]')).to_have_count(
            1
        )
    laptop_ids = {
        laptop.testid("session-row").nth(i).get_attribute("data-session-id") for i in (0, 1)
    }
    phone_ids = {
        phone.testid("session-row").nth(i).get_attribute("data-session-id") for i in (0, 1)
    }
    assert laptop_ids == phone_ids and len(laptop_ids) == 2
    current = '[data-testid=session-row][data-current="true"]'
    laptop_current = laptop.page.locator(current).get_attribute("data-session-id")
    phone_current = phone.page.locator(current).get_attribute("data-session-id")
    assert laptop_current != phone_current
    laptop.screenshot("devices-01-laptop-sees-two-sessions")
    phone.screenshot("devices-02-phone-sees-two-sessions")

    # The laptop ends the phone's session.
    other = laptop.page.locator('[data-testid=session-row][data-current="false"]')
    assert other.get_attribute("data-session-id") == phone_current
    laptop.forget_traffic()
    other.get_by_test_id("end-session").click()
    expect(laptop.testid("message")).to_have_text("Session ended. That device is now logged out.")
    expect(laptop.testid("session-row")).to_have_count(1)
    expect(laptop.testid("session-row")).to_have_attribute("data-session-id", laptop_current)
    assert ("DELETE", f"{SESSIONS}/{phone_current}", 200) in laptop.responses
    laptop.screenshot("devices-03-laptop-ended-phone-session")

    # The phone's next action finds itself logged out: a revoked session is not
    # "You are not logged in", so no refresh is even tried.
    phone.forget_traffic()
    phone.testid("refresh-me").click()
    expect(phone.testid("auth-state")).to_have_text("Logged out")
    expect(phone.testid("message")).not_to_be_empty()
    expect(phone.testid("logged-in-flag")).to_have_text("not set")
    expect(phone.testid("login-form")).to_be_visible()
    assert phone.responses == [("GET", ME, 401)]
    phone.screenshot("devices-04-phone-logged-out")

    # The 401 of the ended session cleared the cookies, which name nothing any more:
    # a reload asks nothing, and a refresh has no token to try (403).
    assert not AUTH_COOKIES & set(phone.cookies())
    phone.forget_traffic()
    phone.open()
    expect(phone.testid("auth-state")).to_have_text("Logged out")
    assert phone.requests == []
    assert phone.context.request.get(phone.base_url + REFRESH).status == 403

    # The laptop is unaffected.
    with laptop.page.expect_response(is_api_response(ME, 200)):
        laptop.testid("refresh-me").click()
    expect(laptop.testid("auth-state")).to_have_text("Logged in as Alice <alice@example.com>")
    expect(laptop.testid("message")).to_be_hidden()


def test_signing_in_again_in_one_browser_replaces_its_session(app, new_device):
    """The access cookie and the logged_in flag ran out (their lifetime is the access
    token's), the refresh cookie did not: the page shows the login form, and signing in
    there again ends the session that cookie named instead of leaving it behind, while
    the phone's stays."""
    register(app.test_client(), email="alice@example.com", name="Alice")
    laptop, phone = new_device("laptop"), new_device("phone")
    for device in (laptop, phone):
        device.open()
        login_through_ui(device, "alice@example.com", PASSWORD)
    current = '[data-testid=session-row][data-current="true"]'
    phone.testid("reload-sessions").click()
    expect(phone.testid("session-row")).to_have_count(2)
    phone_session = phone.page.locator(current).get_attribute("data-session-id")

    laptop.context.clear_cookies(name="access_token")
    laptop.context.clear_cookies(name="logged_in")
    assert "refresh_token" in laptop.cookies()
    laptop.open()
    expect(laptop.testid("login-form")).to_be_visible()
    login_through_ui(laptop, "alice@example.com", PASSWORD)

    rows = laptop.testid("session-row")
    expect(rows).to_have_count(2)  # the phone's and the new one: no third, left behind
    ids = {rows.nth(i).get_attribute("data-session-id") for i in (0, 1)}
    assert phone_session in ids
    with phone.page.expect_response(is_api_response(ME, 200)):
        phone.testid("refresh-me").click()
    expect(phone.testid("auth-state")).to_have_text("Logged in as Alice <alice@example.com>")


def test_the_reset_link_from_the_email_opens_a_working_page(
    browser: LazyBrowser, mail_app: Flask, smtp_sink: Any, live_server: Callable[[Flask], Any]
) -> None:
    """Forgot password -> the mailed link -> the page at /resetpassword/<token> -> sign in."""
    import json
    from urllib.request import Request, urlopen

    from tests.support.smtp_sink import delivered

    server = live_server(mail_app)
    register(mail_app.test_client(), email="reset@example.com")
    forgot = Request(
        f"{server.url}/api/auth/forgotpassword",
        data=json.dumps({"email": "reset@example.com"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urlopen(forgot, timeout=HANG) as response:
        assert response.status == 200
    delivered(mail_app, smtp_sink)
    mail = smtp_sink.last_with("/resetpassword/", "reset@example.com")
    # The mail links to FRONTEND_URL; this front end is the live server's own page.
    link = f"{server.url}/resetpassword/{mail.link('/resetpassword/')}"

    context = browser.get().new_context()
    try:
        page = context.new_page()
        page.goto(link)
        page.fill("#reset-password", "short")
        page.fill("#reset-password-confirm", "short")
        page.get_by_test_id("reset-submit").click()
        expect(page.get_by_test_id("reset-error-password")).to_contain_text("at least 8")
        page.fill("#reset-password", "a brand new password")
        page.fill("#reset-password-confirm", "a brand new password")
        page.get_by_test_id("reset-submit").click()
        expect(page.get_by_test_id("message")).to_contain_text("Password updated")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / "reset-password-done.png", full_page=True)
    finally:
        context.close()
    client = mail_app.test_client()
    old = client.post("/api/auth/login", json={"email": "reset@example.com", "password": PASSWORD})
    assert old.status_code == 400
    new = client.post(
        "/api/auth/login",
        json={"email": "reset@example.com", "password": "a brand new password"},
    )
    assert new.status_code == 200
