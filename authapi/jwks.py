"""GET /.well-known/jwks.json: the access-token public keys, for other services.

Refresh-token keys are never published: only authapi itself verifies those.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from authapi import tokens

blueprint = Blueprint("jwks", __name__)

JWKS_MAX_AGE = 600


@blueprint.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(keys=tokens.access_jwks())
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE}"
    return response
