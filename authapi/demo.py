"""The browser demo at ``/``: static HTML and JavaScript, no build step."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

DEMO_DIR = Path(__file__).parent / "static" / "demo"

blueprint = Blueprint("demo", __name__)


@blueprint.get("/")
def index() -> Response:
    response = send_from_directory(DEMO_DIR, "index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response


@blueprint.get("/demo/<path:filename>")
def asset(filename: str) -> Response:
    response = send_from_directory(DEMO_DIR, filename)
    response.headers["Cache-Control"] = "no-cache"
    return response
