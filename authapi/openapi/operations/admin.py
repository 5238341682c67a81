"""User administration (role ``admin``)."""

from __future__ import annotations

from authapi import schemas
from authapi.admin import service as admin_service
from authapi.auth import guard
from authapi.openapi.components import ACCESS, UUID, page_of, success
from authapi.openapi.operation import BAD_QUERY, Operation, Reply, quoted

NOT_ADMIN = (403, quoted(guard.ADMINS_ONLY), "admins_only")
NOT_ADMIN_OR_CROSS_SITE = (
    403,
    quoted(guard.ADMINS_ONLY, guard.CROSS_SITE_MESSAGE),
    "admins_only",
)
NO_SUCH_USER = (
    404,
    quoted(admin_service.USER_NOT_FOUND) + " (a malformed id: no such route)",
    "user_not_found",
)
LAST_ADMIN = (409, quoted(admin_service.LAST_ADMIN), "last_admin")

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "listUsers",
        "GET",
        "/api/users",
        "admin",
        "Users in creation order (admins only)",
        auth=ACCESS,
        query=schemas.UserListQuerySchema,
        ok=Reply(200, success(data=page_of("users", "AdminUser"))),
        errors=(
            BAD_QUERY,
            401,
            NOT_ADMIN,
            503,
        ),
    ),
    Operation(
        "getUser",
        "GET",
        "/api/users/{user_id}",
        "admin",
        "One user (admins only)",
        auth=ACCESS,
        path_params={"user_id": UUID},
        ok=Reply(200, "AdminUserData"),
        errors=(401, NOT_ADMIN, NO_SUCH_USER, 503),
    ),
    Operation(
        "updateUser",
        "PATCH",
        "/api/users/{user_id}",
        "admin",
        "Rename, change the role of, disable or enable a user (admins only)",
        auth=ACCESS,
        path_params={"user_id": UUID},
        body="AdminUserUpdate",
        ok=Reply(200, "AdminUserData"),
        errors=(
            (400, "Invalid input (unknown fields included)"),
            401,
            NOT_ADMIN_OR_CROSS_SITE,
            NO_SUCH_USER,
            LAST_ADMIN,
            413,
            415,
            503,
        ),
        description="Disabling a user ends every session of theirs at once.",
    ),
    Operation(
        "deleteUser",
        "DELETE",
        "/api/users/{user_id}",
        "admin",
        "Delete a user (admins only): their sessions end at once",
        auth=ACCESS,
        path_params={"user_id": UUID},
        ok=Reply(200, "Success"),
        errors=(
            401,
            NOT_ADMIN_OR_CROSS_SITE,
            NO_SUCH_USER,
            LAST_ADMIN,
            503,
        ),
    ),
    Operation(
        "listEvents",
        "GET",
        "/api/users/events",
        "admin",
        "The audit log of every user, newest first (admins only)",
        auth=ACCESS,
        query=schemas.AdminEventListQuerySchema,
        ok=Reply(200, success(data=page_of("events", "AuthEvent"))),
        errors=(
            BAD_QUERY,
            401,
            NOT_ADMIN,
            503,
        ),
    ),
)
