"""Logs, request ids, Prometheus metrics, health probes and the CLI's help (issue 5,
items 4 to 6), through the real HTTP stack and the real CLI runner.

Prometheus counters are process-wide and shared by every app the tests build, so the
metric tests compare values before and after, never absolute values.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from prometheus_client.parser import text_string_to_metric_families

from authapi import create_app
from authapi.configuration import ConfigurationError
from authapi.logging_setup import JsonFormatter, StderrHandler, TextFormatter
from config import settings_from_env
from tests.helpers import (
    PASSWORD,
    TOKEN_MODE,
    assert_fail,
    bearer,
    login,
    refresh_by_body,
    register,
    rotate_and_use,
    token_login,
)

ROOT = Path(__file__).resolve().parent.parent
GENERATED_ID = re.compile(r"[0-9a-f]{16}")
CLIENT = "203.0.113.7"
AT_CLIENT = {"environ_base": {"REMOTE_ADDR": CLIENT}}
WRONG_PASSWORD = "not the password at all"


def access_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "authapi.access"]


def event_records(caplog, event: str) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "authapi.events" and record.fields["event"] == event
    ]


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.INFO, logger="authapi")
    return caplog


@pytest.fixture
def restore_log_format():
    """Apps built in production mode switch the shared handler to JSON: switch it back."""
    handler = next(h for h in logging.getLogger("authapi").handlers if isinstance(h, StderrHandler))
    formatter = handler.formatter
    yield
    handler.setFormatter(formatter)


# --- request ids ---------------------------------------------------------------------


def test_a_request_id_is_generated_and_returned(client):
    first = client.get("/api/healthChecker").headers["X-Request-ID"]
    second = client.get("/api/healthChecker").headers["X-Request-ID"]
    assert GENERATED_ID.fullmatch(first) and GENERATED_ID.fullmatch(second)
    assert first != second


@pytest.mark.parametrize("incoming", ["abc-123.DEF_4", "0" * 64, "f47ac10b-58cc-4372-a567"])
def test_a_safe_incoming_request_id_is_echoed(client, incoming):
    response = client.get("/api/healthChecker", headers={"X-Request-ID": incoming})
    assert response.headers["X-Request-ID"] == incoming


@pytest.mark.parametrize(
    "hostile",
    ["", "a" * 65, "two words", "<script>", "id;rm", "caf\u00e9", "x\ty", "../../etc", "a=b"],
)
def test_a_hostile_request_id_is_replaced(client, hostile, logs):
    response = client.get("/api/healthChecker", headers={"X-Request-ID": hostile})
    replaced = response.headers["X-Request-ID"]
    assert GENERATED_ID.fullmatch(replaced) and replaced != hostile
    (line,) = access_records(logs)
    assert line.fields["request_id"] == replaced


def test_error_responses_carry_the_request_id_too(client, make_app):
    def check(response, status):
        assert_fail(response, status)
        assert GENERATED_ID.fullmatch(response.headers["X-Request-ID"])

    check(client.get("/no/such/route"), 404)
    check(client.delete("/api/healthChecker"), 405)
    check(client.post("/api/auth/login", data="x", content_type="text/plain"), 415)
    check(client.get("/api/users/me"), 401)
    check(make_app(REDIS_URL="redis://127.0.0.1:1/15").test_client().get("/api/health/ready"), 503)

    broken = make_app()

    @broken.get("/boom")
    def boom():
        raise RuntimeError("boom")

    response = broken.test_client().get("/boom", headers={"X-Request-ID": "trace-500"})
    assert_fail(response, 500)
    assert response.headers["X-Request-ID"] == "trace-500"


def test_every_line_logged_in_a_request_carries_its_id(make_app, logs, capsys):
    broken = make_app()

    @broken.get("/boom")
    def boom():
        raise RuntimeError("boom")

    capsys.readouterr()
    broken.test_client().get("/boom", headers={"X-Request-ID": "trace-me"})
    stderr = capsys.readouterr().err
    (error_line,) = [line for line in stderr.splitlines() if " ERROR authapi.errors: " in line]
    assert error_line.endswith("request_id=trace-me")
    assert "RuntimeError: boom" in stderr  # the traceback follows the line
    (line,) = access_records(logs)
    assert line.fields["status"] == 500 and line.fields["route"] == "/boom"


# --- the access log ------------------------------------------------------------------


def test_one_access_line_per_request_with_its_fields(client, logs):
    user = register(client)
    token = login(client)
    logs.clear()
    response = client.get("/api/users/me?access_token=in-the-query", headers=bearer(token))
    assert response.status_code == 200
    (line,) = access_records(logs)
    assert line.fields == {
        "request_id": response.headers["X-Request-ID"],
        "method": "GET",
        "path": "/api/users/me",
        "route": "/api/users/me",
        "status": 200,
        "duration_ms": line.fields["duration_ms"],
        "client_ip": "127.0.0.1",
        "user_id": user["id"],
    }
    assert isinstance(line.fields["duration_ms"], float) and line.fields["duration_ms"] >= 0
    assert line.levelno == logging.INFO
    assert line.getMessage().startswith("GET /api/users/me 200 ")
    # An operator's handler (Sentry, a log shipper) groups records by their template.
    assert (line.msg, line.args) == (
        "%s %s %s %sms",
        ("GET", "/api/users/me", 200, line.fields["duration_ms"]),
    )
    assert "in-the-query" not in line.getMessage() + JsonFormatter().format(line)


def test_access_lines_name_the_route_rule_and_the_logged_in_user(client, logs):
    user = register(client)
    login_response = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}, **AT_CLIENT
    )
    assert login_response.status_code == 200
    client.delete("/api/auth/sessions/0123456789abcdef")
    client.get("/not/here")
    client.get("/api/healthChecker")
    register_line, login_line, session_line, missing_line, anonymous_line = access_records(logs)
    assert register_line.fields["user_id"] is None  # registering is not logging in
    assert login_line.fields["user_id"] == user["id"]
    assert login_line.fields["client_ip"] == CLIENT
    assert session_line.fields["route"] == "/api/auth/sessions/<session_id>"
    assert session_line.fields["path"] == "/api/auth/sessions/0123456789abcdef"
    assert (missing_line.fields["route"], missing_line.fields["status"]) == ("unmatched", 404)
    assert anonymous_line.fields["user_id"] is None


def test_url_variables_named_like_credentials_are_redacted(make_app, logs):
    variant = make_app()

    @variant.get("/probe/verifyemail/<verification_code>")
    def verify(verification_code):
        return {"status": "success"}

    @variant.patch("/probe/resetpassword/<token>")
    def reset(token):
        return {"status": "success"}

    client = variant.test_client()
    client.get("/probe/verifyemail/s3cr3t-code-value")
    client.patch("/probe/resetpassword/s3cr3t-reset-token")
    client.get("/probe/resetpassword/s3cr3t-reset-token")  # 405: still redacted
    verify_line, reset_line, wrong_method_line = access_records(logs)
    assert verify_line.fields["path"] == "/probe/verifyemail/[redacted]"
    assert reset_line.fields["path"] == "/probe/resetpassword/[redacted]"
    assert wrong_method_line.fields["path"] == "/probe/resetpassword/[redacted]"
    assert wrong_method_line.fields["status"] == 405
    for line in (verify_line, reset_line, wrong_method_line):
        assert "s3cr3t" not in line.getMessage() + TextFormatter().format(line)


def test_production_logs_are_json_lines(make_app, capsys, restore_log_format):
    app = make_app(APP_ENV="production", COOKIE_SECURE=True)
    client = app.test_client()
    capsys.readouterr()
    response = client.get("/api/healthChecker?x=1", headers={"X-Request-ID": "prod-1"})
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    (access,) = [entry for entry in entries if entry["logger"] == "authapi.access"]
    assert access["request_id"] == response.headers["X-Request-ID"] == "prod-1"
    assert access["level"] == "INFO"
    assert access["path"] == "/api/healthChecker"
    assert access["route"] == "/api/healthChecker"
    assert access["status"] == 200
    assert access["method"] == "GET"
    assert access["client_ip"] == "127.0.0.1"
    assert access["user_id"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", access["ts"])


def test_development_logs_are_readable_text_that_cannot_be_forged(make_app, capsys):
    client = make_app(APP_ENV="development").test_client()
    capsys.readouterr()
    client.get("/api/healthChecker")
    client.get("/nope%0A2030-01-01T00:00:00.000Z%20INFO%20forged")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2  # the encoded newline did not start a line of its own
    assert re.match(r"\S+Z INFO authapi.access: GET /api/healthChecker 200 [\d.]+ms ", lines[0])
    assert "route=/api/healthChecker status=200" in lines[0]
    assert "route=unmatched" in lines[1] and "\\n" in lines[1]


def test_log_settings_come_from_the_environment_and_are_checked(base_config):
    assert settings_from_env({"LOG_LEVEL": "debug", "LOG_FORMAT": "JSON"}) == {
        "LOG_LEVEL": "DEBUG",
        "LOG_FORMAT": "json",
    }
    assert settings_from_env({"METRICS_ENABLED": "false"}) == {"METRICS_ENABLED": False}
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        settings_from_env({"LOG_FORMAT": "xml"})
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        settings_from_env({"LOG_LEVEL": "loud"})
    with pytest.raises(ConfigurationError, match="LOG_FORMAT"):
        create_app({**base_config, "LOG_FORMAT": "xml"})


def test_the_log_level_setting_applies_to_the_authapi_logger(make_app, restore_log_format):
    logger = logging.getLogger("authapi")
    try:
        make_app(LOG_LEVEL="WARNING")
        assert logger.level == logging.WARNING
    finally:
        make_app()  # back to the default for the other tests
    assert logger.level == logging.INFO
    assert sum(isinstance(h, StderrHandler) for h in logger.handlers) == 1


# --- never a secret in the logs ------------------------------------------------------


def test_login_refresh_logout_never_log_a_token_password_or_cookie(make_app, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="authapi")
    app = make_app(REFRESH_REUSE_INTERVAL=0)
    client = app.test_client()
    register(client)
    secrets_seen: list[str] = [PASSWORD, WRONG_PASSWORD]

    client.post("/api/auth/login", json={"email": "alice@example.com", "password": WRONG_PASSWORD})
    cookie_login = client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )
    secrets_seen.append(cookie_login.json["access_token"])
    secrets_seen.append(client.get_cookie("refresh_token", path="/api/auth").value)
    client.get("/api/users/me")
    client.get("/api/auth/refresh")
    secrets_seen.append(client.get_cookie("access_token").value)
    secrets_seen.append(client.get_cookie("refresh_token", path="/api/auth").value)

    body = token_login(client)
    secrets_seen += [body["access_token"], body["refresh_token"]]
    rotated = rotate_and_use(client, body["refresh_token"])
    secrets_seen += [rotated["access_token"], rotated["refresh_token"]]
    refresh_by_body(client, body["refresh_token"])  # reuse: the session is revoked
    client.get(f"/api/users/me?access_token={rotated['access_token']}")
    new_password = "a brand new password"
    changed = client.patch(
        "/api/users/me/password",
        json={
            "currentPassword": PASSWORD,
            "password": new_password,
            "passwordConfirm": new_password,
        },
    )
    assert changed.status_code == 200, changed.json
    secrets_seen.append(new_password)
    client.get("/api/auth/logout")
    client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": "a" * 80},  # too long, not logged
    )
    secrets_seen.append("a" * 80)

    records = caplog.records
    assert len(access_records(caplog)) >= 12 and event_records(caplog, "login_succeeded")
    rendered = "\n".join(
        part
        for record in records
        for part in (
            record.getMessage(),
            JsonFormatter().format(record),
            TextFormatter().format(record),
        )
    )
    rendered += capsys.readouterr().err
    for secret in secrets_seen:
        assert len(secret) >= 8
        assert secret not in rendered
    # JWTs start with a base64 JSON header: none in our own lines, whatever the token.
    ours = [r for r in records if r.name.startswith("authapi")]
    assert not any("eyJ" in JsonFormatter().format(record) for record in ours)


# --- auth events ---------------------------------------------------------------------


def test_a_refresh_says_whether_it_rotated_answered_a_concurrent_one_or_recovered(
    app, make_app, logs
):
    """Which rule answered each refresh (docs/sessions.md): a lost answer's recovery is
    rare and worth seeing apart from the rotations and the concurrent tabs' grace."""
    client = app.test_client()
    register(client)
    first = token_login(client)["refresh_token"]
    assert refresh_by_body(client, first).status_code == 200  # rotated; answer "lost"
    assert refresh_by_body(client, first).status_code == 200  # within the grace window
    later = make_app(CLOCK_OFFSET=600).test_client()
    assert refresh_by_body(later, first).status_code == 200  # the lost answer, recovered
    outcomes = [record.fields["outcome"] for record in event_records(logs, "token_refreshed")]
    assert outcomes == ["rotated", "grace", "recovered"]


def test_auth_events_are_logged_with_user_id_and_client_address(make_app, logs):
    app = make_app(REFRESH_REUSE_INTERVAL=0)
    client = app.test_client()
    user_id = register(client)["id"]

    client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": WRONG_PASSWORD},
        **AT_CLIENT,
    )
    client.post(
        "/api/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}, **AT_CLIENT
    )
    first = client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers=TOKEN_MODE,
        **AT_CLIENT,
    ).json
    second = rotate_and_use(client, first["refresh_token"], **AT_CLIENT)
    refresh_by_body(client, first["refresh_token"], **AT_CLIENT)  # reuse, session revoked
    token = client.post(
        "/api/auth/login",
        json={"email": "alice@example.com", "password": PASSWORD},
        headers=TOKEN_MODE,
        **AT_CLIENT,
    ).json["access_token"]
    client.patch(
        "/api/users/me/password",
        json={
            "currentPassword": PASSWORD,
            "password": "a new password 2",
            "passwordConfirm": "a new password 2",
        },
        headers=bearer(token),
        **AT_CLIENT,
    )
    client.get("/api/auth/logout?scope=global", headers=bearer(token), **AT_CLIENT)
    assert second["refresh_token"]

    known_failure, unknown_failure = event_records(logs, "login_failed")
    assert known_failure.fields["user_id"] == user_id
    assert unknown_failure.fields["user_id"] is None
    for record in (known_failure, unknown_failure):
        assert record.levelno == logging.WARNING
        assert record.fields["client_ip"] == CLIENT

    expected = {
        "login_succeeded": logging.INFO,
        "token_refreshed": logging.INFO,
        "refresh_reuse_detected": logging.WARNING,
        "password_changed": logging.INFO,
        "logged_out": logging.INFO,
    }
    for event, level in expected.items():
        records = event_records(logs, event)
        assert records, event
        for record in records:
            assert record.levelno == level, event
            assert record.fields["user_id"] == user_id, event
            assert record.fields["client_ip"] == CLIENT, event
            assert GENERATED_ID.fullmatch(record.fields["request_id"]), event
    (logout,) = event_records(logs, "logged_out")
    assert logout.fields["scope"] == "global"
    [refreshed] = event_records(logs, "token_refreshed")
    assert (refreshed.fields["generation"], refreshed.fields["outcome"]) == (1, "rotated")
    (registered,) = event_records(logs, "user_registered")
    assert registered.fields["user_id"] == user_id


def test_event_lines_outside_a_request_have_no_address(app, client, logs):
    register(client)
    result = app.test_cli_runner().invoke(args=["users", "delete", "alice@example.com", "--yes"])
    assert result.exit_code == 0, result.output
    (deleted,) = event_records(logs, "user_deleted")
    assert "client_ip" not in deleted.fields and deleted.fields["user_id"]


# --- metrics -------------------------------------------------------------------------


def scrape(client) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    samples: dict[tuple[str, frozenset], float] = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_are_prometheus_text_with_the_route_label(client):
    register(client)
    client.delete("/api/auth/sessions/abc")  # 401: no token
    client.get("/no/such/route?secret=1")
    client.open("/api/healthChecker", method="BREW")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert "version=0.0.4" in response.headers["Content-Type"]
    assert response.headers["X-Request-ID"]
    samples = scrape(client)
    duration = "authapi_http_request_duration_seconds_count"
    assert value(samples, duration, method="POST", route="/api/auth/register", status="201") >= 1
    session_route = "/api/auth/sessions/<session_id>"
    assert value(samples, duration, method="DELETE", route=session_route, status="401") >= 1
    assert value(samples, duration, method="GET", route="unmatched", status="404") >= 1
    assert value(samples, duration, method="other", route="unmatched", status="405") >= 1
    bucket = "authapi_http_request_duration_seconds_bucket"
    assert value(samples, bucket, method="GET", route="/metrics", status="200", le="+Inf") >= 1
    routes = {dict(labels).get("route") for name, labels in samples if name == duration}
    # No path parameter or query string in a label (a route rule may say "secret":
    # /api/webhooks/<uuid:webhook_id>/rotate-secret).
    assert not any(route and ("abc" in route or "secret=" in route) for route in routes)


def test_the_scraper_can_ask_for_openmetrics(client):
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).rstrip().endswith("# EOF")


def test_auth_counters_move_with_logins_refreshes_reuse_and_logouts(make_app):
    app = make_app(REFRESH_REUSE_INTERVAL=0)
    client = app.test_client()
    register(client)
    before = scrape(client)

    client.post("/api/auth/login", json={"email": "alice@example.com", "password": "wrong one!"})
    first = token_login(client)
    rotate_and_use(client, first["refresh_token"])
    refresh_by_body(client, first["refresh_token"])  # reused after the (zero) grace window
    token = token_login(client)["access_token"]
    second = token_login(client)["access_token"]
    client.get("/api/auth/logout", headers=bearer(token))
    client.get("/api/auth/logout?scope=global", headers=bearer(second))

    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("authapi_logins_total", outcome="success") == 3
    assert delta("authapi_logins_total", outcome="failure") == 1
    assert delta("authapi_token_refreshes_total") == 1
    assert delta("authapi_refresh_reuse_detected_total") == 1
    assert delta("authapi_logouts_total", scope="local") == 1
    assert delta("authapi_logouts_total", scope="global") == 1
    assert delta("authapi_logouts_total", scope="others") == 0


def test_metrics_can_be_turned_off(make_app):
    client = make_app(METRICS_ENABLED=False).test_client()
    assert_fail(client.get("/metrics"), 404)


def test_a_multiprocess_dir_that_does_not_exist_is_refused(base_config, monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="PROMETHEUS_MULTIPROC_DIR"):
        create_app(base_config)


WORKER = """
import json, sys
from authapi import create_app

app = create_app(json.loads(sys.stdin.read()))
client = app.test_client()
for _ in range(int(sys.argv[1])):
    assert client.get("/api/health/live").status_code == 200
if sys.argv[2] == "scrape":
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
"""


@pytest.mark.subprocess
def test_multiprocess_mode_adds_up_every_worker(base_config, tmp_path):
    """Like gunicorn's workers: separate processes share PROMETHEUS_MULTIPROC_DIR and any
    one of them answers /metrics with the sum."""
    environ = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    config = json.dumps(base_config)

    def worker(requests: int, action: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", WORKER, str(requests), action],
            input=config,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=environ,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    worker(3, "none")
    worker(2, "none")
    text = worker(1, "scrape")
    counts = {
        sample.labels["route"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "authapi_http_request_duration_seconds_count"
    }
    assert counts["/api/health/live"] == 6
    assert len(list(tmp_path.glob("*.db"))) >= 3


# --- health --------------------------------------------------------------------------


def test_health_live_and_ready(client):
    live = client.get("/api/health/live")
    assert live.status_code == 200
    assert live.json == {"status": "success", "message": "alive"}
    ready = client.get("/api/health/ready")
    assert ready.status_code == 200
    assert ready.json["status"] == "success"
    assert ready.json["checks"] == {"database": "ok", "redis": "ok"}
    assert client.get("/api/healthChecker").json["status"] == "success"


@pytest.mark.parametrize(
    "dead",
    [
        {"REDIS_URL": "redis://127.0.0.1:1/15"},
        {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://postgres@127.0.0.1:1/authapi_test"},
    ],
    ids=["redis-down", "postgresql-down"],
)
def test_ready_is_503_json_when_a_dependency_is_down_and_live_stays_up(make_app, dead):
    client = make_app(**dead).test_client()
    response = client.get("/api/health/ready")
    assert_fail(response, 503, "Service temporarily unavailable, please retry shortly")
    assert response.headers["Retry-After"]
    assert client.get("/api/health/live").status_code == 200


# --- the command line ----------------------------------------------------------------


def _authapi_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    """(path, command) for every command authapi defines (not Flask's or plugins')."""
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        if isinstance(command, click.Group):
            if command.callback is None or command.callback.__module__.startswith("authapi"):
                yield from _authapi_commands(command, path)
        elif command.callback.__module__.startswith("authapi"):
            yield path, command


def test_flask_help_lists_the_command_groups_with_their_help(app):
    runner = app.test_cli_runner()
    output = runner.invoke(args=["--help"]).output
    for name, text in {
        "deploy": "Create the database if missing and migrate it.",
        "keys": "Generate and rotate the RSA keys that sign tokens.",
        "users": "Manage user accounts.",
        "db": "Perform database migrations.",
    }.items():
        assert re.search(rf"^  {name}\s+{re.escape(text)}$", output, re.MULTILINE), output
    keys_help = runner.invoke(args=["keys", "--help"]).output
    assert re.search(r"^  generate\s+Print the four key variables", keys_help, re.MULTILINE)
    assert re.search(r"^  rotate\s+Print new keys; the current", keys_help, re.MULTILINE)
    users_help = runner.invoke(args=["users", "--help"]).output
    assert re.search(r"^  create-admin\s+Create an admin", users_help, re.MULTILINE)
    assert re.search(r"^  delete\s+Delete a user", users_help, re.MULTILINE)


def test_every_command_and_option_has_help_text(app):
    runner = app.test_cli_runner()
    commands = list(_authapi_commands(app.cli))
    assert {path for path, _ in commands} >= {
        ("deploy",),
        ("keys", "generate"),
        ("keys", "rotate"),
        ("users", "create-admin"),
        ("users", "delete"),
    }
    for path, command in commands:
        assert command.get_short_help_str(limit=80).strip(), path
        # `flask --help` has room for about 60 characters; a longer first sentence is cut.
        assert not command.get_short_help_str(limit=60).endswith("..."), path
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"
        result = runner.invoke(args=[*path, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, path


def test_every_command_is_invoked_by_some_test(app):
    """Item 6: each authapi command has a test running it through app.test_cli_runner()."""
    sources = "\n".join(path.read_text() for path in (ROOT / "tests").glob("test_*.py"))
    for path, _ in _authapi_commands(app.cli):
        invocation = "[" + ", ".join(f'"{part}"' for part in path)
        assert invocation in sources, f"no test invokes `flask {' '.join(path)}`"


def test_users_delete_asks_for_confirmation(app, client):
    register(client)
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["users", "delete", "alice@example.com"], input="n\n")
    assert refused.exit_code != 0 and "Aborted" in refused.output
    assert login(client)
    accepted = runner.invoke(args=["users", "delete", "alice@example.com"], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Deleted alice@example.com" in accepted.output


def test_keys_generate_refuses_small_keys(app):
    result = app.test_cli_runner().invoke(args=["keys", "generate", "--bits", "1024"])
    assert result.exit_code != 0 and "1024" in result.output
