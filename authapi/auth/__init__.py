"""The auth blueprint: register, login, refresh, logout."""

from authapi.auth.routes import blueprint

__all__ = ["blueprint"]
