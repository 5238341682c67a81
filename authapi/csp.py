"""Content-Security-Policy on every response.

HTML pages (the demo, the reset and verification pages, the API docs) load scripts and
styles from this origin only; nothing may frame them. JSON answers get the strictest
policy: a browser that somehow renders one runs nothing from it.
"""

from __future__ import annotations

from flask import Flask, Response

HTML_POLICY = (
    "default-src 'self'; script-src 'self'; "
    # Swagger UI sets style attributes from its scripts; no inline <script> anywhere.
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"


def _add_policy(response: Response) -> Response:
    policy = HTML_POLICY if response.mimetype == "text/html" else OTHER_POLICY
    response.headers.setdefault("Content-Security-Policy", policy)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_policy)
