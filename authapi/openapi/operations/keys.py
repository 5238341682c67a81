"""Public keys for other services."""

from __future__ import annotations

from authapi.openapi.components import ref
from authapi.openapi.operation import Operation, Reply

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "jwks",
        "GET",
        "/.well-known/jwks.json",
        "keys",
        "The public keys that verify access tokens (JWKS)",
        ok=Reply(
            200,
            {
                "type": "object",
                "required": ["keys"],
                "properties": {"keys": {"type": "array", "items": ref("Jwk")}},
            },
            "The signing key first, then older or standby keys that still verify",
        ),
        description="Cacheable (`Cache-Control: public, max-age=600`). Never refresh keys.",
    ),
)
