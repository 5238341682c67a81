"""The code's structure, as behaviour: imports point one way and stay cheap, and the
caller is loaded into ``g`` by a before-request hook only for views that need one."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask, g

from tests.helpers import login, register

ROOT = Path(__file__).resolve().parent.parent
EMBEDDED_ONLY = ("fakeredis", "lupa")


def _loaded_after(code: str) -> set[str]:
    """The top-level packages and authapi modules a fresh interpreter has after ``code``."""
    script = f"import sys\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


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
        response = client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert g.current_user.data["email"] == "alice@example.com"
        assert g.current_user.id == response.json["data"]["user"]["id"]


def test_routes_that_need_no_user_pay_nothing(app: Flask, make_app: Callable[..., Flask]):
    """With Redis down, a valid token on a public route is never checked (no 503)."""
    client = app.test_client()
    register(client)
    bearer = {"Authorization": f"Bearer {login(client)}"}
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    with down:
        assert down.get("/api/healthChecker", headers=bearer).status_code == 200
        assert "current_user" not in g
    assert down.get("/api/users/me", headers=bearer).status_code == 503
    # A broken token on a public route is not an error either.
    garbage = {"Authorization": "Bearer not.a.token"}
    assert app.test_client().get("/api/health/live", headers=garbage).status_code == 200
