"""The OpenAPI document (/api/openapi.json) and the docs page (/api/docs).

- the document is valid OpenAPI 3.1 and documents exactly the app's routes and methods;
- the docs page and its assets come from this server only (a real Chromium with every
  other request blocked renders the operations);
- schemathesis runs every operation against a live server, anonymously and as a user
  or an admin (Bearer or cookies), and every answer must be documented: no 5xx, and a
  documented status, content type, headers and body.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from authapi import account_tokens
from authapi.error_handlers import handle_api_error
from authapi.errors import ServiceUnavailable
from authapi.openapi.components import ERROR_CODES
from authapi.openapi.document import VERSION, build_document
from authapi.openapi.views import UNDOCUMENTED_ENDPOINTS
from config import config_class_for
from tests.helpers import HANG, PASSWORD, TOKEN_MODE, bearer, register
from tests.support.servers import ThreadedServer

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")  # Debian's, as in test_browser_demo.py
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every operation the document describes."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield method, path, operation


def documented_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for method, path, _ in operations(document)}


def routed_operations(app: Flask) -> set[tuple[str, str]]:
    """(METHOD, path) of every rule, with ``<converter:name>`` written ``{name}``."""
    operations = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNDOCUMENTED_ENDPOINTS:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        operations |= {
            (method, path) for method in rule.methods or () if method not in SKIPPED_METHODS
        }
    return operations


def fetch_document(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


# --- The document ---


def test_document_is_valid_openapi_3_1(client: FlaskClient) -> None:
    document = fetch_document(client)
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_route_is_documented_and_nothing_else(client: FlaskClient, app: Flask) -> None:
    """A route added without its Operation in authapi/openapi/operations/ fails here."""
    documented = documented_operations(fetch_document(client))
    routed = routed_operations(app)
    assert routed - documented == set(), "routes missing from authapi/openapi/operations"
    assert documented - routed == set(), "documented operations that no route serves"


def test_conditional_routes_are_documented_only_when_present(
    make_app: Callable[..., Flask],
) -> None:
    variant = make_app(METRICS_ENABLED=False)
    documented = documented_operations(fetch_document(variant.test_client()))
    assert ("GET", "/metrics") not in documented
    assert documented == routed_operations(variant)


def test_operations_are_described(client: FlaskClient) -> None:
    """Unique ids, a tag, a summary, a success; the statuses every body reader and every
    authenticated route can answer."""
    document = fetch_document(client)
    ids = []
    for method, path, operation in operations(document):
        label = f"{method.upper()} {path}"
        ids.append(operation["operationId"])
        assert operation["tags"] and operation["summary"], label
        statuses = set(operation["responses"])
        # A success, or a redirect (provider sign-in sends browsers on with a 302).
        assert any(status.startswith(("2", "3")) for status in statuses), label
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= statuses, label
        if operation.get("security"):
            assert {"401", "503"} <= statuses or path == "/api/auth/refresh", label
    assert len(ids) == len(set(ids))


def test_security_cookies_and_limits_are_documented(client: FlaskClient) -> None:
    document = fetch_document(client)
    schemes = document["components"]["securitySchemes"]
    assert (schemes["bearerAuth"]["type"], schemes["bearerAuth"]["scheme"]) == ("http", "bearer")
    assert schemes["cookieAuth"]["in"] == "cookie"
    assert schemes["cookieAuth"]["name"] == "access_token"

    paths = document["paths"]
    login = paths["/api/auth/login"]["post"]
    assert "Set-Cookie" in login["responses"]["200"]["headers"]
    assert any(parameter["name"] == "X-Auth-Mode" for parameter in login["parameters"])
    assert "Set-Cookie" in paths["/api/auth/refresh"]["get"]["responses"]["200"]["headers"]
    logout = paths["/api/auth/logout"]["get"]
    assert "Set-Cookie" in logout["responses"]["200"]["headers"]
    assert [parameter["name"] for parameter in logout["parameters"]] == ["scope"]
    assert {"bearerAuth": []} in paths["/api/users/me"]["get"]["security"]
    assert {"cookieAuth": []} in paths["/api/users/me"]["get"]["security"]

    rate_limited = document["components"]["responses"]["TooManyRequests"]
    assert "Retry-After" in rate_limited["headers"]
    assert "Retry-After" in document["components"]["responses"]["ServiceUnavailable"]["headers"]
    assert "429" in login["responses"]
    assert "413" in login["responses"] and "415" in login["responses"]
    register = paths["/api/auth/register"]["post"]["requestBody"]["content"]["application/json"]
    assert register["schema"] == {"$ref": "#/components/schemas/Register"}


@pytest.mark.parametrize("value", ["cookie", "TOKEN", " token ", ""])
def test_every_auth_mode_the_app_accepts_is_a_documented_value(
    client: FlaskClient, value: str
) -> None:
    """schemathesis (negative data, through nginx) sent an X-Auth-Mode outside the
    documented enum ["token"], and the login succeeded: any other value is the cookie
    mode, and the document must not promise a refusal the app never makes."""
    register(client)
    answer = client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers={"X-Auth-Mode": value},
    )
    assert answer.status_code == 200, answer.json
    assert ("refresh_token" in answer.json) == (value.strip().lower() == "token")
    login = fetch_document(client)["paths"]["/api/auth/login"]["post"]
    header = next(item for item in login["parameters"] if item["name"] == "X-Auth-Mode")
    jsonschema.validate(value, header["schema"])


def test_version_is_the_projects() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["version"] == VERSION


# --- The docs page ---


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href"} and value:
                self.urls.append(value)


ASSET_TYPES = {".css": "text/css", ".js": "javascript", ".png": "image/png"}


def test_docs_page_and_its_assets_come_from_this_server(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    parser = _Assets()
    parser.feed(page.get_data(as_text=True))
    assert parser.urls
    for url in parser.urls:
        assert not re.match(r"([a-z]+:)?//", url), f"{url} is not served by this API"
        asset = client.get(f"/api/{url}")
        assert asset.status_code == 200, url
        assert ASSET_TYPES[Path(url).suffix] in asset.content_type, (url, asset.content_type)
        assert asset.headers["X-Content-Type-Options"] == "nosniff"
    assert "openapi.json" in client.get("/api/docs/docs.js").get_data(as_text=True)


def test_docs_assets_stay_inside_their_directories(client: FlaskClient) -> None:
    for path in (
        "/api/docs/../openapi.py",
        "/api/docs/%2e%2e/openapi.py",
        "/api/docs/..%2f..%2fopenapi.py",
        "/api/docs/%00",
        "/api/docs/" + "a" * 5000,
        "/api/docs/nope.js",
    ):
        response = client.get(path)
        assert response.status_code == 404, path[:80]
        assert response.mimetype == "application/json"


@pytest.mark.browser
@pytest.mark.live_server
def test_docs_page_renders_offline_in_a_browser(
    app: Flask, live_server: Callable[[Flask], ThreadedServer]
) -> None:
    """Real Chromium; any request to another origin is aborted and would fail the test."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run .ci/install-browser.sh", pytrace=False)
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError as error:
        pytest.fail(f"playwright is not importable ({error}): run .ci/install-browser.sh")

    server = live_server(app)
    foreign: list[str] = []

    def only_this_server(route: Any) -> None:
        if route.request.url.startswith(server.url + "/"):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", only_this_server)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{server.url}/api/docs")
            login = page.locator('.opblock-summary-path[data-path="/api/auth/login"]')
            expect(login).to_be_visible(timeout=HANG * 1000)
            expect(page.locator(".info .title")).to_contain_text("authapi")
            assert page.locator(".opblock").count() >= 20
            page.screenshot(path=str(_artifact("api-docs.png")))
            # Expanding an operation resolves its $refs: responses, cookies, the X-Auth-Mode
            # header and the schemas render, with no resolver error.
            login.click()
            operation = page.locator("#operations-auth-login")
            expect(operation.locator(".response-col_status", has_text="429")).to_be_visible()
            expect(operation.locator(".parameter__name", has_text="X-Auth-Mode")).to_be_visible()
            expect(operation.get_by_text("Set-Cookie").first).to_be_visible()
            expect(page.locator(".errors-wrapper")).to_have_count(0)
            page.screenshot(path=str(_artifact("api-docs-login.png")), full_page=True)
        finally:
            browser.close()
    assert foreign == []
    assert errors == []


def _artifact(name: str) -> Path:
    directory = ROOT / "test-artifacts" / "browser"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / name


# --- schemathesis against a live server ---

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
AUTH_MODES = ("anonymous", "user-bearer", "user-cookies", "admin-bearer", "admin-cookies")
# Per operation: about 30 s for the whole API on 2 cores; raise it for a deeper run.
FUZZ_EXAMPLES = int(os.environ.get("OPENAPI_FUZZ_EXAMPLES", "20"))
USER_EMAIL = "fuzz-user@example.com"
ADMIN_EMAIL = "fuzz-admin@example.com"


class Caller:
    """Fresh credentials for each generated request: logout, session deletion and
    password changes may end any session, so every request logs in anew."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self._document: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        if self._document is None:
            response = self.http.get(f"{self.base_url}/api/openapi.json", timeout=HANG)
            self._document = response.json()
        return self._document

    def login(self, email: str) -> dict[str, Any]:
        response = self.http.post(
            f"{self.base_url}/api/auth/login",
            json={"email": email, "password": PASSWORD},
            headers=TOKEN_MODE,
            timeout=HANG,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def credentials(self, mode: str) -> tuple[dict[str, str], dict[str, str]]:
        """(headers, cookies) to send."""
        if mode == "anonymous":
            return {}, {}
        who, carrier = mode.split("-")
        tokens = self.login(ADMIN_EMAIL if who == "admin" else USER_EMAIL)
        cookies = {"refresh_token": tokens["refresh_token"]}
        if carrier == "cookies":
            return {}, {**cookies, "access_token": tokens["access_token"], "logged_in": "true"}
        return bearer(tokens["access_token"]), cookies


@pytest.fixture
def fuzz_server(
    app: Flask, live_server: Callable[[Flask], ThreadedServer]
) -> Iterator[ThreadedServer]:
    server = live_server(app)
    requests.post(
        f"{server.url}/api/auth/register",
        json={
            "name": "Fuzz",
            "email": USER_EMAIL,
            "password": PASSWORD,
            "passwordConfirm": PASSWORD,
        },
        timeout=HANG,
    ).raise_for_status()
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", ADMIN_EMAIL, "--name", "Root", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    yield server


@pytest.fixture
def caller(fuzz_server: ThreadedServer) -> Caller:
    return Caller(fuzz_server.url)


def _testing_config() -> dict[str, Any]:
    testing = config_class_for({"APP_ENV": "testing"})
    return {name: getattr(testing, name) for name in dir(testing) if name.isupper()}


# schemathesis parametrizes at collection time, so it reads the document built for the
# testing configuration; the first check of each test is that the live server serves
# exactly that document. (schemathesis.pytest.from_fixture, which would read it from
# the server, does not run under pytest 9.2: it sets Node._nodeid, which is gone.)
DOCUMENT = json.loads(json.dumps(build_document(_testing_config())))
schema = schemathesis.openapi.from_dict(DOCUMENT)
# The document's examples (tests/test_openapi_examples.py sends them) would add an
# explicit-examples phase that schemathesis cannot combine with the auth strategy.
schema.config.phases.examples.enabled = False


@pytest.mark.live_server
@schema.parametrize()
@schema.given(auth=st.sampled_from(AUTH_MODES))
@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_conforms_to_the_document(
    case: schemathesis.Case, auth: str, caller: Caller
) -> None:
    assert caller.document() == DOCUMENT, "the live server serves another document"
    headers, cookies = caller.credentials(auth)
    case.call_and_validate(
        base_url=caller.base_url, headers=headers, cookies=cookies, checks=CHECKS
    )


# --- Known requests, the documented answers fuzzing rarely reaches ---


class Documented:
    """Sends a request with a Flask test client (it keeps cookies like a browser) and
    validates the answer against the document with schemathesis' checks."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def __call__(
        self,
        method: str,
        path: str,
        expect: int,
        *,
        params: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        url = path.format(**params) if params else path
        response = self.client.open(url, method=method, **kwargs)
        assert response.status_code == expect, (method, url, response.get_data(as_text=True))
        case = schema[path][method].Case(path_parameters=params or {})
        # A documented 503 is expected here; every other check still applies.
        checks = CHECKS if expect < 500 else [c for c in CHECKS if c is not not_a_server_error]
        case.validate_response(response, checks=checks)
        _check_the_example(method, path, expect, response.get_json(silent=True))
        return response


def _documented_example(method: str, path: str, status: int) -> dict[str, Any] | None:
    answer = DOCUMENT["paths"][path][method.lower()]["responses"].get(str(status), {})
    if "$ref" in answer:
        answer = DOCUMENT["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    return answer.get("content", {}).get("application/json", {}).get("example")


def _check_the_example(method: str, path: str, status: int, body: Any) -> None:
    """An error's documented example is a real answer: when the server sends the
    example's message, it sends the example's code with it (clients match on codes)."""
    example = _documented_example(method, path, status)
    if not isinstance(example, dict) or not isinstance(body, dict) or "code" not in example:
        return
    if body.get("message") == example["message"]:
        assert body["code"] == example["code"], (method, path, status, body, example)


def _register(call: Documented, email: str) -> dict[str, Any]:
    body = {"name": "Bob", "email": email, "password": PASSWORD, "passwordConfirm": PASSWORD}
    return call("POST", "/api/auth/register", 201, json=body).json["data"]["user"]


def test_browser_flow_answers_are_documented(app: Flask) -> None:
    call = Documented(app.test_client())
    user = _register(call, "bob@example.com")
    body = {"name": "Bob", "email": "bob@example.com", "password": PASSWORD}
    call("POST", "/api/auth/register", 409, json={**body, "passwordConfirm": PASSWORD})
    call("POST", "/api/auth/register", 400, json={**body, "passwordConfirm": "other"})
    call("POST", "/api/auth/register", 400, data="{", content_type="application/json")
    call("POST", "/api/auth/register", 400, json=[1])
    call("POST", "/api/auth/register", 415, data="name=Bob", content_type="text/plain")
    call("POST", "/api/auth/register", 413, json={"name": "x" * 20_000})

    credentials = {"email": "bob@example.com", "password": PASSWORD}
    call("POST", "/api/auth/login", 400, json={**credentials, "password": "wrong password"})
    call("POST", "/api/auth/login", 200, json=credentials)
    call("GET", "/api/users/me", 200)
    call("GET", "/api/auth/refresh", 200)
    call("POST", "/api/auth/refresh", 200)
    call("GET", "/api/auth/sessions", 200)
    call("GET", "/api/users/me/events", 200, query_string={"event": "login_succeeded"})
    call("GET", "/api/users/me/events", 400, query_string={"per_page": "0"})
    call("DELETE", "/api/auth/sessions/{session_id}", 404, params={"session_id": "nope"})
    call("GET", "/api/auth/logout", 403, headers={"Sec-Fetch-Site": "cross-site"})
    call("GET", "/api/auth/logout", 400, query_string={"scope": "everything"})

    new = "new password 1"
    change = {"currentPassword": "wrong password", "password": new, "passwordConfirm": new}
    call("PATCH", "/api/users/me/password", 400, json=change)
    call("PATCH", "/api/users/me/password", 200, json={**change, "currentPassword": PASSWORD})
    sessions = call("GET", "/api/auth/sessions", 200).json["data"]["sessions"]
    current = next(session["id"] for session in sessions if session["current"])
    call("DELETE", "/api/auth/sessions/{session_id}", 200, params={"session_id": current})
    call("GET", "/api/users/me", 401)
    call("GET", "/api/auth/refresh", 403)

    call("POST", "/api/auth/login", 200, json={**credentials, "password": new})
    call("POST", "/api/auth/logout", 200, query_string={"scope": "global"})
    call("GET", "/api/auth/logout", 401)
    assert user["email"] == "bob@example.com"


def test_token_client_answers_are_documented(app: Flask) -> None:
    call = Documented(app.test_client(use_cookies=False))
    _register(call, "carol@example.com")
    credentials = {"email": "carol@example.com", "password": PASSWORD}
    pair = call("POST", "/api/auth/login", 200, json=credentials, headers=TOKEN_MODE).json
    pair = call(
        "POST", "/api/auth/refresh", 200, json={"refresh_token": pair["refresh_token"]}
    ).json
    call("POST", "/api/auth/refresh", 403, json={"refresh_token": "not.a.token"})
    call("POST", "/api/auth/refresh", 400, json={"refresh_token": 5})
    call("GET", "/api/users/me", 200, headers=bearer(pair["access_token"]))
    call("GET", "/api/users/me", 401, headers=bearer("not.a.token"))
    call("GET", "/api/auth/logout", 200, headers=bearer(pair["access_token"]))


def test_account_mail_answers_are_documented(app: Flask) -> None:
    call = Documented(app.test_client())
    user = _register(call, "dave@example.com")
    with app.app_context():
        code = account_tokens.issue(account_tokens.VERIFY, user["id"], 600)
        token = account_tokens.issue(account_tokens.RESET, user["id"], 600)
    call("GET", "/api/auth/verifyemail/{code}", 200, params={"code": code})  # the page
    call("POST", "/api/auth/verifyemail/{code}", 200, params={"code": code})
    call("POST", "/api/auth/verifyemail/{code}", 400, params={"code": code})
    call("POST", "/api/auth/verifyemail/resend", 200, json={"email": "dave@example.com"})
    call("POST", "/api/auth/forgotpassword", 200, json={"email": "nobody@example.com"})
    call("POST", "/api/auth/forgotpassword", 400, json={"email": "not an address"})
    reset = {"password": "brand new secret", "passwordConfirm": "brand new secret"}
    call("PATCH", "/api/auth/resetpassword/{token}", 200, params={"token": token}, json=reset)
    call("PATCH", "/api/auth/resetpassword/{token}", 400, params={"token": token}, json=reset)


def test_admin_answers_are_documented(app: Flask) -> None:
    call = Documented(app.test_client(use_cookies=False))
    user = _register(call, "erin@example.com")
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "root@example.com", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output

    def token(email: str, expect: int = 200) -> str:
        body = {"email": email, "password": PASSWORD}
        return call("POST", "/api/auth/login", expect, json=body).json.get("access_token", "")

    root, erin = bearer(token("root@example.com")), bearer(token("erin@example.com"))
    me = {"user_id": call("GET", "/api/users/me", 200, headers=root).json["data"]["user"]["id"]}
    one = {"user_id": user["id"]}
    call("GET", "/api/users", 200, headers=root, query_string={"role": "user"})
    call("GET", "/api/users", 400, headers=root, query_string={"role": "owner"})
    call("GET", "/api/users", 403, headers=erin)
    call("GET", "/api/users/events", 200, headers=root, query_string={"user_id": user["id"]})
    call("GET", "/api/users/{user_id}", 200, params=one, headers=root)
    call("PATCH", "/api/users/{user_id}", 200, params=one, headers=root, json={"name": "E"})
    call("PATCH", "/api/users/{user_id}", 400, params=one, headers=root, json={"email": "x"})
    call("PATCH", "/api/users/{user_id}", 200, params=one, headers=root, json={"disabled": True})
    token("erin@example.com", expect=403)
    call("PATCH", "/api/users/{user_id}", 409, params=me, headers=root, json={"role": "user"})
    call("DELETE", "/api/users/{user_id}", 409, params=me, headers=root)
    call("DELETE", "/api/users/{user_id}", 200, params=one, headers=root)
    call("GET", "/api/users/{user_id}", 404, params=one, headers=root)
    call("DELETE", "/api/users/{user_id}/mfa", 404, params=one, headers=root)
    nowhere = {"webhook_id": user["id"]}
    call("GET", "/api/webhooks/{webhook_id}", 404, params=nowhere, headers=root)
    call("POST", "/api/webhooks/{webhook_id}/rotate-secret", 404, params=nowhere, headers=root)


def test_own_account_answers_are_documented(app: Flask) -> None:
    call = Documented(app.test_client())
    _register(call, "bob@example.com")
    _register(call, "fay@example.com")
    call("POST", "/api/auth/login", 200, json={"email": "fay@example.com", "password": PASSWORD})
    call("PATCH", "/api/users/me", 200, json={"name": "Fay", "photo": "fay.png"})
    call("PATCH", "/api/users/me", 400, json={"role": "admin"})
    user = call("GET", "/api/users/me", 200).json["data"]["user"]
    change = {"email": "fay.new@example.com", "password": PASSWORD}
    call("POST", "/api/users/me/email", 400, json={**change, "password": "wrong password"})
    call("POST", "/api/users/me/email", 400, json={**change, "email": "fay@example.com "})
    call("POST", "/api/users/me/email", 409, json={**change, "email": "bob@example.com"})
    call("POST", "/api/users/me/email", 200, json=change)
    with app.app_context():
        code = account_tokens.issue(
            account_tokens.EMAIL_CHANGE, user["id"], 600, email="fay.new@example.com"
        )
    call("POST", "/api/users/me/email/confirm", 400, json={"code": "not-a-code"})
    call("POST", "/api/users/me/email/confirm", 200, json={"code": code})
    call("DELETE", "/api/users/me", 400, json={"password": "wrong password"})
    call("DELETE", "/api/users/me", 400, json={})
    call("DELETE", "/api/users/me", 200, json={"password": PASSWORD})
    call("DELETE", "/api/users/me", 401, json={"password": PASSWORD})
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", "root@example.com", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    call("POST", "/api/auth/login", 200, json={"email": "root@example.com", "password": PASSWORD})
    call("DELETE", "/api/users/me", 409, json={"password": PASSWORD})


def test_public_answers_are_documented(app: Flask) -> None:
    call = Documented(app.test_client())
    for path in ("/api/healthChecker", "/api/health/live", "/api/health/ready"):
        call("GET", path, 200)
    call("GET", "/.well-known/jwks.json", 200)
    call("GET", "/metrics", 200)
    call("GET", "/metrics", 200, headers={"Accept": "application/openmetrics-text"})
    call("GET", "/api/openapi.json", 200)
    call("GET", "/api/docs", 200)
    call("GET", "/", 200)
    wrong = {"email": "nobody@example.com", "code": "123456"}
    call("POST", "/api/auth/otp/verify", 400, json=wrong)
    call("POST", "/api/auth/login/mfa", 401, json={"mfa_token": "nope", "code": "123456"})
    call("POST", "/api/auth/login/mfa/passkey-options", 401, json={"mfa_token": "nope"})


def test_rate_limited_and_unavailable_answers_are_documented(
    app: Flask, make_app: Callable[..., Flask]
) -> None:
    limited = Documented(
        make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_PER_ADDRESS="1 per minute").test_client()
    )
    credentials = {"email": "nobody@example.com", "password": PASSWORD}
    limited("POST", "/api/auth/login", 400, json=credentials)
    answer = limited("POST", "/api/auth/login", 429, json=credentials)
    assert int(answer.headers["Retry-After"]) > 0

    down = Documented(make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client())
    down("GET", "/api/health/ready", 503)
    _register(down, "frank@example.com")  # PostgreSQL only
    down("POST", "/api/auth/login", 503, json={**credentials, "email": "frank@example.com"})


def test_a_raised_service_unavailable_carries_retry_after(app: Flask) -> None:
    """As documented for every 503 (the dependency handlers set it too)."""
    with app.test_request_context():
        response = handle_api_error(ServiceUnavailable())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"


def test_error_examples_show_a_real_message_and_a_listed_code(client: FlaskClient) -> None:
    """Each error example is an answer the API can give: a listed ``code`` and a
    sentence as its message (the example once took the description's first quoted
    word: ``known_device``, ``OTP_SIGNUP``, ``errors.url``; found by the black-box
    audit)."""
    document = fetch_document(client)
    wrong = []
    for method, path, operation in operations(document):
        for status, answer in operation["responses"].items():
            example = answer.get("content", {}).get("application/json", {}).get("example")
            if not isinstance(example, dict) or "code" not in example:
                continue
            if example["code"] not in ERROR_CODES or " " not in example["message"]:
                wrong.append((method, path, status, example))
    assert wrong == []
