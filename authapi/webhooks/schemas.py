"""What /api/webhooks takes and shows."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from authapi.schemas import PageQuerySchema, StrictBoolean, UtcDateTime, has_control_characters
from authapi.webhooks.catalog import EVENT_TYPES
from authapi.webhooks.models import DeliveryStatus

URL_MAX = 2048
DESCRIPTION_MAX = 255


def _validate_url(value: str) -> None:
    if not value or len(value) > URL_MAX:
        raise ValidationError(f"Must be a URL of at most {URL_MAX} characters")
    if has_control_characters(value) or any(char.isspace() for char in value):
        raise ValidationError("Must not contain spaces or control characters")


def _validate_description(value: str) -> None:
    if len(value) > DESCRIPTION_MAX:
        raise ValidationError(f"At most {DESCRIPTION_MAX} characters")
    if has_control_characters(value):
        raise ValidationError("Must not contain control characters")


class EventTypes(fields.Field):
    """A non-empty list of distinct event types; its errors are one flat list (as every
    field's), never per item."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValidationError("Must be a list of event types")
        if not value:
            raise ValidationError("Subscribe to at least one event")
        unknown = [item for item in value if item not in EVENT_TYPES]
        if unknown:
            raise ValidationError(
                f"Unknown event {unknown[0][:40]!r}; one of: " + ", ".join(EVENT_TYPES)
            )
        if len(set(value)) != len(value):
            raise ValidationError("Each event at most once")
        return list(value)


class WebhookUpdateSchema(Schema):
    """PATCH: any of the fields; unknown fields are a 400 (as for users)."""

    url = fields.String(validate=_validate_url, error_messages={"null": "URL is required"})
    events = EventTypes(error_messages={"null": "Events are required"})
    description = fields.String(validate=_validate_description)
    enabled = StrictBoolean(error_messages={"null": "Must be true or false"})

    @validates_schema
    def not_empty(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ValidationError("Give at least one of url, events, description, enabled")


class WebhookCreateSchema(WebhookUpdateSchema):
    url = fields.String(
        required=True,
        validate=_validate_url,
        error_messages={"required": "URL is required", "null": "URL is required"},
    )
    events = EventTypes(
        required=True,
        error_messages={"required": "Events are required", "null": "Events are required"},
    )
    description = fields.String(load_default="", validate=_validate_description)
    enabled = StrictBoolean(load_default=True, error_messages={"null": "Must be true or false"})


class WebhookSchema(Schema):
    id = fields.UUID()
    url = fields.String()
    description = fields.String()
    events = fields.List(fields.String())
    enabled = fields.Boolean()
    disabled_reason = fields.String(allow_none=True)
    consecutive_failures = fields.Integer()
    previous_secret_expires_at = UtcDateTime(format="iso", allow_none=True)
    created_at = UtcDateTime(format="iso")
    updated_at = UtcDateTime(format="iso")


class DeliverySchema(Schema):
    id = fields.Integer()
    event_id = fields.UUID()  # the webhook-id header
    event_type = fields.String()
    status = fields.Function(lambda delivery: delivery.status.value)
    attempts = fields.Integer()
    last_status_code = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    next_attempt_at = UtcDateTime(format="iso", allow_none=True)
    last_attempt_at = UtcDateTime(format="iso", allow_none=True)
    created_at = UtcDateTime(format="iso")


class DeliveryListQuerySchema(PageQuerySchema):
    status = fields.String(
        validate=validate.OneOf(
            [status.value for status in DeliveryStatus],
            error="Status must be pending, succeeded or failed",
        )
    )


webhook_create_schema = WebhookCreateSchema()
webhook_update_schema = WebhookUpdateSchema()
webhook_schema = WebhookSchema()
delivery_schema = DeliverySchema()
delivery_list_query_schema = DeliveryListQuerySchema()
page_query_schema = PageQuerySchema()
