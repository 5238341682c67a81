"""Health endpoints: the tutorial's checker, liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from authapi.errors import ServiceUnavailable
from authapi.extensions import db, redis_store

blueprint = Blueprint("health", __name__, url_prefix="/api")


@blueprint.get("/healthChecker")
def health_checker() -> Response:
    return jsonify(status="success", message="Welcome to authapi, the JWT authentication API")


@blueprint.get("/health/live")
def live() -> Response:
    return jsonify(status="success", message="alive")


@blueprint.get("/health/ready")
def ready() -> Response:
    """PostgreSQL and Redis both answer, or 503 (the error handlers map their failures)."""
    db.session.execute(text("SELECT 1"))
    if not redis_store.client.ping():
        raise ServiceUnavailable()
    return jsonify(status="success", message="ready", checks={"database": "ok", "redis": "ok"})
