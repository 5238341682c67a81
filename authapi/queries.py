"""Query-string parameters read with a schema, and one page of a SELECT."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError
from sqlalchemy import Select, func, select

from authapi.errors import ValidationFailed
from authapi.extensions import db


def load_query(schema: Schema) -> dict[str, Any]:
    """The query string parsed by ``schema``; bad values are a 400 with field errors.

    A parameter given twice counts with its first value.
    """
    try:
        return schema.load(request.args.to_dict(flat=True))
    except ValidationError as error:
        messages = (
            error.messages if isinstance(error.messages, dict) else {"_schema": error.messages}
        )
        raise ValidationFailed(
            "Invalid query parameters", errors=messages, code="invalid_query"
        ) from None


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    def dump(self, name: str, schema: Schema) -> dict[str, Any]:
        """``{name: [...], "page", "per_page", "total"}`` for a response's ``data``."""
        return {
            name: schema.dump(self.items, many=True),
            "page": self.page,
            "per_page": self.per_page,
            "total": self.total,
        }


def paginate(query: Select[Any], *, page: int, per_page: int) -> Page:
    """One page of ``query`` (which must already have a stable ORDER BY) and the total."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = list(db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(items=items, page=page, per_page=per_page, total=int(total or 0))


def escape_like(value: str) -> str:
    """``value`` matched literally by LIKE (``%`` and ``_`` escaped with a backslash)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
