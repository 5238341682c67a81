"""Fixtures: a real PostgreSQL test database built by the migrations, a real Redis db.

- One test database per run (its name must end in ``_test``), dropped WITH (FORCE)
  and recreated at session start, built by ``flask db upgrade``, dropped at the end.
- One Redis logical database other than 0, flushed before each test.
- Each test starts from empty tables (TRUNCATE), not from a rolled-back transaction,
  so what a test sees is what a live server would see.
"""

from __future__ import annotations

import base64
import fcntl
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import make_url, text

from authapi import create_app, keys
from authapi.cli import ensure_database
from authapi.extensions import db
from config import database_uri
from tests.support.limiter_state import limiter_state_restored
from tests.support.receiver import Receiver
from tests.support.servers import ThreadedServer, serve_app
from tests.support.smtp_sink import SmtpSink

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/authapi_test"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _maintenance_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))


def _recreate_database(url: str, *, create: bool) -> None:
    name = _database_name(url)
    connection = psycopg2.connect(_maintenance_url(url).replace("+psycopg2", ""))
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            if create:
                cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()


@contextmanager
def _exclusive(resource: str) -> Iterator[None]:
    """One test run at a time per test database and per Redis db: a second run waits
    instead of dropping the database or flushing Redis under the first one's feet."""
    safe = "".join(char if char.isalnum() else "-" for char in resource)
    with open(Path(tempfile.gettempdir()) / f"authapi-test-{safe}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"\nwaiting for another test run using {resource}...", file=sys.stderr)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = _database_name(TEST_DATABASE_URL)
    if not name.endswith("_test"):
        pytest.exit(f"refusing to use database {name!r}: test database names end in _test", 2)
    redis_db = urlsplit(TEST_REDIS_URL)
    with _exclusive(name), _exclusive(f"{redis_db.hostname}:{redis_db.port}{redis_db.path}"):
        _recreate_database(TEST_DATABASE_URL, create=True)
        yield database_uri(TEST_DATABASE_URL)
        _recreate_database(TEST_DATABASE_URL, create=False)


@pytest.fixture(scope="session")
def redis_url() -> str:
    path = urlsplit(TEST_REDIS_URL).path.strip("/")
    if path in {"", "0"}:
        pytest.exit("refusing to flush Redis db 0: set TEST_REDIS_URL to another db", 2)
    return TEST_REDIS_URL


def _key_values(prefix: str) -> dict[str, str]:
    private_key = keys.generate_private_key()
    return {
        f"{prefix}_PRIVATE_KEY": base64.b64encode(keys.private_pem(private_key)).decode(),
        f"{prefix}_PUBLIC_KEY": base64.b64encode(
            keys.public_pem(private_key.public_key())
        ).decode(),
    }


@pytest.fixture(scope="session")
def key_config() -> dict[str, str]:
    mfa_key = base64.b64encode(os.urandom(32)).decode()
    return {
        **_key_values("ACCESS_TOKEN"),
        **_key_values("REFRESH_TOKEN"),
        "MFA_ENCRYPTION_KEY": mfa_key,
    }


@pytest.fixture(scope="session")
def base_config(database_url: str, redis_url: str, key_config: dict[str, str]) -> dict[str, Any]:
    return {
        "APP_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "RATELIMIT_ENABLED": False,
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": True,  # receivers on loopback (tests/support/receiver.py)
        "MAIL_RETRY_DELAYS": (0.0, 0.0),  # retried at once: no test waits for a mail
        **key_config,
    }


@pytest.fixture(scope="session")
def app(base_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(base_config)
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(autouse=True)
def clean_state(request: pytest.FixtureRequest) -> None:
    """Empty tables and Redis before each test that touches them."""
    if "app" not in request.fixturenames and "make_app" not in request.fixturenames:
        return
    app: Flask = request.getfixturevalue("app")
    request.getfixturevalue("redis_client").flushdb()
    with app.app_context():
        table_names = ", ".join(f'"{table.name}"' for table in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {table_names} CASCADE"))
        db.session.commit()
        db.session.remove()


@pytest.fixture(autouse=True)
def limiter_restored() -> Iterator[None]:
    """Every app a test builds re-initialises the one process-wide Limiter (enabled or
    not, its storage): put it back after each test so no test inherits another's."""
    with limiter_state_restored():
        yield


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make_app(base_config: dict[str, Any], app: Flask) -> Iterator[Callable[..., Flask]]:
    """Build a variant app (other config) on the same test database; disposed after."""
    built: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        variant = create_app({**base_config, **overrides})
        built.append(variant)
        return variant

    yield factory
    for variant in built:
        with variant.app_context():
            db.engine.dispose()


@pytest.fixture
def scratch_app(base_config: dict[str, Any], database_url: str) -> Iterator[Flask]:
    """An app on its own empty database, created by `flask deploy`'s helper, dropped after.

    For migration tests that need tables this run's test database already has. Named
    after this run's test database, so runs on other test databases never share it; a
    copy left by an interrupted run is dropped first.
    """
    base = make_url(database_url)
    url = base.set(database=base.database.removesuffix("_test") + "_scratch_test")
    rendered = url.render_as_string(hide_password=False)
    _recreate_database(rendered, create=False)
    assert ensure_database(rendered) is True
    app = create_app({**base_config, "SQLALCHEMY_DATABASE_URI": rendered})
    yield app
    with app.app_context():
        db.engine.dispose()
    _recreate_database(rendered, create=False)


@pytest.fixture
def unanswering_port() -> Iterator[int]:
    """A loopback port whose listener never accepts: connections complete (the kernel's
    backlog) and nothing is ever said on them (no SMTP greeting, no Redis reply)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def live_server() -> Iterator[Callable[[Flask], ThreadedServer]]:
    """Serve an app over real HTTP from a thread, on a spare loopback port."""
    servers: list[ThreadedServer] = []

    def start(app: Flask) -> ThreadedServer:
        server = serve_app(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) in this process, on a spare loopback port."""
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def mail_app(make_app: Callable[..., Flask], smtp_sink: SmtpSink) -> Flask:
    """An app that sends its mail to ``smtp_sink``."""
    return make_app(**smtp_sink.config)


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[Any]:
    """A real OpenID provider (oidc-provider on Node), one per test run; stopped after."""
    from tests.support.oidc_provider import OidcProvider

    provider = OidcProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on a spare loopback port that records webhooks and hook calls."""
    server = Receiver().start()
    yield server
    server.stop()
