"""``GET /api/openapi.json`` (the document) and ``GET /api/docs`` (Swagger UI, served
from the flask-swagger-ui package's own files: no CDN, the page works offline)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Response, current_app, send_from_directory
from werkzeug.security import safe_join

from authapi.openapi.components import JSON

# Asset routes: files, not API operations.
UNDOCUMENTED_ENDPOINTS = frozenset({"static", "demo.asset", "docs.asset"})

DOCS_DIR = Path(__file__).parent.parent / "static" / "docs"
SWAGGER_UI_DIR = Path(flask_swagger_ui.__file__).parent / "dist"

blueprint = Blueprint("docs", __name__)


@blueprint.get("/api/openapi.json")
def openapi_json() -> Response:
    # Declaration order (jsonify would sort the keys).
    from authapi.openapi.document import document  # apispec: loaded when first asked for

    body = json.dumps(document(current_app), ensure_ascii=False)
    response = Response(body, mimetype=JSON)
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/api/docs")
def page() -> Response:
    response = send_from_directory(DOCS_DIR, "index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/api/docs/<path:filename>")
def asset(filename: str) -> Response:
    """Our init script, else a file of the Swagger UI distribution (the package's own)."""
    own = safe_join(str(DOCS_DIR), filename)
    # os.path.isfile, not Path.is_file: it is False (not an OSError) for too long a name.
    directory = DOCS_DIR if own is not None and os.path.isfile(own) else SWAGGER_UI_DIR
    response = send_from_directory(directory, filename)
    response.headers["Cache-Control"] = "no-cache"
    return response
