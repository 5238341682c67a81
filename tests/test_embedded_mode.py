"""The contract and session tests again, in embedded mode: SQLite + the in-process Redis.

This module overrides the ``app``, ``make_app`` and ``clean_state`` fixtures and
re-collects the test functions of ``test_auth_flow``, ``test_sessions`` and
``test_signing_in_again`` (and the webhook outbox tests that need no proxy in front of
PostgreSQL), so the same assertions run against the embedded backends.
"""

from __future__ import annotations

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete

from authapi import create_app, embedded
from authapi.configuration import ConfigurationError
from authapi.extensions import db, redis_store
from tests import test_auth_flow, test_sessions, test_signing_in_again, test_webhooks_outbox

EMBEDDED_TESTS = {
    **{name: value for name, value in vars(test_auth_flow).items() if name.startswith("test_")},
    **{name: value for name, value in vars(test_sessions).items() if name.startswith("test_")},
    **{
        name: value
        for name, value in vars(test_signing_in_again).items()
        if name.startswith("test_")
    },
    **{
        name: value
        for name, value in vars(test_webhooks_outbox).items()
        if name.startswith("test_") and "postgres" not in name
    },
}
globals().update(EMBEDDED_TESTS)


@pytest.fixture(scope="module")
def embedded_config(tmp_path_factory, key_config):
    database = tmp_path_factory.mktemp("embedded") / "authapi.sqlite3"
    return {
        "APP_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        "REDIS_URL": embedded.MEMORY_REDIS_URL,
        "RATELIMIT_ENABLED": False,
        **key_config,
    }


@pytest.fixture(scope="module")
def app(embedded_config):
    app = create_app(embedded_config)
    with app.app_context():
        upgrade()  # the same migrations, on SQLite
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def base_config(embedded_config):
    return embedded_config


@pytest.fixture
def make_app(embedded_config, app):
    built = []

    def factory(**overrides):
        variant = create_app({**embedded_config, **overrides})
        built.append(variant)
        return variant

    yield factory
    for variant in built:
        with variant.app_context():
            db.engine.dispose()


@pytest.fixture(autouse=True)
def clean_state(app):
    with app.app_context():
        redis_store.client.flushall()
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(delete(table))
        db.session.commit()


def test_embedded_mode_really_uses_sqlite_and_the_emulation(app):
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    with app.app_context():
        assert db.engine.dialect.name == "sqlite"
        assert type(redis_store.client).__module__.startswith("fakeredis")


def test_development_falls_back_to_embedded_backends_when_servers_are_absent(
    key_config, tmp_path, monkeypatch, caplog
):
    for name in ("DATABASE_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("config.Config.SQLALCHEMY_DATABASE_URI", "postgresql://u@127.0.0.1:1/x")
    monkeypatch.setattr("config.Config.REDIS_URL", "redis://127.0.0.1:1/0")
    with caplog.at_level("WARNING", logger="authapi"):
        app = create_app({"APP_ENV": "development", **key_config})
    assert embedded.is_sqlite(app.config["SQLALCHEMY_DATABASE_URI"])
    assert embedded.is_memory_redis(app.config["REDIS_URL"])
    assert "DEVELOPMENT MODE" in caplog.text
    with app.app_context():
        db.engine.dispose()


def test_explicit_urls_are_never_replaced(key_config, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@127.0.0.1:1/x")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    app = create_app({"APP_ENV": "development", **key_config})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg2://")
    assert app.config["REDIS_URL"] == "redis://127.0.0.1:1/0"


def test_production_refuses_embedded_backends(embedded_config):
    production = {**embedded_config, "APP_ENV": "production", "COOKIE_SECURE": True}
    with pytest.raises(ConfigurationError, match="DATABASE_URL and REDIS_URL"):
        create_app(production)
