"""End to end in headless Chromium: the demo page sets up TOTP (QR shown, recovery
codes shown once), then a login asks for the code and a recovery code works too.

Reuses test_browser_demo's browser plumbing; the app's clock is frozen
(CLOCK_FROZEN_AT) so the codes computed here with pyotp are exactly the server's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from tests.helpers import PASSWORD
from tests.support.mfa import STEP, code_at, frozen_now, move_clock
from tests.test_browser_demo import (
    Device,
    LazyBrowser,
    browser,  # noqa: F401 - the module-scoped browser fixture
    expect,
    login_through_ui,
    register_through_ui,
)

pytestmark = [pytest.mark.live_server, pytest.mark.browser]


@pytest.fixture
def frozen_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(CLOCK_FROZEN_AT=(int(time.time()) // STEP) * STEP + 5)


@pytest.fixture
def device(
    browser: LazyBrowser,  # noqa: F811
    frozen_app: Flask,
    live_server: Callable[[Flask], Any],
) -> Iterator[Device]:
    base_url = live_server(frozen_app).url
    context = browser.get().new_context(viewport={"width": 1100, "height": 1400})
    page = context.new_page()
    yield Device("mfa", context, page, base_url)
    context.close()


def password_step(device: Device) -> None:
    device.page.fill("#login-email", "alice@example.com")
    device.page.fill("#login-password", PASSWORD)
    device.testid("login-submit").click()
    expect(device.testid("mfa-login-card")).to_be_visible()
    expect(device.testid("message")).to_have_text(
        "Password accepted. Enter the code from your authenticator app."
    )
    expect(device.testid("auth-state")).to_have_text("Logged out")
    assert "access_token" not in {cookie["name"] for cookie in device.context.cookies()}


def logout(device: Device) -> None:
    device.testid("logout").click()
    expect(device.testid("auth-state")).to_have_text("Logged out")


def test_totp_setup_and_a_login_that_asks_for_the_code(device, frozen_app):
    device.open()
    register_through_ui(device, "Alice", "alice@example.com", PASSWORD)
    login_through_ui(device, "alice@example.com", PASSWORD)
    expect(device.testid("mfa-status")).to_have_attribute("data-totp", "false")

    device.testid("mfa-start").click()
    expect(device.testid("mfa-qr")).to_have_attribute("src", re.compile(r"^data:image/svg\+xml"))
    device.page.wait_for_function(  # the SVG decodes into a real image
        "document.querySelector('[data-testid=\"mfa-qr\"]').naturalWidth > 0"
    )
    secret = device.testid("mfa-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    device.screenshot("mfa-01-setup-qr")

    device.testid("mfa-confirm-code").fill(code_at(secret, frozen_now(frozen_app)))
    device.testid("mfa-confirm-submit").click()
    expect(device.testid("mfa-code")).to_have_count(10)
    codes = [text.strip() for text in device.testid("mfa-code").all_inner_texts()]
    expect(device.testid("mfa-status")).to_have_attribute("data-totp", "true")
    expect(device.testid("mfa-setup")).to_be_hidden()
    device.screenshot("mfa-02-recovery-codes")
    device.testid("mfa-codes-done").click()
    expect(device.testid("mfa-codes")).to_be_hidden()
    expect(device.testid("mfa-code")).to_have_count(0)  # shown once: gone from the page

    logout(device)
    password_step(device)
    device.screenshot("mfa-03-code-asked")
    device.testid("mfa-login-code").fill("000000")
    device.testid("mfa-login-submit").click()
    expect(device.testid("message")).to_have_text("Invalid code")
    move_clock(frozen_app, STEP)  # the confirming code's step is used up
    device.testid("mfa-login-code").fill(code_at(secret, frozen_now(frozen_app)))
    device.testid("mfa-login-submit").click()
    expect(device.testid("auth-state")).to_have_text(re.compile(r"^Logged in as Alice"))
    expect(device.testid("mfa-login-card")).to_be_hidden()
    expect(device.testid("mfa-status")).to_contain_text("Recovery codes left: 10")
    device.screenshot("mfa-04-logged-in")

    logout(device)
    password_step(device)
    device.testid("mfa-use-recovery").click()
    device.testid("mfa-login-code").fill(codes[0])
    device.testid("mfa-login-submit").click()
    expect(device.testid("auth-state")).to_have_text(re.compile(r"^Logged in as Alice"))
    expect(device.testid("mfa-status")).to_contain_text("Recovery codes left: 9")

    device.testid("mfa-manage-proof").fill(PASSWORD)
    device.testid("mfa-disable").click()
    expect(device.testid("mfa-status")).to_have_attribute("data-totp", "false")
    logout(device)
    login_through_ui(device, "alice@example.com", PASSWORD)  # the password alone again
