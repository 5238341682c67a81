"""The headers every response carries: request id, security headers, the
Content-Security-Policy, ``Cache-Control: no-store`` unless a view chose otherwise, and
``Vary: Origin``.

They are added by a WSGI middleware around the Flask app, on the plain list of header
pairs that ``start_response`` receives, rather than by ``after_request`` functions on
werkzeug's ``Headers``: the same headers for about a tenth of the CPU, which every
request pays (docs/performance.md). Responses the app never sees (gunicorn's own 400s)
are not covered; gunicorn.conf.py writes those.

The request id is decided here too, before Flask runs: the caller's ``X-Request-ID``
if it is short and safe, else a new random one. :mod:`authapi.observability` reads it
from the WSGI environ for the log lines.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

REQUEST_ID_HEADER = "X-Request-ID"
# Keys of the WSGI environ this middleware fills in.
REQUEST_ID_KEY = "authapi.request_id"
STARTED_KEY = "authapi.started"
# An incoming id is kept only if it is short and cannot break a log line or a header.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

HTML_POLICY = (
    "default-src 'self'; script-src 'self'; "
    # Swagger UI sets style attributes from its scripts; no inline <script> anywhere.
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# JSON answers get the strictest policy: a browser that somehow renders one runs nothing.
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"

Headers = list[tuple[str, str]]
StartResponse = Callable[..., Any]


class _RequestIds:
    """16 hex digits: a random prefix drawn once per process, then a counter.

    Unique enough to find a request's lines (not a secret: clients may send their own),
    and without a system call per request: reading the kernel's random source let go of
    the GIL on every request, and under load each such release costs a wait to get it
    back behind the other threads (docs/performance.md).
    """

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        self.prefix = secrets.token_hex(4)
        self.counter = itertools.count()

    def next(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFF:08x}"


_request_ids = _RequestIds()
if hasattr(os, "register_at_fork"):  # a forked worker draws its own prefix
    os.register_at_fork(after_in_child=_request_ids.renew)


def request_id_for(environ: dict[str, Any]) -> str:
    """The request's id, decided once and kept in the environ."""
    current = environ.get(REQUEST_ID_KEY)
    if current is None:
        incoming = environ.get("HTTP_X_REQUEST_ID")
        current = incoming if incoming and SAFE_REQUEST_ID.fullmatch(incoming) else None
        if current is None:
            current = _request_ids.next()
        environ[REQUEST_ID_KEY] = current
    return current


def _is_empty_options_answer(status: str, headers: Headers) -> bool:
    """Of an OPTIONS request: Flask's automatic answer (and a CORS preflight's), 200 and
    no body."""
    return status.startswith("200") and any(
        name.lower() == "content-length" and value == "0" for name, value in headers
    )


class ResponseHeaders:
    """WSGI middleware: ``app.wsgi_app = ResponseHeaders(app.wsgi_app, hsts=...)``."""

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]], *, hsts: bool) -> None:
        self.wsgi_app = wsgi_app
        self.fixed: Headers = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY")]
        if hsts:
            self.fixed.append(("Strict-Transport-Security", HSTS))

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        environ[STARTED_KEY] = time.perf_counter()
        request_id = request_id_for(environ)
        options = environ.get("REQUEST_METHOD") == "OPTIONS"

        def start(status: str, headers: Headers, exc_info: Any = None) -> Any:
            if options and _is_empty_options_answer(status, headers):
                # Preflights and OPTIONS answers: no body, so no (HTML) content type either.
                status = "204 NO CONTENT"
                headers = [
                    (name, value)
                    for name, value in headers
                    if name.lower() not in ("content-type", "content-length")
                ]
            self.complete(headers, request_id, not_modified=status.startswith("304"))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)

    def complete(self, headers: Headers, request_id: str, *, not_modified: bool = False) -> None:
        """Add what the view did not set itself, in place.

        A 304 has no body and no content type: the browser keeps the stored response and
        updates its headers with the 304's, so a policy chosen here for "not HTML" would
        replace the cached page's own and block its scripts. It gets only the fixed ones.
        """
        content_type = cache_control = policy = None
        vary = -1
        for index, (name, value) in enumerate(headers):
            lowered = name.lower()
            if lowered == "content-type":
                content_type = value
            elif lowered == "cache-control":
                cache_control = value
            elif lowered == "content-security-policy":
                policy = value
            elif lowered == "vary":
                vary = index
        headers.extend(self.fixed)
        headers.append((REQUEST_ID_HEADER, request_id))
        if not_modified:
            return
        # Responses carry tokens or personal data: never cached unless a view says so.
        if cache_control is None:
            headers.append(("Cache-Control", "no-store"))
        if policy is None:
            html = content_type is not None and content_type.startswith("text/html")
            headers.append(("Content-Security-Policy", HTML_POLICY if html else OTHER_POLICY))
        # CORS headers depend on the Origin, allowed or not: shared caches must know.
        if vary < 0:
            headers.append(("Vary", "Origin"))
        elif "origin" not in headers[vary][1].lower():
            headers[vary] = ("Vary", f"{headers[vary][1]}, Origin")
