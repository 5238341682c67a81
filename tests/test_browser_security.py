"""The HTML pages under their Content-Security-Policy, in a real headless Chromium:
nothing they need is blocked, and the verification page verifies only when its button
is pressed (security review item 5 and the CSP of the "Also" list)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.helpers import login, register
from tests.support.smtp_sink import delivered
from tests.test_browser_demo import LazyBrowser, browser  # noqa: F401 - the fixture

pytestmark = [pytest.mark.live_server, pytest.mark.browser]
VERIFY_PATH = "/api/auth/verifyemail/"


def _csp_reports(page: Any) -> list[str]:
    reports: list[str] = []
    page.on(
        "console",
        lambda message: (
            reports.append(message.text)
            if "Content Security Policy" in message.text
            or "Content-Security-Policy" in message.text
            else None
        ),
    )
    return reports


def test_pages_load_under_their_policy(
    browser: LazyBrowser,  # noqa: F811
    app: Flask,
    live_server: Callable[[Flask], Any],
) -> None:
    server = live_server(app)
    context = browser.get().new_context()
    try:
        page = context.new_page()
        reports = _csp_reports(page)
        answer = page.goto(server.url + "/")
        assert "script-src 'self'" in answer.headers["content-security-policy"]
        expect(page.locator("body")).to_have_attribute("data-ready", "true")
        page.goto(server.url + "/api/docs")
        expect(page.locator(".swagger-ui .info")).to_be_visible()
        assert reports == []
    finally:
        context.close()


def test_the_verification_page_verifies_only_when_asked(
    browser: LazyBrowser,  # noqa: F811
    mail_app: Flask,
    smtp_sink: Any,
    live_server: Callable[[Flask], Any],
) -> None:
    server = live_server(mail_app)
    client = mail_app.test_client()
    register(client, email="verify@example.com")
    delivered(mail_app, smtp_sink)
    code = smtp_sink.last_with(VERIFY_PATH, "verify@example.com").link(VERIFY_PATH)
    token = login(client, email="verify@example.com")

    def verified() -> bool:
        me = client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
        return me.json["data"]["user"]["verified"]

    context = browser.get().new_context()
    try:
        page = context.new_page()
        reports = _csp_reports(page)
        page.goto(f"{server.url}{VERIFY_PATH}{code}")
        expect(page.get_by_test_id("verify-submit")).to_be_visible()
        assert verified() is False  # opening the link (what a mail scanner does): nothing
        page.get_by_test_id("verify-submit").click()
        expect(page.get_by_test_id("message")).to_contain_text("Email verified successfully")
        assert reports == []
    finally:
        context.close()
    assert verified() is True
