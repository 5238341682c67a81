"""Unbound extension objects; ``create_app`` binds them with ``init_app``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask_cors import CORS
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, orm
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import DeclarativeBase

from authapi import database_deadline, embedded
from authapi.redis_connection import make_redis_client

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    # On an explicit registry: a type_annotation_map on the base itself raises
    # under Flask-SQLAlchemy 3.1 (flask-sqlalchemy issue 1361).
    registry = orm.registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


db = SQLAlchemy(model_class=Base)
MIGRATIONS_DIRECTORY = Path(__file__).resolve().parent.parent / "migrations"


def init_migrations(app: Flask) -> None:
    """Flask-Migrate: the ``flask db`` commands and ``flask_migrate.upgrade()``.

    Imported here, not at the top: Alembic takes 12 MB in each process, and a web
    server process never migrates (create_app leaves it out under gunicorn).
    """
    from flask_migrate import Migrate

    Migrate(app, db, directory=str(MIGRATIONS_DIRECTORY))


def discard_session(_: BaseException | None = None) -> None:
    """End the request's database session, if it made one, even when its connection
    has died.

    Closing rolls back; on a connection the server terminated after the response
    was built, that rollback raises, which would turn a finished 200 into an HTML
    500. SQLAlchemy has already invalidated the dead connection, so dropping the
    session is all that is left to do. Most requests (a session check answered from
    Redis) made none: one look at the registry, and nothing to remove.
    """
    registry = db.session.registry
    if not registry.has():
        return
    try:
        db.session.remove()
    except sa_exc.DBAPIError:
        registry.clear()


def init_db(app: Flask) -> None:
    db.init_app(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):  # not embedded SQLite
        with app.app_context():
            database_deadline.bound(db.engine, app.config["DATABASE_TIMEOUT"])
    # discard_session does all Flask-SQLAlchemy's own teardown did (remove the
    # context's session), and less when there is none: it replaces it.
    app.teardown_appcontext_funcs.remove(db._teardown_session)
    app.teardown_appcontext(discard_session)


cors = CORS()
# Limits are attached per route (authapi.ratelimits); storage is the app's Redis.
limiter = Limiter(key_func=get_remote_address, strategy="moving-window", key_prefix="authapi")


def init_limiter(app: Flask) -> None:
    """Flask-Limiter on ``app``; authapi's limits are all per route (see below)."""
    limiter.init_app(app)
    drop_per_request_hooks(app, limiter)


def drop_per_request_hooks(app: Flask, extension: Limiter) -> None:
    """Take out the three hooks Flask-Limiter runs on every request, when nothing needs them.

    authapi declares each limit on its route (a decorator, which checks when the view
    is called) or spends one inside a view (``authapi.ratelimits.hit``): none is
    application-wide, a default, per blueprint or a meta limit, which is all the
    before-request hook looks for. The after-request hook adds the X-RateLimit headers
    (off) and settles ``deduct_when`` limits (none); the teardown clears the limits a
    request met, which Flask-Limiter keeps on the request context, gone with it. With
    limits on, the three cost every request, limited or not, about 50 us and 330 Python
    calls (docs/performance.md, change 26). They stay if any of that is configured.
    """
    manager = extension.limit_manager
    if (
        manager.application_limits
        or manager.default_limits
        or manager._blueprint_limits
        or extension._meta_limits
        or extension._headers_enabled
    ):
        return
    release = extension._Limiter__release_context  # type: ignore[attr-defined]
    dropped = (
        (app.before_request_funcs, lambda hook: hook == extension._check_request_limit),
        (app.after_request_funcs, lambda hook: getattr(hook, "args", None) == (extension,)),
        (app.teardown_request_funcs, lambda hook: hook == release),
    )
    for hooks, is_limiters in dropped:
        hooks[None] = [hook for hook in hooks.get(None, []) if not is_limiters(hook)]


class RedisClient:
    """Holds one redis-py client per app in ``app.extensions["redis"]``.

    One server, a Redis Cluster or Sentinel (``authapi.redis_connection``). redis-py
    connects lazily, so an unreachable Redis is a runtime error (mapped to 503), never
    a boot failure; only a cluster client reads the slot map at start. Timeouts and
    retries are explicit: the library defaults (5 s, 10 retries) would let one request
    outlive a worker timeout.
    """

    def init_app(self, app: Flask) -> None:
        if embedded.is_memory_redis(app.config["REDIS_URL"]):
            app.extensions["redis"] = embedded.memory_redis_client()
            return
        app.extensions["redis"] = make_redis_client(app.config)

    @property
    def client(self) -> Any:
        return current_app.extensions["redis"]


redis_store = RedisClient()
