"""Webhooks: admin-managed endpoints, an outbox written with each change, a worker.

See docs/webhooks.md. The blocking hooks (before sign-up, custom token claims) are in
:mod:`authapi.hooks`.
"""

from authapi.webhooks.cli import webhooks_cli
from authapi.webhooks.outbox import init_app
from authapi.webhooks.routes import blueprint

__all__ = ["blueprint", "init_app", "webhooks_cli"]
