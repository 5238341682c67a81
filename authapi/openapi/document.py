"""The document builder: the shared components plus every area's operations, turned
into an OpenAPI 3.1 document by apispec (built once per app)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from authapi.openapi import components, operations
from authapi.openapi.components import (
    ERROR_RESPONSES,
    EXAMPLE_CODES,
    EXAMPLE_MESSAGES,
    JSON,
    RETRY_AFTER,
    WWW_AUTHENTICATE,
    ref,
    schema_of,
)
from authapi.openapi.operation import Operation, Reply

TITLE = "authapi"
VERSION = "0.1.0"  # the project's version (pyproject.toml)
EXTENSION_KEY = "authapi.openapi"

# The tags every app has, in document order; an area module adds its own in TAGS.
TAGS = [
    {"name": "auth", "description": "Register, log in, refresh, log out"},
    {"name": "sessions", "description": "The caller's sessions (devices)"},
    {"name": "account", "description": "Email verification and password reset"},
    {"name": "users", "description": "The calling user"},
    {"name": "admin", "description": "User administration (role `admin`)"},
    {"name": "keys", "description": "Public keys for other services"},
    {"name": "health", "description": "Health checks and metrics"},
    {"name": "docs", "description": "This document, the docs page and the demo"},
]

DESCRIPTION = """\
A JWT authentication API: browsers keep HttpOnly cookies, other clients send
`Authorization: Bearer <access token>`.

- **Envelope**: success `{"status": "success", ...}`; client errors
  `{"status": "fail", "code": ..., "message": ...}` (validation errors add
  `"errors": {"<field>": ["<message>", ...]}`); server errors
  `{"status": "error", "code": ..., "message": ...}`. `code` is stable and
  machine-readable (`not_logged_in`, `session_ended`, `refresh_failed`,
  `rate_limited`, `validation_failed`...: see the `Fail` schema); `message` is for
  people. Every response is JSON except the pages
  and /metrics.
- **Any route**: an unknown path is a 404 (`Route <path> not found`), a method the
  path does not take a 405 with `Allow`; an unexpected failure is a 500 `ServerError`.
- **Bodies**: `Content-Type: application/json` (415 otherwise), a JSON object
  (400 otherwise), at most 10 kB (413).
- **Access tokens**: 15 minutes by default. A 401 saying exactly
  `You are not logged in` means no token or an expired one: refresh, then retry.
  Any other 401 to a cookie (`session_ended`, `invalid_token`) clears the three
  cookies: no refresh can bring that session back.
- **Refresh**: browsers call GET (or POST) /api/auth/refresh with the `refresh_token`
  cookie; clients that log in with `X-Auth-Mode: token` POST `{"refresh_token"}`.
  Each refresh rotates the refresh token.
- **Cross-site requests**: cookie-authenticated requests that change state are
  refused (403) when the browser marks them cross-site.
- **Request ids**: every response carries `X-Request-ID` (yours, if it is 1 to 64
  characters of `A-Za-z0-9._-`, else a new one).
"""


# Real messages, the examples of the shared error responses. An operation's own error


def _error_response(
    status: int, description: str, message: str | None = None, code: str | None = None
) -> dict[str, Any]:
    message = message or EXAMPLE_MESSAGES[status]
    example: dict[str, Any] = {
        "status": "fail" if status < 500 else "error",
        "code": code or EXAMPLE_CODES[status],
        "message": message,
    }
    if message == EXAMPLE_MESSAGES[400]:
        example["errors"] = {"email": ["Email address is required"]}
    response: dict[str, Any] = {
        "description": description,
        "content": {
            JSON: {"schema": ref("Fail" if status < 500 else "ServerError"), "example": example}
        },
    }
    if status in (429, 503):
        response["headers"] = {"Retry-After": RETRY_AFTER}
    elif status == 401:
        response["headers"] = {"WWW-Authenticate": WWW_AUTHENTICATE}
    return response


def _success_response(ok: Reply) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ok.description,
        "content": {media: {"schema": schema_of(ok.schema)} for media in ok.media_types},
    }
    if ok.headers:
        response["headers"] = {
            name: {"$ref": f"#/components/headers/{component}"}
            for name, component in ok.headers.items()
        }
    return response


def _responses(operation: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {
        str(ok.status): _success_response(ok) for ok in (operation.ok, *operation.more)
    }
    for error in operation.errors:
        status, description, code = (
            (*error, None)[:3] if isinstance(error, tuple) else (error, None, None)
        )
        if description is None:
            responses[str(status)] = {
                "$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"
            }
        else:
            first_quoted = re.search(r"`([^`]+)`", description)  # the example message
            message = first_quoted.group(1) if first_quoted else None
            responses[str(status)] = _error_response(status, description, message, code)
    return dict(sorted(responses.items()))


def _parameters(operation: Operation) -> list[Any]:
    parameters: list[Any] = []
    for name in _path_names(operation.path):
        schema = operation.path_params.get(name, {"type": "string"})
        parameters.append({"in": "path", "name": name, "required": True, "schema": dict(schema)})
    if isinstance(operation.query, type):
        parameters.append({"in": "query", "schema": operation.query})
    else:
        parameters.extend(dict(parameter) for parameter in operation.query)
    parameters.extend(dict(parameter) for parameter in operation.headers)
    return parameters


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def _operation(operation: Operation) -> dict[str, Any]:
    described: dict[str, Any] = {
        "operationId": operation.operation_id,
        "tags": [operation.tag],
        "summary": operation.summary,
    }
    if operation.description:
        described["description"] = operation.description
    parameters = _parameters(operation)
    if parameters:
        described["parameters"] = parameters
    if operation.body is not None:
        described["requestBody"] = {
            "required": operation.body_required,
            "content": {JSON: {"schema": schema_of(operation.body)}},
        }
    if operation.auth:
        described["security"] = [dict(requirement) for requirement in operation.auth]
    described["responses"] = _responses(operation)
    return described


def build_document(config: Mapping[str, Any]) -> dict[str, Any]:
    """The OpenAPI document for an app with this configuration."""
    areas = operations.collect()
    tags = [*TAGS, *areas.tags]
    order = {tag["name"]: index for index, tag in enumerate(tags)}
    unknown = {operation.tag for operation in areas.operations} - order.keys()
    if unknown:
        raise ValueError(f"operations use undeclared tags {sorted(unknown)}: add them to TAGS")
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title=TITLE,
        version=VERSION,
        openapi_version="3.1.0",
        plugins=[plugin],
        info={"description": DESCRIPTION},
        tags=tags,
    )
    assert plugin.converter is not None
    plugin.converter.add_attribute_function(components.field_hints)
    for name, (schema, keywords) in {**components.COMPONENTS, **areas.components}.items():
        spec.components.schema(name, keywords, schema=schema)
    for name, json_schema in {**components.SCHEMAS, **areas.schemas}.items():
        spec.components.schema(name, json_schema)
    for name, header in components.HEADERS.items():
        spec.components.header(name, header)
    for status, (name, description) in ERROR_RESPONSES.items():
        spec.components.response(name, _error_response(status, description))
    for name, scheme in components.SECURITY_SCHEMES.items():
        spec.components.security_scheme(name, scheme)
    for operation in sorted(areas.operations, key=lambda operation: order[operation.tag]):
        if operation.when is not None and not config.get(operation.when):
            continue
        spec.path(path=operation.path, operations={operation.method.lower(): _operation(operation)})
    return spec.to_dict()


def document(app: Flask) -> dict[str, Any]:
    """This app's document, built once."""
    built = app.extensions.get(EXTENSION_KEY)
    if built is None:
        built = app.extensions[EXTENSION_KEY] = build_document(app.config)
    return built
