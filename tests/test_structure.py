"""The code's structure, as behaviour: imports point one way and stay cheap, and the
caller is loaded into ``g`` by a before-request hook only for views that need one."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g

from authapi import keys
from authapi.configuration import KEY_NAMES
from authapi.errors import (
    CODE_BY_STATUS,
    APIError,
    Forbidden,
    Unauthorized,
    ValidationFailed,
)
from authapi.openapi.components import ERROR_CODES
from tests.helpers import PASSWORD, TOKEN_MODE, bearer, login, register

ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_ONLY = ("fakeredis", "lupa")
JSON = "application/json"
BAD_BEARER = {"Authorization": "Bearer not.a.token"}


def _loaded_after(code: str) -> set[str]:
    """The top-level packages and authapi modules a fresh interpreter has after ``code``."""
    script = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.mark.subprocess
@pytest.mark.parametrize(
    "module",
    ["authapi.ratelimits", "authapi.auth.guard", "authapi.accounts.routes", "authapi.errors"],
)
def test_a_module_imports_alone_without_loading_the_blueprints(module):
    """The old cycle ratelimits -> auth -> auth.routes -> accounts -> ... -> ratelimits
    only worked in one import order; now any module imports first."""
    loaded = _loaded_after(f"import {module}")
    unrelated = {"authapi.admin.routes", "authapi.openapi", "authapi.cli"} - {module}
    assert loaded & unrelated == set()
    assert not any(name.split(".")[0] in EMBEDDED_ONLY for name in loaded)


@pytest.mark.subprocess
def test_the_embedded_redis_is_imported_only_when_used(base_config):
    config = repr({**base_config, "APP_ENV": "testing"})
    with_redis = _loaded_after(f"from authapi import create_app\ncreate_app({config})")
    assert "authapi.auth.routes" in with_redis  # the whole app was built
    assert not any(name.split(".")[0] in EMBEDDED_ONLY for name in with_redis)
    memory = repr({**base_config, "APP_ENV": "testing", "REDIS_URL": "memory://"})
    embedded = _loaded_after(f"from authapi import create_app\ncreate_app({memory})")
    assert "fakeredis" in embedded


def test_the_hook_puts_the_caller_in_g(app: Flask):
    client = app.test_client()
    register(client)
    token = login(client)
    with client:
        response = client.get("/api/users/me", headers=bearer(token))
        assert response.status_code == 200
        assert g.current_user.data["email"] == "alice@example.com"
        assert g.current_user.id == response.json["data"]["user"]["id"]


def test_routes_that_need_no_user_pay_nothing(app: Flask, make_app: Callable[..., Flask]):
    """With Redis down, a valid token on a public route is never checked (no 503)."""
    client = app.test_client()
    register(client)
    caller = bearer(login(client))
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    with down:
        assert down.get("/api/healthChecker", headers=caller).status_code == 200
        assert "current_user" not in g
    assert down.get("/api/users/me", headers=caller).status_code == 503
    # A broken token on a public route is not an error either.
    garbage = {"Authorization": "Bearer not.a.token"}
    assert app.test_client().get("/api/health/live", headers=garbage).status_code == 200


# --- Errors: the hierarchy alone in errors.py, a stable code in every envelope ---


def test_errors_module_holds_only_the_hierarchy():
    tree = ast.parse((ROOT / "authapi" / "errors.py").read_text())
    imported = {
        alias.name.split(".")[0]
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])
    }
    assert imported <= {"__future__", "typing"}, imported


def test_api_error_codes_stay_backward_compatible():
    assert APIError("Nope").code == "bad_request"
    assert APIError("Nope", status_code=415).code == "unsupported_media_type"
    assert APIError("Nope", code="mfa_required").code == "mfa_required"
    assert Unauthorized().code == "not_logged_in"
    assert Unauthorized("Gone", code="session_ended").code == "session_ended"
    assert ValidationFailed(status_code=422).code == "validation_failed"  # the class's own

    class Custom(Forbidden):
        code = "custom_reason"

    assert Custom().code == "custom_reason" and Custom().status_code == 403


def test_every_code_raised_is_documented():
    """A new ``code="..."`` needs its line in authapi/openapi/components.py ERROR_CODES."""
    raised = set(CODE_BY_STATUS.values())
    for path in (ROOT / "authapi").rglob("*.py"):
        raised |= set(re.findall(r'\bcode\s*=\s*"([a-z][a-z0-9_]*)"', path.read_text()))
    assert raised - set(ERROR_CODES) == set(), "add these to components.ERROR_CODES"


def _code(response: Any, status: int) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == ("fail" if status < 500 else "error") and body["message"]
    return body["code"]


def test_every_error_answers_with_its_code(app: Flask, make_app: Callable[..., Flask]):
    client = app.test_client(use_cookies=False)
    assert _code(client.get("/api/users/me"), 401) == "not_logged_in"
    assert _code(client.get("/api/users/me", headers=BAD_BEARER), 401) == "invalid_token"
    assert _code(client.post("/api/auth/refresh", json={"refresh_token": "x"}), 403) == (
        "refresh_failed"
    )
    assert _code(client.post("/api/auth/register", json={}), 400) == "validation_failed"
    assert _code(client.post("/api/auth/register", data="{", content_type=JSON), 400) == (
        "malformed_json"
    )
    assert _code(client.post("/api/auth/register", data="a=b"), 415) == "unsupported_media_type"
    assert _code(client.get("/nowhere"), 404) == "not_found"
    assert _code(client.put("/api/auth/login"), 405) == "method_not_allowed"
    register(client)
    wrong = {"email": "alice@example.com", "password": "not the password"}
    assert _code(client.post("/api/auth/login", json=wrong), 400) == "invalid_credentials"
    pair = client.post(
        "/api/auth/login", json={**wrong, "password": PASSWORD}, headers=TOKEN_MODE
    ).json
    caller = bearer(pair["access_token"])
    assert client.get("/api/auth/logout", headers=caller).status_code == 200
    assert _code(client.get("/api/users/me", headers=caller), 401) == "session_ended"

    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN_PER_ADDRESS="1 per minute")
    limited_client = limited.test_client()
    limited_client.post("/api/auth/login", json=wrong)
    assert _code(limited_client.post("/api/auth/login", json=wrong), 429) == "rate_limited"

    down = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    assert _code(down.get("/api/users/me", headers=caller), 503) == "service_unavailable"


# --- The CLI goes through the services and the one key-pair writer ---


def test_keys_rotate_works_with_the_development_keys(make_app, tmp_path):
    no_keys = {name: "" for name in KEY_NAMES}
    dev = make_app(**no_keys, DEV_KEYS_DIR=str(tmp_path / "dev"))
    result = dev.test_cli_runner().invoke(args=["keys", "rotate", "--out", str(tmp_path / "new")])
    assert result.exit_code == 0, result.output
    values = dict(
        line.split("=", 1) for line in result.output.splitlines() if not line.startswith("#")
    )
    for kind in ("access", "refresh"):
        prefix = f"{kind.upper()}_TOKEN"
        current = (tmp_path / "dev" / f"{kind}_public.pem").read_bytes()
        assert values[f"{prefix}_PREVIOUS_PUBLIC_KEYS"] == keys.env_value(current)
        ring = keys.build_key_ring(
            values[f"{prefix}_PRIVATE_KEY"],
            values[f"{prefix}_PUBLIC_KEY"],
            values[f"{prefix}_PREVIOUS_PUBLIC_KEYS"],
            prefix,
        )
        assert len(ring.verifying_keys) == 2
        written = tmp_path / "new" / f"{kind}_private.pem"
        assert keys.env_value(written.read_bytes()) == values[f"{prefix}_PRIVATE_KEY"]
        assert oct(written.stat().st_mode & 0o777) == "0o600"
    dev_private = tmp_path / "dev" / "access_private.pem"
    assert oct(dev_private.stat().st_mode & 0o777) == "0o600"  # the same writer


def test_create_admin_uses_the_registration_and_promotion_rules(app, client):
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["users", "create-admin", "Root@Example.com", "--password", PASSWORD]
    )
    assert created.exit_code == 0, created.output
    register(client, email="carol@example.com")
    carol = bearer(login(client, email="carol@example.com"))
    assert client.get("/api/users/me", headers=carol).json["data"]["user"]["role"] == "user"
    promoted = runner.invoke(args=["users", "create-admin", "carol@example.com"])
    assert promoted.exit_code == 0, promoted.output
    # The cached copy of the user is dropped, as the admin API does.
    assert client.get("/api/users/me", headers=carol).json["data"]["user"]["role"] == "admin"


def test_a_cors_preflight_of_a_protected_route_needs_no_token(client):
    """Browsers send preflights without credentials; the view (and the hook) never run."""
    for path, method in (("/api/users/me", "GET"), ("/api/users/me/password", "PATCH")):
        with client:
            response = client.options(
                path,
                headers={
                    "Origin": "http://localhost:3000",
                    "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": "authorization, content-type",
                },
            )
            assert "current_user" not in g
        assert response.status_code == 204, path
        assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_the_decorators_load_the_caller_themselves_without_the_hook(make_app):
    """A view whose hook did not run (an app that lacks it) is still protected."""
    from authapi.auth.guard import load_current_user

    bare = make_app()
    hooks = bare.before_request_funcs[None]
    hooks.remove(load_current_user)
    client = bare.test_client(use_cookies=False)
    register(client)
    caller = bearer(login(client))
    assert _code(client.get("/api/users/me"), 401) == "not_logged_in"
    me = client.get("/api/users/me", headers=caller)
    assert me.status_code == 200 and me.json["data"]["user"]["email"] == "alice@example.com"
    assert _code(client.get("/api/users", headers=caller), 403) == "admins_only"


def test_every_test_module_that_drives_a_browser_is_marked_browser():
    """`make test-fast` (and any run with `-m "not browser"`) leaves the browser tests out
    by their marker. test_browser_security.py used the Chromium fixture unmarked: on a
    machine without Chromium the fast run failed there."""
    unmarked = [
        path.name
        for path in sorted((ROOT / "tests").glob("test_*.py"))
        if "LazyBrowser" in (source := path.read_text()) and "pytest.mark.browser" not in source
    ]
    assert not unmarked
