"""This document, the docs page and the pages a browser opens."""

from __future__ import annotations

from authapi.openapi.components import HTML
from authapi.openapi.operation import Operation, Reply

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "openapi",
        "GET",
        "/api/openapi.json",
        "docs",
        "This OpenAPI document",
        ok=Reply(200, {"type": "object"}),
    ),
    Operation(
        "docs",
        "GET",
        "/api/docs",
        "docs",
        "Interactive API docs (Swagger UI, no external resources)",
        ok=Reply(200, {"type": "string"}, "An HTML page", media_types=(HTML,)),
    ),
    Operation(
        "demo",
        "GET",
        "/",
        "docs",
        "The browser demo (register, log in, refresh, log out)",
        ok=Reply(200, {"type": "string"}, "An HTML page", media_types=(HTML,)),
    ),
    Operation(
        "resetPasswordPage",
        "GET",
        "/resetpassword/{token}",
        "docs",
        "The page password-reset emails link to (a form for the new password)",
        ok=Reply(200, {"type": "string"}, "An HTML page", media_types=(HTML,)),
    ),
)
