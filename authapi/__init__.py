"""authapi: a JWT authentication API on PostgreSQL and Redis."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from authapi import (
    accounts,
    admin,
    audit,
    auth,
    demo,
    health,
    jwks,
    mail,
    observability,
    openapi,
    tokens,
    users,
)
from authapi.cli import deploy, keys_cli, users_cli
from authapi.configuration import load_config, load_token_keys
from authapi.errors import register_error_handlers
from authapi.extensions import cors, db, init_db, limiter, migrate, redis_store
from authapi.passkeys.routes import blueprint as passkeys_blueprint


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build an app: configuration, extensions, blueprints, error handlers, CLI."""
    app = Flask(__name__, instance_relative_config=True)
    load_config(app, config)
    observability.init_app(app)  # first, so what the next steps log is formatted
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_response_headers(app)
    register_commands(app)
    trust_proxies(app)
    return app


def register_extensions(app: Flask) -> None:
    init_db(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    redis_store.init_app(app)
    limiter.init_app(app)
    tokens.init_app(app, load_token_keys(app))
    mail.init_app(app)
    audit.init_app(app)
    # Exact, anchored origins: flask-cors treats strings with regex characters as
    # unanchored patterns, and "*" with credentials would reflect any origin.
    origins = [re.compile(re.escape(origin) + r"\Z") for origin in app.config["CORS_ORIGINS"]]
    cors.init_app(
        app,
        resources={r"/*": {"origins": origins}},
        supports_credentials=True,
        expose_headers=["Retry-After", "X-Request-ID"],
        max_age=600,
    )


def register_blueprints(app: Flask) -> None:
    app.register_blueprint(auth.blueprint)
    app.register_blueprint(users.blueprint)
    app.register_blueprint(accounts.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(jwks.blueprint)
    app.register_blueprint(demo.blueprint)
    app.register_blueprint(openapi.blueprint)
    app.register_blueprint(passkeys_blueprint)


def register_response_headers(app: Flask) -> None:
    hsts = app.config["APP_ENV"] == "production"

    @app.after_request
    def security_headers(response: Response) -> Response:
        if request.method == "OPTIONS" and response.status_code == 200 and not response.data:
            # Preflights and OPTIONS answers: no body, so no HTML content type either.
            response.status_code = 204
            del response.headers["Content-Type"]
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        # CORS headers depend on the Origin, allowed or not: shared caches must know.
        response.vary.add("Origin")
        # Responses carry tokens or personal data: never cache unless a view says so.
        response.headers.setdefault("Cache-Control", "no-store")
        if hsts:
            response.headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        return response


def register_commands(app: Flask) -> None:
    app.cli.add_command(deploy)
    app.cli.add_command(keys_cli)
    app.cli.add_command(users_cli)


def trust_proxies(app: Flask) -> None:
    """Believe X-Forwarded-* only from as many proxies as configured (0 = none)."""
    count = int(app.config["TRUSTED_PROXY_COUNT"])
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
