"""Second factors: the migration, the settings, key rotation and `flask keys mfa`."""

from __future__ import annotations

import base64
import os
import time

import pytest
from flask_migrate import upgrade

from authapi import create_app, embedded
from authapi.configuration import ConfigurationError
from authapi.extensions import db
from authapi.mfa import crypto
from tests.helpers import login, register, table_names
from tests.support.mfa import code_at, enrol_totp, frozen_now, mfa_token

MFA_TABLES = {"mfa_totp", "mfa_recovery_codes"}


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_the_migration_adds_and_removes_the_mfa_tables(scratch_app):
    runner = scratch_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert table_names(scratch_app) >= MFA_TABLES
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0, check.output
    down = runner.invoke(args=["db", "downgrade", "0002"])
    assert down.exit_code == 0, down.output
    assert not MFA_TABLES & table_names(scratch_app)
    assert {"users", "auth_events"} <= table_names(scratch_app)
    again = runner.invoke(args=["db", "upgrade"])
    assert again.exit_code == 0, again.output
    assert table_names(scratch_app) >= MFA_TABLES


def test_production_needs_a_valid_mfa_key(base_config):
    production = {**base_config, "APP_ENV": "production", "COOKIE_SECURE": True}
    with pytest.raises(ConfigurationError, match="MFA_ENCRYPTION_KEY"):
        create_app({**production, "MFA_ENCRYPTION_KEY": ""})
    with pytest.raises(ConfigurationError, match="32 bytes"):
        create_app({**production, "MFA_ENCRYPTION_KEY": base64.b64encode(b"short").decode()})
    with pytest.raises(ConfigurationError, match="base64"):
        create_app({**production, "MFA_ENCRYPTION_KEY": "not base64 at all!"})
    with pytest.raises(ConfigurationError, match="CLOCK_FROZEN_AT"):
        create_app({**production, "CLOCK_FROZEN_AT": 1_000_000.0})
    with pytest.raises(ConfigurationError, match="MFA_TOKEN_MAX_ATTEMPTS"):
        create_app({**base_config, "MFA_TOKEN_MAX_ATTEMPTS": 0})


def test_a_rotated_key_keeps_old_secrets_and_codes_working(make_app, base_config):
    old_key = base_config["MFA_ENCRYPTION_KEY"]
    now = (int(time.time()) // 30) * 30 + 5
    before = make_app(CLOCK_FROZEN_AT=now)
    client = before.test_client()
    register(client)
    secret, codes = enrol_totp(client, before, login(client))
    rotated = make_app(
        CLOCK_FROZEN_AT=frozen_now(before),
        MFA_ENCRYPTION_KEY=new_key(),
        MFA_ENCRYPTION_PREVIOUS_KEYS=old_key,
    )
    after = rotated.test_client()
    code = code_at(secret, frozen_now(rotated))
    done = after.post("/api/auth/login/mfa", json={"mfa_token": mfa_token(after), "code": code})
    assert done.status_code == 200
    recovered = after.post(
        "/api/auth/login/mfa", json={"mfa_token": mfa_token(after), "recovery_code": codes[0]}
    )
    assert recovered.status_code == 200
    # Without the old key the secret cannot be opened: the code is simply wrong, never a 500.
    lost = make_app(CLOCK_FROZEN_AT=frozen_now(before) + 30, MFA_ENCRYPTION_KEY=new_key())
    lost_client = lost.test_client()
    response = lost_client.post(
        "/api/auth/login/mfa",
        json={"mfa_token": mfa_token(lost_client), "code": code_at(secret, frozen_now(lost))},
    )
    assert response.status_code == 400


def test_keys_mfa_prints_a_usable_key(app):
    result = app.test_cli_runner().invoke(args=["keys", "mfa"])
    assert result.exit_code == 0, result.output
    values = dict(
        line.split("=", 1) for line in result.output.splitlines() if not line.startswith("#")
    )
    assert set(values) == {"MFA_ENCRYPTION_KEY"}
    ring = crypto.build_key_ring(values["MFA_ENCRYPTION_KEY"], "")
    assert len(ring.current.key) == 32


def test_a_second_factor_login_in_embedded_mode(tmp_path, key_config):
    """SQLite and the in-process Redis (fakeredis runs the same Lua scripts)."""
    app = create_app(
        {
            "APP_ENV": "testing",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'mfa.sqlite3'}",
            "REDIS_URL": embedded.MEMORY_REDIS_URL,
            "RATELIMIT_ENABLED": False,
            "CLOCK_FROZEN_AT": (int(time.time()) // 30) * 30 + 5,
            **key_config,
        }
    )
    with app.app_context():
        upgrade()
    try:
        client = app.test_client()
        register(client, email="embedded-mfa@example.com")
        token = login(client, email="embedded-mfa@example.com")
        secret, codes = enrol_totp(client, app, token)
        first = mfa_token(client, "embedded-mfa@example.com")
        wrong = {"mfa_token": first, "code": "000000"}
        assert client.post("/api/auth/login/mfa", json=wrong).status_code == 400
        right = {"mfa_token": first, "code": code_at(secret, frozen_now(app))}
        assert client.post("/api/auth/login/mfa", json=right).status_code == 200
        assert client.post("/api/auth/login/mfa", json=right).status_code == 401  # used
        again = {"mfa_token": mfa_token(client, "embedded-mfa@example.com")}
        recovered = client.post("/api/auth/login/mfa", json={**again, "recovery_code": codes[0]})
        assert recovered.status_code == 200
        assert client.get("/api/auth/refresh").status_code == 200
    finally:
        with app.app_context():
            db.engine.dispose()
