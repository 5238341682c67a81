"""The email address rules, in one place for schemas, services and the CLI.

Free of marshmallow and of Flask: plain functions on strings.
"""

from __future__ import annotations

import unicodedata


def normalize_email(value: str) -> str:
    """The one email normalisation used everywhere: trim, NFKC, lower-case."""
    return unicodedata.normalize("NFKC", value).strip().lower()
