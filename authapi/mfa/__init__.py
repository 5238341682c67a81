"""Second factors: TOTP, recovery codes, and the registry other factor kinds plug into
(:mod:`authapi.mfa.factors`). See docs/mfa.md.

Importing this package is cheap and imports no blueprint (``authapi.auth.service``
imports :mod:`authapi.mfa.gate`); ``init_app`` loads the keys, registers the built-in
factor kinds and the routes.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from authapi.mfa import cli, crypto, recovery, routes, totp  # noqa: F401 - registers

    crypto.init_app(app)
    app.register_blueprint(routes.blueprint)
    app.register_blueprint(routes.admin_blueprint)
