"""Admin rules for webhook endpoints: register, change, rotate secrets, look at and
retry deliveries."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, exists, select
from sqlalchemy.orm import selectinload

from authapi import clock
from authapi.errors import Conflict, NotFound, ValidationFailed
from authapi.extensions import db
from authapi.queries import Page, paginate
from authapi.webhooks import settings, signing, transport
from authapi.webhooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from authapi.webhooks.outbox import as_datetime

WEBHOOK_NOT_FOUND = "Webhook not found"
DELIVERY_NOT_FOUND = "Delivery not found"
WEBHOOK_DISABLED = "The webhook is disabled: enable it first"
BIGINT_MAX = 2**63 - 1


def check_target(url: str) -> None:
    """Refuse (400 on ``url``) a URL the worker would refuse to call.

    Checked again at every delivery: what the name resolves to may change.
    """
    policy = settings.webhook_policy(current_app.config)
    try:
        parts = transport.check_url(url, https_only=policy.https_only)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        transport.resolve(parts.hostname or "", port, allow_private=policy.allow_private)
    except transport.TargetRefused as refused:
        raise ValidationFailed("Invalid input", errors={"url": [str(refused)]}) from None


def create_endpoint(data: Mapping[str, Any]) -> WebhookEndpoint:
    check_target(data["url"])
    endpoint = WebhookEndpoint(
        url=data["url"],
        events=list(data["events"]),
        description=data.get("description", ""),
        enabled=data.get("enabled", True),
        secret=signing.new_secret(),
    )
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def list_endpoints(*, page: int, per_page: int) -> Page:
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    return paginate(query, page=page, per_page=per_page)


def get_endpoint(endpoint_id: uuid.UUID, *, for_update: bool = False) -> WebhookEndpoint:
    query = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    if for_update:
        query = query.with_for_update()
    endpoint = db.session.scalar(query.execution_options(populate_existing=True))
    if endpoint is None:
        raise NotFound(WEBHOOK_NOT_FOUND, code="webhook_not_found")
    return endpoint


def update_endpoint(endpoint_id: uuid.UUID, changes: Mapping[str, Any]) -> WebhookEndpoint:
    """Change fields; enabling again starts the failure count from zero."""
    if "url" in changes:
        check_target(changes["url"])
    endpoint = get_endpoint(endpoint_id, for_update=True)
    if "url" in changes:
        endpoint.url = changes["url"]
    if "events" in changes:
        endpoint.events = list(changes["events"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes:
        if changes["enabled"] and not endpoint.enabled:
            endpoint.consecutive_failures = 0
            endpoint.disabled_reason = None
        elif not changes["enabled"] and endpoint.enabled:
            endpoint.disabled_reason = "admin"
        endpoint.enabled = changes["enabled"]
    db.session.commit()
    return endpoint


def delete_endpoint(endpoint_id: uuid.UUID) -> None:
    """Delete the endpoint and its deliveries (queued ones are never sent)."""
    endpoint = get_endpoint(endpoint_id, for_update=True)
    db.session.delete(endpoint)
    db.session.commit()


def rotate_secret(endpoint_id: uuid.UUID, *, now: float | None = None) -> WebhookEndpoint:
    """A new secret; the current one keeps signing (beside it) for WEBHOOK_SECRET_GRACE."""
    now = clock.now() if now is None else now
    endpoint = get_endpoint(endpoint_id, for_update=True)
    grace = int(current_app.config["WEBHOOK_SECRET_GRACE"])
    if grace > 0:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = as_datetime(now) + timedelta(seconds=grace)
    else:
        endpoint.previous_secret = endpoint.previous_secret_expires_at = None
    endpoint.secret = signing.new_secret()
    db.session.commit()
    return endpoint


def signing_keys(endpoint: WebhookEndpoint, *, now: float) -> list[str]:
    """The secrets that sign a message now: the current one, and a rotated-out one
    during its grace period."""
    keys = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires is not None:
        if expires.tzinfo is None:  # SQLite keeps no zone
            expires = expires.replace(tzinfo=as_datetime(now).tzinfo)
        if expires > as_datetime(now):
            keys.append(endpoint.previous_secret)
    return keys


def list_deliveries(
    endpoint_id: uuid.UUID, *, page: int, per_page: int, status: str | None = None
) -> Page:
    """The endpoint's deliveries, newest first."""
    get_endpoint(endpoint_id)
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .options(selectinload(WebhookDelivery.event))
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == DeliveryStatus(status))
    query = query.order_by(WebhookDelivery.id.desc())
    return paginate(query, page=page, per_page=per_page)


def redeliver(
    endpoint_id: uuid.UUID, delivery_id: int, *, now: float | None = None
) -> WebhookDelivery:
    """Queue the delivery's event again, as a new delivery with the same webhook-id
    (receivers that already have it can tell), after the user's pending ones."""
    now = clock.now() if now is None else now
    endpoint = get_endpoint(endpoint_id)
    if delivery_id > BIGINT_MAX:  # the URL's number does not fit the column: no such row
        raise NotFound(DELIVERY_NOT_FOUND, code="delivery_not_found")
    original = db.session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint_id
        )
    )
    if original is None:
        raise NotFound(DELIVERY_NOT_FOUND, code="delivery_not_found")
    if not endpoint.enabled:
        raise Conflict(WEBHOOK_DISABLED, code="webhook_disabled")
    due = as_datetime(now)
    again = WebhookDelivery(
        event_id=original.event_id,
        endpoint_id=endpoint_id,
        user_id=original.user_id,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=due,
        created_at=due,
    )
    db.session.add(again)
    db.session.commit()
    return again


def purge(*, older_than: timedelta, now: float | None = None) -> int:
    """Delete events older than ``older_than`` whose deliveries are all finished (and
    those deliveries); how many events went. A pending delivery keeps its event."""
    now = clock.now() if now is None else now
    pending = exists().where(
        WebhookDelivery.event_id == WebhookEvent.id,
        WebhookDelivery.status == DeliveryStatus.PENDING,
    )
    old = select(WebhookEvent.id).where(
        WebhookEvent.created_at < as_datetime(now) - older_than, ~pending
    )
    ids = list(db.session.scalars(old))
    if ids:
        # Explicitly, not by ON DELETE CASCADE: SQLite (development) may not enforce it.
        db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)))
        db.session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(ids)))
    db.session.commit()
    return len(ids)
