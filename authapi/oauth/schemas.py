"""Request bodies of the provider routes."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate


class LinkSchema(Schema):
    """POST /api/auth/identities/<provider>/link: where to come back to (optional)."""

    class Meta:
        unknown = EXCLUDE

    redirect_to = fields.String(validate=validate.Length(max=2048))


link_schema = LinkSchema()
