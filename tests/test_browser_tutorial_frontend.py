"""A front end written for the tutorial, unchanged, in Debian's Chromium.

The single-page app in ``tests/support/tutorial_frontend/`` is what the tutorial's
companion articles build ("React + Redux Toolkit: JWT Authentication", "React.js +
Redux Toolkit: Refresh Tokens Authentication"): RTK Query's ``fetchBaseQuery`` with
``credentials: 'include'`` wrapped in the re-auth base query (a 401 saying exactly "You
are not logged in" refreshes once behind a mutex shared by the page's requests, then
retries), or an axios instance with ``withCredentials`` and a response interceptor
doing the same; ``logged_in`` read with js-cookie; logout by ``GET /api/auth/logout``.
It is served from its own origin, ``http://localhost:<port>``, and calls a real
gunicorn in production mode (``Secure`` cookies on ``http://localhost``, which
Chromium treats as a secure context), directly or through the shipped nginx
configuration.

Whatever a person does, the page must end in the right state: logged in with the
profile, or logged out on the login page, never in a loop of refreshes or redirects,
never with a cookie the browser refused or an answer CORS hid from it. Token expiry is
what the browser does when a cookie's Max-Age runs out: the cookie is removed (the
access token and ``logged_in`` share their lifetime, so they go together).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask

from authapi import sessions
from authapi.extensions import db, redis_store
from authapi.users.repository import find_user_by_email
from tests.helpers import HANG, PASSWORD, TOKEN_MODE, bearer, register
from tests.support.frontend_server import FrontendServer
from tests.support.gunicorn_server import Instance, server_environment
from tests.support.nginx_server import Nginx, gunicorn_behind_nginx
from tests.test_browser_demo import (
    LazyBrowser,
    browser,  # noqa: F401 - the module-scoped browser fixture
    expect,
)

pytestmark = [pytest.mark.live_server, pytest.mark.browser, pytest.mark.subprocess]

ME = "/api/users/me"
REFRESH = "/api/auth/refresh"
LOGIN = "/api/auth/login"
LOGOUT = "/api/auth/logout"
TABS = 4
WRONG_PASSWORDS_ALLOWED = 3


@dataclass
class Stack:
    """gunicorn in production mode; nginx in front of it; a front end for each."""

    api: Instance
    nginx: Nginx
    direct: FrontendServer  # calls gunicorn itself
    proxied: FrontendServer  # calls nginx


@pytest.fixture(scope="module")
def stack(app, database_url, redis_url, key_config, tmp_path_factory) -> Iterator[Stack]:
    direct, proxied = FrontendServer(""), FrontendServer("")
    origins = f"{direct.origin}, {proxied.origin}"
    env = server_environment(
        database_url,
        redis_url,
        key_config,
        APP_ENV="production",  # Secure cookies, HSTS, JSON logs
        TRUSTED_PROXY_COUNT="1",
        RATELIMIT_ENABLED="true",
        RATELIMIT_LOGIN_PER_ACCOUNT_ADDRESS=f"{WRONG_PASSWORDS_ALLOWED} per 15 minutes",
        CORS_ORIGINS=origins,
    )
    workdir = tmp_path_factory.mktemp("tutorial-frontend")
    try:
        with gunicorn_behind_nginx(env, workdir, origins) as (api, nginx):
            direct.api_url = f"http://localhost:{api.port}"
            proxied.api_url = f"http://localhost:{nginx.port}"
            yield Stack(api, nginx, direct, proxied)
    finally:
        direct.stop()
        proxied.stop()


@dataclass
class Tab:
    """One tab of the front end, with everything the browser says about its API calls."""

    name: str
    page: Any
    frontend: FrontendServer
    requests: list[tuple[str, str]] = field(default_factory=list)  # in the order sent
    calls: list[tuple[str, str, int, str]] = field(default_factory=list)  # as answered
    refused_cookies: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    cors_errors: list[str] = field(default_factory=list)
    loads: list[str] = field(default_factory=list)  # documents loaded: a loop shows here

    def goto(self, path: str, **options: Any) -> None:
        self.page.goto(self.frontend.origin + path, **options)

    def wait_ready(self) -> None:
        expect(self.page.locator("body")).to_have_attribute("data-ready", "true")

    def open(self, path: str) -> None:
        self.goto(path)
        self.wait_ready()

    def testid(self, test_id: str) -> Any:
        return self.page.get_by_test_id(test_id)

    def api_calls(self) -> list[tuple[str, str, int]]:
        """The answers, sorted: response events may come in any order."""
        return sorted((method, path, status) for method, path, status, _ in self.calls)

    def settle(self) -> None:
        """Until every API request sent has its answer (or failure) recorded: the page
        may show the outcome before Playwright hands over the response event."""
        deadline = time.monotonic() + HANG
        while len(self.calls) + len(self.failed) < len(self.requests):
            assert time.monotonic() < deadline, f"no answer recorded: {self.requests}"
            self.page.evaluate("0")  # a round trip, during which events are delivered

    def assert_exchanges(self, *expected: tuple[str, str, int]) -> None:
        """Exactly these API calls, sent in this order, answered with these statuses."""
        self.settle()
        assert self.requests == [(method, path) for method, path, _ in expected], self.calls
        assert self.api_calls() == sorted(expected), self.calls

    def message_of(self, method: str, path: str, status: int) -> str:
        (message,) = [call[3] for call in self.calls if call[:3] == (method, path, status)]
        return message

    def forget(self) -> None:
        self.requests.clear()
        self.calls.clear()
        self.loads.clear()

    def fetch(self, path: str) -> dict[str, Any]:
        """A request of the page itself (credentials included): its status and body."""
        return self.page.evaluate(
            """async (url) => {
                const response = await fetch(url, {credentials: "include"});
                return {status: response.status, body: await response.json()};
            }""",
            self.frontend.api_url + path,
        )

    def assert_browser_accepted_everything(self) -> None:
        assert self.refused_cookies == [], self.refused_cookies
        assert self.cors_errors == [], self.cors_errors
        assert self.failed == [], self.failed

    def login(self, email: str, password: str = PASSWORD) -> None:
        self.page.fill("#login-email", email)
        self.page.fill("#login-password", password)
        self.testid("login-submit").click()


def _message(response: Any) -> str:
    try:
        return str(response.json().get("message", ""))
    except Exception:  # no body (a redirect away from the page dropped it): the status says it
        return ""


@dataclass
class Browsers:
    """Browser profiles (contexts), each with its tabs, on one front end."""

    lazy: LazyBrowser
    contexts: list[Any] = field(default_factory=list)
    tabs: list[Tab] = field(default_factory=list)

    def profile(self, client: str = "rtk") -> Any:
        context = self.lazy.get().new_context()
        context.add_init_script(f"window.FRONTEND_CLIENT = {json.dumps(client)};")
        self.contexts.append(context)
        return context

    def tab(self, context: Any, frontend: FrontendServer, name: str) -> Tab:
        page = context.new_page()
        tab = Tab(name, page, frontend)
        api_prefix = frontend.api_url + "/api/"

        def on_request(request: Any) -> None:
            if request.url.startswith(api_prefix) and request.method != "OPTIONS":
                tab.requests.append((request.method, urlsplit(request.url).path))

        def on_response(response: Any) -> None:
            if response.url.startswith(api_prefix) and response.request.method != "OPTIONS":
                path = urlsplit(response.url).path
                message = _message(response) if response.status >= 400 else ""
                tab.calls.append((response.request.method, path, response.status, message))

        def on_failed(request: Any) -> None:
            # ERR_ABORTED: the page navigated away (the front end's redirect to /login),
            # which may race the end of an answer it has already read.
            if request.url.startswith(api_prefix) and request.failure != "net::ERR_ABORTED":
                tab.failed.append(f"{request.method} {request.url}: {request.failure}")

        def on_console(message: Any) -> None:
            if message.type == "error" and ("CORS" in message.text or "blocked" in message.text):
                tab.cors_errors.append(message.text)

        def on_loaded(loaded: Any) -> None:
            tab.loads.append(urlsplit(loaded.url).path)

        page.on("request", on_request)
        page.on("response", on_response)
        page.on("requestfailed", on_failed)
        page.on("console", on_console)
        page.on("domcontentloaded", on_loaded)
        # Cookies the browser refused to store (Secure on http, SameSite, Domain...):
        # Chromium reports them only through the DevTools protocol.
        cdp = context.new_cdp_session(page)
        cdp.on(
            "Network.responseReceivedExtraInfo",
            lambda info: tab.refused_cookies.extend(
                f"{cookie['cookieLine']}: {cookie['blockedReasons']}"
                for cookie in info.get("blockedCookies", [])
            ),
        )
        cdp.send("Network.enable")
        self.tabs.append(tab)
        return tab


@pytest.fixture
def browsers(browser: LazyBrowser) -> Iterator[Browsers]:  # noqa: F811
    made = Browsers(browser)
    yield made
    for tab in made.tabs:
        print(f"--- API calls of {tab.name} ---", *tab.calls, sep="\n")
    for context in made.contexts:
        context.close()


def cookies_of(context: Any) -> dict[str, dict[str, Any]]:
    return {cookie["name"]: cookie for cookie in context.cookies()}


def access_token_expires(context: Any) -> None:
    """The access_token and logged_in cookies' Max-Age (the access lifetime) ran out."""
    context.clear_cookies(name="access_token")
    context.clear_cookies(name="logged_in")


def expect_profile(tab: Tab, name: str, email: str) -> None:
    expect(tab.testid("profile-email")).to_have_text(email)
    expect(tab.testid("auth-state")).to_have_text(f"Logged in as {name} <{email}>")
    expect(tab.testid("profile-link")).to_be_visible()


def expect_logged_out_on_login_page(tab: Tab) -> None:
    expect(tab.page).to_have_url(re.compile(r"/login$"))
    expect(tab.testid("login-form")).to_be_visible()
    tab.wait_ready()
    expect(tab.testid("auth-state")).to_have_text("Logged out")
    # js-cookie no longer finds the flag: the header offers no profile.
    expect(tab.testid("profile-link")).to_be_hidden()


class HeldTogether:
    """A route handler: the first ``count`` matching requests wait in the browser until
    all of them are waiting, then go together; later ones go at once."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.waiting: list[Any] = []
        self.released = False

    def __call__(self, route: Any) -> None:
        if self.released:
            route.continue_()
            return
        self.waiting.append(route)
        if len(self.waiting) == self.count:
            self.released = True
            for waiting in self.waiting:
                waiting.continue_()


def refresh_generations(app: Flask, email: str) -> list[int]:
    """How many times each live session of the account has rotated its refresh token."""
    with app.app_context():
        user_id = str(find_user_by_email(email).id)
        db.session.remove()
        return [
            int(redis_store.client.hget(sessions.session_key(user_id, session.id), "gen"))
            for session in sessions.list_sessions(user_id)
        ]


def load_tabs_at_once(browsers: Browsers, context: Any, frontend: FrontendServer) -> list[Tab]:
    """TABS tabs of /profile that meet the expired access token at once (a browser
    restoring its tabs): their /me requests go together, so all are 401, and then their
    refresh requests go together, all with the same refresh cookie (the mutex is per
    page). The retries are not held."""
    me, refresh = (
        re.compile(re.escape(frontend.api_url + ME) + "$"),
        re.compile(re.escape(frontend.api_url + REFRESH) + "$"),
    )
    context.route(me, HeldTogether(TABS))
    context.route(refresh, HeldTogether(TABS))
    tabs = [browsers.tab(context, frontend, f"tab {index}") for index in range(TABS)]
    for tab in tabs:
        tab.goto("/profile", wait_until="commit")
    for tab in tabs:
        tab.wait_ready()
    context.unroute(me)
    context.unroute(refresh)
    return tabs


def test_register_login_expiry_tabs_logout_and_another_account(app, stack, browsers):
    """The RTK Query front end against gunicorn in production mode."""
    frontend = stack.direct
    context = browsers.profile("rtk")
    first = browsers.tab(context, frontend, "first tab")

    first.open("/register")
    first.page.fill("#register-name", "Alice")
    first.page.fill("#register-email", "alice@example.com")
    first.page.fill("#register-password", PASSWORD)
    first.page.fill("#register-password-confirm", "something else")
    first.testid("register-submit").click()
    expect(first.testid("message")).to_have_text("Passwords do not match")
    first.page.fill("#register-password-confirm", PASSWORD)
    first.testid("register-submit").click()
    expect(first.testid("message")).to_have_text("User registered successfully")
    expect(first.page).to_have_url(re.compile(r"/login$"))

    first.login("alice@example.com", "wrong password")
    expect(first.testid("message")).to_have_text("Invalid email or password")
    first.login("alice@example.com")
    expect(first.page).to_have_url(re.compile(r"/profile$"))
    expect_profile(first, "Alice", "alice@example.com")
    cookies = cookies_of(context)
    assert {"access_token", "refresh_token", "logged_in"} <= set(cookies)
    assert all(cookies[name]["secure"] for name in ("access_token", "refresh_token", "logged_in"))
    # The front end's own origin reads the flag (no Domain attribute, any port).
    assert first.page.evaluate("Cookies.get('logged_in')") == "true"
    first.assert_browser_accepted_everything()

    # A reload with a live access token asks once and shows the profile.
    first.forget()
    first.open("/profile")
    expect_profile(first, "Alice", "alice@example.com")
    first.assert_exchanges(("GET", ME, 200))

    # The access token expired: one refresh, the retry, the profile.
    access_token_expires(context)
    first.forget()
    first.open("/profile")
    expect_profile(first, "Alice", "alice@example.com")
    first.assert_exchanges(("GET", ME, 401), ("GET", REFRESH, 200), ("GET", ME, 200))
    assert first.message_of("GET", ME, 401) == "You are not logged in"

    # Several tabs load at once with an expired access token: each refreshes with the
    # same refresh cookie (a mutex is per page), and nobody is logged out.
    access_token_expires(context)
    (generation,) = refresh_generations(app, "alice@example.com")
    tabs = load_tabs_at_once(browsers, context, frontend)
    for tab in tabs:
        expect_profile(tab, "Alice", "alice@example.com")
        tab.assert_exchanges(("GET", ME, 401), ("GET", REFRESH, 200), ("GET", ME, 200))
        tab.assert_browser_accepted_everything()
    # Still one session, rotated at most once per tab: the refreshes that carried the
    # superseded cookie were answered from the grace window. How many rotated depends on
    # timing (Chromium attaches the cookie when it sends a released request, so a tab
    # released after another's answer sends the newer one and rotates it in turn), so
    # the count is bounded, not fixed: what never varies is that nobody was logged out.
    (rotated,) = refresh_generations(app, "alice@example.com")
    assert generation + 1 <= rotated <= generation + TABS
    # ... and the session lives on: the next expiry refreshes again.
    access_token_expires(context)
    first.forget()
    first.open("/profile")
    expect_profile(first, "Alice", "alice@example.com")
    first.assert_exchanges(("GET", ME, 401), ("GET", REFRESH, 200), ("GET", ME, 200))

    # Logout in one tab, then act in another: one failed refresh, then the login page.
    other = tabs[0]
    first.forget()
    first.testid("logout").click()
    expect_logged_out_on_login_page(first)
    first.assert_exchanges(("GET", LOGOUT, 200))
    assert not {"access_token", "refresh_token", "logged_in"} & set(cookies_of(context))
    other.forget()
    other.testid("refetch-me").click()
    expect_logged_out_on_login_page(other)
    other.assert_exchanges(("GET", ME, 401), ("GET", REFRESH, 403))
    assert other.loads == ["/login"]  # one redirect, no loop

    # A second account logs in in the same browser: every tab now shows it.
    register(app.test_client(), email="bob@example.com", name="Bob")
    first.login("bob@example.com")
    expect_profile(first, "Bob", "bob@example.com")
    second = tabs[1]
    second.testid("refetch-me").click()
    expect_profile(second, "Bob", "bob@example.com")
    for tab in (first, other, second):
        tab.assert_browser_accepted_everything()


def _enrol_totp(app: Flask, email: str) -> list[str]:
    """TOTP for the account, through the routes (token mode): its recovery codes."""
    import pyotp

    client = app.test_client()
    logged_in = client.post(
        "/api/auth/login", json={"email": email, "password": PASSWORD}, headers=TOKEN_MODE
    )
    token = logged_in.json["access_token"]
    started = client.post("/api/auth/mfa/totp", headers=bearer(token))
    secret = started.json["data"]["secret"]
    confirmed = client.post(
        "/api/auth/mfa/totp/confirm",
        json={"code": pyotp.TOTP(secret).now()},
        headers=bearer(token),
    )
    assert confirmed.status_code == 200, confirmed.json
    return confirmed.json["data"]["recovery_codes"]


def test_revoked_and_expired_refresh_rate_limits_and_mfa_with_axios(app, stack, browsers):
    """The axios front end: sessions that end elsewhere, a refused refresh, a 429, and
    the second-factor step, each read correctly from the other origin."""
    frontend = stack.direct
    register(app.test_client(), email="alice@example.com", name="Alice")
    laptop_context, phone_context = browsers.profile("axios"), browsers.profile("axios")
    laptop = browsers.tab(laptop_context, frontend, "laptop")
    phone = browsers.tab(phone_context, frontend, "phone")
    for tab in (laptop, phone):
        tab.open("/login")
        tab.login("alice@example.com")
        expect_profile(tab, "Alice", "alice@example.com")

    # The phone logs out every other device: the laptop's session is revoked. Its
    # access token is refused with another message, so no refresh is tried.
    assert phone.fetch(f"{LOGOUT}?scope=others")["status"] == 200
    laptop.forget()
    laptop.testid("refetch-me").click()
    expect_logged_out_on_login_page(laptop)
    laptop.assert_exchanges(("GET", ME, 401))
    assert laptop.message_of("GET", ME, 401) == "Invalid token or session has expired"

    # Its cookies expire: the refresh token is refused once, the page logs out, no loop.
    access_token_expires(laptop_context)
    laptop.forget()
    laptop.open("/profile")
    expect_logged_out_on_login_page(laptop)
    laptop.assert_exchanges(("GET", ME, 401), ("GET", REFRESH, 403))
    assert laptop.loads == ["/profile", "/login"]

    # The phone's refresh token expires too (every cookie gone): the same, once.
    phone_context.clear_cookies()
    phone.forget()
    phone.open("/profile")
    expect_logged_out_on_login_page(phone)
    phone.assert_exchanges(("GET", ME, 401), ("GET", REFRESH, 403))

    # Wrong passwords until the limit: the 429's message reaches the page, and so
    # does its Retry-After.
    for _ in range(WRONG_PASSWORDS_ALLOWED):
        laptop.login("alice@example.com", "wrong password")
        expect(laptop.testid("message")).to_have_text("Invalid email or password")
        laptop.testid("message").evaluate("element => element.textContent = ''")
    laptop.forget()
    laptop.login("alice@example.com", "wrong password")
    # Retry-After is an exposed header: the page reads it too.
    expect(laptop.testid("message")).to_have_text(re.compile(r"^Too many .* \(retry in \d+ s\)$"))
    laptop.assert_exchanges(("POST", LOGIN, 429))

    # An account with a second factor, from the other origin: the password, then the code.
    register(app.test_client(), email="bob@example.com", name="Bob")
    recovery_codes = _enrol_totp(app, "bob@example.com")
    phone.login("bob@example.com")
    expect(phone.testid("mfa-form")).to_be_visible()
    expect(phone.testid("auth-state")).to_have_text("Logged out")
    phone.page.fill("#mfa-code", "000000")
    phone.testid("mfa-submit").click()
    expect(phone.testid("message")).to_have_text("Invalid code")
    phone.page.fill("#mfa-code", recovery_codes[0])
    phone.testid("mfa-submit").click()
    expect_profile(phone, "Bob", "bob@example.com")
    for tab in (laptop, phone):
        tab.assert_browser_accepted_everything()


def test_through_nginx_tabs_refresh_together_and_nginx_errors_reach_the_page(app, stack, browsers):
    """The RTK Query front end calling the API through the shipped nginx configuration."""
    frontend = stack.proxied
    register(app.test_client(), email="alice@example.com", name="Alice")
    context = browsers.profile("rtk")
    first = browsers.tab(context, frontend, "first tab")
    first.open("/login")
    first.login("alice@example.com")
    expect_profile(first, "Alice", "alice@example.com")

    access_token_expires(context)
    tabs = load_tabs_at_once(browsers, context, frontend)
    for tab in tabs:
        expect_profile(tab, "Alice", "alice@example.com")
        tab.assert_exchanges(("GET", ME, 401), ("GET", REFRESH, 200), ("GET", ME, 200))

    # A body nginx refuses itself (413): its JSON message, readable from this origin.
    first.open("/register")
    first.page.fill("#register-name", "x" * 100_000)
    first.page.fill("#register-email", "carol@example.com")
    first.page.fill("#register-password", PASSWORD)
    first.page.fill("#register-password-confirm", PASSWORD)
    first.testid("register-submit").click()
    expect(first.testid("message")).to_have_text("Request body too large")

    # Logout once the access token has expired: refused as "not logged in", so the
    # front end refreshes, and the retried logout ends the session.
    first.open("/profile")
    expect_profile(first, "Alice", "alice@example.com")
    access_token_expires(context)
    first.forget()
    first.testid("logout").click()
    expect_logged_out_on_login_page(first)
    first.assert_exchanges(("GET", LOGOUT, 401), ("GET", REFRESH, 200), ("GET", LOGOUT, 200))
    assert not {"access_token", "refresh_token", "logged_in"} & set(cookies_of(context))
    for tab in (first, *tabs):
        tab.assert_browser_accepted_everything()


def other_localhost_apps_left_cookies(context: Any, count: int) -> None:
    """Cookies of other apps on localhost: a browser sends them to every port."""
    context.add_cookies(
        [
            {"name": f"other_app_{index}", "value": "x" * 4000, "domain": "localhost", "path": "/"}
            for index in range(count)
        ]
    )


@pytest.mark.parametrize("route", ["direct", "proxied"])
def test_a_browser_full_of_other_localhost_cookies_gets_readable_answers(
    app, stack, browsers, route
):
    """A developer's browser holds cookies of other apps on localhost, and sends them
    with every request to the API. Up to 16 kB of headers, what the tutorial's Node
    server takes, everything works; beyond, the refusal must still be a JSON answer
    this origin may read, not a network error."""
    frontend = getattr(stack, route)
    register(app.test_client(), email="alice@example.com", name="Alice")
    context = browsers.profile("rtk")
    tab = browsers.tab(context, frontend, route)
    tab.open("/login")
    tab.login("alice@example.com")
    expect_profile(tab, "Alice", "alice@example.com")

    other_localhost_apps_left_cookies(context, 3)  # a Cookie header of 12 kB
    access_token_expires(context)
    tab.forget()
    tab.open("/profile")
    expect_profile(tab, "Alice", "alice@example.com")
    tab.assert_exchanges(("GET", ME, 401), ("GET", REFRESH, 200), ("GET", ME, 200))

    other_localhost_apps_left_cookies(context, 5)  # a Cookie header of 20 kB
    tab.forget()
    tab.testid("refetch-me").click()
    expect(tab.testid("message")).to_have_text(re.compile("too large", re.IGNORECASE))
    tab.settle()
    assert [status for _, _, status in tab.api_calls()] == [431]
    tab.assert_browser_accepted_everything()
