"""The admin blueprint: managing users (role ``admin`` only) and the audit log."""

from authapi.admin.routes import blueprint

__all__ = ["blueprint"]
