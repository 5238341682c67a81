"""Admin views under /api/webhooks (role ``admin`` only)."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify

from authapi import body
from authapi.auth.guard import admin_required
from authapi.queries import load_query
from authapi.webhooks import service
from authapi.webhooks.models import WebhookEndpoint
from authapi.webhooks.schemas import (
    delivery_list_query_schema,
    delivery_schema,
    page_query_schema,
    webhook_create_schema,
    webhook_schema,
    webhook_update_schema,
)

blueprint = Blueprint("webhooks", __name__, url_prefix="/api/webhooks")


def _with_secret(endpoint: WebhookEndpoint) -> dict:
    """The endpoint and its secret in full: only right after creation or rotation."""
    return {**webhook_schema.dump(endpoint), "secret": endpoint.secret}


@blueprint.post("")
@admin_required(changes_state=True)
def create_webhook() -> tuple[Response, int]:
    endpoint = service.create_endpoint(body.load(webhook_create_schema))
    return jsonify(status="success", data={"webhook": _with_secret(endpoint)}), 201


@blueprint.get("")
@admin_required()
def list_webhooks() -> Response:
    page = service.list_endpoints(**load_query(page_query_schema))
    return jsonify(status="success", data=page.dump("webhooks", webhook_schema))


@blueprint.get("/<uuid:webhook_id>")
@admin_required()
def get_webhook(webhook_id: uuid.UUID) -> Response:
    endpoint = service.get_endpoint(webhook_id)
    return jsonify(status="success", data={"webhook": webhook_schema.dump(endpoint)})


@blueprint.patch("/<uuid:webhook_id>")
@admin_required(changes_state=True)
def update_webhook(webhook_id: uuid.UUID) -> Response:
    endpoint = service.update_endpoint(webhook_id, body.load(webhook_update_schema))
    return jsonify(status="success", data={"webhook": webhook_schema.dump(endpoint)})


@blueprint.delete("/<uuid:webhook_id>")
@admin_required(changes_state=True)
def delete_webhook(webhook_id: uuid.UUID) -> Response:
    service.delete_endpoint(webhook_id)
    return jsonify(status="success")


@blueprint.post("/<uuid:webhook_id>/rotate-secret")
@admin_required(changes_state=True)
def rotate_secret(webhook_id: uuid.UUID) -> Response:
    endpoint = service.rotate_secret(webhook_id)
    return jsonify(status="success", data={"webhook": _with_secret(endpoint)})


@blueprint.get("/<uuid:webhook_id>/deliveries")
@admin_required()
def list_deliveries(webhook_id: uuid.UUID) -> Response:
    page = service.list_deliveries(webhook_id, **load_query(delivery_list_query_schema))
    return jsonify(status="success", data=page.dump("deliveries", delivery_schema))


@blueprint.post("/<uuid:webhook_id>/deliveries/<int:delivery_id>/redeliver")
@admin_required(changes_state=True)
def redeliver(webhook_id: uuid.UUID, delivery_id: int) -> tuple[Response, int]:
    delivery = service.redeliver(webhook_id, delivery_id)
    return jsonify(status="success", data={"delivery": delivery_schema.dump(delivery)}), 202
