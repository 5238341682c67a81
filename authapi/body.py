"""Reading a JSON request body strictly, before any schema sees it."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import g, request
from gunicorn.http.errors import ParseException
from marshmallow import Schema, ValidationError

from authapi.errors import APIError, ValidationFailed

log = logging.getLogger(__name__)

MALFORMED_BODY = "Malformed request body"
UNREADABLE_BODY = "authapi_unreadable_body"
UNSUPPORTED_ENCODING = "Content-Encoding is not supported: send the JSON uncompressed"


class _NotJson(ValueError):
    """Text Python's json module accepts but RFC 8259 does not (or that two readers
    would understand differently)."""


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not JSON")  # NaN, Infinity, -Infinity


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object naming one key twice is refused: Python keeps the last value, while a
    proxy, a WAF or a log reader may keep the first, so each would see another body."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _NotJson("duplicate key")
    return result


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, or a 4xx APIError.

    Only ``application/json`` is accepted (415 otherwise): an HTML form or a
    text/plain body cannot be sent cross-site without a CORS preflight, so this
    also blocks form-based CSRF, login CSRF included.
    """
    if request.mimetype != "application/json":
        raise APIError("Content-Type must be application/json", status_code=415)
    if (request.content_encoding or "identity").strip().lower() != "identity":
        # Nothing here decompresses (RFC 9110 15.5.16: 415 for a content coding the
        # server does not take). Read as is, a gzip body was "malformed JSON", and a
        # body marked compressed but sent plain was taken as plain JSON.
        raise APIError(UNSUPPORTED_ENCODING, status_code=415)
    raw = _read_body()
    try:
        # Strictly UTF-8 (RFC 8259): json.loads would also guess UTF-16/32 from bytes.
        data = json.loads(
            raw.decode("utf-8"),
            parse_constant=_refuse_constant,
            object_pairs_hook=_object_without_duplicates,
        )
        # JSON may escape lone surrogates ("\ud800"), which no UTF-8 consumer
        # (bcrypt, PostgreSQL, Redis) accepts: refuse them here, once.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):  # RecursionError: deeply nested arrays
        raise APIError("Malformed JSON in request body", code="malformed_json") from None
    if not isinstance(data, dict):
        raise APIError("Request body must be a JSON object", code="body_not_an_object")
    return data


def _read_body() -> bytes:
    if g.get(UNREADABLE_BODY):
        # Once unreadable, always: a second read would get only the chunks before
        # the bad one, i.e. a truncated body (a rate-limit key function reads first).
        raise APIError(MALFORMED_BODY, code="malformed_body")
    try:
        raw = request.get_data(cache=True)  # honours MAX_CONTENT_LENGTH (413)
        limit = request.max_content_length
        if request.content_length is None and limit is not None and len(raw) >= limit:
            # A chunked body is cut at the limit without an error; reading past the cap
            # makes werkzeug raise the 413 that a Content-Length body would have got.
            request.stream.read(1)
    except (ParseException, OSError, ValueError) as error:
        # The server could not read the body: a malformed chunked encoding (gunicorn
        # raises its ParseException subclasses, werkzeug's server OSError), or a client
        # that went away in the middle of it. The client's fault, not ours.
        log.info("unreadable request body: %s", type(error).__name__)
        g.setdefault(UNREADABLE_BODY, True)
        raise APIError(MALFORMED_BODY, code="malformed_body") from None
    return raw


def load(schema: Schema) -> dict[str, Any]:
    """Parse the body with a marshmallow schema; field errors become a 400."""
    try:
        return schema.load(json_object())
    except ValidationError as error:
        messages = (
            error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        )
        raise ValidationFailed("Invalid input", errors=messages) from None
