"""The delivery worker: sends what the outbox queued, at least once, in order per user.

One delivery at a time, each in a transaction of its own:

1. ``SELECT ... FOR UPDATE SKIP LOCKED`` the oldest due delivery of an enabled
   endpoint that has no earlier pending delivery for the same endpoint and user
   (so a user's events reach an endpoint in order; a retry holds back the later ones);
2. POST it (signed, the body as stored, the ``webhook-id`` being the event's id);
3. record the outcome and commit.

The row stays locked from 1 to 3, so several workers (threads or processes, on any
number of machines) never send the same delivery at once. A worker that dies between
2 and 3 leaves the transaction to roll back: the delivery is still pending and goes
out again (the receiver sees the same ``webhook-id`` twice, never zero times).

Failures are retried after WEBHOOK_RETRY_BASE * WEBHOOK_RETRY_FACTOR^(n-1) seconds,
+/- WEBHOOK_RETRY_JITTER, for WEBHOOK_MAX_ATTEMPTS attempts in all; then the
delivery is failed, and WEBHOOK_DISABLE_AFTER failed deliveries in a row disable the
endpoint and mail the admins.

Each round first relays the events of the Redis outbox into the database
(:mod:`authapi.webhooks.relay`), with a SCAN sweep for orphan lists every
SWEEP_INTERVAL seconds.

Every function takes ``now`` (epoch seconds) so tests move time instead of sleeping.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from redis import exceptions as redis_exc
from sqlalchemy import exc as sa_exc
from sqlalchemy import exists, select, update
from sqlalchemy.orm import aliased

from authapi import clock, mail
from authapi.extensions import db, discard_session
from authapi.models import Role, User
from authapi.webhooks import relay, service, settings, signing, transport
from authapi.webhooks.models import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from authapi.webhooks.outbox import as_datetime

log = logging.getLogger(__name__)

ERROR_MAX = 255
SWEEP_INTERVAL = 300.0  # seconds between SCANs for Redis outbox lists left unindexed


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base: float
    factor: float
    jitter: float

    @classmethod
    def from_config(cls, config: Any) -> RetryPolicy:
        return cls(
            max_attempts=int(config["WEBHOOK_MAX_ATTEMPTS"]),
            base=float(config["WEBHOOK_RETRY_BASE"]),
            factor=float(config["WEBHOOK_RETRY_FACTOR"]),
            jitter=float(config["WEBHOOK_RETRY_JITTER"]),
        )

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        nominal = self.base * self.factor ** (attempts - 1)
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return nominal * (1 + spread)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str | None


def _due(now: float) -> Any:
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        earlier.endpoint_id == WebhookDelivery.endpoint_id,
        earlier.user_id == WebhookDelivery.user_id,
        earlier.status == DeliveryStatus.PENDING,
        earlier.id < WebhookDelivery.id,
    )
    return (
        select(WebhookDelivery)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.PENDING,
            WebhookDelivery.next_attempt_at <= as_datetime(now),
            WebhookEndpoint.enabled.is_(True),
            ~blocked,
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(1)
        .with_for_update(of=WebhookDelivery, skip_locked=True)
    )


def send(endpoint: WebhookEndpoint, event: WebhookEvent, *, now: float) -> Outcome:
    """POST one event to one endpoint; never raises for what the receiver does."""
    policy = settings.webhook_policy(current_app.config)
    keys = service.signing_keys(endpoint, now=now)
    # The signature's time is the real time of sending: receivers check it against
    # their own clocks (five minutes either way), whatever ``now`` the schedule uses.
    headers = signing.headers(keys, str(event.id), int(time.time()), event.body)
    try:
        reply = transport.post(endpoint.url, event.body.encode("utf-8"), headers, policy)
    except (transport.TargetRefused, transport.TransportError) as error:
        return Outcome(ok=False, status_code=None, error=str(error))
    if reply.ok:
        return Outcome(ok=True, status_code=reply.status, error=None)
    answer = reply.body.decode("utf-8", "replace").strip()
    error = f"HTTP {reply.status}" + (f": {answer}" if answer else "")
    return Outcome(ok=False, status_code=reply.status, error=error)


def _record(
    delivery: WebhookDelivery, outcome: Outcome, *, now: float, rng: random.Random | None
) -> bool:
    """Store the attempt; True when it disabled the endpoint."""
    policy = RetryPolicy.from_config(current_app.config)
    delivery.attempts += 1
    delivery.last_attempt_at = as_datetime(now)
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error[:ERROR_MAX] if outcome.error else None
    endpoints = update(WebhookEndpoint).where(WebhookEndpoint.id == delivery.endpoint_id)
    if outcome.ok:
        delivery.status = DeliveryStatus.SUCCEEDED
        delivery.next_attempt_at = None
        # Only when there is something to reset: an UPDATE on every success would
        # make concurrent workers queue on the endpoint's row.
        db.session.execute(
            endpoints.where(WebhookEndpoint.consecutive_failures != 0).values(
                consecutive_failures=0
            )
        )
        return False
    if delivery.attempts < policy.max_attempts:
        delay = policy.delay(delivery.attempts, rng)
        delivery.next_attempt_at = as_datetime(now + delay)
        return False
    delivery.status = DeliveryStatus.FAILED
    delivery.next_attempt_at = None
    failures = db.session.scalar(
        endpoints.values(consecutive_failures=WebhookEndpoint.consecutive_failures + 1).returning(
            WebhookEndpoint.consecutive_failures
        )
    )
    limit = int(current_app.config["WEBHOOK_DISABLE_AFTER"])
    if limit and failures is not None and failures >= limit:
        disabled = db.session.scalar(
            endpoints.where(WebhookEndpoint.enabled.is_(True))
            .values(enabled=False, disabled_reason="failures")
            .returning(WebhookEndpoint.id)
        )
        return disabled is not None
    return False


def _mail_admins(endpoint_url: str, failures: int) -> None:
    admins = db.session.scalars(
        select(User.email).where(User.role == Role.ADMIN, User.disabled.is_(False))
    )
    for address in admins:
        mail.send(
            address,
            "A webhook endpoint was disabled",
            "Hello,\n\n"
            f"The webhook endpoint {endpoint_url} failed {failures} deliveries in a row "
            "(each after every retry), so authapi stopped sending to it.\n\n"
            "Its undelivered events are kept. Fix the receiver, then enable the endpoint "
            'again (PATCH /api/webhooks/<id> with {"enabled": true}); failed deliveries '
            "can be sent again with POST .../deliveries/<delivery>/redeliver.\n",
        )


def deliver_next(*, now: float | None = None, rng: random.Random | None = None) -> bool:
    """Attempt the next due delivery; False when nothing is due."""
    now = clock.now() if now is None else now
    try:
        delivery = db.session.scalar(_due(now))
        if delivery is None:
            db.session.rollback()
            return False
        endpoint, event = delivery.endpoint, delivery.event
        outcome = send(endpoint, event, now=now)
        disabled = _record(delivery, outcome, now=now, rng=rng)
        url = endpoint.url
        failures = int(current_app.config["WEBHOOK_DISABLE_AFTER"])
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    if outcome.ok:
        log.info("webhook %s delivered (HTTP %s)", event.type, outcome.status_code)
    else:
        log.warning("webhook %s not delivered: %s", event.type, outcome.error)
    if disabled:
        log.error("webhook endpoint disabled after %d failed deliveries in a row", failures)
        _mail_admins(url, failures)
    return True


def run_once(
    *,
    now: float | None = None,
    limit: int = 1000,
    rng: random.Random | None = None,
    sweep: bool = False,
) -> int:
    """Relay the Redis outbox, then attempt every delivery due at ``now`` (at most
    ``limit``); how many were attempted.

    A failed attempt is rescheduled after ``now``, so this always ends. Redis down
    delays the relay, not the deliveries already in the database.
    """
    try:
        relay.relay_pending(now=now, sweep=sweep)
    except redis_exc.RedisError as error:
        log.warning("webhooks worker: Redis unavailable (%s)", type(error).__name__)
    attempted = 0
    while attempted < limit and deliver_next(now=now, rng=rng):
        attempted += 1
    return attempted


def run_forever(app: Flask, stop: threading.Event) -> None:
    """Deliver until ``stop`` is set; wait WEBHOOK_POLL_INTERVAL when nothing is due.

    A database outage is logged and waited out.
    """
    with app.app_context():
        interval = float(app.config["WEBHOOK_POLL_INTERVAL"])
        swept = 0.0
        while not stop.is_set():
            sweep = time.monotonic() - swept >= SWEEP_INTERVAL
            try:
                attempted = run_once(limit=100, sweep=sweep)
                swept = time.monotonic() if sweep else swept
            except sa_exc.SQLAlchemyError as error:
                log.warning("webhooks worker: database unavailable (%s)", type(error).__name__)
                discard_session()
                attempted = 0
            if attempted == 0:
                stop.wait(interval)
        mail.mailer().drain(timeout=30)
