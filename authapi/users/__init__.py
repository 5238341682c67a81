"""The users blueprint."""

from authapi.users.routes import blueprint

__all__ = ["blueprint"]
