"""Sign in with another provider: authapi as an OpenID Connect / OAuth 2.0 client."""

from __future__ import annotations

from flask import Flask

# Not the routes: they load Authlib and requests (10 MB a process), which an app with no
# provider configured never needs (create_app registers them only with providers).
from authapi.oauth.settings import providers_from_config

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    """The providers, checked at startup (authapi.configuration) and kept per app."""
    app.extensions["authapi.oauth.providers"] = providers_from_config(app.config)
