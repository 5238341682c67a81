"""Health checks and metrics."""

from __future__ import annotations

from authapi.openapi.components import MESSAGE, obj, success
from authapi.openapi.operation import Operation, Reply

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "healthChecker",
        "GET",
        "/api/healthChecker",
        "health",
        "The tutorial's health checker",
        ok=Reply(200, "Message"),
    ),
    Operation(
        "live",
        "GET",
        "/api/health/live",
        "health",
        "Liveness: the process answers",
        ok=Reply(200, "Message"),
    ),
    Operation(
        "ready",
        "GET",
        "/api/health/ready",
        "health",
        "Readiness: PostgreSQL and Redis both answer",
        ok=Reply(
            200,
            success(
                message=MESSAGE,
                checks=obj(database={"const": "ok"}, redis={"const": "ok"}),
            ),
        ),
        errors=(503,),
    ),
    Operation(
        "metrics",
        "GET",
        "/metrics",
        "health",
        "Prometheus metrics (off by default in production; keep off the public internet)",
        description=(
            "With `METRICS_TOKEN` set, send `Authorization: Bearer <token>` (401 otherwise)."
        ),
        ok=Reply(
            200,
            {"type": "string"},
            "Prometheus text exposition, or OpenMetrics when the Accept header asks for it",
            media_types=("text/plain", "application/openmetrics-text"),
        ),
        errors=(
            (401, "METRICS_TOKEN is set and no (or another) Bearer token was sent"),
            # Reviewers and clients outside see the API through the shipped nginx.
            (404, "Through the shipped nginx (deploy/nginx), which keeps /metrics internal"),
        ),
        when="METRICS_ENABLED",
    ),
)
