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


def html_page(name: str) -> Response:
    """A page whose URL carries a secret (a reset token, a verification code)."""
    response = send_from_directory(DEMO_DIR, name)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the secret is in the URL
    return response


@blueprint.get("/resetpassword/<token>")
def reset_password_page(token: str) -> Response:
    """Where reset emails link to (FRONTEND_URL defaults to this API): a small form that
    sends PATCH /api/auth/resetpassword/<token>. The page reads the token itself."""
    return html_page("reset.html")


@blueprint.get("/demo/<path:filename>")
def asset(filename: str) -> Response:
    response = send_from_directory(DEMO_DIR, filename)
    response.headers["Cache-Control"] = "no-cache"
    return response
