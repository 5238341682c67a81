"""The accounts blueprint: email verification and password reset."""

from authapi.accounts.routes import blueprint

__all__ = ["blueprint"]
