"""Webhook endpoints (role ``admin``): docs/webhooks.md."""

from __future__ import annotations

from marshmallow import fields, validate

from authapi.openapi.components import ACCESS, UUID, dumped, obj, page_of, success
from authapi.openapi.operation import BAD_QUERY, Operation, Reply, quoted
from authapi.openapi.operations.admin import NOT_ADMIN, NOT_ADMIN_OR_CROSS_SITE
from authapi.schemas import PageQuerySchema
from authapi.webhooks import schemas, service
from authapi.webhooks.catalog import EVENT_TYPES
from authapi.webhooks.models import DeliveryStatus

TAGS = [
    {
        "name": "webhooks",
        "description": "Signed webhooks (Standard Webhooks) for auth events (role `admin`)",
    }
]

NO_SUCH_WEBHOOK = (
    404,
    quoted(service.WEBHOOK_NOT_FOUND) + " (a malformed id: no such route)",
    "webhook_not_found",
)
REFUSED_URL = (
    400,
    quoted("Invalid input") + ": `errors.url` says why a URL is refused (not https in production, "
    "a loopback, private, link-local or metadata address, a host that does not resolve)",
)


class WebhookDoc(schemas.WebhookSchema):
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)))
    disabled_reason = fields.String(
        allow_none=True,
        metadata={"description": "`admin`, or `failures` when the worker disabled it"},
    )


class WebhookWithSecretDoc(WebhookDoc):
    secret = fields.String(
        metadata={"description": "`whsec_<base64>`: shown only at creation and rotation"}
    )


EVENT_LIST = {
    "validate": [validate.Length(min=1)],
    "metadata": {"description": "Distinct event types, at least one"},
}


class WebhookCreateDoc(schemas.WebhookCreateSchema):
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENT_TYPES)), required=True, **EVENT_LIST
    )


class WebhookUpdateDoc(schemas.WebhookUpdateSchema):
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)), **EVENT_LIST)


class DeliveryDoc(schemas.DeliverySchema):
    status = fields.String(validate=validate.OneOf([status.value for status in DeliveryStatus]))
    event_id = fields.UUID(metadata={"description": "The `webhook-id` header"})


COMPONENTS = {
    "WebhookCreate": (WebhookCreateDoc, {}),
    "WebhookUpdate": (WebhookUpdateDoc, {"minProperties": 1}),
    "Webhook": (WebhookDoc, dumped(WebhookDoc)),
    "WebhookWithSecret": (WebhookWithSecretDoc, dumped(WebhookWithSecretDoc)),
    "WebhookDelivery": (DeliveryDoc, dumped(DeliveryDoc)),
}

SCHEMAS = {
    "WebhookData": success(data=obj(webhook="Webhook")),
    "WebhookWithSecretData": success(data=obj(webhook="WebhookWithSecret")),
    "WebhookDeliveryData": success(data=obj(delivery="WebhookDelivery")),
}

WEBHOOK = {"webhook_id": UUID}

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "createWebhook",
        "POST",
        "/api/webhooks",
        "webhooks",
        "Register a webhook endpoint; the answer shows its secret, once",
        auth=ACCESS,
        body="WebhookCreate",
        ok=Reply(201, "WebhookWithSecretData", "Created"),
        errors=(REFUSED_URL, 401, NOT_ADMIN_OR_CROSS_SITE, 413, 415, 503),
        description=(
            "The URL is checked now and again at every delivery (its address may change). "
            "Payloads and signatures follow the Standard Webhooks specification."
        ),
    ),
    Operation(
        "listWebhooks",
        "GET",
        "/api/webhooks",
        "webhooks",
        "Webhook endpoints in creation order (no secrets)",
        auth=ACCESS,
        query=PageQuerySchema,
        ok=Reply(200, success(data=page_of("webhooks", "Webhook"))),
        errors=(BAD_QUERY, 401, NOT_ADMIN, 503),
    ),
    Operation(
        "getWebhook",
        "GET",
        "/api/webhooks/{webhook_id}",
        "webhooks",
        "One webhook endpoint (no secret)",
        auth=ACCESS,
        path_params=WEBHOOK,
        ok=Reply(200, "WebhookData"),
        errors=(401, NOT_ADMIN, NO_SUCH_WEBHOOK, 503),
    ),
    Operation(
        "updateWebhook",
        "PATCH",
        "/api/webhooks/{webhook_id}",
        "webhooks",
        "Change the URL, events, description, or enable/disable it",
        auth=ACCESS,
        path_params=WEBHOOK,
        body="WebhookUpdate",
        ok=Reply(200, "WebhookData"),
        errors=(REFUSED_URL, 401, NOT_ADMIN_OR_CROSS_SITE, NO_SUCH_WEBHOOK, 413, 415, 503),
        description="Enabling it again resets `consecutive_failures`; unknown fields are a 400.",
    ),
    Operation(
        "deleteWebhook",
        "DELETE",
        "/api/webhooks/{webhook_id}",
        "webhooks",
        "Delete a webhook endpoint and its deliveries",
        auth=ACCESS,
        path_params=WEBHOOK,
        ok=Reply(200, "Success"),
        errors=(401, NOT_ADMIN_OR_CROSS_SITE, NO_SUCH_WEBHOOK, 503),
    ),
    Operation(
        "rotateWebhookSecret",
        "POST",
        "/api/webhooks/{webhook_id}/rotate-secret",
        "webhooks",
        "A new secret; the old one keeps signing beside it for WEBHOOK_SECRET_GRACE",
        auth=ACCESS,
        path_params=WEBHOOK,
        ok=Reply(200, "WebhookWithSecretData"),
        errors=(401, NOT_ADMIN_OR_CROSS_SITE, NO_SUCH_WEBHOOK, 503),
    ),
    Operation(
        "listWebhookDeliveries",
        "GET",
        "/api/webhooks/{webhook_id}/deliveries",
        "webhooks",
        "The endpoint's deliveries, newest first: status, attempts, last error, next try",
        auth=ACCESS,
        path_params=WEBHOOK,
        query=schemas.DeliveryListQuerySchema,
        ok=Reply(200, success(data=page_of("deliveries", "WebhookDelivery"))),
        errors=(BAD_QUERY, 401, NOT_ADMIN, NO_SUCH_WEBHOOK, 503),
    ),
    Operation(
        "redeliverWebhook",
        "POST",
        "/api/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        "webhooks",
        "Queue a delivery's event again (same webhook-id)",
        auth=ACCESS,
        path_params={**WEBHOOK, "delivery_id": {"type": "integer", "minimum": 0}},
        ok=Reply(202, "WebhookDeliveryData", "Queued"),
        errors=(
            401,
            NOT_ADMIN_OR_CROSS_SITE,
            (
                404,
                quoted(service.WEBHOOK_NOT_FOUND, service.DELIVERY_NOT_FOUND),
                "webhook_not_found",
            ),
            (409, quoted(service.WEBHOOK_DISABLED), "webhook_disabled"),
            503,
        ),
    ),
)
