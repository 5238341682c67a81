"""Passwordless sign-in with a one-time code sent by email."""

from __future__ import annotations

from authapi.email_otp.routes import blueprint

__all__ = ["blueprint"]
