"""The Postman collection in docs/postman/ runs green with newman against a live server,
and names every route the app has, so it cannot rot."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
POSTMAN = ROOT / "docs" / "postman"
COLLECTION = POSTMAN / "authapi.postman_collection.json"
ENVIRONMENT = POSTMAN / "authapi.postman_environment.json"
NEWMAN = ROOT / "tests" / "node" / "newman" / "node_modules" / ".bin" / "newman"
ADMIN_EMAIL = "postman-admin@example.com"
ADMIN_PASSWORD = "postman admin password"

# Rules a Postman user never calls directly: the demo's and Swagger UI's static files.
NOT_IN_THE_COLLECTION = {
    "/demo/<path:filename>",
    "/api/docs/<path:filename>",
    "/static/<path:filename>",
}


def _requests(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        if "item" in item:
            found.extend(_requests(item["item"]))
        else:
            found.append(item["request"])
    return found


def _rule_pattern(rule: str) -> re.Pattern[str]:
    """``/api/users/<uuid:user_id>`` matches ``/api/users/{{targetUserId}}`` and the like."""
    parts = re.split(r"<[^>]+>", rule)
    return re.compile("^" + "[^/]+".join(re.escape(part) for part in parts) + "$")


def test_the_collection_calls_every_route_with_every_method(app: Flask) -> None:
    collection = json.loads(COLLECTION.read_text())
    assert collection["info"]["schema"].endswith("/v2.1.0/collection.json")
    calls = {
        (request["method"], "/" + "/".join(request["url"]["path"]))
        for request in _requests(collection["item"])
    }
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.rule in NOT_IN_THE_COLLECTION:
            continue
        pattern = _rule_pattern(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if not any(m == method and pattern.match(path) for m, path in calls):
                missing.append(f"{method} {rule.rule}")
    assert missing == [], f"add these to {COLLECTION.relative_to(ROOT)}: {missing}"


@pytest.mark.subprocess
@pytest.mark.live_server
def test_the_postman_collection_passes_with_newman(app, live_server, tmp_path):
    assert NEWMAN.exists(), "newman is not installed: run bash .ci/install-node-deps.sh"
    result = app.test_cli_runner().invoke(
        args=["users", "create-admin", ADMIN_EMAIL, "--password", ADMIN_PASSWORD]
    )
    assert result.exit_code == 0, result.output
    server = live_server(app)
    report = tmp_path / "newman.json"
    completed = subprocess.run(
        [
            str(NEWMAN), "run", str(COLLECTION), "--environment", str(ENVIRONMENT),
            "--env-var", f"baseUrl={server.url}",
            "--env-var", f"adminEmail={ADMIN_EMAIL}",
            "--env-var", f"adminPassword={ADMIN_PASSWORD}",
            "--reporters", "cli,json", "--reporter-json-export", str(report),
            "--color", "off", "--disable-unicode",
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-20000:] + completed.stderr[-5000:]
    run = json.loads(report.read_text())["run"]
    assert run["failures"] == []
    stats = run["stats"]
    assert stats["items"]["total"] == len(_requests(json.loads(COLLECTION.read_text())["item"]))
    assert stats["assertions"]["failed"] == 0
    assert stats["assertions"]["total"] >= 100  # the test scripts ran


def test_the_cookie_folder_checks_the_tutorial_contract() -> None:
    """The browser flow asserts what a tutorial front end relies on, not just statuses
    (found by the black-box audit: it never registered twice, and took any Set-Cookie
    naming the three cookies, flags and values aside, for a login or a logout)."""
    collection = json.loads(COLLECTION.read_text())
    folder = next(f for f in collection["item"] if f["name"] == "Cookie mode (browsers)")
    scripts = {
        item["name"]: "\n".join(
            line
            for event in item.get("event", [])
            if event["listen"] == "test"
            for line in event["script"]["exec"]
        )
        for item in folder["item"]
    }
    assert "User with that email already exists" in scripts["Register the same email again"]
    assert "HttpOnly" in scripts["Log in"] and "Domain" in scripts["Log in"]
    assert 'cookie("logged_in")' in scripts["Refresh (cookie, GET)"]
    assert "Max-Age=0" in scripts["Log out"] and r"\/api\/auth" in scripts["Log out"]
    assert "You are not logged in" in scripts["Me after logout"]
