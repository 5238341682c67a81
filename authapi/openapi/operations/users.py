"""The calling user."""

from __future__ import annotations

from authapi import schemas
from authapi.openapi.components import ACCESS, MESSAGE, obj, page_of, success
from authapi.openapi.operation import BAD_QUERY, CROSS_SITE, Operation, Reply, quoted
from authapi.users import service as users_service

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "getMe",
        "GET",
        "/api/users/me",
        "users",
        "The calling user, and the names of its second factors",
        auth=ACCESS,
        ok=Reply(200, "MeData"),
        errors=(401, 503),
    ),
    Operation(
        "changePassword",
        "PATCH",
        "/api/users/me/password",
        "users",
        "Change the password: the caller's other sessions end",
        auth=ACCESS,
        body="ChangePassword",
        ok=Reply(
            200,
            success(message=MESSAGE, data=obj(sessions_ended={"type": "integer", "minimum": 0})),
        ),
        errors=(
            (
                400,
                quoted(users_service.WRONG_CURRENT_PASSWORD) + ", or invalid input",
                "wrong_current_password",
            ),
            401,
            CROSS_SITE,
            413,
            415,
            503,
        ),
    ),
    Operation(
        "myEvents",
        "GET",
        "/api/users/me/events",
        "users",
        "The caller's own audit log, newest first",
        auth=ACCESS,
        query=schemas.EventListQuerySchema,
        ok=Reply(200, success(data=page_of("events", "AuthEvent"))),
        errors=(BAD_QUERY, 401, 503),
    ),
)
