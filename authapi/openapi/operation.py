"""``Operation`` and ``Reply``: how an area module describes its routes, and the error
entries several areas share."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema

from authapi.auth import guard
from authapi.openapi.components import JSON


@dataclass(frozen=True)
class Reply:
    """A success answer: status, body schema (a string names a component), headers."""

    status: int
    schema: str | Mapping[str, Any]
    description: str = "Success"
    headers: Mapping[str, str] = field(default_factory=dict)  # name -> components.headers
    media_types: tuple[str, ...] = (JSON,)


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    tag: str
    summary: str
    ok: Reply
    # A status (a shared response), (status, when) or (status, when, example code).
    errors: tuple[int | tuple[int, str] | tuple[int, str, str], ...] = ()
    auth: tuple[dict[str, list[str]], ...] = ()
    body: str | Mapping[str, Any] | None = None
    body_required: bool = True
    query: type[Schema] | tuple[Mapping[str, Any], ...] = ()
    path_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    headers: tuple[Mapping[str, Any], ...] = ()
    description: str = ""
    when: str | None = None


def also(operation: Operation, method: str, operation_id: str) -> Operation:
    """The same operation under another method (routes that accept GET and POST)."""
    return dataclasses.replace(operation, method=method, operation_id=operation_id)


def quoted(*messages: str) -> str:
    """Messages as an error description quotes them (the first is the example)."""
    return ", or ".join(f"`{message}`" for message in messages)


# Error entries more than one area uses.
BODY_ERRORS: tuple[int, ...] = (400, 413, 415)
CROSS_SITE = (
    403,
    quoted(guard.CROSS_SITE_MESSAGE) + " (cookie auth, from another site)",
    "cross_site_refused",
)
BAD_QUERY = (
    400,
    quoted("Invalid query parameters") + ": `errors` names each parameter",
    "invalid_query",
)
