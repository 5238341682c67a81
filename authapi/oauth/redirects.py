"""Where a sign-in may send the browser back to: FRONTEND_URL, or an allow-listed base.

A ``redirect_to`` is accepted only when it is an absolute http(s) URL with the same
scheme, host and port as a base, and a path equal to the base's path or under it.
Everything else is refused, including the tricks open-redirect advisories list:
``//evil``, ``\\evil``, ``https://app.example.com.evil.com``, ``https://user@evil``,
encoded slashes and dots, control characters and whitespace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import SplitResult, unquote, urlencode, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_LENGTH = 2048

# Anything a browser may read differently from urlsplit: backslashes, whitespace,
# control characters, and percent-encoded slashes, backslashes or dots.
_SUSPICIOUS = re.compile(r"[\\\s\x00-\x1f\x7f]|%(2f|5c|2e|00)", re.IGNORECASE)


def _origin(parts: SplitResult) -> tuple[str, str, int] | None:
    try:
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def _under(path: str, base_path: str) -> bool:
    base_path = base_path or "/"
    path = path or "/"
    if any(segment in {".", ".."} for segment in unquote(path).split("/")):
        return False
    if base_path.endswith("/"):
        return path.startswith(base_path) or path == base_path.rstrip("/")
    return path == base_path or path.startswith(base_path + "/")


def is_allowed(url: str, bases: Iterable[str]) -> bool:
    """Is ``url`` one of ``bases`` or under one of them (see the module docstring)?"""
    if not isinstance(url, str) or not url or len(url) > MAX_LENGTH or _SUSPICIOUS.search(url):
        return False
    parts = urlsplit(url)
    if "@" in parts.netloc or not url.lower().startswith(("http://", "https://")):
        return False
    origin = _origin(parts)
    if origin is None:
        return False
    for base in bases:
        base_parts = urlsplit(base)
        if _origin(base_parts) == origin and _under(parts.path, base_parts.path):
            return True
    return False


def with_params(url: str, **params: str) -> str:
    """``url`` with query parameters added (an allowed URL stays under its base)."""
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return parts._replace(query=query, fragment="").geturl()
