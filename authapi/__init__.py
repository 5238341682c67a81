"""authapi: a JWT authentication API on PostgreSQL and Redis."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response

# Everything else is imported inside the functions below (as flaskr does): importing
# one module of the package never loads every blueprint, and no import cycle can hide
# behind the order of these lines.


# gunicorn.conf.py sets it: the process serves HTTP, so the tooling that only commands
# need (Flask-Migrate and Alembic) is not loaded.
WEB_SERVER_ENV = "AUTHAPI_WEB_SERVER"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build an app: configuration, extensions, blueprints, error handlers, CLI."""
    from authapi import observability
    from authapi.application import AuthAPI
    from authapi.configuration import load_config

    app = AuthAPI(__name__, instance_relative_config=True)
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
    from authapi import audit, background, mail, oauth, tokens
    from authapi.configuration import load_token_keys
    from authapi.extensions import init_db, init_limiter, init_migrations, redis_store
    from authapi.webhooks import outbox as webhooks

    init_db(app)
    if os.environ.get(WEB_SERVER_ENV) != "gunicorn":
        init_migrations(app)
    redis_store.init_app(app)
    init_limiter(app)
    tokens.init_app(app, load_token_keys(app))
    mail.init_app(app)
    audit.init_app(app)
    oauth.init_app(app)
    background.init_app(app)
    webhooks.init_app(app)
    register_cors(app)


def register_cors(app: Flask) -> None:
    """Flask-CORS, asked only about requests that carry an ``Origin`` header.

    Without one there is nothing for CORS to answer (``Vary: Origin`` is always sent, by
    :mod:`authapi.response_headers`), so curl, servers and same-origin GETs skip its
    after-request work, which matches every path against its resources on each call.
    """
    from flask import request

    from authapi.extensions import cors

    # Exact, anchored origins: flask-cors treats strings with regex characters as
    # unanchored patterns, and "*" with credentials would reflect any origin.
    origins = [re.compile(re.escape(origin) + r"\Z") for origin in app.config["CORS_ORIGINS"]]
    hooks = app.after_request_funcs.setdefault(None, [])
    position = len(hooks)
    cors.init_app(
        app,
        resources={r"/*": {"origins": origins}},
        supports_credentials=True,
        expose_headers=["Retry-After", "WWW-Authenticate", "X-Request-ID"],
        max_age=600,
        # Error responses go through the after-request hooks too (Flask >= 1.0).
        intercept_exceptions=False,
    )
    (add_cors_headers,) = hooks[position:]  # the one hook Flask-CORS registered

    def add_cors_headers_if_origin(response: Response) -> Response:
        if "HTTP_ORIGIN" not in request.environ:
            return response
        return add_cors_headers(response)

    hooks[position] = add_cors_headers_if_origin


def register_blueprints(app: Flask) -> None:
    from authapi import demo, health, jwks, mfa
    from authapi.accounts import routes as accounts
    from authapi.admin import routes as admin
    from authapi.auth import routes as auth
    from authapi.email_otp import routes as email_otp
    from authapi.openapi import views as openapi
    from authapi.passkeys import routes as passkeys
    from authapi.users import routes as users
    from authapi.webhooks import routes as webhooks

    app.register_blueprint(auth.blueprint)
    app.register_blueprint(users.blueprint)
    app.register_blueprint(accounts.blueprint)
    app.register_blueprint(admin.blueprint)
    app.register_blueprint(health.blueprint)
    app.register_blueprint(jwks.blueprint)
    app.register_blueprint(demo.blueprint)
    app.register_blueprint(openapi.blueprint)
    if app.config["OAUTH_PROVIDERS"]:  # none configured: the routes do not exist (404)
        from authapi.oauth import routes as oauth

        app.register_blueprint(oauth.blueprint)
    app.register_blueprint(email_otp.blueprint)
    mfa.init_app(app)  # its keys, factor kinds and blueprints
    app.register_blueprint(webhooks.blueprint)
    app.register_blueprint(passkeys.blueprint)
    app.register_blueprint(passkeys.second_factor_blueprint)


def register_response_headers(app: Flask) -> None:
    from authapi.response_headers import ResponseHeaders

    hsts = app.config["APP_ENV"] == "production"
    app.wsgi_app = ResponseHeaders(app.wsgi_app, hsts=hsts)  # type: ignore[method-assign]


def register_error_handlers(app: Flask) -> None:
    from authapi.error_handlers import register_error_handlers as register

    register(app)


def register_commands(app: Flask) -> None:
    from authapi.cli import deploy, keys_cli, report_unreachable_dependencies, users_cli
    from authapi.retention import audit_cli
    from authapi.webhooks.cli import webhooks_cli

    app.cli.add_command(deploy)
    app.cli.add_command(keys_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(webhooks_cli)
    # Ours and the extensions' (flask db ...): a dependency down is one line, exit 1.
    for command in app.cli.commands.values():
        report_unreachable_dependencies(command)


def trust_proxies(app: Flask) -> None:
    """Believe X-Forwarded-For/-Proto only from as many proxies as configured (0 = none).

    Never X-Forwarded-Host: nothing the client can reach may choose the host the app
    believes it is (mailed links come from FRONTEND_URL alone).
    """
    from werkzeug.middleware.proxy_fix import ProxyFix

    count = app.config["TRUSTED_PROXY_COUNT"]
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=0)  # type: ignore[method-assign]
